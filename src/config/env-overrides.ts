import { CertboundError } from '../errors.js';

/** How an environment variable is turned into a configuration value. */
type EnvKind = 'string' | 'number' | 'boolean' | 'list';

/**
 * Environment variables that override one configuration key each: the values operators
 * change per pod. docs/configuration.md lists the same table.
 */
export const ENV_OVERRIDES: ReadonlyArray<{ env: string; path: string; kind: EnvKind }> = [
  { env: 'CERTBOUND_LOG_LEVEL', path: 'logLevel', kind: 'string' },
  { env: 'CERTBOUND_SHUTDOWN_GRACE', path: 'shutdownGrace', kind: 'string' },
  { env: 'CERTBOUND_IDENTITY_CERT_PATH', path: 'identity.certPath', kind: 'string' },
  { env: 'CERTBOUND_IDENTITY_KEY_PATH', path: 'identity.keyPath', kind: 'string' },
  { env: 'CERTBOUND_IDENTITY_BUNDLE_PATH', path: 'identity.bundlePath', kind: 'string' },
  { env: 'CERTBOUND_INBOUND_HOST', path: 'inbound.host', kind: 'string' },
  { env: 'CERTBOUND_INBOUND_PORT', path: 'inbound.port', kind: 'number' },
  { env: 'CERTBOUND_APP_URL', path: 'inbound.app.url', kind: 'string' },
  { env: 'CERTBOUND_VERIFY_ISSUER', path: 'verify.issuer', kind: 'string' },
  { env: 'CERTBOUND_VERIFY_AUDIENCE', path: 'verify.audience', kind: 'list' },
  { env: 'CERTBOUND_VERIFY_JWKS_URI', path: 'verify.jwksUri', kind: 'string' },
  { env: 'CERTBOUND_TOKEN_ISSUER', path: 'token.issuer', kind: 'string' },
  { env: 'CERTBOUND_TOKEN_ENDPOINT', path: 'token.tokenEndpoint', kind: 'string' },
  { env: 'CERTBOUND_TOKEN_CLIENT_ID', path: 'token.clientId', kind: 'string' },
  { env: 'CERTBOUND_OUTBOUND_PORT', path: 'outbound.port', kind: 'number' },
  { env: 'CERTBOUND_ADMIN_HOST', path: 'admin.host', kind: 'string' },
  { env: 'CERTBOUND_ADMIN_PORT', path: 'admin.port', kind: 'number' },
  { env: 'CERTBOUND_LOCAL_API_SOCKET', path: 'localApi.socket', kind: 'string' },
];

function convert(raw: string, kind: EnvKind): unknown {
  switch (kind) {
    case 'number':
      // Left as a string when not numeric, so the schema error names the key.
      return /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    case 'list':
      return raw.includes(',') ? raw.split(',').map((s) => s.trim()) : raw;
    default:
      return raw;
  }
}

/**
 * The keys `env` overrides, each with its variable (`inbound.port` → `CERTBOUND_INBOUND_PORT`),
 * so an error about a key can name where its value came from.
 */
export function overriddenKeys(
  env: Readonly<Record<string, string | undefined>>,
): ReadonlyMap<string, string> {
  const keys = new Map<string, string>();
  for (const { env: name, path } of ENV_OVERRIDES) {
    const value = env[name];
    if (value !== undefined && value !== '') keys.set(path, name);
  }
  return keys;
}

// For each loaded configuration, the keys its environment overrode (set by parseConfig).
const overridesOf = new WeakMap<object, ReadonlyMap<string, string>>();

/** Remembers which keys of `config` came from environment variables. */
export function recordOverrides(config: object, keys: ReadonlyMap<string, string>): void {
  if (keys.size > 0) overridesOf.set(config, keys);
}

/**
 * `error` with the variables named: when a value set by a `CERTBOUND_*` variable (a file
 * path, a URL) appears in its message, the message says which variable set it, so the
 * operator fixes the pod's environment rather than the file. Otherwise `error` itself.
 */
export function nameOverrides(config: object, error: CertboundError): CertboundError {
  const keys = overridesOf.get(config);
  if (keys === undefined) return error;
  const named: string[] = [];
  for (const [path, name] of keys) {
    let value: unknown = config;
    for (const k of path.split('.'))
      value = (value as Record<string, unknown> | undefined)?.[k] ?? undefined;
    if (typeof value === 'string' && value !== '' && error.message.includes(value))
      named.push(`${path} is set by ${name}`);
  }
  if (named.length === 0) return error;
  return new CertboundError(error.code, `${error.message} (${named.join('; ')})`, {
    details: error.details,
    cause: error,
  });
}

/**
 * Applies `CERTBOUND_*` overrides to a parsed (not yet validated) configuration object.
 * Empty variables are ignored. Returns a new object; `raw` is not modified.
 */
export function applyEnvOverrides(
  raw: unknown,
  env: Readonly<Record<string, string | undefined>>,
): unknown {
  const root: Record<string, unknown> =
    typeof raw === 'object' && raw !== null && !Array.isArray(raw)
      ? (structuredClone(raw) as Record<string, unknown>)
      : {};
  for (const { env: name, path, kind } of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const keys = path.split('.');
    let node = root;
    for (const key of keys.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[keys[keys.length - 1] as string] = convert(value, kind);
  }
  return root;
}
