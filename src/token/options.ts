import type { Logger } from '../observability/logger.js';
import type { X509Source } from '../identity/x509-source.js';

/** RFC 8705 §2 client authentication methods. */
export type TlsAuthMethod = 'tls_client_auth' | 'self_signed_tls_client_auth';

/**
 * The defaults of {@link TokenClientOptions}: their one home. The config schema (`token.*`)
 * takes its defaults from here, so the sidecar and the library behave the same.
 */
export const TOKEN_DEFAULTS = {
  authMethod: 'tls_client_auth',
  // As long as one JWKS fetch may take: a caller on a cache miss hears ERR_AS_TIMEOUT well
  // before common client deadlines, and the background refresh retries anyway.
  timeoutMs: 5_000,
  // The token stays served while refreshes fail; the last fifth of a 10-min token leaves
  // 2 min for ≥ 4 retries at the 30 s backoff ceiling.
  refreshAtFraction: 0.8,
  minBackoffMs: 500,
  maxBackoffMs: 30_000,
  allowUnboundTokens: false,
  defaultLifetimeSec: 60,
} as const;

/** Options of {@link TokenClient} / `createTokenClient`. */
export interface TokenClientOptions {
  /** The workload identity: its current certificate authenticates us and binds the tokens. */
  source: X509Source;
  /** `client_id` registered at the AS. */
  clientId: string;
  /**
   * Issuer identifier: metadata is discovered at `/.well-known/oauth-authorization-server`
   * (RFC 8414), then `/.well-known/openid-configuration`. Either this or `tokenEndpoint`.
   */
  issuer?: string;
  /** Token endpoint, when the AS publishes no metadata. Either this or `issuer`. */
  tokenEndpoint?: string;
  /** Client authentication. Default `tls_client_auth` ({@link TOKEN_DEFAULTS}). */
  authMethod?: TlsAuthMethod;
  /** PEM CA certificate(s) trusted for the AS's TLS certificate. Default: the source's bundle. */
  ca?: string;
  /** Timeout of every AS call (connect to last byte), in ms. Default 5000 ({@link TOKEN_DEFAULTS}). */
  timeoutMs?: number;
  /** Refresh a token in use after this fraction of its lifetime. Default 0.8 ({@link TOKEN_DEFAULTS}). */
  refreshAtFraction?: number;
  /** First retry delay after a failure, in ms. Default 500. */
  minBackoffMs?: number;
  /** Longest retry delay, in ms. Default 30 000. */
  maxBackoffMs?: number;
  /**
   * Accept opaque tokens, whose binding cannot be checked. Default false: only JWTs with
   * `cnf.x5t#S256` equal to our certificate are accepted. JWTs are always checked.
   */
  allowUnboundTokens?: boolean;
  /** Lifetime assumed when the AS sends neither `expires_in` nor a JWT `exp`, in s. Default 60. */
  defaultLifetimeSec?: number;
  /** pino logger; default silent. */
  logger?: Logger;
  /** Called after every token request to the AS with its result and duration in seconds (metrics). */
  onRequest?: (result: 'ok' | 'error', seconds: number) => void;
}

/** {@link TokenClientOptions} with defaults applied. */
export interface ResolvedTokenClientOptions {
  readonly source: X509Source;
  readonly clientId: string;
  readonly issuer: string | undefined;
  readonly tokenEndpoint: string | undefined;
  readonly authMethod: TlsAuthMethod;
  readonly ca: string | undefined;
  readonly timeoutMs: number;
  readonly refreshAtFraction: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly allowUnboundTokens: boolean;
  readonly defaultLifetimeSec: number;
  readonly logger: Logger | undefined;
  readonly onRequest: ((result: 'ok' | 'error', seconds: number) => void) | undefined;
}

function httpsUrl(name: string, value: string): string {
  const url = URL.parse(value);
  if (url === null || url.protocol !== 'https:') {
    throw new TypeError(`${name} must be an https URL (RFC 8705 requires TLS to the AS)`);
  }
  return value;
}

/**
 * Applies defaults and checks the options.
 *
 * @throws TypeError on a missing source/clientId, neither or both of issuer and
 *   tokenEndpoint, a non-https URL, or out-of-range numbers.
 */
export function resolveTokenClientOptions(options: TokenClientOptions): ResolvedTokenClientOptions {
  if (typeof options.source?.current !== 'function') throw new TypeError('source is required');
  if (typeof options.clientId !== 'string' || options.clientId.length === 0) {
    throw new TypeError('clientId must be a non-empty string');
  }
  if ((options.issuer === undefined) === (options.tokenEndpoint === undefined)) {
    throw new TypeError('set exactly one of issuer (discovery) and tokenEndpoint');
  }
  const authMethod = options.authMethod ?? TOKEN_DEFAULTS.authMethod;
  if (authMethod !== 'tls_client_auth' && authMethod !== 'self_signed_tls_client_auth') {
    throw new TypeError('authMethod must be tls_client_auth or self_signed_tls_client_auth');
  }
  const timeoutMs = options.timeoutMs ?? TOKEN_DEFAULTS.timeoutMs;
  const refreshAtFraction = options.refreshAtFraction ?? TOKEN_DEFAULTS.refreshAtFraction;
  const minBackoffMs = options.minBackoffMs ?? TOKEN_DEFAULTS.minBackoffMs;
  const maxBackoffMs = options.maxBackoffMs ?? TOKEN_DEFAULTS.maxBackoffMs;
  const defaultLifetimeSec = options.defaultLifetimeSec ?? TOKEN_DEFAULTS.defaultLifetimeSec;
  if (!(timeoutMs > 0)) throw new TypeError('timeoutMs must be > 0');
  if (!(refreshAtFraction > 0 && refreshAtFraction < 1)) {
    throw new TypeError('refreshAtFraction must be between 0 and 1 (exclusive)');
  }
  if (!(minBackoffMs > 0) || !(maxBackoffMs >= minBackoffMs)) {
    throw new TypeError('backoff must satisfy 0 < minBackoffMs <= maxBackoffMs');
  }
  if (!(defaultLifetimeSec > 0)) throw new TypeError('defaultLifetimeSec must be > 0');
  return {
    source: options.source,
    clientId: options.clientId,
    issuer: options.issuer === undefined ? undefined : httpsUrl('issuer', options.issuer),
    tokenEndpoint:
      options.tokenEndpoint === undefined
        ? undefined
        : httpsUrl('tokenEndpoint', options.tokenEndpoint),
    authMethod,
    ca: options.ca,
    timeoutMs,
    refreshAtFraction,
    minBackoffMs,
    maxBackoffMs,
    allowUnboundTokens: options.allowUnboundTokens ?? TOKEN_DEFAULTS.allowUnboundTokens,
    defaultLifetimeSec,
    logger: options.logger,
    onRequest: options.onRequest,
  };
}
