import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { spiffeIdOf } from '../binding/peer-identity.js';
import { thumbprintOf } from '../binding/thumbprint.js';
import { writeFileAtomic } from '../identity/atomic-write.js';
import { caDirPaths, issueWorkload, workloadPaths } from './dev-ca-store.js';
import type { KeyType } from '../identity/key-pair.js';
import { createDevCa, type IssuedCertificate } from './dev-ca.js';
import { parsePemCertificates } from '../identity/pem.js';
import { pathExists } from '../identity/path-exists.js';

/** Folder of a CA directory holding the CA replaced by {@link rotateCa}, until {@link retireCa}. */
const PREVIOUS_CA_DIR = 'ca-previous';

const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

/** Names of the workloads of a CA directory: sub-folders holding a `cert.pem`. */
async function listWorkloads(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name === 'ca' || e.name === PREVIOUS_CA_DIR || e.name.startsWith('.'))
      continue;
    if (await pathExists(workloadPaths(dir, e.name).cert)) names.push(e.name);
  }
  return names.sort();
}

/**
 * Re-issues one workload in place — new key, new serial, same SPIFFE ID, extra DNS names,
 * EKUs, key type and lifetime as the certificate it replaces — each file written atomically.
 * A running source watching the folder picks it up by itself.
 *
 * @throws Error naming the file when the workload has no certificate yet
 */
export async function rotateWorkload(
  dir: string,
  name: string,
  options: { ttlMs?: number } = {},
): Promise<
  IssuedCertificate & {
    previousThumbprint: string;
    thumbprint: string;
    spiffeId: string | undefined;
  }
> {
  const paths = workloadPaths(dir, name);
  let old: X509Certificate;
  try {
    old = new X509Certificate(await readFile(paths.cert, 'utf8'));
  } catch {
    throw new Error(
      `cannot rotate ${name}: ${paths.cert} is missing or not a certificate; issue it first with "certbound certs issue --dir ${dir} --name ${name}"`,
    );
  }
  const spiffeId = spiffeIdOf(old);
  const dnsNames = (old.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4))
    .filter((n) => n !== 'localhost' && n !== name);
  const eku = old.keyUsage ?? [];
  const usages = [
    ...(eku.includes(OID_CLIENT_AUTH) ? (['clientAuth'] as const) : []),
    ...(eku.includes(OID_SERVER_AUTH) ? (['serverAuth'] as const) : []),
  ];
  const keyType: KeyType = old.publicKey.asymmetricKeyType === 'ed25519' ? 'Ed25519' : 'P-256';
  const lifetime = new Date(old.validTo).getTime() - new Date(old.validFrom).getTime();
  const issued = await issueWorkload(dir, {
    name,
    ttlMs: options.ttlMs ?? lifetime,
    keyType,
    usages,
    ...(dnsNames.length > 0 ? { dnsNames } : {}),
    ...(spiffeId !== undefined ? { spiffeId } : {}),
  });
  return {
    ...issued,
    previousThumbprint: thumbprintOf(old),
    thumbprint: thumbprintOf(issued.certPem),
    spiffeId,
  };
}

async function writeBundleEverywhere(
  dir: string,
  bundlePem: string,
  names: readonly string[],
): Promise<void> {
  // Every trust store first: peers must accept the new CA before anyone presents a certificate from it.
  await writeFileAtomic(caDirPaths(dir).bundle, bundlePem);
  for (const name of names) await writeFileAtomic(workloadPaths(dir, name).ca, bundlePem);
}

/**
 * CA rotation, step 1 (overlap): moves the current CA to `ca-previous/`, creates a new CA,
 * writes every bundle (`bundle.pem` and each workload's `ca.pem`) as old + new, then
 * re-issues every workload certificate under the new CA. With `bundleOnly` the re-issue is
 * left to `rotateWorkload` per workload (a two-phase rollout: trust first, then certificates).
 *
 * @throws Error when a previous CA is still waiting to be retired
 */
export async function rotateCa(
  dir: string,
  options: { ttlMs?: number; bundleOnly?: boolean } = {},
): Promise<{ workloads: Array<{ name: string; thumbprint: string }>; caThumbprint: string }> {
  const previousDir = join(dir, PREVIOUS_CA_DIR);
  if (await pathExists(previousDir))
    throw new Error(
      `a previous CA is still in ${previousDir}: run "certbound certs retire-ca --dir ${dir}" (make retire-ca) before rotating again`,
    );
  const oldBundle = await readFile(caDirPaths(dir).bundle, 'utf8');
  await rename(join(dir, 'ca'), previousDir);
  // A distinct name per generation, so status output and chain building tell old from new.
  const ca = await createDevCa({
    commonName: `certbound dev CA ${new Date().toISOString().slice(0, 10)} ${randomBytes(3).toString('hex')}`,
    ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
  });
  const paths = caDirPaths(dir);
  await mkdir(join(dir, 'ca'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(paths.caKey, ca.keyPem, 0o600);
  await writeFileAtomic(paths.caCert, ca.certPem);
  const names = await listWorkloads(dir);
  await writeBundleEverywhere(dir, oldBundle.trimEnd() + '\n' + ca.certPem, names);
  const workloads: Array<{ name: string; thumbprint: string }> = [];
  for (const name of options.bundleOnly === true ? [] : names) {
    const r = await rotateWorkload(dir, name);
    workloads.push({ name, thumbprint: r.thumbprint });
  }
  return { workloads, caThumbprint: thumbprintOf(ca.certPem) };
}

/**
 * CA rotation, step 2: removes the previous CA from every bundle and deletes `ca-previous/`.
 * Refuses while a workload still holds a certificate from it (re-issue that one first).
 *
 * @throws Error when there is no previous CA or a workload still depends on it
 */
export async function retireCa(dir: string): Promise<{ removed: string[]; bundleSize: number }> {
  const previousDir = join(dir, PREVIOUS_CA_DIR);
  let previous: X509Certificate;
  try {
    previous = new X509Certificate(await readFile(join(previousDir, 'ca.pem'), 'utf8'));
  } catch {
    throw new Error(
      `no previous CA to retire in ${previousDir}: run "certbound certs rotate-ca --dir ${dir}" first`,
    );
  }
  const names = await listWorkloads(dir);
  for (const name of names) {
    const leaf = new X509Certificate(await readFile(workloadPaths(dir, name).cert, 'utf8'));
    if (leaf.checkIssued(previous) && leaf.verify(previous.publicKey))
      throw new Error(
        `${name} still holds a certificate from the previous CA: run "certbound certs rotate --dir ${dir} --name ${name}" first`,
      );
  }
  const bundle = parsePemCertificates(await readFile(caDirPaths(dir).bundle, 'utf8'));
  const kept = bundle.filter((c) => !c.raw.equals(previous.raw));
  if (kept.length === 0) throw new Error(`retiring would leave ${caDirPaths(dir).bundle} empty`);
  await writeBundleEverywhere(dir, kept.map((c) => c.toString()).join(''), names);
  await rm(previousDir, { recursive: true, force: true });
  return { removed: [thumbprintOf(previous)], bundleSize: kept.length };
}

/** One line of {@link certsStatusOf}. */
export interface CertificateStatus {
  /** Workload name, `ca` (current CA) or `ca-previous`. */
  readonly name: string;
  readonly subject: string;
  readonly spiffeId: string | undefined;
  readonly thumbprint: string;
  readonly issuer: string;
  readonly notAfter: Date;
  /** Milliseconds until expiry (negative when expired). */
  readonly expiresInMs: number;
}

function statusOf(name: string, pem: string, now: number): CertificateStatus {
  const cert = new X509Certificate(pem);
  const notAfter = new Date(cert.validTo);
  return {
    name,
    subject: cert.subject.replace(/\n/g, ', '),
    spiffeId: spiffeIdOf(cert),
    thumbprint: thumbprintOf(cert),
    issuer: cert.issuer.replace(/\n/g, ', '),
    notAfter,
    expiresInMs: notAfter.getTime() - now,
  };
}

/** Subject, SPIFFE ID, thumbprint, issuer and time to expiry of every certificate in `dir`. */
export async function certsStatusOf(
  dir: string,
  now: number = Date.now(),
): Promise<CertificateStatus[]> {
  const rows: CertificateStatus[] = [
    statusOf('ca', await readFile(caDirPaths(dir).caCert, 'utf8'), now),
  ];
  const previous = join(dir, PREVIOUS_CA_DIR, 'ca.pem');
  if (await pathExists(previous))
    rows.push(statusOf(PREVIOUS_CA_DIR, await readFile(previous, 'utf8'), now));
  for (const name of await listWorkloads(dir))
    rows.push(statusOf(name, await readFile(workloadPaths(dir, name).cert, 'utf8'), now));
  return rows;
}
