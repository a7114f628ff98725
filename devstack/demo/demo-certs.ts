import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { spiffeIdOf } from '../../src/binding/peer-identity.js';
import {
  caDirPaths,
  initCaDir,
  issueWorkload,
  workloadPaths,
} from '../../src/devca/dev-ca-store.js';
import { pathExists } from '../../src/identity/path-exists.js';

/** The demo's workloads; `attacker` has a valid certificate from the same CA but no client. */
export const DEMO_WORKLOADS = ['orders', 'payments', 'attacker'] as const;
/** One of {@link DEMO_WORKLOADS}. */
export type DemoWorkload = (typeof DEMO_WORKLOADS)[number];

/** Absolute paths of the files `make certs` writes, and the SPIFFE ID of each workload. */
export interface DemoCerts {
  readonly dir: string;
  readonly bundle: string;
  readonly workloads: Readonly<
    Record<DemoWorkload, { cert: string; key: string; ca: string; spiffeId: string }>
  >;
}

async function expiresSoon(certPath: string): Promise<boolean> {
  try {
    const cert = new X509Certificate(await readFile(certPath, 'utf8'));
    return new Date(cert.validTo).getTime() - Date.now() < 3_600_000;
  } catch {
    return true;
  }
}

/**
 * Reads the dev CA directory written by `make certs`; creates what is missing the same way
 * (`certs init`, `certs issue`) so that the demo also runs on its own.
 */
export async function ensureDemoCerts(dir: string, trustDomain = 'demo.local'): Promise<DemoCerts> {
  const root = resolve(dir);
  await initCaDir(root);
  const workloads = {} as Record<
    DemoWorkload,
    { cert: string; key: string; ca: string; spiffeId: string }
  >;
  for (const name of DEMO_WORKLOADS) {
    const paths = workloadPaths(root, name);
    const present =
      (await pathExists(paths.cert)) &&
      (await pathExists(paths.key)) &&
      (await pathExists(paths.ca));
    // Dev certificates live 24 h: a directory from an earlier day is re-issued, not failed on.
    if (!present || (await expiresSoon(paths.cert))) {
      await issueWorkload(root, {
        name,
        spiffeId: `spiffe://${trustDomain}/ns/default/sa/${name}`,
      });
    }
    const spiffeId = spiffeIdOf(new X509Certificate(await readFile(paths.cert, 'utf8')));
    if (spiffeId === undefined) {
      throw new Error(`${paths.cert} has no SPIFFE ID; re-issue it with "make certs"`);
    }
    workloads[name] = { cert: paths.cert, key: paths.key, ca: paths.ca, spiffeId };
  }
  return { dir: root, bundle: caDirPaths(root).bundle, workloads };
}
