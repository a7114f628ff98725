import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_JSON_SCHEMA_FILE, configJsonSchemaText } from '../../src/config/json-schema.js';
import { REPO_ROOT } from '../support/deploy-manifests.js';

/** What `npm pack` would publish, from `npm pack --dry-run --json` on the built tree. */

interface PackageJson {
  name: string;
  license: string;
  types: string;
  keywords: string[];
  repository: { type: string; url: string };
  sideEffects: string[];
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
  files: string[];
}

const PKG = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;

function packedFiles(): string[] {
  if (!existsSync(join(REPO_ROOT, CONFIG_JSON_SCHEMA_FILE)))
    throw new Error(`${CONFIG_JSON_SCHEMA_FILE} is missing: build first (npm run build)`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`npm pack --dry-run failed: ${r.stderr}`);
  const [info] = JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>;
  return (info?.files ?? []).map((f) => f.path).sort();
}

const files = packedFiles();

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? sourcesUnder(full) : name.endsWith('.ts') ? [full] : [];
  });
}

/**
 * Whether importing a module does something beyond defining its exports: a bare import, or
 * a top-level call or assignment on something the module did not declare itself (a global,
 * `process`, an imported object). Mutating a module's own `const` is no side effect.
 */
function hasSideEffects(source: string): boolean {
  if (/^import\s+['"][^'"]+['"];?$/m.test(source)) return true;
  const declared = new Set(
    [
      ...source.matchAll(/^(?:export\s+)?(?:const|let|var|function|class)\s+([A-Za-z_$][\w$]*)/gm),
    ].map((m) => m[1] as string),
  );
  for (const [, root] of source.matchAll(/^(?:await\s+)?([A-Za-z_$][\w$]*)\s*[.([=]/gm)) {
    if (root === undefined || ['export', 'import', 'type', 'interface', 'declare'].includes(root))
      continue;
    if (!declared.has(root)) return true;
  }
  return false;
}

describe('npm package contents (npm pack --dry-run)', () => {
  it('ships the compiled code, its types, the protos it loads, the JSON Schema, README and LICENSE', () => {
    for (const f of [
      'LICENSE',
      'README.md',
      'package.json',
      CONFIG_JSON_SCHEMA_FILE,
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'proto/certbound/v1/token.proto',
      'proto/grpc/health/v1/health.proto',
    ])
      expect(files, f).toContain(f);
    for (const target of [
      PKG.types,
      ...Object.values(PKG.bin),
      ...Object.values(PKG.exports).flatMap((e) =>
        typeof e === 'string' ? [e] : Object.values(e),
      ),
    ])
      expect(files, target).toContain(target.replace(/^\.\//, ''));
  });

  it('ships no source maps (the sources are not shipped), no demo proto, no sources, tests or dev tools', () => {
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('proto/demo/'))).toEqual([]);
    expect(
      files.filter(
        (f) =>
          /^(src|test|bench|devstack|deploy|scripts|examples|certs|docs|dist\/(devstack|scripts|test|bench))\//.test(
            f,
          ) ||
          (f.endsWith('.ts') && !f.endsWith('.d.ts')),
      ),
    ).toEqual([]);
  });

  it('the shipped JSON Schema is what the zod schema generates now', () => {
    expect(readFileSync(join(REPO_ROOT, CONFIG_JSON_SCHEMA_FILE), 'utf8')).toBe(
      configJsonSchemaText(),
    );
  });

  it('LICENSE is the Apache License 2.0 text that package.json declares', () => {
    expect(PKG.license).toBe('Apache-2.0');
    const text = readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8');
    expect(text).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
    expect(text).toContain('END OF TERMS AND CONDITIONS');
    expect(text.match(/^ {3}\d\. [A-Z]/gm)).toHaveLength(9);
  });

  it('has repository, keywords and types (the "." types)', () => {
    expect(PKG.repository.type).toBe('git');
    expect(PKG.repository.url).toMatch(/^git\+https:\/\/.+\.git$/);
    expect(PKG.keywords).toEqual(expect.arrayContaining(['oauth', 'mtls', 'rfc8705']));
    expect(PKG.types).toBe((PKG.exports['.'] as Record<string, string>)['types']);
  });

  it('sideEffects names exactly the modules with import-time effects (reflect-metadata, the CLI entry)', () => {
    const withEffects = sourcesUnder(join(REPO_ROOT, 'src'))
      .filter((f) => hasSideEffects(readFileSync(f, 'utf8')))
      .map((f) => `./dist/${relative(REPO_ROOT, f).replace(/\.ts$/, '.js')}`)
      .sort();
    expect(withEffects).toEqual(
      expect.arrayContaining(['./dist/src/cli/main.js', './dist/src/identity/x509-provider.js']),
    );
    expect([...PKG.sideEffects].sort()).toEqual(withEffects);
    for (const f of PKG.sideEffects) expect(files).toContain(f.replace(/^\.\//, ''));
  });

  it('the side-effect scan can fail: it sees a bare import and a call on an import, not a local mutation', () => {
    expect(hasSideEffects("import 'reflect-metadata';\nexport const a = 1;")).toBe(true);
    expect(hasSideEffects("import { x } from 'y';\nx.set(1);")).toBe(true);
    expect(hasSideEffects('const list = new Set();\nlist.add(1);\nexport { list };')).toBe(false);
  });
});
