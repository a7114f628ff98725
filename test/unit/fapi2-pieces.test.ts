import { constants, generateKeyPairSync, sign } from 'node:crypto';
import { createJwtValidator } from '../../src/verify/jwt-validator.js';
import { describe, expect, it } from 'vitest';
import type { TokenEndpointResponse } from 'oauth4webapi';
import { fapi2ViolationsOf } from '../../src/config/fapi2-profile.js';
import { parseConfig, parseConfigText } from '../../src/config/load-config.js';
import { bearerErrorResponseOf } from '../../src/http/bearer-error-response.js';
import { CertboundError, isCertboundError } from '../../src/errors.js';
import {
  isMetadataRequest,
  metadataAnswerOf,
  protectedResourceMetadataOf,
  resourceMetadataUrlOf,
} from '../../src/http/protected-resource-metadata.js';
import { interactionIdOf } from '../../src/observability/interaction-id.js';
import { DpopKeys } from '../../src/token/dpop-keys.js';
import { accessTokenOf } from '../../src/token/process-token-response.js';
import { normalizeTokenRequest } from '../../src/token/token-request-key.js';
import { requireKeyStrength } from '../../src/verify/signing-key-strength.js';
import type { WorkloadIdentity } from '../../src/identity/workload-identity.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('interactionIdOf (FAPI 2.0 Implementation Advice §2.2.1)', () => {
  const valid = '3F2504E0-4F89-41D3-9A0C-0305E82C3301';
  it.each<[string, string | string[] | undefined, 'valid' | 'absent' | 'malformed']>([
    ['one UUID, any case', valid, 'valid'],
    ['absent', undefined, 'absent'],
    ['empty list', [], 'absent'],
    ['empty string', '', 'malformed'],
    ['not a UUID', 'abc', 'malformed'],
    ['header injection', `${valid}\r\nx-evil: 1`, 'malformed'],
    ['UUID with a suffix', `${valid}x`, 'malformed'],
    ['two values', [valid, valid], 'malformed'],
    ['braced', `{${valid}}`, 'malformed'],
  ])('%s → %s', (_name, values, received) => {
    const id = interactionIdOf(values);
    expect(id.received).toBe(received);
    expect(id.value).toMatch(UUID);
    if (received === 'valid') expect(id.value).toBe(valid.toLowerCase());
  });
  it('mints a different id every time', () => {
    expect(interactionIdOf(undefined).value).not.toBe(interactionIdOf(undefined).value);
  });
});

describe('protectedResourceMetadataOf (RFC 9728 §2)', () => {
  it('shapes the document', () => {
    const m = protectedResourceMetadataOf({
      resource: 'https://api.example:8443',
      authorizationServers: ['https://as.example', 'https://as.example', 'https://as2.example'],
      dpopBoundAccessTokensRequired: true,
      dpopSigningAlgValuesSupported: ['ES256', 'PS256'],
    });
    expect(m).toEqual({
      resource: 'https://api.example:8443',
      authorization_servers: ['https://as.example', 'https://as2.example'],
      bearer_methods_supported: ['header'],
      tls_client_certificate_bound_access_tokens: true,
      dpop_bound_access_tokens_required: true,
      dpop_signing_alg_values_supported: ['ES256', 'PS256'],
    });
    const answer = metadataAnswerOf(m, 'GET');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(JSON.parse(answer.body)).toEqual(m);
    expect(metadataAnswerOf(m, 'HEAD').body).toBe('');
    expect(resourceMetadataUrlOf(m.resource)).toBe(
      'https://api.example:8443/.well-known/oauth-protected-resource',
    );
  });
  it.each(['http://api.example', 'https://api.example/path', 'https://u:p@api.example', 'nope'])(
    'refuses resource %s',
    (resource) => {
      expect(() =>
        protectedResourceMetadataOf({ resource, authorizationServers: ['https://as'] }),
      ).toThrow(TypeError);
    },
  );
  it('serves only GET/HEAD of exactly the well-known path', () => {
    expect(isMetadataRequest('GET', '/.well-known/oauth-protected-resource')).toBe(true);
    expect(isMetadataRequest('POST', '/.well-known/oauth-protected-resource')).toBe(false);
    expect(isMetadataRequest('GET', '/.well-known/oauth-protected-resource/x')).toBe(false);
  });
  it('adds resource_metadata to error and bare challenges (§5.1), none to 5xx', () => {
    const opts = { resourceMetadata: 'https://api.example/.well-known/oauth-protected-resource' };
    const refused = bearerErrorResponseOf(new CertboundError('ERR_TOKEN_EXPIRED'), opts);
    expect(refused.headers['www-authenticate']).toMatch(
      /^Bearer realm="certbound", error="invalid_token", error_description="[^"]*", resource_metadata="https:\/\/api\.example\/\.well-known\/oauth-protected-resource"$/,
    );
    const bare = bearerErrorResponseOf(new CertboundError('ERR_TOKEN_MISSING'), opts);
    expect(bare.headers['www-authenticate']).toBe(
      `Bearer realm="certbound", resource_metadata="${opts.resourceMetadata}"`,
    );
    expect(
      bearerErrorResponseOf(new CertboundError('ERR_APP_UNREACHABLE'), opts).headers[
        'www-authenticate'
      ],
    ).toBeUndefined();
  });
});

const IDENTITY = `identity: { certPath: /c, keyPath: /k, bundlePath: /b }
inbound: { app: { url: "http://127.0.0.1:1" } }
`;

describe('fapi2ViolationsOf', () => {
  const of = (verify: string) =>
    fapi2ViolationsOf(parseConfig(parseConfigText(`${IDENTITY}verify: ${verify}\n`, 'test'), {}));
  it('has nothing to say about a compliant configuration', () => {
    expect(of('{ issuer: https://as, audience: a, jwksUri: https://as/jwks }')).toEqual([]);
  });
  it.each([
    ['clockTolerance: 61s', '5.3.2.1'],
    ['clockTolerance: 9s', '5.3.2.1'],
    ['algorithms: [RS256]', '5.4.1'],
  ])('%s → §%s', (extra, section) => {
    const v = of(`{ issuer: https://as, audience: a, jwksUri: https://as/jwks, ${extra} }`);
    expect(v.map((x) => x.section)).toEqual([section]);
  });
});

describe('requireKeyStrength (FAPI 2.0 §5.4.1)', () => {
  it('refuses an RSA key under the minimum, accepts 2048 bits and EC keys', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const strong = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const check = (key: unknown) =>
      requireKeyStrength(() => Promise.resolve(key as never), 2048)(
        { alg: 'PS256' },
        {
          payload: '',
          signature: '',
        },
      );
    await expect(check(weak)).rejects.toMatchObject({ code: 'ERR_TOKEN_KEY_WEAK' });
    await expect(check(strong)).resolves.toBe(strong);
    await expect(check(ec)).resolves.toBe(ec);
    const webWeak = await crypto.subtle.importKey(
      'spki',
      weak.export({ format: 'der', type: 'spki' }),
      { name: 'RSA-PSS', hash: 'SHA-256' },
      true,
      ['verify'],
    );
    await expect(check(webWeak)).rejects.toMatchObject({ code: 'ERR_TOKEN_KEY_WEAK' });
  });
});

describe('createJwtValidator with minRsaModulusBits (the fapi2 profile)', () => {
  it('refuses a PS256 token signed with a 1024-bit RSA key: ERR_TOKEN_KEY_WEAK', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'weak', alg: 'PS256', use: 'sig' };
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const input = `${enc({ alg: 'PS256', typ: 'at+jwt', kid: 'weak' })}.${enc({
      iss: 'https://as',
      aud: 'https://rs',
      sub: 'orders',
      iat: now,
      exp: now + 60,
      cnf: { 'x5t#S256': 'A'.repeat(43) },
    })}`;
    const signature = sign('sha256', Buffer.from(input), {
      key: privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    }).toString('base64url');
    const validator = createJwtValidator({
      jwks: { keys: { keys: [jwk] } },
      issuer: 'https://as',
      audience: 'https://rs',
      algorithms: ['PS256'],
      minRsaModulusBits: 2048,
    });
    await expect(validator.validate(`${input}.${signature}`)).rejects.toMatchObject({
      code: 'ERR_TOKEN_KEY_WEAK',
    });
  });
});

describe('outbound DPoP pieces', () => {
  it('keys the token cache by proof kind', () => {
    const mtls = normalizeTokenRequest({ resource: 'https://r', scope: 'a' });
    const dpop = normalizeTokenRequest({ resource: 'https://r', scope: 'a', proof: 'dpop' });
    expect(mtls.key).not.toBe(dpop.key);
    expect(mtls.key).toBe(normalizeTokenRequest({ resource: 'https://r', scope: ['a'] }).key);
    expect(dpop.proof).toBe('dpop');
  });

  it('holds one key per certificate: the same until the certificate rotates, never extractable', async () => {
    const keys = new DpopKeys({ client_id: 'c' });
    const a = { thumbprint: 'A'.repeat(43) } as WorkloadIdentity;
    const b = { thumbprint: 'B'.repeat(43) } as WorkloadIdentity;
    const [first, again] = await Promise.all([keys.for(a), keys.for(a)]);
    expect(again).toBe(first);
    const rotated = await keys.for(b);
    expect(rotated.jkt).not.toBe(first.jkt);
    expect(await keys.for(a)).toBe(first);
    // A third certificate retires the oldest key.
    await keys.for({ thumbprint: 'C'.repeat(43) } as WorkloadIdentity);
    expect((await keys.for(a)).jkt).not.toBe(first.jkt);
  });

  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const jwt = (payload: Record<string, unknown>) =>
    `${enc({ alg: 'ES256', typ: 'at+jwt' })}.${enc(payload)}.c2ln`;
  const response = (token: string, type = 'DPoP'): TokenEndpointResponse => ({
    access_token: token,
    token_type: type.toLowerCase() as 'dpop',
    expires_in: 300,
  });
  const context = {
    thumbprint: 'T'.repeat(43),
    requestedAt: Date.now(),
    allowUnboundTokens: false,
    defaultLifetimeSec: 60,
    dpopJkt: 'J'.repeat(43),
  };
  const code = (fn: () => unknown): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      return isCertboundError(err) ? err.code : 'other';
    }
  };
  it.each<[string, TokenEndpointResponse, string | undefined]>([
    ['bound to our key', response(jwt({ cnf: { jkt: 'J'.repeat(43) } })), undefined],
    ['typed Bearer', response(jwt({ cnf: { jkt: 'J'.repeat(43) } }), 'Bearer'), 'ERR_AS_RESPONSE'],
    ['no cnf.jkt', response(jwt({ cnf: { 'x5t#S256': 'T'.repeat(43) } })), 'ERR_TOKEN_NOT_BOUND'],
    ['another key', response(jwt({ cnf: { jkt: 'K'.repeat(43) } })), 'ERR_TOKEN_NOT_BOUND'],
    [
      'our key but another certificate',
      response(jwt({ cnf: { jkt: 'J'.repeat(43), 'x5t#S256': 'U'.repeat(43) } })),
      'ERR_TOKEN_NOT_BOUND',
    ],
    ['opaque', response('opaque-token'), 'ERR_TOKEN_NOT_BOUND'],
  ])('accessTokenOf for a DPoP request: %s', (_name, res, expected) => {
    expect(code(() => accessTokenOf(res, context))).toBe(expected);
  });
});
