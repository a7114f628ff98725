import { describe, expect, it } from 'vitest';
import type { TokenEndpointResponse } from 'oauth4webapi';
import { accessTokenOf } from '../../src/token/process-token-response.js';
import { isCertboundError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/index.js';

const THUMB = 'A'.repeat(43);
const OTHER = 'B'.repeat(43);
const NOW = 1_700_000_000_000;

function jwt(payload: Record<string, unknown>): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${enc({ alg: 'ES256', typ: 'at+jwt' })}.${enc(payload)}.c2ln`;
}

function response(
  accessToken: string,
  extra: Partial<TokenEndpointResponse> = {},
): TokenEndpointResponse {
  return { access_token: accessToken, token_type: 'bearer', expires_in: 300, ...extra };
}

const context = {
  thumbprint: THUMB,
  requestedAt: NOW,
  allowUnboundTokens: false,
  defaultLifetimeSec: 60,
};

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isCertboundError(err) ? err.code : 'other';
  }
}

describe('accessTokenOf (RFC 8705 §3.1 binding of the issued token)', () => {
  it('accepts a JWT bound to our certificate', () => {
    const t = accessTokenOf(
      response(jwt({ cnf: { 'x5t#S256': THUMB }, exp: NOW / 1000 + 600 })),
      context,
    );
    expect(t).toMatchObject({ tokenType: 'Bearer', thumbprint: THUMB });
    expect(t.expiresAt.getTime()).toBe(NOW + 300_000);
  });

  it.each([
    ['no cnf', {}],
    ['cnf without x5t#S256', { cnf: { jkt: THUMB } }],
    ['another certificate', { cnf: { 'x5t#S256': OTHER } }],
    ['cnf not an object', { cnf: THUMB }],
  ])(
    'refuses a JWT with %s → ERR_TOKEN_NOT_BOUND, even with allowUnboundTokens',
    (_label, claims) => {
      const token = response(jwt(claims));
      expect(code(() => accessTokenOf(token, context))).toBe('ERR_TOKEN_NOT_BOUND');
      expect(code(() => accessTokenOf(token, { ...context, allowUnboundTokens: true }))).toBe(
        'ERR_TOKEN_NOT_BOUND',
      );
    },
  );

  it('the opaque-token refusal advises what the sidecar can do (regression: it named allowUnboundTokens, which certbound.yaml rejects)', () => {
    let message = '';
    try {
      accessTokenOf(response('opaque-value'), context);
    } catch (err) {
      message = err instanceof Error ? err.message : '';
    }
    expect(message).toMatch(/JWT access tokens \(RFC 9068\)/);
    expect(message).not.toMatch(/allowUnboundTokens/);
    expect(() =>
      parseConfig({
        identity: { certPath: 'c', keyPath: 'k', bundlePath: 'b' },
        token: { issuer: 'https://as.example', clientId: 'x', allowUnboundTokens: true },
      }),
    ).toThrow(/allowUnboundTokens/);
  });

  it('refuses an opaque token unless allowUnboundTokens', () => {
    const token = response('opaque-value');
    expect(code(() => accessTokenOf(token, context))).toBe('ERR_TOKEN_NOT_BOUND');
    expect(accessTokenOf(token, { ...context, allowUnboundTokens: true }).accessToken).toBe(
      'opaque-value',
    );
  });

  it('takes the earlier of expires_in and exp', () => {
    const t = accessTokenOf(
      response(jwt({ cnf: { 'x5t#S256': THUMB }, exp: NOW / 1000 + 100 })),
      context,
    );
    expect(t.expiresAt.getTime()).toBe(NOW + 100_000);
  });

  it('uses the default lifetime without expires_in nor exp', () => {
    const t = accessTokenOf(
      { access_token: 'o', token_type: 'bearer' },
      { ...context, allowUnboundTokens: true },
    );
    expect(t.expiresAt.getTime()).toBe(NOW + 60_000);
  });

  it('refuses an already expired token and a non-Bearer type', () => {
    const bound = { cnf: { 'x5t#S256': THUMB } };
    expect(
      code(() => accessTokenOf(response(jwt({ ...bound, exp: NOW / 1000 - 1 })), context)),
    ).toBe('ERR_AS_RESPONSE');
    expect(code(() => accessTokenOf(response(jwt(bound), { token_type: 'dpop' }), context))).toBe(
      'ERR_AS_RESPONSE',
    );
  });
});
