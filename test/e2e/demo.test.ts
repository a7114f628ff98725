import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../support/cli.js';

const DEMO = join(ROOT, 'dist', 'devstack', 'demo', 'main.js');
const STEPS = ['1', '1b', '2', '2b', '3', '3b', '4', '5'];

let certsDir: string;
const started: ChildProcess[] = [];
const printedPids = new Set<number>();

/** A demo run as a user starts it: no stdin, CI=true, output collected. */
function startDemo(args: string[]): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
} {
  const child = spawn(process.execPath, [DEMO, '--certs', certsDir, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CI: 'true', NO_COLOR: '1' },
  });
  started.push(child);
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (c: Buffer): void => {
    out += c.toString();
    for (const m of out.matchAll(/pid (\d+)/g)) printedPids.add(Number(m[1]));
    for (const w of waiters) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return {
    child,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = pattern.exec(out);
          if (m === null) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${out}`));
        }, timeoutMs);
        waiters.add(check);
        void exited.then(() => {
          if (waiters.has(check)) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`demo exited before ${pattern}:\n${out}`));
          }
        });
        check();
      });
    },
  };
}

function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line mentions `needle` (the demo's generated config directory). */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(needle)) found.push(Number(entry));
    } catch {
      // Exited while scanning.
    }
  }
  return found;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** First port of `count` consecutive free ports between 20000 and 30000 (below the ephemeral range). */
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 9_900);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await canListen(base + i);
    if (free) return base;
  }
  throw new Error('no free port range');
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 15_000, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  certsDir = await mkdtemp(join(tmpdir(), 'certbound-demo-certs-'));
  // What `make certs` does, into a private directory.
  expect((await runCli(['certs', 'init', '--dir', certsDir])).code).toBe(0);
  for (const name of ['orders', 'payments', 'attacker']) {
    const issued = await runCli([
      'certs',
      'issue',
      '--dir',
      certsDir,
      '--name',
      name,
      '--spiffe-id',
      `spiffe://demo.local/ns/default/sa/${name}`,
    ]);
    expect(issued.code).toBe(0);
  }
});

afterAll(async () => {
  // Only after a failed assertion is anything left: end it so the suite does not leak.
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
  for (const pid of printedPids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Gone, as expected.
    }
  }
  await rm(certsDir, { recursive: true, force: true });
});

describe('make demo: the narrated scenario as a user runs it', () => {
  it('passes every step (✔), 0 failures, ERR_BINDING_MISMATCH shown, exit 0, no process left', async () => {
    const demo = startDemo([]);
    const code = await bounded(demo.exited, 120_000, 'the demo');
    const out = demo.output();
    expect(code, out).toBe(0);
    for (const id of STEPS) expect(out, `step ${id}`).toMatch(new RegExp(`^✔ ${id}\\. `, 'm'));
    expect(out).not.toMatch(/^✘/m);
    expect(out).toMatch(/\| failures\s+\|\s+0 \|/);
    expect(out).toMatch(/\| replays refused\s+\|\s+4\/4 \|/);
    expect(out).toMatch(/\| rotations \(orders sidecar\)\s+\|\s+1 \|/);
    expect(out).toMatch(/401 ERR_BINDING_MISMATCH/);
    expect(out).toMatch(/status 16 UNAUTHENTICATED: ERR_BINDING_MISMATCH/);
    expect(out).toMatch(/WWW-Authenticate: Bearer realm="certbound", error="invalid_token"/);
    expect(out).toMatch(/\$ make rotate NAME=orders/);
    // The sidecars it printed are gone, and nothing runs from its config directory.
    const pids = [...out.matchAll(/started \w+ sidecar\s+pid (\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(2);
    expect(pids.filter(alive)).toEqual([]);
    const configDir = /configs in (\S+)/.exec(out)?.[1];
    expect(configDir).toBeDefined();
    expect(processesMentioning(configDir!)).toEqual([]);
    expect(existsSync(configDir!)).toBe(false);
  }, 150_000);
});

describe('make demo-up: the stack stays up until Ctrl-C', () => {
  it('prints endpoints and curl commands, serves calls, and SIGINT stops every child', async () => {
    const demo = startDemo(['--up']);
    await demo.waitFor(/stack is up/, 90_000);
    const out = demo.output();
    const outbound = /outbound http:\/\/(127\.0\.0\.1:\d+)/.exec(out)?.[1];
    expect(outbound, out).toBeDefined();
    expect(out).toMatch(/curl --cacert \S+bundle\.pem --cert \S+orders\/cert\.pem/);
    expect(out).toMatch(/token --config \S+orders\.yaml --upstream payments/);
    const res = await get(`http://${outbound}/payments/pay?order=7`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).caller.clientId).toBe('orders');

    const pids = [...out.matchAll(/started \w+ sidecar\s+pid (\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(2);
    expect(pids.filter(alive)).toEqual(pids);
    const configDir = /configs in (\S+)/.exec(out)![1]!;
    expect(processesMentioning(configDir)).toHaveLength(2);

    demo.child.kill('SIGINT');
    const code = await bounded(demo.exited, 30_000, 'demo-up after SIGINT');
    expect(code, demo.output()).toBe(0);
    expect(demo.output()).toMatch(/every process it started has stopped/);
    expect(pids.filter(alive)).toEqual([]);
    expect(processesMentioning(configDir)).toEqual([]);
  }, 150_000);
});

describe('the demo stops what it started on SIGTERM and on errors', () => {
  it('SIGTERM during the scenario: exit 143, both sidecars gone', async () => {
    const demo = startDemo([]);
    await demo.waitFor(/^✔ 1\. /m, 90_000);
    const pids = [...demo.output().matchAll(/started \w+ sidecar\s+pid (\d+)/g)].map((m) =>
      Number(m[1]),
    );
    expect(pids).toHaveLength(2);
    demo.child.kill('SIGTERM');
    const code = await bounded(demo.exited, 30_000, 'the demo after SIGTERM');
    expect(code, demo.output()).toBe(143);
    expect(pids.filter(alive)).toEqual([]);
    const configDir = /configs in (\S+)/.exec(demo.output())![1]!;
    expect(processesMentioning(configDir)).toEqual([]);
  }, 150_000);

  it('a sidecar that cannot start: exit 1 with the reason, the one already running is stopped', async () => {
    // Fixed ports below the ephemeral range, checked free; then the orders sidecar's inbound
    // port (base + 3) is occupied so that it fails after the payments sidecar started.
    const base = await freePortRange(8);
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(base + 3, '127.0.0.1', resolve));
    try {
      const demo = startDemo(['--port-base', String(base)]);
      const code = await bounded(demo.exited, 90_000, 'the failing demo');
      const out = demo.output();
      expect(code, out).toBe(1);
      expect(out).toMatch(/orders sidecar exited \(1\) before starting/);
      expect(out).toMatch(/EADDRINUSE|address already in use/i);
      const pids = [...out.matchAll(/started \w+ sidecar\s+pid (\d+)/g)].map((m) => Number(m[1]));
      expect(pids).toHaveLength(1);
      expect(pids.filter(alive)).toEqual([]);
      const configDir = /configs in (\S+)/.exec(out)![1]!;
      expect(processesMentioning(configDir)).toEqual([]);
      await rm(configDir, { recursive: true, force: true });
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  }, 150_000);
});
