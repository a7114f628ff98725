import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { initCaDir, issueWorkload } from '../../src/devca/dev-ca-store.js';
import type { DevCa } from '../../src/devca/dev-ca.js';
import { readFileSync } from 'node:fs';

/** PEM material of one test workload. */
export interface TestWorkload {
  name: string;
  spiffeId: string;
  certPem: string;
  keyPem: string;
  bundlePem: string;
  thumbprint: string;
  dir: string;
  paths: { cert: string; key: string; ca: string };
}

/** A CA directory minted for one test run. */
export interface TestPki {
  dir: string;
  ca: DevCa;
  workloads: Record<string, TestWorkload>;
  issue(name: string, options?: { ttlMs?: number }): Promise<TestWorkload>;
  cleanup(): Promise<void>;
}

/** Mints a CA and workload certificates in a fresh temp directory. */
export async function createTestPki(
  names: string[] = ['orders', 'payments', 'attacker'],
): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-pki-'));
  const { ca } = await initCaDir(dir);
  const workloads: Record<string, TestWorkload> = {};
  const issue = async (name: string, options: { ttlMs?: number } = {}): Promise<TestWorkload> => {
    const spiffeId = `spiffe://demo.local/ns/default/sa/${name}`;
    const issued = await issueWorkload(dir, { name, spiffeId, ...options });
    const w: TestWorkload = {
      name,
      spiffeId,
      certPem: issued.certPem,
      keyPem: issued.keyPem ?? '',
      bundlePem: readFileSync(issued.paths.ca, 'utf8'),
      thumbprint: thumbprintOf(issued.certPem),
      dir: join(dir, name),
      paths: issued.paths,
    };
    workloads[name] = w;
    return w;
  };
  for (const name of names) await issue(name);
  return { dir, ca, workloads, issue, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The PEM material of a test workload, as an X509Source takes it. */
export function materialOf(w: TestWorkload): {
  certPem: string;
  keyPem: string;
  bundlePem: string;
} {
  return { certPem: w.certPem, keyPem: w.keyPem, bundlePem: w.bundlePem };
}
