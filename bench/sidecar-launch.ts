import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import type { BenchEnv } from './bench-env.js';
import { freePort } from '../test/support/loopback-ports.js';
import { pinned, ROOT, stop } from './processes.js';

/** A `certbound run` process of the built CLI. */
export interface SidecarUnderTest {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly inboundPort: number;
  readonly adminPort: number;
  /** From spawn to the first `/readyz` 200, in milliseconds. */
  readonly readyMs: number;
  stop(): Promise<void>;
}

/** Options of {@link startSidecarUnderTest}. */
export interface SidecarLaunchOptions {
  name: string;
  appUrl: string;
  grpcAppUrl?: string;
  logLevel: 'warn' | 'info';
  cpu: number | undefined;
  /** Another build's CLI (`BENCH_PREVIOUS_CLI`), to compare against the previous version. */
  cli?: string;
  /** Node options before the CLI (e.g. V8 heap flags), as `node <nodeArgs> <cli> run`. */
  nodeArgs?: readonly string[];
}

async function readyz(port: number): Promise<boolean> {
  try {
    const res = await request(`http://127.0.0.1:${port}/readyz`);
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

/**
 * Writes a config (mTLS inbound → app, JWKS from a file, admin) and runs the built CLI
 * (`node dist/certbound.mjs run --config …`, the bundle the image runs) pinned to `cpu`; resolves at `/readyz` 200.
 * Logs go to /dev/null (`info` = one access-log line per request, as in production).
 */
export async function startSidecarUnderTest(
  env: BenchEnv,
  o: SidecarLaunchOptions,
): Promise<SidecarUnderTest> {
  const inboundPort = await freePort();
  const adminPort = await freePort();
  const config = {
    logLevel: o.logLevel,
    identity: {
      certPath: env.server.certPath,
      keyPath: env.server.keyPath,
      bundlePath: env.caPath,
    },
    inbound: {
      host: '127.0.0.1',
      port: inboundPort,
      app: { url: o.appUrl, ...(o.grpcAppUrl !== undefined ? { grpcUrl: o.grpcAppUrl } : {}) },
    },
    verify: { issuer: env.issuer.issuer, audience: env.issuer.audience, jwksFile: env.jwksPath },
    admin: { host: '127.0.0.1', port: adminPort },
  };
  const configPath = join(env.dir, `${o.name}.json`);
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('CERTBOUND_')) childEnv[k] = v;
  }
  const cli = o.cli ?? join(ROOT, 'dist', 'certbound.mjs');
  const [cmd, args] = pinned(o.cpu, process.execPath, [
    ...(o.nodeArgs ?? []),
    cli,
    'run',
    '--config',
    configPath,
  ]);
  const started = performance.now();
  const child = spawn(cmd, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const deadline = started + 30_000;
  while (!(await readyz(adminPort))) {
    if (child.exitCode !== null || performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sidecar ${o.name} not ready (exit ${child.exitCode}): ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const readyMs = performance.now() - started;
  return {
    child,
    pid: child.pid!,
    inboundPort,
    adminPort,
    readyMs,
    stop: () => stop(child),
  };
}

/**
 * One metric of the sidecar's `/metrics`, by its label set: each sample's labels as a
 * plain object, and its value.
 */
export async function samplesOf(
  adminPort: number,
  name: string,
): Promise<Array<{ labels: Record<string, string>; value: number }>> {
  const res = await request(`http://127.0.0.1:${adminPort}/metrics`);
  const text = await res.body.text();
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name} `) && !line.startsWith(`${name}{`)) continue;
    const braces = line.startsWith(`${name}{`)
      ? line.slice(name.length + 1, line.indexOf('}'))
      : '';
    const labels = Object.fromEntries(
      [...braces.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]),
    );
    out.push({ labels, value: Number(line.slice(line.lastIndexOf(' ') + 1)) });
  }
  return out;
}

/** Reads one counter (summed over labels) from the sidecar's `/metrics`. */
export async function counterOf(adminPort: number, name: string): Promise<number> {
  return (await samplesOf(adminPort, name)).reduce((sum, s) => sum + s.value, 0);
}
