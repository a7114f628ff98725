import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/deploy-manifests.js';

/**
 * The repository Makefile in a scratch tree of empty inputs whose times the test sets: `make -n`
 * prints what would run, so no compiler runs and no clock is read.
 */
describe('Makefile: build only when an input changed', () => {
  const tree = mkdtempSync(join(tmpdir(), 'certbound-make-'));
  afterAll(() => rmSync(tree, { recursive: true, force: true }));
  const T0 = 1_700_000_000;
  const inputs = [
    'src/cli/main.ts',
    'devstack/demo/main.ts',
    'scripts/write-config-schema.ts',
    'tsconfig.json',
    'tsconfig.build.json',
    'package.json',
    'package-lock.json',
  ];
  const stamps = ['node_modules/.certbound-installed', 'dist/.build-stamp'];
  copyFileSync(join(REPO_ROOT, 'Makefile'), join(tree, 'Makefile'));
  for (const f of [...inputs, ...stamps]) {
    mkdirSync(dirname(join(tree, f)), { recursive: true });
    writeFileSync(join(tree, f), '');
  }
  const at = (file: string, seconds: number): void =>
    utimesSync(join(tree, file), seconds, seconds);
  for (const f of inputs) at(f, T0);
  for (const f of stamps) at(f, T0 + 10);

  const dryRun = (target: string): string => {
    const r = spawnSync('make', ['-n', '--no-print-directory', target, 'NAME=orders'], {
      cwd: tree,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };

  it('`make rotate` with nothing changed does not recompile (regression: tsc ran every time)', () => {
    const out = dryRun('rotate');
    expect(out).toContain('certs rotate');
    expect(out).not.toMatch(/\btsc\b|npm run/);
  });

  it.each(['src/cli/main.ts', 'scripts/write-config-schema.ts', 'tsconfig.build.json'])(
    'recompiles once %s is newer than the last build',
    (file) => {
      at(file, T0 + 20);
      try {
        expect(dryRun('rotate')).toContain('npm run --silent build');
        expect(dryRun('build')).toContain('npm run --silent build');
      } finally {
        at(file, T0);
      }
    },
  );
});
