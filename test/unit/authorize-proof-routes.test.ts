import { describe, expect, it } from 'vitest';
import type { PeerIdentity } from '../../src/binding/peer-identity.js';
import { CertboundError, type ErrorCode } from '../../src/errors.js';
import {
  authorizeRequest,
  type AuthorizationPipeline,
  type InboundRequest,
} from '../../src/verify/authorize-request.js';
import type { ProofRequirement } from '../../src/verify/proof-requirement.js';
import type { DpopVerifier, ForwardedCertificates } from '../../src/verify/proof-inputs.js';
import type { Principal } from '../../src/verify/principal.js';
import type { TokenValidator } from '../../src/verify/token-validator.js';

// The pipeline's per-route proof rules, with stand-ins for the two proof sources whose own
// checks are tested with real proxies, proofs and keys elsewhere (forwarded-client-cert,
// dpop-*): here only the order and the combination of checks is under test.
const CLIENT: PeerIdentity = { thumbprint: 'C'.repeat(43), spiffeId: 'spiffe://d/client' };
const HOP: PeerIdentity = { thumbprint: 'H'.repeat(43), spiffeId: 'spiffe://d/ingress' };
const STRANGER: PeerIdentity = { thumbprint: 'S'.repeat(43) };
const JKT = 'K'.repeat(43);
const NOW = 1_800_000_000_000;
const exp = NOW / 1000 + 300;

const CLAIMS: Record<string, Record<string, unknown>> = {
  x5t: { client_id: 'c', exp, cnf: { 'x5t#S256': CLIENT.thumbprint } },
  hop: { client_id: 'hop', exp, cnf: { 'x5t#S256': HOP.thumbprint } },
  jkt: { client_id: 'c', exp, cnf: { jkt: JKT } },
  both: { client_id: 'c', exp, cnf: { jkt: JKT, 'x5t#S256': CLIENT.thumbprint } },
  unbound: { client_id: 'c', exp },
};

function pipeline(events: string[], options: { dpop?: boolean } = {}): AuthorizationPipeline {
  const validator: TokenValidator = {
    kind: 'fake',
    validate(token) {
      events.push(`validate ${token}`);
      const claims = CLAIMS[token];
      if (claims === undefined) return Promise.reject(new CertboundError('ERR_TOKEN_SIGNATURE'));
      return Promise.resolve({ claims, validator: 'fake', expiresAtMs: exp * 1000 });
    },
    ready: () => ({ ok: true }),
    close: () => Promise.resolve(),
  };
  const forwarded: ForwardedCertificates = {
    headerNames: ['client-cert'],
    resolve(input) {
      const values = input.header('client-cert');
      if (values.length === 0) return { kind: 'none' };
      if (input.peer?.thumbprint !== HOP.thumbprint) return { kind: 'untrusted' };
      if (values[0] !== ':client:') throw new CertboundError('ERR_FORWARDED_CERT_MISSING', 'bad');
      return { kind: 'forwarded', client: CLIENT, hop: input.peer };
    },
  };
  const seen = new Set<string>();
  const dpop: DpopVerifier = {
    algorithms: ['ES256', 'EdDSA'],
    verify(input) {
      events.push(`proof ${input.proofs.join(',')} ${input.method} ${input.path}`);
      if (input.proofs.length !== 1 || !input.proofs[0]?.startsWith('proof-'))
        return Promise.reject(new CertboundError('ERR_INVALID_REQUEST', 'bad proof'));
      const proof = input.proofs[0];
      return Promise.resolve({
        jkt: proof === 'proof-K' || proof.startsWith('proof-K-') ? JKT : 'Z'.repeat(43),
        commit: () => {
          events.push(`commit ${proof}`);
          if (seen.has(proof)) return Promise.reject(new CertboundError('ERR_TOKEN_SIGNATURE'));
          seen.add(proof);
          return Promise.resolve();
        },
      });
    },
  };
  return {
    validatorFor: () => validator,
    clockToleranceMs: 0,
    now: () => NOW,
    memo: new WeakMap(),
    forwarded,
    ...(options.dpop === false ? {} : { dpop }),
  };
}

function request(
  scheme: string,
  token: string,
  peer: PeerIdentity | null,
  headers: Record<string, string> = {},
): InboundRequest {
  return {
    authorization: [`${scheme} ${token}`],
    method: 'GET',
    path: '/r',
    peer,
    header: (name) => (headers[name] !== undefined ? [headers[name]] : []),
  };
}

async function outcome(
  proof: ProofRequirement | undefined,
  req: InboundRequest,
  events: string[] = [],
  p = pipeline(events),
): Promise<ErrorCode | Principal> {
  try {
    return await authorizeRequest(req, p, [{ prefix: '/', ...(proof ? { proof } : {}) }]);
  } catch (err) {
    if (err instanceof CertboundError) return err.code;
    throw err;
  }
}

const codeOf = (o: ErrorCode | Principal) => (typeof o === 'string' ? o : 'ok');
const FWD = { 'client-cert': ':client:' };

describe('per-route proof: certificate sources', () => {
  it.each<[string, ProofRequirement | undefined, InboundRequest, ErrorCode | 'ok']>([
    ['default mtls: the connection certificate', undefined, request('Bearer', 'x5t', CLIENT), 'ok'],
    [
      'mtls: forwarded headers are not a source',
      'mtls',
      request('Bearer', 'x5t', HOP, FWD),
      'ERR_BINDING_MISMATCH',
    ],
    [
      'connection = mtls: the hop own token',
      'connection',
      request('Bearer', 'hop', HOP, FWD),
      'ok',
    ],
    [
      'forwarded: the client certificate from the trusted hop',
      'forwarded',
      request('Bearer', 'x5t', HOP, FWD),
      'ok',
    ],
    [
      'forwarded: the hop own token is not the client',
      'forwarded',
      request('Bearer', 'hop', HOP, FWD),
      'ERR_BINDING_MISMATCH',
    ],
    [
      'forwarded: direct caller without headers',
      'forwarded',
      request('Bearer', 'x5t', CLIENT),
      'ERR_FORWARDED_CERT_MISSING',
    ],
    [
      'forwarded: a forged header from an untrusted peer is ignored',
      'forwarded',
      request('Bearer', 'x5t', STRANGER, FWD),
      'ERR_FORWARDED_CERT_MISSING',
    ],
    [
      'forwarded: no connection certificate at all',
      'forwarded',
      request('Bearer', 'x5t', null, FWD),
      'ERR_PEER_CERT_MISSING',
    ],
    [
      'either: forwarded when a trusted hop sent one',
      'either',
      request('Bearer', 'x5t', HOP, FWD),
      'ok',
    ],
    ['either: the connection otherwise', 'either', request('Bearer', 'x5t', CLIENT), 'ok'],
    [
      'either: untrusted headers fall back to the connection',
      'either',
      request('Bearer', 'x5t', STRANGER, FWD),
      'ERR_BINDING_MISMATCH',
    ],
    [
      'a malformed forwarded header from the hop is refused with its code',
      'either',
      request('Bearer', 'x5t', HOP, { 'client-cert': 'junk' }),
      'ERR_FORWARDED_CERT_MISSING',
    ],
  ])('%s', async (_name, proof, req, expected) => {
    expect(codeOf(await outcome(proof, req))).toBe(expected);
  });

  it('a forwarded principal names the client and, separately, the hop', async () => {
    const principal = await outcome('forwarded', request('Bearer', 'x5t', HOP, FWD));
    expect(principal).toMatchObject({
      thumbprint: CLIENT.thumbprint,
      spiffeId: CLIENT.spiffeId,
      certificateSource: 'forwarded',
      forwardedBy: HOP,
      proof: 'mtls',
    });
  });

  it('the per-connection memo does not carry one forwarded client over to the next', async () => {
    const events: string[] = [];
    const p = pipeline(events);
    expect(codeOf(await outcome('either', request('Bearer', 'x5t', HOP, FWD), events, p))).toBe(
      'ok',
    );
    // Same token on the same hop connection, now without the client's certificate.
    expect(codeOf(await outcome('either', request('Bearer', 'x5t', HOP), events, p))).toBe(
      'ERR_BINDING_MISMATCH',
    );
    expect(events).toEqual(['validate x5t']);
  });
});

describe('per-route proof: DPoP', () => {
  it.each<[string, ProofRequirement | undefined, InboundRequest, ErrorCode | 'ok']>([
    [
      'dpop: a DPoP token with its proof',
      'dpop',
      request('DPoP', 'jkt', null, { dpop: 'proof-K' }),
      'ok',
    ],
    ['dpop: Bearer scheme', 'dpop', request('Bearer', 'jkt', CLIENT), 'ERR_DPOP_REQUIRED'],
    [
      'dpop: a stolen token with the thief own key',
      'dpop',
      request('DPoP', 'jkt', null, { dpop: 'proof-Z' }),
      'ERR_DPOP_KEY_MISMATCH',
    ],
    [
      'dpop: a certificate-bound token with a proof',
      'dpop',
      request('DPoP', 'x5t', CLIENT, { dpop: 'proof-K' }),
      'ERR_DPOP_NOT_BOUND',
    ],
    [
      'dpop: a token bound to both, the certificate is checked too',
      'dpop',
      request('DPoP', 'both', STRANGER, { dpop: 'proof-K' }),
      'ERR_BINDING_MISMATCH',
    ],
    [
      'dpop: a token bound to both without any certificate',
      'dpop',
      request('DPoP', 'both', null, { dpop: 'proof-K' }),
      'ERR_PEER_CERT_MISSING',
    ],
    [
      'mtls: the DPoP scheme is not accepted',
      'mtls',
      request('DPoP', 'jkt', CLIENT, { dpop: 'proof-K' }),
      'ERR_INVALID_REQUEST',
    ],
    [
      'downgrade: a cnf.jkt token as Bearer on an mtls route',
      'mtls',
      request('Bearer', 'jkt', CLIENT),
      'ERR_DPOP_DOWNGRADE',
    ],
    [
      'downgrade: a cnf.jkt token as Bearer on an any route',
      'any',
      request('Bearer', 'jkt', CLIENT),
      'ERR_DPOP_DOWNGRADE',
    ],
    ['any: DPoP', 'any', request('DPoP', 'jkt', null, { dpop: 'proof-K' }), 'ok'],
    ['any: certificate', 'any', request('Bearer', 'x5t', CLIENT), 'ok'],
    ['any: an unbound token', 'any', request('Bearer', 'unbound', CLIENT), 'ERR_CNF_MISSING'],
    ['both: both bindings', 'both', request('DPoP', 'both', CLIENT, { dpop: 'proof-K' }), 'ok'],
    [
      'both: only DPoP-bound',
      'both',
      request('DPoP', 'jkt', CLIENT, { dpop: 'proof-K' }),
      'ERR_CNF_THUMBPRINT_MISSING',
    ],
    [
      'both: only certificate-bound',
      'both',
      request('DPoP', 'x5t', CLIENT, { dpop: 'proof-K' }),
      'ERR_DPOP_NOT_BOUND',
    ],
  ])('%s', async (_name, proof, req, expected) => {
    expect(codeOf(await outcome(proof, req))).toBe(expected);
  });

  it('the replay record is made last, after the policy, and a replayed proof is refused on memo hits', async () => {
    const events: string[] = [];
    const p = pipeline(events);
    const ok = await authorizeRequest(request('DPoP', 'jkt', CLIENT, { dpop: 'proof-K-1' }), p, [
      { prefix: '/', proof: 'dpop' },
    ]);
    expect(ok).toMatchObject({ proof: 'dpop', jkt: JKT, thumbprint: undefined });
    // Policy refusal: no record (the proof could be used again on an allowed route).
    await expect(
      authorizeRequest(request('DPoP', 'jkt', CLIENT, { dpop: 'proof-K-2' }), p, [
        { prefix: '/', proof: 'dpop', clientIds: ['other'] },
      ]),
    ).rejects.toMatchObject({ code: 'ERR_POLICY_DENIED' });
    await expect(
      authorizeRequest(request('DPoP', 'jkt', CLIENT, { dpop: 'proof-K-1' }), p, [
        { prefix: '/', proof: 'dpop' },
      ]),
    ).rejects.toBeInstanceOf(CertboundError);
    expect(events).toEqual([
      'validate jkt',
      'proof proof-K-1 GET /r',
      'commit proof-K-1',
      'proof proof-K-2 GET /r',
      'proof proof-K-1 GET /r',
      'commit proof-K-1',
    ]);
  });

  it('refusals on a DPoP route carry the challenges to render (RFC 9449 §7.1)', async () => {
    const errorOf = async (proof: ProofRequirement, req: InboundRequest) => {
      try {
        await authorizeRequest(req, pipeline([]), [{ prefix: '/', proof }]);
      } catch (err) {
        return err as CertboundError;
      }
      throw new Error('accepted');
    };
    expect((await errorOf('dpop', request('Bearer', 'jkt', CLIENT))).details).toMatchObject({
      challenge: 'DPoP',
      dpopAlgs: 'ES256 EdDSA',
    });
    expect((await errorOf('any', request('Bearer', 'unbound', CLIENT))).details).toMatchObject({
      challenge: 'Bearer, DPoP',
    });
    expect(
      (await errorOf('mtls', request('Bearer', 'unbound', CLIENT))).details,
    ).not.toHaveProperty('challenge');
  });

  it('a DPoP route without a DPoP verifier fails closed', async () => {
    expect(
      codeOf(
        await outcome(
          'dpop',
          request('DPoP', 'jkt', CLIENT, { dpop: 'proof-K' }),
          [],
          pipeline([], { dpop: false }),
        ),
      ),
    ).toBe('ERR_DPOP_UNAVAILABLE');
  });
});
