import { mkdir, readdir, rename, rm, symlink, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { issueCertificate, type DevCa, type IssueOptions } from '../../src/devca/dev-ca.js';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import type { X509Source } from '../../src/identity/x509-source.js';
import type { WorkloadIdentity } from '../../src/identity/workload-identity.js';
import type { CertboundError } from '../../src/errors.js';

/** Cert, key and bundle PEM for one identity file set. */
export interface Files {
  cert: string;
  key: string;
  ca: string;
}

/** Mints a workload certificate + key from `ca` (bundle = that CA unless given). */
export async function mint(
  ca: DevCa,
  name: string,
  options: Partial<IssueOptions> & { bundle?: string } = {},
): Promise<Files & { thumbprint: string }> {
  const { bundle, ...issue } = options;
  const issued = await issueCertificate(ca, {
    name,
    spiffeId: `spiffe://demo.local/ns/default/sa/${name}`,
    ...issue,
  });
  return {
    cert: issued.certPem,
    key: issued.keyPem ?? '',
    ca: bundle ?? ca.certPem,
    thumbprint: thumbprintOf(issued.certPem),
  };
}

const NAMES = { cert: 'cert.pem', key: 'key.pem', ca: 'ca.pem' } as const;
let generation = 0;

/** Writes a Kubernetes-volume layout: ..<gen>/files, ..data -> ..<gen>, file -> ..data/file. */
export async function k8sInit(dir: string, files: Files): Promise<void> {
  await mkdir(dir, { recursive: true });
  const gen = `..gen_${++generation}`;
  await mkdir(join(dir, gen));
  for (const k of ['cert', 'key', 'ca'] as const)
    await writeFile(join(dir, gen, NAMES[k]), files[k]);
  await symlink(gen, join(dir, '..data'));
  for (const k of ['cert', 'key', 'ca'] as const)
    await symlink(join('..data', NAMES[k]), join(dir, NAMES[k]));
}

/** The kubelet's atomic update: new generation folder, `..data_tmp` symlink renamed over `..data`. */
export async function k8sSwap(dir: string, files: Files): Promise<void> {
  const gen = `..gen_${++generation}`;
  await mkdir(join(dir, gen));
  for (const k of ['cert', 'key', 'ca'] as const)
    await writeFile(join(dir, gen, NAMES[k]), files[k]);
  await symlink(gen, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const e of await readdir(dir))
    if (e.startsWith('..gen_') && e !== gen)
      await rm(join(dir, e), { recursive: true, force: true });
}

/** `mv` over each file (key first, as most tools do). */
export async function renameOver(dir: string, files: Files): Promise<void> {
  for (const k of ['ca', 'key', 'cert'] as const) {
    const tmp = join(dir, `.${NAMES[k]}.tmp`);
    await writeFile(tmp, files[k]);
    await rename(tmp, join(dir, NAMES[k]));
  }
}

/** Rewrites each file in place (truncate + write), the cert in two chunks. */
export async function inPlace(dir: string, files: Files, pauseMs = 0): Promise<void> {
  await writeFile(join(dir, NAMES.ca), files.ca);
  await writeFile(join(dir, NAMES.key), files.key);
  const handle = await open(join(dir, NAMES.cert), 'w');
  try {
    const half = Math.floor(files.cert.length / 2);
    await handle.write(files.cert.slice(0, half));
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs)); // a slow writer
    await handle.write(files.cert.slice(half));
  } finally {
    await handle.close();
  }
}

/** Resolves with the first published identity whose thumbprint is `thumbprint`. */
export function nextIdentity(
  source: X509Source,
  thumbprint: string,
  timeoutMs = 15_000,
): Promise<WorkloadIdentity> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no update to ${thumbprint} within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = source.onUpdate((identity) => {
      if (identity.thumbprint !== thumbprint) return;
      clearTimeout(timer);
      off();
      resolve(identity);
    });
  });
}

/** Resolves with the next rejected update. */
export function nextError(source: X509Source, timeoutMs = 15_000): Promise<CertboundError> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no error within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = source.onError((error) => {
      clearTimeout(timer);
      off();
      resolve(error);
    });
  });
}
