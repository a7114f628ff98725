import { generateKeyPair, exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecordingApp, type RecordingApp } from '../support/http-fixtures.js';
import { startInboundSidecar, type InboundSidecar } from '../support/inbound-sidecar.js';
import { curl, type CurlResult } from '../support/sidecar-process.js';

const ORIGIN = 'https://payments.example';
const METADATA_URL = `${ORIGIN}/.well-known/oauth-protected-resource`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let app: RecordingApp;
let sidecar: InboundSidecar;
let rsaSigned: (thumbprint: string) => Promise<string>;

beforeAll(async () => {
  app = await startRecordingApp();
  // An RS256 key the JWKS publishes: outside the profile, so its tokens must be refused.
  const rsa = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'rs', alg: 'RS256', use: 'sig' };
  sidecar = await startInboundSidecar(app.url, `  publicOrigin: "${ORIGIN}"`, {
    topYaml: 'profile: fapi2',
    extraKeys: [rsaJwk],
  });
  rsaSigned = (thumbprint) =>
    new SignJWT({ client_id: 'orders', scope: 'payments:read', cnf: { 'x5t#S256': thumbprint } })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'rs' })
      .setIssuer(sidecar.issuer.issuer)
      .setAudience(sidecar.issuer.audience)
      .setSubject('orders')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
});

afterAll(async () => {
  await sidecar?.close();
  await app?.close();
});

function call(path: string, headers: string[], extra: string[] = []): Promise<CurlResult> {
  const orders = sidecar.pki.workloads['orders']!;
  return curl([
    '--cacert',
    `${sidecar.pki.dir}/bundle.pem`,
    '--cert',
    orders.paths.cert,
    '--key',
    orders.paths.key,
    ...headers.flatMap((h) => ['-H', h]),
    ...extra,
    `https://localhost:${sidecar.port}${path}`,
  ]);
}

describe('certbound run with profile: fapi2', () => {
  it('serves RFC 9728 metadata without a token', async () => {
    const res = await call('/.well-known/oauth-protected-resource', []);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body)).toEqual({
      resource: ORIGIN,
      authorization_servers: [sidecar.issuer.issuer],
      bearer_methods_supported: ['header'],
      tls_client_certificate_bound_access_tokens: true,
      dpop_bound_access_tokens_required: false,
    });
    expect(res.headers['x-fapi-interaction-id']).toMatch(UUID);
  });

  it('accepts an ES256 token bound to the certificate (control)', async () => {
    const res = await call('/x', [`Authorization: Bearer ${await sidecar.token()}`]);
    expect(res.status).toBe(200);
  });

  it('refuses an RS256 token (FAPI 2.0 §5.4.1) with resource_metadata in the challenge', async () => {
    const orders = sidecar.pki.workloads['orders']!;
    const before = app.seen.length;
    const res = await call('/x', [`Authorization: Bearer ${await rsaSigned(orders.thumbprint)}`]);
    expect([res.status, JSON.parse(res.body).error]).toEqual([401, 'ERR_TOKEN_ALG']);
    expect(res.headers['www-authenticate']).toContain(`resource_metadata="${METADATA_URL}"`);
    expect(app.seen.length).toBe(before);
  });

  it('refuses a token in a form body (§5.3.4: Authorization header only)', async () => {
    const before = app.seen.length;
    const token = await sidecar.token();
    const res = await call(
      '/x',
      ['content-type: application/x-www-form-urlencoded'],
      ['--data', `access_token=${token}`],
    );
    expect([res.status, JSON.parse(res.body).error]).toEqual([401, 'ERR_TOKEN_MISSING']);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer realm="certbound", resource_metadata="${METADATA_URL}"`,
    );
    expect(app.seen.length).toBe(before);
  });

  it('refuses an unbound token (no cnf): sender-constraining is never optional', async () => {
    const before = app.seen.length;
    const unbound = await sidecar.issuer.sign(undefined);
    const res = await call('/x', [`Authorization: Bearer ${unbound}`]);
    expect([res.status, JSON.parse(res.body).error]).toEqual([401, 'ERR_CNF_MISSING']);
    expect(app.seen.length).toBe(before);
  });
});

describe('x-fapi-interaction-id through the inbound sidecar', () => {
  it('echoes a valid id on success, passes it to the app and writes it in the access log', async () => {
    const id = 'c1b0e6a4-9f1e-4d8a-9b3e-2f4c6a8e0d12';
    const res = await call('/hello', [
      `Authorization: Bearer ${await sidecar.token()}`,
      `x-fapi-interaction-id: ${id}`,
    ]);
    expect(res.status).toBe(200);
    expect(res.headers['x-fapi-interaction-id']).toBe(id);
    expect(app.seen.at(-1)!.headers['x-fapi-interaction-id']).toBe(id);
    const line = await sidecar.accessLogLine((l) => l['interactionId'] === id);
    expect(line['status']).toBe(200);
  });

  it('echoes it on a refusal (WWW-Authenticate) and logs it', async () => {
    const id = '0f7e1d2c-3b4a-4596-8877-665544332211';
    const res = await call('/hello', [`x-fapi-interaction-id: ${id}`]);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBeDefined();
    expect(res.headers['x-fapi-interaction-id']).toBe(id);
    const line = await sidecar.accessLogLine((l) => l['interactionId'] === id);
    expect(line['code']).toBe('ERR_TOKEN_MISSING');
  });

  it('replaces a malformed id with a fresh UUID, logs the replacement, never echoes it', async () => {
    const res = await call('/hello', [
      `Authorization: Bearer ${await sidecar.token()}`,
      'x-fapi-interaction-id: not-a-uuid<script>',
    ]);
    expect(res.status).toBe(200);
    const fresh = res.headers['x-fapi-interaction-id']!;
    expect(fresh).toMatch(UUID);
    expect(app.seen.at(-1)!.headers['x-fapi-interaction-id']).toBe(fresh);
    await sidecar.accessLogLine((l) => l['interactionId'] === fresh);
    const warning = sidecar.process.lines.find(
      (l) => l.includes('malformed x-fapi-interaction-id') && l.includes(fresh),
    );
    expect(warning).toBeDefined();
    expect(sidecar.process.lines.join('\n')).not.toContain('not-a-uuid');
  });

  it('mints one when absent', async () => {
    const res = await call('/hello', [`Authorization: Bearer ${await sidecar.token()}`]);
    const minted = res.headers['x-fapi-interaction-id']!;
    expect(minted).toMatch(UUID);
    expect(app.seen.at(-1)!.headers['x-fapi-interaction-id']).toBe(minted);
  });
});
