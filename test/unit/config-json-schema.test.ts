import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { CONFIG_JSON_SCHEMA_FILE, configJsonSchema } from '../../src/config/json-schema.js';
import {
  KUBERNETES_DIR,
  readManifests,
  REPO_ROOT,
  yamlFilesUnder,
} from '../support/deploy-manifests.js';

/** The JSON Schema of certbound.yaml, compiled by an independent validator (ajv, draft-07). */
const schema = configJsonSchema();
const validate = new Ajv({ allErrors: true }).compile(schema);

function problems(value: unknown): string[] {
  return validate(value)
    ? []
    : (validate.errors ?? []).map((e) => `${e.dataPath} ${e.message ?? ''}`);
}

/** A certbound.yaml text and the file it lives in (its own file, or a ConfigMap's). */
interface Example {
  readonly file: string;
  readonly text: string;
}

const EXAMPLES_DIR = join(REPO_ROOT, 'examples');
const examples: Example[] = [
  ...readdirSync(EXAMPLES_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => ({
      file: join(EXAMPLES_DIR, f),
      text: readFileSync(join(EXAMPLES_DIR, f), 'utf8'),
    })),
  ...yamlFilesUnder(KUBERNETES_DIR)
    .filter((f) => !f.endsWith('/kustomization.yaml'))
    .flatMap((file) =>
      readManifests(file)
        .filter((m) => m.object.kind === 'ConfigMap')
        .flatMap((m) => {
          const text = (m.object['data'] as Record<string, unknown> | undefined)?.[
            'certbound.yaml'
          ];
          return typeof text === 'string' ? [{ file, text }] : [];
        }),
    ),
];

const MODELINE = /^# yaml-language-server: \$schema=(\S+)$/m;

describe('JSON Schema of certbound.yaml (generated from the zod schema)', () => {
  it('is draft-07 and refuses unknown keys at every level, as the zod schema does', () => {
    expect(schema['$schema']).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema['additionalProperties']).toBe(false);
    const props = schema['properties'] as Record<string, { additionalProperties?: unknown }>;
    expect(Object.keys(props)).toEqual(
      expect.arrayContaining(['identity', 'inbound', 'verify', 'token', 'outbound', 'admin']),
    );
    expect(props['token']?.additionalProperties).toBe(false);
  });

  it('finds examples: examples/*.yaml and every certbound.yaml ConfigMap under deploy/', () => {
    expect(examples.map((e) => relative(REPO_ROOT, e.file)).sort()).toEqual(
      expect.arrayContaining([
        'deploy/kubernetes/base/configmap.yaml',
        'deploy/kubernetes/overlays/example/certbound-config-patch.yaml',
        'examples/certbound.yaml',
      ]),
    );
  });

  it.each(examples.map((e) => [relative(REPO_ROOT, e.file), e]))(
    '%s validates against the schema',
    (_, example) => {
      expect(problems(parseConfigText(example.text, example.file))).toEqual([]);
    },
  );

  it.each(examples.map((e) => [relative(REPO_ROOT, e.file), e]))(
    '%s names the shipped schema in a yaml-language-server $schema line (relative to its file)',
    (_, example) => {
      const ref = MODELINE.exec(example.text)?.[1];
      expect(ref, 'no # yaml-language-server: $schema= line').toBeDefined();
      expect(resolve(dirname(example.file), ref as string)).toBe(
        join(REPO_ROOT, CONFIG_JSON_SCHEMA_FILE),
      );
    },
  );

  it.each([
    ['a misspelt key', (c: Record<string, unknown>) => (c['logLevl'] = 'debug')],
    [
      'an unknown token key',
      (c: Record<string, unknown>) => setIn(c, ['token', 'allowUnboundTokens'], true),
    ],
    [
      'a port that is a string',
      (c: Record<string, unknown>) => setIn(c, ['inbound', 'port'], 'https'),
    ],
    [
      'a log level that does not exist',
      (c: Record<string, unknown>) => (c['logLevel'] = 'verbose'),
    ],
    [
      'an unknown auth method',
      (c: Record<string, unknown>) => setIn(c, ['token', 'authMethod'], 'private_key_jwt'),
    ],
  ])('refuses %s (the check can fail)', (_, mutate) => {
    const config = parseConfigText(
      readFileSync(join(EXAMPLES_DIR, 'certbound.yaml'), 'utf8'),
      'example',
    ) as Record<string, unknown>;
    mutate(config);
    expect(problems(config)).not.toEqual([]);
  });

  it('every dotted configuration key docs/errors.md names exists in the schema (regression: advice named an option certbound.yaml rejects)', () => {
    const text = readFileSync(join(REPO_ROOT, 'docs', 'errors.md'), 'utf8');
    const roots = Object.keys(schema['properties'] as object).join('|');
    const keys = [
      ...new Set(
        [...text.matchAll(new RegExp(`\`((?:${roots})\\.[A-Za-z0-9_*.\\[\\]]+)\``, 'g'))].map(
          (m) => m[1] as string,
        ),
      ),
    ];
    expect(keys.length).toBeGreaterThan(10);
    expect(keys.filter((k) => !keyExists(schema, k.split('.')))).toEqual([]);
    expect(keyExists(schema, ['token', 'allowUnboundTokens'])).toBe(false);
  });
});

function setIn(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const step of path.slice(0, -1)) {
    node[step] ??= {};
    node = node[step] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/** True when `path` (segments may end in `[]` or hold a `*` glob) is a key of `node`. */
function keyExists(node: unknown, path: string[]): boolean {
  if (path.length === 0) return true;
  if (typeof node !== 'object' || node === null) return false;
  const n = node as Record<string, unknown>;
  const alternatives = [n['anyOf'], n['oneOf'], n['allOf']].flatMap((a) =>
    Array.isArray(a) ? (a as unknown[]) : [],
  );
  if (alternatives.some((a) => keyExists(a, path))) return true;
  const [head, ...rest] = path as [string, ...string[]];
  const isList = head.endsWith('[]');
  const name = isList ? head.slice(0, -2) : head;
  const pattern = new RegExp(`^${name.replace(/\*/g, '[A-Za-z0-9]*')}$`);
  const props = (n['properties'] ?? {}) as Record<string, unknown>;
  return Object.entries(props).some(
    ([key, child]) => pattern.test(key) && keyExists(isList ? itemsOf(child) : child, rest),
  );
}

function itemsOf(node: unknown): unknown {
  if (typeof node !== 'object' || node === null) return undefined;
  const n = node as Record<string, unknown>;
  if (n['items'] !== undefined) return n['items'];
  const alternatives = [n['anyOf'], n['oneOf']].flatMap((a) =>
    Array.isArray(a) ? (a as unknown[]) : [],
  );
  return alternatives.map(itemsOf).find((i) => i !== undefined);
}
