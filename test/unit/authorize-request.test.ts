import { describe, expect, it } from 'vitest';
import type { PeerIdentity } from '../../src/binding/peer-identity.js';
import { CertboundError, type ErrorCode } from '../../src/errors.js';
import {
  authorizeRequest,
  type AuthorizationPipeline,
  type InboundRequest,
} from '../../src/verify/authorize-request.js';
import type { TokenValidator } from '../../src/verify/token-validator.js';

const PEER: PeerIdentity = { thumbprint: 'A'.repeat(43), spiffeId: 'spiffe://d/orders' };
const OTHER: PeerIdentity = { thumbprint: 'B'.repeat(43) };
const NOW = 1_800_000_000_000;

/** A validator that accepts `good*` tokens bound to PEER, and records every call. */
function pipelineWith(calls: string[], memo = true): AuthorizationPipeline {
  const validator: TokenValidator = {
    kind: 'fake',
    validate(token) {
      calls.push(`validate ${token}`);
      if (!token.startsWith('good'))
        return Promise.reject(new CertboundError('ERR_TOKEN_SIGNATURE'));
      const exp = token === 'good-expired' ? NOW / 1000 - 100 : NOW / 1000 + 300;
      return Promise.resolve({
        claims: { client_id: 'orders', scope: 'read', exp, cnf: { 'x5t#S256': PEER.thumbprint } },
        validator: 'fake',
        expiresAtMs: exp * 1000,
      });
    },
    ready: () => ({ ok: true }),
    close: () => Promise.resolve(),
  };
  return {
    validatorFor: () => validator,
    clockToleranceMs: 0,
    now: () => NOW,
    ...(memo ? { memo: new WeakMap() } : {}),
  };
}

function request(overrides: Partial<InboundRequest> = {}): InboundRequest {
  return {
    authorization: ['Bearer good'],
    method: 'GET',
    path: '/orders',
    peer: PEER,
    ...overrides,
  };
}

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof CertboundError) return err.code;
    throw err;
  }
}

const POLICIES = [
  { prefix: '/admin', scopes: ['admin'] },
  { prefix: '/orders', clientIds: ['orders'] },
  { prefix: '/payments', clientIds: ['payments'] },
];

describe('authorizeRequest: the order of the checks (one table for every transport)', () => {
  it.each<[string, Partial<InboundRequest>, ErrorCode | 'ok', string[]]>([
    ['a bound token from its certificate', {}, 'ok', ['validate good']],
    [
      'no certificate: refused before credentials or token work',
      { peer: null, authorization: [] },
      'ERR_PEER_CERT_MISSING',
      [],
    ],
    ['no credentials', { authorization: [] }, 'ERR_TOKEN_MISSING', []],
    [
      'two Authorization values',
      { authorization: ['Bearer good', 'Bearer good'] },
      'ERR_INVALID_REQUEST',
      [],
    ],
    ['token in the query', { tokenInQuery: true }, 'ERR_INVALID_REQUEST', []],
    ['another scheme', { authorization: ['Basic Zm9vOmJhcg=='] }, 'ERR_INVALID_REQUEST', []],
    [
      'a token the validator refuses',
      { authorization: ['Bearer bad'] },
      'ERR_TOKEN_SIGNATURE',
      ['validate bad'],
    ],
    [
      'an expired token',
      { authorization: ['Bearer good-expired'] },
      'ok',
      ['validate good-expired'],
    ],
    [
      'the token from another certificate',
      { peer: OTHER },
      'ERR_BINDING_MISMATCH',
      ['validate good'],
    ],
    ['policy: client allowed on the route', { path: '/orders/1' }, 'ok', ['validate good']],
    ['policy: client not allowed', { path: '/payments' }, 'ERR_POLICY_DENIED', ['validate good']],
    ['policy: scope missing', { path: '/admin' }, 'ERR_INSUFFICIENT_SCOPE', ['validate good']],
  ])('%s', async (_name, overrides, expected, expectedCalls) => {
    const calls: string[] = [];
    expect(await codeOf(authorizeRequest(request(overrides), pipelineWith(calls), POLICIES))).toBe(
      expected,
    );
    expect(calls).toEqual(expectedCalls);
  });

  it('the per-connection memo skips the validator but still checks expiry and the binding', async () => {
    const calls: string[] = [];
    let now = NOW;
    const pipeline = { ...pipelineWith(calls), now: () => now };
    const first = await authorizeRequest(request(), pipeline);
    const second = await authorizeRequest(request(), pipeline);
    expect(second).toBe(first);
    expect(calls).toEqual(['validate good']);
    expect(first.thumbprint).toBe(PEER.thumbprint);
    expect(first.spiffeId).toBe(PEER.spiffeId);
    // Policy is applied on memo hits too.
    expect(await codeOf(authorizeRequest(request({ path: '/payments' }), pipeline, POLICIES))).toBe(
      'ERR_POLICY_DENIED',
    );
    now = NOW + 301_000;
    expect(await codeOf(authorizeRequest(request(), pipeline))).toBe('ERR_TOKEN_EXPIRED');
  });

  it('without a memo every call validates', async () => {
    const calls: string[] = [];
    const pipeline = pipelineWith(calls, false);
    await authorizeRequest(request(), pipeline);
    await authorizeRequest(request(), pipeline);
    expect(calls).toEqual(['validate good', 'validate good']);
  });
});
