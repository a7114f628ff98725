import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dpopTokenOf, startTestAs, type AsFixture } from '../support/as.js';
import { dpopClient } from '../support/dpop-client.js';

describe('oidc-provider with DPoP enabled issues cnf.jkt tokens (the tokens the e2e tests use)', () => {
  let fx: AsFixture;
  beforeAll(async () => {
    fx = await startTestAs({ dpop: true });
  });
  afterAll(async () => fx?.close());

  it('an unbound client with a DPoP proof gets a token bound to the proof key only', async () => {
    const client = await dpopClient('ES256');
    const token = await dpopTokenOf(fx.as, 'unbound', fx.pki.workloads['orders']!, client.handle);
    const cnf = decodeJwt(token)['cnf'] as Record<string, unknown>;
    expect(cnf['jkt']).toBe(await client.handle.calculateThumbprint());
    expect(cnf['x5t#S256']).toBeUndefined();
  });
});
