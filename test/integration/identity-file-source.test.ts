import { createHook } from 'node:async_hooks';
import {
  chmod,
  stat,
  mkdir,
  mkdtemp,
  open as openFile,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCertboundError, type ErrorCode } from '../../src/errors.js';
import { createDevCa, type DevCa } from '../../src/devca/dev-ca.js';
import { FileX509Source } from '../../src/identity/file-x509-source.js';
import { watchIdentityStats } from '../../src/identity/identity-stats.js';
import type { WorkloadIdentity } from '../../src/identity/workload-identity.js';
import {
  inPlace,
  k8sInit,
  k8sSwap,
  mint,
  nextError,
  nextIdentity,
  renameOver,
  type Files,
} from './identity-fixtures.js';

const DAY = 86_400_000;
let root: string;
let ca: DevCa;
let otherCa: DevCa;
const sources: FileX509Source[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'certbound-filesrc-'));
  [ca, otherCa] = await Promise.all([createDevCa(), createDevCa({ commonName: 'stranger CA' })]);
});

afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await rm(root, { recursive: true, force: true });
});

async function plainDir(name: string, files: Files): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await renameOver(dir, files);
  return dir;
}

async function open(dir: string, extra: Partial<Parameters<typeof FileX509Source.create>[0]> = {}) {
  const source = await FileX509Source.create({
    certPath: join(dir, 'cert.pem'),
    keyPath: join(dir, 'key.pem'),
    bundlePath: join(dir, 'ca.pem'),
    debounceMs: 40,
    pollIntervalMs: 500,
    ...extra,
  });
  sources.push(source);
  return source;
}

describe('FileX509Source.create', () => {
  it('resolves with the checked identity', async () => {
    const files = await mint(ca, 'orders');
    const source = await open(await plainDir('create-ok', files));
    const id = source.current();
    expect(id.thumbprint).toBe(files.thumbprint);
    expect(id.spiffeId).toBe('spiffe://demo.local/ns/default/sa/orders');
    expect(id.bundle).toHaveLength(1);
  });

  it('rejects with ERR_FILE_UNREADABLE naming the missing file', async () => {
    const dir = await plainDir('create-missing', await mint(ca, 'orders'));
    await rm(join(dir, 'key.pem'));
    const err: unknown = await open(dir).catch((e: unknown) => e);
    expect(isCertboundError(err, 'ERR_FILE_UNREADABLE')).toBe(true);
    expect((err as Error).message).toContain(join(dir, 'key.pem'));
    expect((err as Error).message).toContain('does not exist');
  });

  it('rejects with the check code naming the certificate file', async () => {
    const a = await mint(ca, 'orders');
    const b = await mint(ca, 'orders');
    const dir = await plainDir('create-mismatch', { ...a, key: b.key });
    const err: unknown = await open(dir).catch((e: unknown) => e);
    expect(isCertboundError(err, 'ERR_KEY_MISMATCH')).toBe(true);
    expect((err as Error).message).toContain(join(dir, 'cert.pem'));
  });
});

describe('FileX509Source rejected updates keep the old identity', () => {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  let dir: string;
  let good: Files & { thumbprint: string };
  let source: FileX509Source;

  beforeAll(async () => {
    good = await mint(ca, 'orders');
    dir = await plainDir('rejects', good);
    source = await open(dir, { logger });
  });

  const cases: Array<[string, ErrorCode, () => Promise<void>]> = [
    [
      'truncated PEM',
      'ERR_CERT_PARSE',
      async () => {
        const next = await mint(ca, 'orders');
        await renameOver(dir, {
          ...next,
          cert: next.cert.slice(0, Math.floor(next.cert.length / 2)),
        });
      },
    ],
    [
      'key that does not match',
      'ERR_KEY_MISMATCH',
      async () => {
        const [a, b] = await Promise.all([mint(ca, 'orders'), mint(ca, 'orders')]);
        await renameOver(dir, { ...a, key: b.key });
      },
    ],
    [
      'expired certificate',
      'ERR_CERT_EXPIRED',
      async () =>
        renameOver(
          dir,
          await mint(ca, 'orders', { notBefore: new Date(Date.now() - 3 * DAY), ttlMs: DAY }),
        ),
    ],
    [
      'certificate from an unknown CA',
      'ERR_CERT_UNTRUSTED',
      async () => renameOver(dir, await mint(otherCa, 'orders', { bundle: ca.certPem })),
    ],
    [
      'certificate without the clientAuth EKU',
      'ERR_CERT_EKU',
      async () => renameOver(dir, await mint(ca, 'orders', { usages: ['serverAuth'] })),
    ],
    [
      'unreadable file',
      'ERR_FILE_UNREADABLE',
      async () => {
        const key = join(dir, 'key.pem');
        if (process.getuid?.() === 0) {
          // root reads anything: make the path unreadable as a file instead.
          await rm(key);
          await mkdir(key);
        } else {
          await chmod(key, 0o000);
        }
      },
    ],
    ['deleted file', 'ERR_FILE_UNREADABLE', async () => rm(join(dir, 'cert.pem'))],
  ];

  it.each(cases)('%s → %s', async (_what, code, breakIt) => {
    const stats = watchIdentityStats(source);
    const before = source.current();
    const rejected = nextError(source);
    await breakIt();
    const error = await rejected;
    expect(error.code).toBe(code);
    expect(source.current()).toBe(before);
    expect(stats.rotations).toEqual({ ok: 0, rejected: 1 });
    expect(stats.lastErrorCode).toBe(code);
    // The same bad content again is not re-reported.
    await source.reload();
    expect(stats.rotations.rejected).toBe(1);
    // Repair: back to the good files; nothing is published since nothing changed.
    // Only the unreadable-file case turned key.pem into a folder: removing a good key would
    // open a window in which the source legitimately sees no key at all.
    if ((await stat(join(dir, 'key.pem')).catch(() => undefined))?.isDirectory() === true)
      await rm(join(dir, 'key.pem'), { recursive: true, force: true });
    await renameOver(dir, good);
    await source.reload();
    expect(source.current().thumbprint).toBe(good.thumbprint);
    expect(stats.rotations.ok).toBe(0);
    stats.close();
  });

  it('logged each distinct failure once, with the code and never key material', () => {
    const warnings = lines
      .map((l) => JSON.parse(l) as { level: number; code?: string; component?: string })
      .filter((l) => l.level === 40);
    expect(warnings.map((w) => w.code)).toEqual(cases.map((c) => c[1]));
    expect(warnings.every((w) => w.component === 'identity')).toBe(true);
    expect(lines.join('')).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  });
});

describe('FileX509Source follows every way files change', () => {
  it('a Kubernetes ..data symlink swap', async () => {
    const dir = join(root, 'k8s');
    await k8sInit(dir, await mint(ca, 'orders'));
    const source = await open(dir);
    const next = await mint(ca, 'orders');
    const updated = nextIdentity(source, next.thumbprint);
    await k8sSwap(dir, next);
    expect((await updated).thumbprint).toBe(next.thumbprint);
  });

  it('a rename-over (mv)', async () => {
    const dir = await plainDir('mv', await mint(ca, 'orders'));
    const source = await open(dir);
    const next = await mint(ca, 'orders');
    const updated = nextIdentity(source, next.thumbprint);
    await renameOver(dir, next);
    expect((await updated).thumbprint).toBe(next.thumbprint);
  });

  it('an in-place rewrite by a slow writer: the half-written file is never published', async () => {
    const dir = await plainDir('inplace', await mint(ca, 'orders'));
    const source = await open(dir, { debounceMs: 300 });
    const errors: string[] = [];
    const seen: string[] = [];
    source.onError((e) => errors.push(e.code));
    source.onUpdate((id) => seen.push(id.thumbprint));
    const next = await mint(ca, 'orders');
    const updated = nextIdentity(source, next.thumbprint);
    await inPlace(dir, next, 20);
    await updated;
    await source.reload();
    expect(errors).toEqual([]);
    expect(seen.at(-1)).toBe(next.thumbprint);
    expect(new Set(seen).size).toBe(2); // the initial replay and the one new identity
  });

  it('the polling fallback catches what fs.watch cannot see (a symlink into another folder)', async () => {
    const target = await plainDir('poll-target', await mint(ca, 'orders'));
    const dir = join(root, 'poll');
    await mkdir(dir);
    for (const f of ['cert.pem', 'key.pem', 'ca.pem']) await symlink(join(target, f), join(dir, f));
    const source = await open(dir, { pollIntervalMs: 100 });
    const next = await mint(ca, 'orders', { bundle: ca.certPem + otherCa.certPem });
    const updated = nextIdentity(source, next.thumbprint);
    await renameOver(target, next); // only the target folder changes; the watched one does not
    const identity = await updated;
    expect(identity.bundle).toHaveLength(2);
  });
});

describe('FileX509Source.close', () => {
  it('stops watchers and timers; current() then throws ERR_SOURCE_CLOSED', async () => {
    // Observe the runtime itself: every fs watcher and timer made by the source must be gone.
    const live = new Map<number, string>();
    let tracking = true;
    const hook = createHook({
      init(id, type) {
        if (tracking && (type === 'FSEVENTWRAP' || type === 'Timeout')) live.set(id, type);
      },
      destroy(id) {
        live.delete(id);
      },
    });
    const dir = await plainDir('close', await mint(ca, 'orders'));
    hook.enable();
    const source = await FileX509Source.create({
      certPath: join(dir, 'cert.pem'),
      keyPath: join(dir, 'key.pem'),
      bundlePath: join(dir, 'ca.pem'),
      pollIntervalMs: 50,
      debounceMs: 10_000,
    });
    expect([...live.values()].sort()).toEqual(['FSEVENTWRAP', 'Timeout']);
    const changed = new Promise((r) => setTimeout(r, 0));
    await renameOver(dir, await mint(ca, 'orders')); // a debounce pending while closing
    await changed;
    await source.close();
    tracking = false;
    // Handles are released on a later loop turn (uv_close): wait, bounded.
    for (let i = 0; i < 200 && live.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    hook.disable();
    expect([...live.values()]).toEqual([]);
    expect(() => source.current()).toThrow(expect.objectContaining({ code: 'ERR_SOURCE_CLOSED' }));
    await expect(source.reload()).rejects.toMatchObject({ code: 'ERR_SOURCE_CLOSED' });
  });
});

/** Resolves with the first published identity that satisfies `wanted` (bounded). */
function nextUpdate(
  source: FileX509Source,
  wanted: (identity: WorkloadIdentity) => boolean,
  timeoutMs = 15_000,
): Promise<WorkloadIdentity> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching update within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = source.onUpdate((identity) => {
      if (!wanted(identity)) return;
      clearTimeout(timer);
      off();
      resolve(identity);
    });
  });
}

/** A writer that pauses between two writes, as an operator's script or `cp` of two files. */
const writerPause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FileX509Source waits for quiet across the three files (issue 12 item 3)', () => {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  /** With the default quiet period, as the sidecar runs it. */
  async function openWithDefaults(dir: string): Promise<FileX509Source> {
    const source = await FileX509Source.create({
      certPath: join(dir, 'cert.pem'),
      keyPath: join(dir, 'key.pem'),
      bundlePath: join(dir, 'ca.pem'),
      logger,
    });
    sources.push(source);
    return source;
  }

  it('a bundle rewritten in place in two writes 300 ms apart is never published half-way', async () => {
    const thirdCa = await createDevCa({ commonName: 'third CA' });
    const files = await mint(ca, 'orders', { bundle: ca.certPem + otherCa.certPem });
    const dir = await plainDir('bundle-two-writes', files);
    const source = await openWithDefaults(dir);
    const stats = watchIdentityStats(source);
    const bundleSizes: number[] = [];
    const errors: string[] = [];
    source.onUpdate((id) => bundleSizes.push(id.bundle.length));
    source.onError((e) => errors.push(e.code));
    const grown = nextUpdate(source, (id) => id.bundle.length === 3);
    // Truncate + write, split at a certificate boundary so that each half parses.
    const handle = await openFile(join(dir, 'ca.pem'), 'w');
    try {
      await handle.write(ca.certPem);
      await writerPause(300);
      await handle.write(otherCa.certPem + thirdCa.certPem);
    } finally {
      await handle.close();
    }
    await grown;
    // The first entry is the replay of the initial identity (two CAs).
    expect(bundleSizes).toEqual([2, 3]);
    expect(errors).toEqual([]);
    expect(stats.rotations).toEqual({ ok: 1, rejected: 0 });
    stats.close();
  });

  it('a key then a certificate rewritten in place 300 ms apart is one good rotation, never a rejected one', async () => {
    const dir = await plainDir('key-then-cert', await mint(ca, 'orders'));
    const source = await openWithDefaults(dir);
    const stats = watchIdentityStats(source);
    const errors: string[] = [];
    source.onError((e) => errors.push(e.code));
    const next = await mint(ca, 'orders');
    const rotated = nextIdentity(source, next.thumbprint);
    const seen = lines.length;
    await writeFile(join(dir, 'key.pem'), next.key);
    await writerPause(300);
    await writeFile(join(dir, 'cert.pem'), next.cert);
    await rotated;
    expect(errors).toEqual([]);
    expect(stats.rotations).toEqual({ ok: 1, rejected: 0 });
    expect(lines.slice(seen).join('')).not.toContain('identity update rejected');
    stats.close();
  });

  it('a bundle that drops a trusted CA is held for one more quiet period, then published', async () => {
    const files = await mint(ca, 'orders', { bundle: ca.certPem + otherCa.certPem });
    const dir = await plainDir('bundle-shrinks', files);
    const source = await open(dir, { logger });
    const seen = lines.length;
    const shrunk = nextUpdate(source, (id) => id.bundle.length === 1);
    await renameOver(dir, { ...files, ca: ca.certPem }); // retire-ca: a legitimate shrink
    await shrunk;
    const held = lines
      .slice(seen)
      .map((l) => JSON.parse(l) as { msg: string; dropped?: number })
      .filter((l) => l.msg.startsWith('trust bundle drops'));
    expect(held).toHaveLength(1);
    expect(held[0]!.dropped).toBe(1);
  });

  it('a candidate that stays invalid through the hold is rejected once', async () => {
    const good = await mint(ca, 'orders');
    const dir = await plainDir('stays-invalid', good);
    const source = await open(dir, { logger });
    const stats = watchIdentityStats(source);
    const rejected = nextError(source);
    const other = await mint(ca, 'orders');
    await renameOver(dir, { ...good, key: other.key });
    expect((await rejected).code).toBe('ERR_KEY_MISMATCH');
    await source.reload();
    expect(stats.rotations).toEqual({ ok: 0, rejected: 1 });
    expect(source.current().thumbprint).toBe(good.thumbprint);
    stats.close();
  });
});
