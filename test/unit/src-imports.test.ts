import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  peerDependencies?: Record<string, string>;
};

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

const SPECIFIER =
  /(?:^|\s)(?:import|export)\s(?:type\s)?(?:[^'"]*?\sfrom\s)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string);
}

describe('src/ is exactly what ships', () => {
  const files = sourcesUnder(join(ROOT, 'src'));

  it('imports only node built-ins, runtime dependencies and optional peers (never a devDependency)', () => {
    const allowed = new Set([
      ...Object.keys(pkg.dependencies),
      ...Object.keys(pkg.peerDependencies ?? {}),
    ]);
    const offenders: string[] = [];
    for (const file of files) {
      for (const m of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
        const spec = (m[1] ?? m[2]) as string;
        if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec))
          continue;
        if (!allowed.has(packageOf(spec))) offenders.push(`${relative(ROOT, file)}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('never imports the demo stack (devstack/)', () => {
    const offenders = files.filter((f) => /['"][./]+devstack\//.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });

  // ARCHITECTURE.md: dependencies point inward only.
  const MAY_IMPORT: Record<string, readonly string[]> = {
    binding: [],
    verify: ['binding'],
    identity: ['binding'],
    tls: ['identity', 'binding'],
    devca: ['identity', 'binding'],
    token: ['identity', 'binding', 'tls', 'observability'],
    http: ['verify', 'identity', 'binding', 'observability'],
    grpc: ['verify', 'token', 'identity', 'tls', 'binding', 'observability'],
  };

  it.each(Object.entries(MAY_IMPORT))(
    'src/%s/ imports only the layers below it',
    (layer, allowed) => {
      const offenders: string[] = [];
      for (const file of files.filter((f) =>
        relative(join(ROOT, 'src'), f).startsWith(`${layer}/`),
      )) {
        for (const m of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
          const spec = (m[1] ?? m[2]) as string;
          if (!spec.startsWith('.')) continue;
          const target = relative(join(ROOT, 'src'), join(file, '..', spec)).split('/');
          // Root files of src/ (errors, duration, readiness-check, error-cause) are shared by all.
          if (target.length === 1 || target[0] === layer) continue;
          if (!allowed.includes(target[0] as string))
            offenders.push(`${relative(ROOT, file)}: ${spec}`);
        }
      }
      expect(offenders).toEqual([]);
    },
  );

  it('finds the imports it checks (the scanner is not blind)', () => {
    const seen = new Set<string>();
    for (const file of files)
      for (const m of readFileSync(file, 'utf8').matchAll(SPECIFIER)) seen.add(m[1] ?? m[2] ?? '');
    expect(seen).toContain('jose');
    expect(seen).toContain('reflect-metadata');
    expect(seen).toContain('@grpc/grpc-js');
  });
});
