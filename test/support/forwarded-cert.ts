import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { derOf, thumbprintOf } from '../../src/binding/thumbprint.js';
import { issueCertificate } from '../../src/devca/dev-ca.js';
import { mintWithOpenssl } from './openssl-certs.js';
import type { TestPki, TestWorkload } from './pki.js';

const DAY = 86_400_000;

/** How each format writes one certificate (and its chain), as the proxies do. */
export const encode = {
  /** RFC 9440 §2.1: `:base64(DER):`. */
  rfc9440: (pem: string): string => `:${Buffer.from(derOf(pem)).toString('base64')}:`,
  /** RFC 9440 Client-Cert-Chain: a list of byte sequences. */
  rfc9440Chain: (pems: readonly string[]): string => pems.map(encode.rfc9440).join(', '),
  /** nginx `$ssl_client_escaped_cert`, Envoy XFCC `Cert=`: URL-encoded PEM. */
  escapedPem: (pem: string): string => encodeURIComponent(pem),
  /** HAProxy `%[ssl_c_der,base64]`. */
  base64Der: (pem: string): string => Buffer.from(derOf(pem)).toString('base64'),
  /** An Envoy XFCC element as `SANITIZE_SET` with `cert: true, chain: true` writes it. */
  xfccElement: (o: { by?: string; cert?: string; chain?: readonly string[]; uri?: string }) =>
    [
      ...(o.by !== undefined ? [`By=${o.by}`] : []),
      ...(o.cert !== undefined
        ? [
            `Hash=${createHash('sha256').update(derOf(o.cert)).digest('hex')}`,
            `Cert="${encodeURIComponent(o.cert)}"`,
          ]
        : []),
      ...(o.chain !== undefined ? [`Chain="${encodeURIComponent(o.chain.join(''))}"`] : []),
      `Subject="CN=client,O=certbound, Inc.;x=y"`,
      ...(o.uri !== undefined ? [`URI=${o.uri}`] : []),
    ].join(';'),
};

/** Client certificates a proxy could forward that certbound must refuse, and a chained one. */
export interface ForwardedFixtures {
  /** Issued by the PKI's CA, expired yesterday. */
  readonly expired: TestWorkload;
  /** CA:TRUE, clientAuth, chains to the bundle. */
  readonly caTrue: TestWorkload;
  /** RSA-1024. */
  readonly weakKey: TestWorkload;
  /** EKU serverAuth only. */
  readonly serverOnly: TestWorkload;
  /** An intermediate CA under the PKI's CA. */
  readonly intermediate: TestWorkload;
  /** A leaf issued by {@link intermediate}. */
  readonly underIntermediate: TestWorkload;
}

/** Mints the {@link ForwardedFixtures} in `pki` (openssl for what the dev CA cannot make). */
export async function mintForwardedFixtures(pki: TestPki): Promise<ForwardedFixtures> {
  const P256 = { newkey: 'ec', pkeyopts: ['ec_paramgen_curve:P-256'] };
  const CLIENT = 'extendedKeyUsage=clientAuth';
  const [caTrue, weakKey, serverOnly, intermediate, expired] = await Promise.all([
    mintWithOpenssl(pki, 'fwd-ca-true', {
      ...P256,
      extensions: ['basicConstraints=critical,CA:TRUE', CLIENT],
    }),
    mintWithOpenssl(pki, 'fwd-rsa-1024', { newkey: 'rsa:1024', extensions: [CLIENT] }),
    mintWithOpenssl(pki, 'fwd-server-only', {
      ...P256,
      extensions: ['extendedKeyUsage=serverAuth'],
    }),
    mintWithOpenssl(pki, 'fwd-intermediate', {
      ...P256,
      extensions: ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'],
    }),
    issueExpired(pki, 'fwd-expired'),
  ]);
  const underIntermediate = await mintWithOpenssl(pki, 'fwd-chained', {
    ...P256,
    extensions: [CLIENT],
    issuer: intermediate,
  });
  return { expired, caTrue, weakKey, serverOnly, intermediate, underIntermediate };
}

async function issueExpired(pki: TestPki, name: string): Promise<TestWorkload> {
  const spiffeId = `spiffe://demo.local/ns/default/sa/${name}`;
  const issued = await issueCertificate(pki.ca, {
    name,
    spiffeId,
    notBefore: new Date(Date.now() - 3 * DAY),
    ttlMs: DAY,
  });
  const base = await pki.issue(name);
  const paths = base.paths;
  await writeFile(paths.cert, issued.certPem);
  await writeFile(paths.key, issued.keyPem ?? '', { mode: 0o600 });
  return {
    ...base,
    certPem: issued.certPem,
    keyPem: issued.keyPem ?? '',
    thumbprint: thumbprintOf(issued.certPem),
    dir: join(pki.dir, name),
  };
}
