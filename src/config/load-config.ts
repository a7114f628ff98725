import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { CertboundError } from '../errors.js';
import { applyEnvOverrides, overriddenKeys, recordOverrides } from './env-overrides.js';
import { CONFIG_EXAMPLES } from './examples.js';
import { configSchema, type CertboundConfig } from './schema.js';

/** One problem found in a configuration, naming the key. */
export interface ConfigProblem {
  /** Dotted key, e.g. `inbound.limits.appTimeout` or `outbound.upstreams[0].url`. */
  readonly key: string;
  /** What is wrong, e.g. `is required`. */
  readonly problem: string;
  /** A right value, when one is known. */
  readonly example: string | undefined;
}

function keyOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out.length === 0 ? String(segment) : `.${String(segment)}`;
  }
  return out.length === 0 ? '(root)' : out;
}

function exampleOf(key: string): string | undefined {
  return CONFIG_EXAMPLES[key.replace(/\[\d+\]/g, '[]')];
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

function describe(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? 'is required'
        : `must be ${issue.expected === 'object' ? 'a mapping' : issue.expected === 'array' ? 'a list' : `a ${issue.expected}`}, not ${typeName(issue.input)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union':
      return `has the wrong type (${typeName(issue.input)})`;
    case 'too_small':
      return issue.origin === 'string'
        ? 'must not be empty'
        : issue.origin === 'array'
          ? `must hold at least ${String(issue.minimum)} item(s)`
          : `must be ${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}`;
    case 'too_big':
      return `must be ${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}`;
    case 'invalid_format':
      return issue.format === 'starts_with'
        ? `must start with "${String((issue as { prefix?: string }).prefix)}"`
        : `is not a valid ${issue.format}`;
    default:
      return issue.message;
  }
}

/** Turns zod issues into problems that name the key and give an example. */
export function problemsOf(error: z.ZodError): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const full = keyOf([...issue.path, key]);
        problems.push({
          key: full,
          problem: 'is not a known key (check the spelling; see docs/configuration.md)',
          example: undefined,
        });
      }
      continue;
    }
    const key = keyOf(issue.path);
    problems.push({ key, problem: describe(issue), example: exampleOf(key) });
  }
  return problems;
}

/** One line per problem: `key: problem (example: value)`. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems
    .map(
      (p) => `  ${p.key}: ${p.problem}${p.example === undefined ? '' : ` (example: ${p.example})`}`,
    )
    .join('\n');
}

/**
 * Validates a parsed configuration object after applying `CERTBOUND_*` overrides.
 *
 * @param origin name used in messages (the file path)
 * @throws CertboundError ERR_CONFIG_INVALID listing every problem with its key
 */
export function parseConfig(
  raw: unknown,
  env: Readonly<Record<string, string | undefined>> = process.env,
  origin = 'configuration',
): CertboundConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CertboundError(
      'ERR_CONFIG_INVALID',
      `${origin}: the top level must be a mapping of keys (example: "inbound:\\n  port: 15443"), not ${typeName(raw)}.`,
      { details: { key: '(root)' } },
    );
  }
  const result = configSchema.safeParse(applyEnvOverrides(raw, env), { reportInput: true });
  const overridden = overriddenKeys(env);
  if (result.success) {
    recordOverrides(result.data, overridden);
    return result.data;
  }
  // A key whose value came from the environment names its variable: fix the pod, not the file.
  const problems = problemsOf(result.error);
  const named = problems.map((p) => {
    const name = overridden.get(p.key);
    return name === undefined ? p : { ...p, key: `${p.key} (from ${name})` };
  });
  throw new CertboundError(
    'ERR_CONFIG_INVALID',
    `${origin} is invalid:\n${formatProblems(named)}`,
    { details: { key: problems[0]?.key } },
  );
}

/** Parses YAML (JSON is YAML) text into a plain object. */
export function parseConfigText(text: string, origin: string): unknown {
  try {
    return parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CertboundError('ERR_CONFIG_INVALID', `${origin} is not valid YAML/JSON: ${detail}`, {
      details: { key: '(file)' },
    });
  }
}

/**
 * Reads, parses (YAML or JSON), overrides from the environment and validates a
 * configuration file. Does no other I/O: no file named inside is opened, no port.
 *
 * @throws CertboundError ERR_CONFIG_NOT_FOUND or ERR_CONFIG_INVALID
 */
export async function loadConfigFile(
  path: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<CertboundConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new CertboundError(
      'ERR_CONFIG_NOT_FOUND',
      `configuration file ${path} cannot be read (${code}); pass an existing file, e.g. --config /etc/certbound/certbound.yaml`,
      { details: { path } },
    );
  }
  return parseConfig(parseConfigText(text, path), env, path);
}
