import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_OVERRIDES } from '../../src/config/env-overrides.js';
import { configSchema } from '../../src/config/schema.js';
import { parseDuration } from '../../src/duration.js';
import { REPO_ROOT } from '../support/deploy-manifests.js';

/** The zod 4 definition of a schema node (`_zod.def`): type plus the parts we walk. */
interface Def {
  type: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  element?: unknown;
  options?: unknown[];
}

function defOf(schema: unknown): Def {
  const def = (schema as { _zod?: { def?: Def } } | null)?._zod?.def;
  if (def === undefined) throw new TypeError('not a zod 4 schema');
  return def;
}

const WRAPPERS = new Set([
  'optional',
  'default',
  'prefault',
  'nullable',
  'readonly',
  'nonoptional',
  'catch',
]);

/** Strips optional/default/prefault/… and pipes (transforms) down to the schema that reads input. */
function unwrap(schema: unknown): unknown {
  let node = schema;
  for (;;) {
    const def = defOf(node);
    if (WRAPPERS.has(def.type)) node = def.innerType;
    else if (def.type === 'pipe') node = def.in;
    else return node;
  }
}

/**
 * Every leaf key path of the config schema: `inbound.limits.appTimeout`,
 * `outbound.upstreams[].name`. Objects are walked; arrays of objects add `[]`; unions of
 * scalars (durations, string-or-list) are leaves.
 */
function schemaKeyPaths(schema: unknown, prefix = ''): string[] {
  const node = unwrap(schema);
  const def = defOf(node);
  if (def.type === 'object') {
    return Object.entries(def.shape ?? {}).flatMap(([key, child]) =>
      schemaKeyPaths(child, prefix === '' ? key : `${prefix}.${key}`),
    );
  }
  if (def.type === 'array') {
    const element = defOf(unwrap(def.element));
    return element.type === 'object' ? schemaKeyPaths(def.element, `${prefix}[]`) : [prefix];
  }
  if (def.type === 'union') {
    const objects = (def.options ?? []).filter((o) => defOf(unwrap(o)).type === 'object');
    if (objects.length > 0) return [...new Set(objects.flatMap((o) => schemaKeyPaths(o, prefix)))];
  }
  return [prefix];
}

/** A documented key: full path, and the text of its table row. */
interface DocKey {
  path: string;
  row: string;
}

/**
 * Keys of the reference tables in docs/configuration.md: the first backticked cell of each
 * row, prefixed with the section (`### \`inbound\` …` → `inbound.`; "Top level" → none).
 */
function documentedKeys(md: string): DocKey[] {
  const keys: DocKey[] = [];
  let section: string | undefined;
  for (const line of md.split('\n')) {
    const heading = /^###\s+(.*)$/.exec(line);
    if (heading !== null) {
      const name = /^`([A-Za-z][\w.]*)`/.exec(heading[1] as string);
      section = name !== null ? name[1] : /top level/i.test(heading[1] as string) ? '' : undefined;
      continue;
    }
    if (/^##\s/.test(line)) section = undefined;
    if (section === undefined) continue;
    const row = /^\|\s*`([A-Za-z][\w.[\]]*)`\s*\|/.exec(line);
    if (row === null) continue;
    keys.push({
      path: section === '' ? (row[1] as string) : `${section}.${row[1] as string}`,
      row: line,
    });
  }
  return keys;
}

/**
 * A schema path is documented by its own row, or by the row of an enclosing key that names
 * it in backticks (e.g. `policies[]` whose text lists `clientIds`, `spiffeIds`, `scopes`).
 */
function isDocumented(path: string, keys: readonly DocKey[]): boolean {
  if (keys.some((k) => k.path === path)) return true;
  const leaf = path.slice(path.lastIndexOf('.') + 1);
  return keys.some(
    (k) =>
      (path.startsWith(`${k.path}.`) || path.startsWith(`${k.path}[]`)) &&
      k.row.includes(`\`${leaf}\``),
  );
}

/** A configuration with every section, so that every default is applied once. */
const FULL = {
  identity: { certPath: 'c.pem', keyPath: 'k.pem', bundlePath: 'ca.pem' },
  inbound: { app: { url: 'http://127.0.0.1:8080' } },
  verify: { issuer: 'https://as', audience: 'https://api', jwksUri: 'https://as/jwks' },
  token: { issuer: 'https://as', clientId: 'orders' },
  outbound: { upstreams: [{ name: 'p', url: 'https://p' }] },
  admin: {},
  localApi: { port: 1 },
};
const DEV_IDENTITY = { identity: { dev: { caDir: 'certs', name: 'orders' } } };

/** The value the schema gives `path` (`a.b`, `a[].b` reads the first element). */
function appliedAt(config: unknown, path: string): unknown {
  let value: unknown = config;
  for (const part of path.split('.')) {
    const list = part.endsWith('[]');
    value = (value as Record<string, unknown> | undefined)?.[list ? part.slice(0, -2) : part];
    if (list) value = (value as unknown[] | undefined)?.[0];
  }
  return value;
}

/** Whether a docs default cell (`5s`, `0.8`, `false`, `x-certbound-`, `[]`) states `value`. */
function states(cell: string, value: unknown): boolean {
  if (typeof value === 'number') {
    return /^\d+(\.\d+)?$/.test(cell) ? Number(cell) === value : parseDuration(cell) === value;
  }
  if (Array.isArray(value)) return cell === `[${value.join(', ')}]`;
  return cell === String(value);
}

const configMd = readFileSync(join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
const paths = schemaKeyPaths(configSchema);
const keys = documentedKeys(configMd);

describe('docs/configuration.md matches the config schema (src/config/schema.ts)', () => {
  it('walks the schema into key paths', () => {
    expect(paths).toContain('identity.certPath');
    expect(paths).toContain('inbound.limits.appTimeout');
    expect(paths).toContain('outbound.upstreams[].spiffeId');
    expect(paths).toContain('inbound.policies[].scopes');
    expect(paths).toContain('shutdownGrace');
    expect(paths).not.toContain('inbound.limits');
  });

  it('documents every key of the schema', () => {
    expect(paths.filter((p) => !isDocumented(p, keys))).toEqual([]);
  });

  it('documents no key the schema does not have', () => {
    const known = new Set(paths);
    const containers = new Set(
      paths.flatMap((p) => p.split('.').map((_, i, a) => a.slice(0, i + 1).join('.'))),
    );
    expect(keys.map((k) => k.path).filter((p) => !known.has(p) && !containers.has(p))).toEqual([]);
  });

  it('states every default exactly as the schema applies it', () => {
    const files = configSchema.parse(FULL);
    const dev = configSchema.parse({ ...FULL, ...DEV_IDENTITY });
    const wrong: string[] = [];
    let checked = 0;
    for (const key of keys) {
      // | `key` | `default` | meaning |: only single backticked defaults are values.
      const cell = /^\|[^|]*\|\s*`([^`]*)`\s*\|/.exec(key.row)?.[1];
      if (cell === undefined) continue;
      const value = appliedAt(key.path.startsWith('identity.dev.') ? dev : files, key.path);
      if (value === undefined) continue; // a library default (e.g. `algorithms`), not the schema's
      checked++;
      if (!states(cell, value))
        wrong.push(`${key.path}: docs say ${cell}, schema applies ${JSON.stringify(value)}`);
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(25);
  });

  it('lists every environment override with its key', () => {
    for (const { env, path } of ENV_OVERRIDES)
      expect(configMd, env).toMatch(
        new RegExp(`\\|\\s*\`${env}\`\\s*\\|\\s*\`${path.replace(/\./g, '\\.')}\``),
      );
  });

  it('the default check can fail: a wrong value is not taken for the applied one', () => {
    expect(states('10s', 5_000)).toBe(false);
    expect(states('5s', 5_000)).toBe(true);
    expect(states('0.7', 0.8)).toBe(false);
    expect(states('[]', [])).toBe(true);
    expect(states('true', false)).toBe(false);
  });

  it('the check can fail: a key missing from the docs is reported', () => {
    const without = keys.filter((k) => k.path !== 'inbound.limits.appTimeout');
    expect(isDocumented('inbound.limits.appTimeout', without)).toBe(false);
    expect(isDocumented('inbound.limits.appTimeout', keys)).toBe(true);
  });
});
