import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifests, REPO_ROOT } from '../support/deploy-manifests.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { CONFIG_JSON_SCHEMA_FILE, configJsonSchemaText } from '../../src/config/json-schema.js';

/**
 * Builds the production file layout the way deploy/docker/Dockerfile does, without a
 * Docker engine: `npm pack` → extract → lockfile → `npm ci --omit=dev` → bin link, then
 * runs `certbound` from it as the image's ENTRYPOINT would.
 */

const PKG = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with a time limit; never throws on a non-zero exit. */
function run(
  cmd: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('production image layout (as deploy/docker/Dockerfile builds it)', () => {
  const work = mkdtempSync(join(tmpdir(), 'certbound-image-'));
  const app = join(work, 'app');
  const bin = join(work, 'bin');
  let packedFiles: string[] = [];
  // PATH as in the image: our bin link, then a directory holding node and nothing else
  // (the runtime stage has no npm), and the system tools.
  const nodeOnly = join(work, 'node-only');
  const env = {
    ...process.env,
    PATH: [bin, nodeOnly, '/usr/bin', '/bin'].join(delimiter),
    NODE_ENV: 'production',
  };

  beforeAll(async () => {
    if (
      !existsSync(join(REPO_ROOT, PKG.bin['certbound'] ?? 'missing')) ||
      !existsSync(join(REPO_ROOT, CONFIG_JSON_SCHEMA_FILE))
    ) {
      // The package's build: tsc, then the JSON Schema (as the Dockerfile's `npm run build`).
      const tsc = await run(NPM, ['run', '--silent', 'build'], {
        cwd: REPO_ROOT,
        timeoutMs: 150_000,
      });
      if (tsc.code !== 0) throw new Error(`build failed:\n${tsc.stdout}${tsc.stderr}`);
    }
    const pack = await run(NPM, ['pack', '--json', '--pack-destination', work], {
      cwd: REPO_ROOT,
      timeoutMs: 60_000,
    });
    if (pack.code !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
    const [info] = JSON.parse(pack.stdout) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    if (info === undefined) throw new Error('npm pack printed nothing');
    packedFiles = info.files.map((f) => f.path);
    mkdirSync(app, { recursive: true });
    const tar = await run(
      'tar',
      ['-xzf', join(work, info.filename), '-C', app, '--strip-components=1'],
      {
        cwd: work,
        timeoutMs: 30_000,
      },
    );
    if (tar.code !== 0) throw new Error(`tar failed: ${tar.stderr}`);
    copyFileSync(join(REPO_ROOT, 'package-lock.json'), join(app, 'package-lock.json'));
    // --prefer-offline: the npm cache usually holds every package already; the registry otherwise.
    const ci = await run(
      NPM,
      ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
      {
        cwd: app,
        env: { ...process.env, NODE_ENV: 'production' },
        timeoutMs: 170_000,
      },
    );
    if (ci.code !== 0) throw new Error(`npm ci --omit=dev failed:\n${ci.stderr.slice(-2000)}`);
    const entry = join(app, PKG.bin['certbound'] as string);
    chmodSync(entry, 0o755);
    mkdirSync(bin);
    symlinkSync(entry, join(bin, 'certbound'));
    mkdirSync(nodeOnly);
    symlinkSync(process.execPath, join(nodeOnly, 'node'));
    // As the deps stage does: the lockfile was only needed by npm ci.
    rmSync(join(app, 'package-lock.json'));
  }, 180_000);

  let pki: TestPki | undefined;
  afterAll(async () => {
    await pki?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('packs the compiled CLI and the protos, and nothing private', () => {
    expect(packedFiles).toContain('dist/src/cli/main.js');
    expect(packedFiles).toContain('dist/certbound.mjs');
    expect(packedFiles.some((f) => /^dist\/chunks\/.+\.mjs$/.test(f))).toBe(true);
    expect(packedFiles).toContain('package.json');
    expect(packedFiles.some((f) => f.startsWith('proto/') && f.endsWith('.proto'))).toBe(true);
    const forbidden = packedFiles.filter(
      (f) =>
        /^(certs|test|bench|deploy|\.tmp|src|node_modules)\//.test(f) ||
        /\.(pem|key|crt|p12|pfx|tgz)$/.test(f) ||
        /(^|\/)\.env/.test(f),
    );
    expect(forbidden).toEqual([]);
    for (const f of packedFiles.filter((p) => !p.endsWith('.map'))) {
      expect(readFileSync(join(app, f), 'utf8'), f).not.toMatch(
        /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
      );
    }
  });

  it('holds the JSON Schema the zod schema generates, the LICENSE, no source maps and no demo proto', () => {
    expect(readFileSync(join(app, CONFIG_JSON_SCHEMA_FILE), 'utf8')).toBe(configJsonSchemaText());
    expect(readFileSync(join(app, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
    expect(packedFiles.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(existsSync(join(app, 'proto', 'demo'))).toBe(false);
  });

  it('runs where PATH has node but no npm or npx (the runtime stage removes them)', async () => {
    const r = await run('/bin/sh', ['-c', 'command -v node; command -v npm npx corepack'], {
      cwd: work,
      env: { ...env, PATH: [bin, nodeOnly].join(delimiter) },
      timeoutMs: 10_000,
    });
    expect(r.stdout.trim()).toBe(join(nodeOnly, 'node'));
    const version = await run(join(bin, 'certbound'), ['--version'], {
      cwd: work,
      env: { ...env, PATH: [bin, nodeOnly].join(delimiter) },
      timeoutMs: 30_000,
    });
    expect(version.stderr).toBe('');
    expect(version.stdout.trim()).toBe(PKG.version);
  });

  it('installs the production dependencies and none of the dev dependencies', () => {
    const installed = new Set(
      readdirSync(join(app, 'node_modules')).flatMap((d) =>
        d.startsWith('@') ? readdirSync(join(app, 'node_modules', d)).map((s) => `${d}/${s}`) : [d],
      ),
    );
    for (const dep of Object.keys(PKG.dependencies)) expect(installed.has(dep), dep).toBe(true);
    // Dev-only per the lockfile (a dev dependency may also be a transitive production one,
    // e.g. @types/node through protobufjs: that one is rightly installed).
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.keys(PKG.devDependencies).filter(
      (d) => lock.packages[`node_modules/${d}`]?.dev === true,
    );
    expect(devOnly).toEqual(expect.arrayContaining(['typescript', 'vitest', 'oidc-provider']));
    for (const dep of devOnly) expect(installed.has(dep), `dev dependency ${dep}`).toBe(false);
  });

  it('`certbound --version` through the bin link prints the package version', async () => {
    const r = await run('certbound', ['--version'], { cwd: work, env, timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(PKG.version);
  });

  it('every registered command loads without dev dependencies (`certbound --help`)', async () => {
    const r = await run('certbound', ['--help'], { cwd: work, env, timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: certbound');
  });

  it('validates the Kubernetes certbound.yaml with `certbound config check` when that command exists', async (ctx) => {
    const help = await run('certbound', ['--help'], { cwd: work, env, timeoutMs: 30_000 });
    if (!help.stdout.includes('config check')) ctx.skip();
    const [cm] = readManifests(join(REPO_ROOT, 'deploy', 'kubernetes', 'base', 'configmap.yaml'));
    const file = join(work, 'certbound.yaml');
    writeFileSync(file, (cm?.object['data'] as Record<string, string>)['certbound.yaml'] as string);
    const r = await run('certbound', ['config', 'check', '--schema-only', file], {
      cwd: work,
      env,
      timeoutMs: 30_000,
    });
    expect(r.code, r.stderr).toBe(0);
  });

  it('`certbound run` with the Kubernetes certbound.yaml: alive, not ready without an AS, drains on SIGTERM', async () => {
    pki = await createTestPki(['example-app']);
    const w = pki.workloads['example-app'];
    if (w === undefined) throw new Error('no test workload');
    const [cm] = readManifests(join(REPO_ROOT, 'deploy', 'kubernetes', 'base', 'configmap.yaml'));
    const file = join(work, 'k8s-certbound.yaml');
    writeFileSync(file, (cm?.object['data'] as Record<string, string>)['certbound.yaml'] as string);
    // Only what differs from a pod: files of this run, loopback and free ports, an AS that is not there.
    const child = spawn('certbound', ['run', '--config', file], {
      cwd: work,
      env: {
        ...env,
        CERTBOUND_LOG_LEVEL: 'info',
        CERTBOUND_IDENTITY_CERT_PATH: w.paths.cert,
        CERTBOUND_IDENTITY_KEY_PATH: w.paths.key,
        CERTBOUND_IDENTITY_BUNDLE_PATH: w.paths.ca,
        CERTBOUND_INBOUND_HOST: '127.0.0.1',
        CERTBOUND_INBOUND_PORT: '0',
        CERTBOUND_OUTBOUND_PORT: '0',
        CERTBOUND_ADMIN_HOST: '127.0.0.1',
        CERTBOUND_ADMIN_PORT: '0',
        CERTBOUND_VERIFY_JWKS_URI: 'http://127.0.0.1:9/jwks',
        CERTBOUND_TOKEN_ISSUER: 'https://127.0.0.1:9',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on('close', (code) => resolve(code)),
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const admin = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`not started in time:\n${stdout}${stderr}`)),
        30_000,
      );
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const started = stdout
          .split('\n')
          .map((l) =>
            l.startsWith('{') ? (JSON.parse(l) as { msg?: string; admin?: string }) : {},
          )
          .find((l) => l.msg === 'certbound sidecar started');
        if (started?.admin !== undefined) {
          clearTimeout(timer);
          resolve(started.admin);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${String(code)}:\n${stdout}${stderr}`));
      });
    });
    try {
      expect((await fetch(`http://${admin}/healthz`)).status).toBe(200);
      const ready = await fetch(`http://${admin}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: Record<string, boolean> }).checks).toMatchObject({
        certificate: true,
        jwks: false,
      });
      const metrics = await (await fetch(`http://${admin}/metrics`)).text();
      const expiry = /^certbound_certificate_expiry_timestamp_seconds (\d+)/m.exec(metrics)?.[1];
      expect(Number(expiry)).toBe(
        Math.floor(new Date(new X509Certificate(w.certPem).validTo).getTime() / 1000),
      );
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stdout).toContain('"msg":"stopped"');
  });
});
