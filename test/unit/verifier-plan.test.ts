import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { isCertboundError } from '../../src/errors.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { verifierPlanOf } from '../../src/sidecar/verifier-of-config.js';
import { createTestPki } from '../support/pki.js';
import { tempDir } from '../support/http-fixtures.js';
import { createTestIssuer } from '../support/jwt.js';

const identity = { certPath: 'c.pem', keyPath: 'k.pem', bundlePath: 'ca.pem' };
const inbound = { app: { url: 'http://127.0.0.1:8080' } };

function verifyOf(verify: unknown) {
  return parseConfig({ identity, inbound, verify }, {}).verify!;
}

describe('verifierPlanOf (verify.issuers[] → verifier)', () => {
  it('names the key of an unreadable client secret file before anything starts', async () => {
    const v = verifyOf({
      issuers: [
        {
          issuer: 'https://as',
          audience: 'https://api',
          introspection: { clientId: 'rs', clientSecretFile: '/nonexistent/secret' },
        },
      ],
    });
    const err = await verifierPlanOf(v).catch((e: unknown) => e);
    expect(isCertboundError(err, 'ERR_FILE_UNREADABLE')).toBe(true);
    expect((err as Error).message).toContain('verify.issuers[0].introspection.clientSecretFile');
  });

  it('builds a verifier over every issuer, reported as `issuers` to /readyz', async () => {
    const [files, b, pki] = await Promise.all([
      tempDir(),
      createTestIssuer('kB', 'https://b.test', 'https://api'),
      createTestPki(['payments']),
    ]);
    try {
      const jwks = await files.write('b.json', JSON.stringify(b.jwks()));
      const secret = await files.write('secret', 's3cret\n');
      const plan = await verifierPlanOf(
        verifyOf({
          issuers: [
            {
              issuer: 'https://as',
              audience: 'https://api',
              introspection: {
                clientId: 'rs',
                clientSecretFile: secret,
                endpoint: 'https://as/introspect',
              },
            },
            { issuer: b.issuer, audience: 'https://api', jwksFile: jwks },
          ],
        }),
      );
      expect(plan).toMatchObject({ remoteKeys: false, readinessName: 'issuers' });
      const w = pki.workloads['payments']!;
      const source = StaticX509Source.create({
        certPem: w.certPem,
        keyPem: w.keyPem,
        bundlePem: w.bundlePem,
      });
      const verifier = plan.build(source);
      const principal = await verifier.verify(await b.sign(w.thumbprint), w.certPem);
      expect(principal.issuer).toBe(b.issuer);
      expect(verifier.ready()).toEqual({ ok: true });
      await verifier.close();
      await source.close();
    } finally {
      await Promise.all([files.cleanup(), pki.cleanup()]);
    }
  });
});
