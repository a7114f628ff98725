import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { certsInit, certsIssue } from '../../src/cli/commands/certs.js';
import {
  certsRetireCa,
  certsRotate,
  certsRotateCa,
  certsStatus,
} from '../../src/cli/commands/certs-rotation.js';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { FileX509Source } from '../../src/identity/file-x509-source.js';
import { followSecureContext, tlsOptionsOf } from '../../src/tls/follow-secure-context.js';
import type { WorkloadIdentity } from '../../src/identity/workload-identity.js';
import type { X509Source } from '../../src/identity/x509-source.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  vi.restoreAllMocks();
});

/** Runs a command object as the CLI would, capturing what it prints. */
async function cli(
  command: { run(args: string[]): Promise<number> },
  ...args: string[]
): Promise<string> {
  const out: string[] = [];
  const spy = vi
    .spyOn(console, 'log')
    .mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  try {
    expect(await command.run(args)).toBe(0);
  } finally {
    spy.mockRestore();
  }
  return out.join('\n');
}

async function newCertsDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-carot-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await cli(certsInit, '--dir', dir);
  for (const name of ['orders', 'payments'])
    await cli(
      certsIssue,
      '--dir',
      dir,
      '--name',
      name,
      '--spiffe-id',
      `spiffe://demo.local/ns/default/sa/${name}`,
    );
  return dir;
}

interface Client {
  key: string;
  cert: string;
  ca: string;
}

async function clientOf(dir: string, name: string): Promise<Client> {
  const [key, cert, ca] = await Promise.all(
    ['key.pem', 'cert.pem', 'ca.pem'].map((f) => readFile(join(dir, name, f), 'utf8')),
  );
  return { key: key!, cert: cert!, ca: ca! };
}

/** One request on a fresh connection; the server answers with the client cert's thumbprint. */
function call(
  port: number,
  client: Client,
): Promise<{ ok: true; server: string; seenAs: string } | { ok: false; error: string }> {
  const agent = new Agent({ maxCachedSessions: 0, ...client });
  return new Promise<{ ok: true; server: string; seenAs: string } | { ok: false; error: string }>(
    (resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        let body = '';
        const server = thumbprintOf((res.socket as TLSSocket).getPeerX509Certificate()!);
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ ok: true, server, seenAs: body }));
      });
      req.on('error', (err) => resolve({ ok: false, error: err.message }));
      req.end();
    },
  ).finally(() => agent.destroy());
}

function nextUpdate(
  source: X509Source,
  accept: (id: WorkloadIdentity) => boolean,
): Promise<WorkloadIdentity> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no matching update within 15 s')), 15_000);
    const off = source.onUpdate((id) => {
      if (!accept(id)) return;
      clearTimeout(timer);
      off();
      resolve(id);
    });
  });
}

function opensslVerify(bundle: string, cert: string): boolean {
  try {
    execFileSync('openssl', ['verify', '-CAfile', bundle, cert], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

describe('CA rotation: rotate-ca with overlap, then retire-ca', () => {
  let dir: string;
  let port: number;
  let source: FileX509Source;
  let handled = 0;

  beforeAll(async () => {
    dir = await newCertsDir();
    source = await FileX509Source.create({
      certPath: join(dir, 'orders', 'cert.pem'),
      keyPath: join(dir, 'orders', 'key.pem'),
      bundlePath: join(dir, 'orders', 'ca.pem'),
      requireServerAuth: true,
      debounceMs: 50,
      pollIntervalMs: 1000,
    });
    cleanups.push(() => source.close());
    const server: Server = createServer(
      { ...tlsOptionsOf(source.current()), requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        handled++;
        res.end(thumbprintOf((req.socket as TLSSocket).getPeerX509Certificate()!));
      },
    );
    cleanups.push(followSecureContext(server, source));
    port = await new Promise<number>((r) =>
      server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)),
    );
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  });

  it('keeps old-CA and new-CA clients working through the overlap, then refuses old-CA clients after retire-ca', async () => {
    const oldClient = await clientOf(dir, 'payments');
    const oldServer = source.current().thumbprint;
    expect(await call(port, oldClient)).toMatchObject({ ok: true, server: oldServer });

    const rotated = nextUpdate(
      source,
      (id) => id.bundle.length === 2 && id.thumbprint !== oldServer,
    );
    const out = await cli(certsRotateCa, '--dir', dir);
    expect(out).toMatch(/re-issued orders/);
    expect(out).toMatch(/re-issued payments/);
    const serverNow = await rotated;

    const newClient = await clientOf(dir, 'payments');
    expect(thumbprintOf(newClient.cert)).not.toBe(thumbprintOf(oldClient.cert));
    // Old-CA certificate, bundle picked up from disk (old + new): still accepted, and trusts the new server cert.
    const oldDuringOverlap = { ...oldClient, ca: newClient.ca };
    expect(await call(port, oldDuringOverlap)).toEqual({
      ok: true,
      server: serverNow.thumbprint,
      seenAs: thumbprintOf(oldClient.cert),
    });
    expect(await call(port, newClient)).toEqual({
      ok: true,
      server: serverNow.thumbprint,
      seenAs: thumbprintOf(newClient.cert),
    });

    // The chains pass openssl verify against the overlap bundle, old and new.
    const bundle = join(dir, 'bundle.pem');
    expect(opensslVerify(bundle, join(dir, 'orders', 'cert.pem'))).toBe(true);
    expect(opensslVerify(bundle, join(dir, 'payments', 'cert.pem'))).toBe(true);
    expect(opensslVerify(bundle, join(dir, 'ca-previous', 'ca.pem'))).toBe(true);

    const status = await cli(certsStatus, '--dir', dir);
    expect(status).toMatch(/^ca-previous$/m);
    expect(status).toContain('spiffe://demo.local/ns/default/sa/payments');
    expect(status).toContain(thumbprintOf(newClient.cert));

    const retired = nextUpdate(source, (id) => id.bundle.length === 1);
    await cli(certsRetireCa, '--dir', dir);
    await retired;
    await expect(access(join(dir, 'ca-previous'))).rejects.toThrow();

    const handledBefore = handled;
    const refused = await call(port, oldDuringOverlap);
    expect(refused.ok).toBe(false);
    // Refused at the handshake: node's TLS server destroyed the connection, no request reached the app.
    expect(handled).toBe(handledBefore);
    expect(await call(port, await clientOf(dir, 'payments'))).toMatchObject({
      ok: true,
      server: serverNow.thumbprint,
    });

    expect(opensslVerify(bundle, join(dir, 'orders', 'cert.pem'))).toBe(true);
    const oldCertFile = join(dir, 'old-payments.pem');
    await writeFile(oldCertFile, oldClient.cert);
    expect(opensslVerify(bundle, oldCertFile)).toBe(false);
  });
});

describe('certs rotate / rotate-ca --bundle-only / retire-ca guards', () => {
  it('rotate re-issues in place with a new key and serial and the same SPIFFE ID', async () => {
    const dir = await newCertsDir();
    const before = new X509Certificate(await readFile(join(dir, 'orders', 'cert.pem'), 'utf8'));
    const beforeKey = await readFile(join(dir, 'orders', 'key.pem'), 'utf8');
    const out = await cli(certsRotate, '--dir', dir, '--name', 'orders');
    const after = new X509Certificate(await readFile(join(dir, 'orders', 'cert.pem'), 'utf8'));
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(await readFile(join(dir, 'orders', 'key.pem'), 'utf8')).not.toBe(beforeKey);
    expect(after.subjectAltName).toBe(before.subjectAltName);
    expect(after.subjectAltName).toContain('URI:spiffe://demo.local/ns/default/sa/orders');
    expect(out).toContain(`${thumbprintOf(before)} -> ${thumbprintOf(after)}`);
    await expect(certsRotate.run(['--dir', dir, '--name', 'nobody'])).rejects.toThrow(
      /nobody.*missing/,
    );
  });

  it('two-phase: bundle first, retire-ca refuses while a workload holds an old-CA certificate', async () => {
    const dir = await newCertsDir();
    await expect(certsRetireCa.run(['--dir', dir])).rejects.toThrow(/no previous CA/);
    const oldOrders = await readFile(join(dir, 'orders', 'cert.pem'), 'utf8');
    await cli(certsRotateCa, '--dir', dir, '--bundle-only');
    expect(await readFile(join(dir, 'orders', 'cert.pem'), 'utf8')).toBe(oldOrders);
    expect(
      (await readFile(join(dir, 'orders', 'ca.pem'), 'utf8')).match(/BEGIN CERTIFICATE/g),
    ).toHaveLength(2);
    await expect(certsRotateCa.run(['--dir', dir])).rejects.toThrow(/retire-ca/);
    await expect(certsRetireCa.run(['--dir', dir])).rejects.toThrow(
      /orders still holds a certificate from the previous CA/,
    );
    await cli(certsRotate, '--dir', dir, '--name', 'orders');
    await cli(certsRotate, '--dir', dir, '--name', 'payments');
    expect(await cli(certsRetireCa, '--dir', dir)).toMatch(/bundles now hold 1 CA/);
    for (const name of ['orders', 'payments']) {
      expect(
        (await readFile(join(dir, name, 'ca.pem'), 'utf8')).match(/BEGIN CERTIFICATE/g),
      ).toHaveLength(1);
      expect(opensslVerify(join(dir, name, 'ca.pem'), join(dir, name, 'cert.pem'))).toBe(true);
    }
  });
});
