import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertboundError } from '../../src/errors.js';
import { createTokenClient, type TokenClient } from '../../src/token/token-client.js';
import { PAYMENTS, sourceOf, startTestAs, type AsFixture } from '../support/as.js';

const request = { resource: PAYMENTS, scope: 'payments:read' };

/** A connection still presenting the previous certificate gets that certificate's token. */
describe('TokenClient: requests pinned to the certificate a connection presents', () => {
  let fx: AsFixture;
  let client: TokenClient;
  let source: ReturnType<typeof sourceOf>;

  beforeAll(async () => {
    fx = await startTestAs();
    source = sourceOf(fx.pki.workloads['orders']!);
    client = await createTokenClient({ source, clientId: 'orders', issuer: fx.as.issuer });
  });
  afterAll(async () => {
    await client.close();
    await source.close();
    await fx.close();
  });

  it('serves the previous certificate’s token to pinned requests after a rotation, the new one otherwise', async () => {
    const first = fx.pki.workloads['orders']!;
    const before = await client.get(request);
    expect(decodeJwt(before.accessToken).cnf).toEqual({ 'x5t#S256': first.thumbprint });
    expect(await client.get(request, { thumbprint: first.thumbprint })).toBe(before);

    const second = await fx.pki.issue('orders');
    source.set({ certPem: second.certPem, keyPem: second.keyPem, bundlePem: second.bundlePem });

    const pinnedOld = await client.get(request, { thumbprint: first.thumbprint });
    expect(pinnedOld.accessToken).toBe(before.accessToken);
    expect(pinnedOld.thumbprint).toBe(first.thumbprint);

    const current = await client.get(request);
    expect(current.thumbprint).toBe(second.thumbprint);
    expect(decodeJwt(current.accessToken).cnf).toEqual({ 'x5t#S256': second.thumbprint });
    expect(await client.get(request, { thumbprint: second.thumbprint })).toBe(current);
  });

  it('refuses a pinned request for a certificate it holds no token for', async () => {
    const stranger = fx.pki.workloads['attacker']!;
    const err = await client
      .get(request, { thumbprint: stranger.thumbprint })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CertboundError);
    expect((err as CertboundError).code).toBe('ERR_TOKEN_NOT_BOUND');
  });
});
