import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { createDevCa, type DevCa } from '../../src/devca/dev-ca.js';
import { FileX509Source } from '../../src/identity/file-x509-source.js';
import { followSecureContext, tlsOptionsOf } from '../../src/tls/follow-secure-context.js';
import { watchIdentityStats } from '../../src/identity/identity-stats.js';
import { httpsAgentsPerIdentity } from '../../src/tls/https-agents.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import {
  inPlace,
  k8sInit,
  k8sSwap,
  mint,
  nextIdentity,
  renameOver,
  type Files,
} from './identity-fixtures.js';

const PER_METHOD = 10;
const CONCURRENCY = 16;
const METHODS = [
  ['..data symlink swap', k8sSwap],
  ['rename-over', renameOver],
  ['in-place rewrite', (dir: string, f: Files) => inPlace(dir, f)],
] as const;

let root: string;
let ca: DevCa;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'certbound-rotload-'));
  ca = await createDevCa();
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await rm(root, { recursive: true, force: true });
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** One GET; resolves with the body, rejects on any error or non-200. */
function get(port: number, agent: Agent, onSocket?: (s: TLSSocket) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}`)),
      );
      res.on('error', reject);
    });
    if (onSocket !== undefined) req.on('socket', (s) => onSocket(s as TLSSocket));
    req.on('error', reject);
    req.end();
  });
}

/** Runs `CONCURRENCY` request loops until `stop()`; counts successes and failures. */
function load(send: () => Promise<unknown>) {
  let running = true;
  const stats = { ok: 0, failed: 0, errors: [] as string[] };
  const loops = Array.from({ length: CONCURRENCY }, async () => {
    while (running) {
      try {
        await send();
        stats.ok++;
      } catch (err) {
        stats.failed++;
        if (stats.errors.length < 5) stats.errors.push(String(err));
      }
    }
  });
  return {
    stats,
    /** Resolves once at least `n` more requests succeeded (bounded). */
    async progress(n: number): Promise<void> {
      const target = stats.ok + n;
      const deadline = Date.now() + 15_000;
      while (stats.ok < target && stats.failed === 0 && Date.now() < deadline)
        await new Promise((r) => setImmediate(r));
    },
    async stop(): Promise<void> {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** The certificate a fresh TLS connection (no session reuse) is served. */
function probeServerThumbprint(port: number, client: Files): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: '127.0.0.1',
        port,
        key: client.key,
        cert: client.cert,
        ca: client.ca,
        servername: 'localhost',
      },
      () => {
        const peer = socket.getPeerX509Certificate();
        socket.destroy();
        if (peer === undefined) reject(new Error('no peer certificate'));
        else resolve(thumbprintOf(peer));
      },
    );
    socket.on('error', reject);
  });
}

describe('server certificate rotation under load (mTLS, keep-alive)', () => {
  it(`rotates ${3 * PER_METHOD} times by three file-change methods with zero failed requests`, async () => {
    const dir = join(root, 'server');
    await k8sInit(dir, await mint(ca, 'orders'));
    const client = await mint(ca, 'payments');
    const planned = await Promise.all(
      Array.from({ length: 3 * PER_METHOD }, () => mint(ca, 'orders')),
    );

    const source = await FileX509Source.create({
      certPath: join(dir, 'cert.pem'),
      keyPath: join(dir, 'key.pem'),
      bundlePath: join(dir, 'ca.pem'),
      requireServerAuth: true,
      debounceMs: 30,
      pollIntervalMs: 1000,
    });
    const sourceStats = watchIdentityStats(source);
    cleanups.push(() => source.close());
    const rejected: string[] = [];
    source.onError((e) => rejected.push(e.code));

    const server = createServer(
      { ...tlsOptionsOf(source.current()), requestCert: true, rejectUnauthorized: true },
      (_req, res) => res.end('ok'),
    );
    // Recycle keep-alive connections now and then so handshakes race the context swaps.
    server.maxRequestsPerSocket = 25;
    const unfollow = followSecureContext(server, source);
    const port = await listen(server);
    cleanups.push(() => close(server));

    const agent = new Agent({
      keepAlive: true,
      maxSockets: CONCURRENCY,
      key: client.key,
      cert: client.cert,
      ca: client.ca,
    });
    cleanups.push(() => agent.destroy());
    const seenByLoad = new Set<string>();
    const sockets = new WeakSet<TLSSocket>();
    const onSocket = (s: TLSSocket): void => {
      if (sockets.has(s)) return; // a reused keep-alive connection
      sockets.add(s);
      s.once('secureConnect', () => {
        const peer = s.getPeerX509Certificate();
        if (peer !== undefined) seenByLoad.add(thumbprintOf(peer));
      });
    };
    const traffic = load(() => get(port, agent, onSocket));

    const probes: Array<{ expected: string; got: string }> = [];
    let i = 0;
    try {
      await traffic.progress(CONCURRENCY);
      for (const [, write] of METHODS) {
        for (let n = 0; n < PER_METHOD; n++) {
          const next = planned[i++]!;
          const updated = nextIdentity(source, next.thumbprint);
          await write(dir, next);
          await updated;
          probes.push({
            expected: next.thumbprint,
            got: await probeServerThumbprint(port, client),
          });
          await traffic.progress(CONCURRENCY);
        }
      }
    } finally {
      await traffic.stop();
      unfollow();
    }

    console.log(
      `server rotation: ${sourceStats.rotations.ok} rotations, ${traffic.stats.ok} requests ok, ${traffic.stats.failed} failed, ${seenByLoad.size} server certs seen by load connections`,
    );
    expect(traffic.stats.errors).toEqual([]);
    expect(traffic.stats.failed).toBe(0);
    expect(rejected).toEqual([]);
    expect(sourceStats.rotations).toEqual({ ok: 3 * PER_METHOD, rejected: 0 });
    expect(probes.filter((p) => p.got !== p.expected)).toEqual([]);
    expect(probes).toHaveLength(3 * PER_METHOD);
    expect(seenByLoad.size).toBeGreaterThan(1);
    expect(traffic.stats.ok).toBeGreaterThanOrEqual(3 * PER_METHOD * CONCURRENCY);
  });
});

describe('client certificate rotation under load (httpsAgentsPerIdentity)', () => {
  it(`rotates ${3 * PER_METHOD} times with zero failed requests; the server sees each new certificate`, async () => {
    const dir = join(root, 'client');
    await k8sInit(dir, await mint(ca, 'payments'));
    const serverFiles = await mint(ca, 'orders');
    const planned = await Promise.all(
      Array.from({ length: 3 * PER_METHOD }, () => mint(ca, 'payments')),
    );

    const serverSource = StaticX509Source.create(
      { certPem: serverFiles.cert, keyPem: serverFiles.key, bundlePem: serverFiles.ca },
      { requireServerAuth: true },
    );
    const server = createServer(
      { ...tlsOptionsOf(serverSource.current()), requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerX509Certificate();
        res.end(peer === undefined ? '' : thumbprintOf(peer));
      },
    );
    server.maxRequestsPerSocket = 25;
    const port = await listen(server);
    cleanups.push(() => close(server));

    const source = await FileX509Source.create({
      certPath: join(dir, 'cert.pem'),
      keyPath: join(dir, 'key.pem'),
      bundlePath: join(dir, 'ca.pem'),
      debounceMs: 30,
      pollIntervalMs: 1000,
    });
    cleanups.push(() => source.close());
    const rotating = httpsAgentsPerIdentity({ maxSockets: CONCURRENCY }).follow(source);
    cleanups.push(() => rotating.close());
    const peersSeen = new Set<string>();
    // Read current() per request: that is the contract of the rotating agent.
    const traffic = load(async () => peersSeen.add(await get(port, rotating.current())));

    const probes: Array<{ expected: string; got: string }> = [];
    const retired: Agent[] = [];
    let i = 0;
    try {
      await traffic.progress(CONCURRENCY);
      for (const [, write] of METHODS) {
        for (let n = 0; n < PER_METHOD; n++) {
          const next = planned[i++]!;
          retired.push(rotating.current());
          const updated = nextIdentity(source, next.thumbprint);
          await write(dir, next);
          await updated;
          // A request through the new agent opens a new connection with the new certificate.
          probes.push({ expected: next.thumbprint, got: await get(port, rotating.current()) });
          await traffic.progress(CONCURRENCY);
        }
      }
    } finally {
      await traffic.stop();
    }
    // Every retired agent drains and is destroyed once its requests are done.
    for (let n = 0; n < 500 && rotating.retiringCount > 0; n++)
      await new Promise((r) => setTimeout(r, 10));

    console.log(
      `client rotation: ${probes.length} rotations, ${traffic.stats.ok} requests ok, ${traffic.stats.failed} failed, ${peersSeen.size} client certs seen by the server`,
    );
    expect(traffic.stats.errors).toEqual([]);
    expect(traffic.stats.failed).toBe(0);
    expect(probes.filter((p) => p.got !== p.expected)).toEqual([]);
    expect(probes).toHaveLength(3 * PER_METHOD);
    expect(peersSeen.size).toBeGreaterThan(1);
    expect(rotating.retiringCount).toBe(0);
    // Old agents hold no connection any more (busy or idle keep-alive).
    const open = (a: Agent) =>
      [...Object.values(a.sockets), ...Object.values(a.freeSockets)].reduce(
        (n, l) => n + (l?.length ?? 0),
        0,
      );
    expect(retired.map(open).filter((n) => n > 0)).toEqual([]);
  });
});
