import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../identity/atomic-write.js';
import {
  createDevCa,
  issueCertificate,
  loadDevCa,
  type DevCa,
  type IssueOptions,
  type IssuedCertificate,
} from './dev-ca.js';
import { pathExists } from '../identity/path-exists.js';

/**
 * Layout of a dev CA directory (default `certs/`):
 *
 * ```
 * certs/ca/ca.pem, ca/ca-key.pem   the current CA (key 0600)
 * certs/bundle.pem                 every trusted CA (old + new during a CA rotation)
 * certs/<name>/cert.pem, key.pem, ca.pem   one workload; ca.pem is a copy of the bundle
 * ```
 */
export function caDirPaths(dir: string): { caCert: string; caKey: string; bundle: string } {
  return {
    caCert: join(dir, 'ca', 'ca.pem'),
    caKey: join(dir, 'ca', 'ca-key.pem'),
    bundle: join(dir, 'bundle.pem'),
  };
}

/** Paths of one workload's files in a CA directory. */
export function workloadPaths(
  dir: string,
  name: string,
): { cert: string; key: string; ca: string } {
  return {
    cert: join(dir, name, 'cert.pem'),
    key: join(dir, name, 'key.pem'),
    ca: join(dir, name, 'ca.pem'),
  };
}

/**
 * Creates the CA in `dir` unless one exists (then it is loaded and kept: `make certs`
 * is idempotent). `force` replaces it.
 *
 * @returns the CA and whether it was created
 */
export async function initCaDir(
  dir: string,
  options: { force?: boolean; ttlMs?: number } = {},
): Promise<{ ca: DevCa; created: boolean }> {
  const paths = caDirPaths(dir);
  if (!options.force && (await pathExists(paths.caCert)) && (await pathExists(paths.caKey))) {
    return { ca: await readCaDir(dir), created: false };
  }
  const ca = await createDevCa(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {});
  await mkdir(join(dir, 'ca'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(paths.caKey, ca.keyPem, 0o600);
  await writeFileAtomic(paths.caCert, ca.certPem);
  await writeFileAtomic(paths.bundle, ca.certPem);
  return { ca, created: true };
}

/**
 * Loads the current CA of `dir`.
 *
 * @throws Error naming the missing file and the command that creates it.
 */
export async function readCaDir(dir: string): Promise<DevCa> {
  const paths = caDirPaths(dir);
  let certPem: string;
  let keyPem: string;
  try {
    [certPem, keyPem] = await Promise.all([
      readFile(paths.caCert, 'utf8'),
      readFile(paths.caKey, 'utf8'),
    ]);
  } catch {
    throw new Error(
      `no CA in ${dir}: ${paths.caCert} or ${paths.caKey} is missing; run "certbound certs init --dir ${dir}" (or "make certs")`,
    );
  }
  return loadDevCa(certPem, keyPem);
}

/**
 * Issues (or re-issues: new key, new serial) a workload certificate into
 * `dir/<name>/{cert.pem,key.pem,ca.pem}`, each written atomically, key mode 0600.
 */
export async function issueWorkload(
  dir: string,
  options: Omit<IssueOptions, 'csrPem'>,
): Promise<IssuedCertificate & { paths: ReturnType<typeof workloadPaths> }> {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(options.name)) {
    throw new TypeError(
      `workload name "${options.name}" must be lower-case letters, digits and dashes`,
    );
  }
  const ca = await readCaDir(dir);
  const bundle = await readFile(caDirPaths(dir).bundle, 'utf8');
  const issued = await issueCertificate(ca, options);
  const paths = workloadPaths(dir, options.name);
  await mkdir(join(dir, options.name), { recursive: true, mode: 0o700 });
  await writeFileAtomic(paths.ca, bundle);
  await writeFileAtomic(paths.key, issued.keyPem ?? '', 0o600);
  await writeFileAtomic(paths.cert, issued.certPem);
  return { ...issued, paths };
}
