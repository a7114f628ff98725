import { describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { CertboundError } from '../../src/errors.js';
import { bearerErrorResponseOf } from '../../src/http/bearer-error-response.js';
import { rawBearerErrorOf } from '../../src/sidecar/inbound/raw-bearer-error.js';
import { createDpopVerifier } from '../../src/verify/dpop/dpop-verifier.js';
import { dpopClient } from '../support/dpop-client.js';

const ORIGIN = 'https://api.bank.example';

/** `err` with the details the pipeline adds on a route that accepts DPoP (withChallenge). */
function withDpopChallenge(
  err: CertboundError,
  c: { algorithms: string[]; scheme?: 'DPoP' | 'Bearer'; acceptsBearer?: boolean },
): CertboundError {
  return new CertboundError(err.code, err.message, {
    details: {
      ...err.details,
      dpopAlgs: c.algorithms.join(' '),
      ...(c.acceptsBearer !== undefined
        ? { challenge: c.acceptsBearer ? 'Bearer, DPoP' : 'DPoP' }
        : {}),
      ...(c.scheme !== undefined ? { authScheme: c.scheme } : {}),
    },
  });
}
const ALGS = ['ES256', 'EdDSA'];

/** The challenges oauth4webapi (an independent client) reads from an answer. */
async function challengesSeenBy(headers: Record<string, string>, status = 401) {
  const client = await dpopClient('ES256');
  const { error } = await client.request('tok', 'GET', `${ORIGIN}/x`, () =>
    Response.json({}, { status, headers }),
  );
  expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
  return (error as oauth.WWWAuthenticateChallengeError).cause;
}

describe('RFC 9449 §7.1 / §12.2 challenges', () => {
  it('a proof refusal answers DPoP algs + error="invalid_dpop_proof", and no Bearer challenge on a DPoP-only route', async () => {
    const err = withDpopChallenge(new CertboundError('ERR_DPOP_HTU'), {
      algorithms: ALGS,
      scheme: 'DPoP',
      acceptsBearer: false,
    });
    const res = bearerErrorResponseOf(err);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(
      /^DPoP algs="ES256 EdDSA", error="invalid_dpop_proof", error_description="[^"]+"$/,
    );
    const challenges = await challengesSeenBy(res.headers);
    expect(challenges.map((c) => c.scheme)).toEqual(['dpop']);
    expect(challenges[0]?.parameters.error).toBe('invalid_dpop_proof');
    expect(challenges[0]?.parameters.algs).toBe('ES256 EdDSA');
    expect(JSON.parse(res.body)).toMatchObject({ error: 'ERR_DPOP_HTU' });
  });

  it('a route that accepts both gets both challenges; the error goes in the scheme the request used', async () => {
    const viaDpop = bearerErrorResponseOf(
      withDpopChallenge(new CertboundError('ERR_TOKEN_EXPIRED'), {
        algorithms: ALGS,
        scheme: 'DPoP',
        acceptsBearer: true,
      }),
    );
    const seen = await challengesSeenBy(viaDpop.headers);
    expect(seen.map((c) => [c.scheme, c.parameters.error])).toEqual([
      ['bearer', undefined],
      ['dpop', 'invalid_token'],
    ]);
    const viaBearer = bearerErrorResponseOf(
      withDpopChallenge(new CertboundError('ERR_BINDING_MISMATCH'), {
        algorithms: ALGS,
        scheme: 'Bearer',
        acceptsBearer: true,
      }),
    );
    const seen2 = await challengesSeenBy(viaBearer.headers);
    expect(seen2.map((c) => [c.scheme, c.parameters.error])).toEqual([
      ['bearer', 'invalid_token'],
      ['dpop', undefined],
    ]);
  });

  it('no credentials on a route that accepts both: bare Bearer and DPoP algs challenges', () => {
    const res = bearerErrorResponseOf(
      withDpopChallenge(new CertboundError('ERR_TOKEN_MISSING'), {
        algorithms: ALGS,
        acceptsBearer: true,
      }),
    );
    expect(res.headers['www-authenticate']).toBe(
      'Bearer realm="certbound", DPoP algs="ES256 EdDSA"',
    );
  });

  it('use_dpop_nonce carries DPoP-Nonce, which oauth4webapi takes for its retry (isDPoPNonceError)', async () => {
    const verifier = createDpopVerifier({ publicOrigin: ORIGIN, nonce: {}, algorithms: ALGS });
    const client = await dpopClient('ES256');
    let answered: ReturnType<typeof bearerErrorResponseOf> | undefined;
    const first = await client.request('tok', 'GET', `${ORIGIN}/x`, async (proof) => {
      const err = await verifier
        .verify({ proofs: [proof], method: 'GET', path: '/x', accessToken: 'tok' })
        .catch((e: unknown) => e);
      answered = bearerErrorResponseOf(err);
      return new Response(answered.body, { status: answered.status, headers: answered.headers });
    });
    expect(answered?.headers['dpop-nonce']).toBe(verifier.nonceForResponse());
    expect(answered?.headers['www-authenticate']).toContain('error="use_dpop_nonce"');
    expect(oauth.isDPoPNonceError(first.error)).toBe(true);
    const retry = await client.request('tok', 'GET', `${ORIGIN}/x`);
    const verified = await verifier.verify({
      proofs: [retry.proof],
      method: 'GET',
      path: '/x',
      accessToken: 'tok',
    });
    await verified.commit();
  });

  it('a 503 of the replay store has Retry-After and no challenge; a bad nonce detail never becomes a header', () => {
    const res = bearerErrorResponseOf(
      withDpopChallenge(new CertboundError('ERR_DPOP_REPLAY_STORE_UNAVAILABLE'), {
        algorithms: ALGS,
      }),
    );
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.headers['www-authenticate']).toBeUndefined();
    const bad = bearerErrorResponseOf(
      new CertboundError('ERR_DPOP_NONCE_REQUIRED', undefined, {
        details: { dpopNonce: 'a\r\nx-evil: 1', dpopAlgs: 'ES256"\r\n' },
      }),
    );
    expect(bad.headers['dpop-nonce']).toBeUndefined();
    expect(bad.headers['www-authenticate']).not.toMatch(/[\r\n]/);
    expect(rawBearerErrorOf(bad)).not.toContain('x-evil');
  });

  it('Bearer-only answers are unchanged', () => {
    expect(
      bearerErrorResponseOf(new CertboundError('ERR_BINDING_MISMATCH')).headers['www-authenticate'],
    ).toMatch(/^Bearer realm="certbound", error="invalid_token", error_description="[^"]+"$/);
  });
});
