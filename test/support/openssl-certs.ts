import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import type { TestPki, TestWorkload } from './pki.js';

const run = promisify(execFile);

/** Options of {@link mintWithOpenssl}. */
export interface OpensslCertOptions {
  /** `openssl req -newkey` argument: `rsa:1024`, `ec`, … */
  readonly newkey: string;
  /** Extra `-pkeyopt` values, e.g. `ec_paramgen_curve:secp224r1`. */
  readonly pkeyopts?: readonly string[];
  /** x509v3 extension lines (`basicConstraints=critical,CA:TRUE`, `extendedKeyUsage=…`). */
  readonly extensions: readonly string[];
  /** Signs with this (CA:TRUE) workload's key instead of the PKI's CA: a leaf under an intermediate. */
  readonly issuer?: TestWorkload;
}

/**
 * Mints a client certificate that the dev CA (`@peculiar/x509`, WebCrypto) cannot make —
 * an RSA-1024 or P-224 key, a CA:TRUE "leaf" — with the openssl CLI, signed by the test
 * PKI's CA, in `pki.dir/<name>/`. The SAN carries `spiffe://demo.local/ns/default/sa/<name>`.
 */
export async function mintWithOpenssl(
  pki: TestPki,
  name: string,
  options: OpensslCertOptions,
): Promise<TestWorkload> {
  const dir = join(pki.dir, name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const paths = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), ca: join(dir, 'ca.pem') };
  const spiffeId = `spiffe://demo.local/ns/default/sa/${name}`;
  const csr = join(dir, 'req.csr');
  const ext = join(dir, 'ext.cnf');
  await run('openssl', [
    'req',
    '-new',
    '-newkey',
    options.newkey,
    ...(options.pkeyopts ?? []).flatMap((o) => ['-pkeyopt', o]),
    '-nodes',
    '-keyout',
    paths.key,
    '-out',
    csr,
    '-subj',
    `/CN=${name}/O=certbound`,
  ]);
  await writeFile(
    ext,
    [`subjectAltName=URI:${spiffeId},DNS:localhost,IP:127.0.0.1`, ...options.extensions].join('\n'),
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    options.issuer?.paths.cert ?? join(pki.dir, 'ca', 'ca.pem'),
    '-CAkey',
    options.issuer?.paths.key ?? join(pki.dir, 'ca', 'ca-key.pem'),
    '-set_serial',
    `0x${Buffer.from(name).toString('hex').slice(0, 30)}01`,
    '-days',
    '1',
    '-out',
    paths.cert,
    '-extfile',
    ext,
  ]);
  const bundlePem = await readFile(join(pki.dir, 'bundle.pem'), 'utf8');
  await writeFile(paths.ca, bundlePem);
  const certPem = await readFile(paths.cert, 'utf8');
  return {
    name,
    spiffeId,
    certPem,
    keyPem: await readFile(paths.key, 'utf8'),
    bundlePem,
    thumbprint: thumbprintOf(certPem),
    dir,
    paths,
  };
}
