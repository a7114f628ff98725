import { randomBytes } from 'node:crypto';
import {
  ClientSecretBasic,
  TlsClientAuth,
  allowInsecureRequests,
  customFetch,
  introspectionRequest,
  processIntrospectionResponse,
  validateApplicationLevelSignature,
  type AuthorizationServer,
  type Client,
} from 'oauth4webapi';
import { CertboundError, isCertboundError } from '../errors.js';
import { isLoopback } from '../loopback.js';
import { tracedCall } from '../traced-call.js';
import type { ReadinessStatus } from '../readiness-check.js';
import { checkIntrospectedClaims, type IntrospectionExpectations } from './introspection-claims.js';
import { introspectionFailure } from './introspection-failure.js';
import { INTROSPECTION_DEFAULTS, type IntrospectionOptions } from './introspection-options.js';
import { DEFAULT_ALGORITHMS, VERIFIER_DEFAULTS } from './options.js';
import type { TokenValidator, ValidatedToken } from './token-validator.js';
import { VerifiedTokenCache, type VerifiedEntry } from './verified-token-cache.js';

/** The introspection {@link TokenValidator}, plus its cache counters. */
export interface IntrospectionValidator extends TokenValidator {
  /** Cache of active answers (the verifier's stats add the per-connection memo hits). */
  readonly cache: VerifiedTokenCache;
  /** The issuer it introspects for (readiness and metrics name it). */
  readonly issuer: string;
}

type Claims = Readonly<Record<string, unknown>>;

/** RFC 9701 §4: the media type of a JWT introspection response. */
const JWT_RESPONSE = 'application/token-introspection+jwt';

/** Least time between two readiness probes of a failing introspection endpoint. */
const PROBE_COOLDOWN_MS = 1_000;

/** RFC 7662 §4: the token travels to this URL, so TLS is required (loopback aside). */
function endpointOf(value: string): URL {
  const url = URL.parse(value);
  if (
    url === null ||
    !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname)))
  )
    throw new TypeError('endpoint must be an https URL (plain http is only accepted on loopback)');
  return url;
}

function mediaTypeOf(response: Response): string | undefined {
  return response.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
}

function positive(name: string, value: number): number {
  if (!(value > 0 && Number.isFinite(value))) throw new TypeError(`${name} must be a number > 0`);
  return value;
}

/**
 * RFC 7662 token introspection as a {@link TokenValidator}, for opaque (reference) access
 * tokens: one POST per token to the issuer's introspection endpoint (oauth4webapi
 * `introspectionRequest` / `processIntrospectionResponse`), authenticated with
 * `tls_client_auth` (the certificate `fetch` presents) or `client_secret_basic`; the answer
 * is checked like a JWT's claims ({@link checkIntrospectedClaims}).
 *
 * Answers are cached by the token's SHA-256: an active one until the earlier of `exp` and
 * `cacheMaxAgeMs` (revocation takes effect within it), a refused one for
 * `inactiveCacheMaxAgeMs`; concurrent first uses of a token share one call. The claims are
 * re-checked on every call. When the AS cannot be used, cached active answers keep working
 * until their deadline; other tokens get `ERR_INTROSPECTION_UNAVAILABLE` (503).
 *
 * Does not check `cnf` (the proof-of-possession step does, on the claims returned) nor
 * policy. Never logs or echoes the token.
 *
 * @throws TypeError on incomplete options (no issuer, audience, endpoint or clientId; an
 *   endpoint that is not https outside loopback)
 */
export function createIntrospectionValidator(
  options: IntrospectionOptions,
): IntrospectionValidator {
  const { issuer, clientId } = options;
  if (typeof issuer !== 'string' || issuer.length === 0)
    throw new TypeError('issuer must be a non-empty string');
  if (typeof clientId !== 'string' || clientId.length === 0)
    throw new TypeError('clientId must be a non-empty string');
  const audience = Array.isArray(options.audience) ? options.audience : [options.audience];
  if (audience.length === 0 || audience.some((a) => typeof a !== 'string' || a.length === 0))
    throw new TypeError('audience must be a non-empty string or array of non-empty strings');
  if (typeof options.endpoint === 'string') endpointOf(options.endpoint);
  else if (typeof options.endpoint !== 'function')
    throw new TypeError('endpoint must be a URL or a function that resolves one');

  const now = options.now ?? Date.now;
  const timeoutMs = positive('timeoutMs', options.timeoutMs ?? INTROSPECTION_DEFAULTS.timeoutMs);
  const maxAgeMs = positive(
    'cacheMaxAgeMs',
    options.cacheMaxAgeMs ?? INTROSPECTION_DEFAULTS.cacheMaxAgeMs,
  );
  const refusedMaxAgeMs = positive(
    'inactiveCacheMaxAgeMs',
    options.inactiveCacheMaxAgeMs ?? INTROSPECTION_DEFAULTS.inactiveCacheMaxAgeMs,
  );
  const maxTokenBytes = options.maxTokenBytes ?? VERIFIER_DEFAULTS.maxTokenBytes;
  const clockToleranceSec = options.clockToleranceSec ?? VERIFIER_DEFAULTS.clockToleranceSec;
  const expectations: Omit<IntrospectionExpectations, 'nowSec'> = {
    issuer,
    audience,
    tokenTypes: (options.tokenTypes ?? INTROSPECTION_DEFAULTS.tokenTypes).map((t) =>
      t.toLowerCase(),
    ),
    clockToleranceSec,
    maxTokenLifetimeSec: options.maxTokenLifetimeSec ?? VERIFIER_DEFAULTS.maxTokenLifetimeSec,
  };
  const cacheSize = options.cacheSize ?? INTROSPECTION_DEFAULTS.cacheSize;
  const cache = new VerifiedTokenCache(cacheSize);
  // Refused answers apart: a flood of garbage tokens must not evict the active ones.
  const refused = new VerifiedTokenCache(cacheSize);
  const pending = new Map<string, Promise<VerifiedEntry>>();
  let failure: CertboundError | undefined;
  let probedAt = Number.NEGATIVE_INFINITY;
  // Never a real token: an `active: false` answer to it proves the AS answers again.
  const probeToken = `certbound-readiness-probe-${randomBytes(16).toString('base64url')}`;

  const signed = options.jwtResponse;
  if (signed !== undefined) endpointOf(signed.jwksUri);
  const client: Client = { client_id: clientId };
  let as: Promise<AuthorizationServer> | undefined;
  /** The endpoint, resolved once (discovery); a failed resolution is retried by the next call. */
  function serverOf(): Promise<AuthorizationServer> {
    if (as !== undefined) return as;
    const known = options.endpoint;
    const resolving = (typeof known === 'string' ? Promise.resolve(known) : known()).then(
      (url) => ({
        issuer,
        introspection_endpoint: endpointOf(url).href,
        ...(signed !== undefined
          ? {
              jwks_uri: endpointOf(signed.jwksUri).href,
              // oauth4webapi checks the JWT's alg against this list (its fallback is RS256).
              introspection_signing_alg_values_supported: signed.algorithms ?? [
                ...DEFAULT_ALGORITHMS,
              ],
            }
          : {}),
      }),
    );
    as = resolving;
    resolving.catch(() => {
      if (as === resolving) as = undefined;
    });
    return resolving;
  }
  const auth =
    options.clientSecret !== undefined ? ClientSecretBasic(options.clientSecret) : TlsClientAuth();

  /** One RFC 7662 call; the raw answer (active or not), or ERR_INTROSPECTION_UNAVAILABLE. */
  function introspect(token: string): Promise<Claims> {
    return tracedCall('certbound.introspection', { 'certbound.issuer': issuer }, () =>
      introspectOnce(token),
    );
  }

  async function introspectOnce(token: string): Promise<Claims> {
    const started = performance.now();
    try {
      const as = await serverOf();
      const insecure = (as.introspection_endpoint ?? '').startsWith('http:');
      const signal = AbortSignal.timeout(timeoutMs);
      const http = {
        signal,
        ...(insecure ? { [allowInsecureRequests]: true } : {}),
        ...(options.fetch !== undefined ? { [customFetch]: options.fetch } : {}),
      };
      const response = await introspectionRequest(as, client, auth, token, {
        ...http,
        requestJwtResponse: signed !== undefined,
      });
      // RFC 9701 §5: when signing is required a plain JSON answer is not accepted (an
      // attacker on the path would otherwise just drop the signature).
      if (signed !== undefined && response.ok && mediaTypeOf(response) !== JWT_RESPONSE)
        throw new Error('the answer is not a signed JWT (RFC 9701)');
      const body = await processIntrospectionResponse(as, client, response);
      if (signed !== undefined) {
        const jwksInsecure = (as.jwks_uri ?? '').startsWith('http:');
        await validateApplicationLevelSignature(as, response, {
          ...http,
          [allowInsecureRequests]: jwksInsecure,
        });
      }
      failure = undefined;
      return body;
    } catch (err) {
      failure = introspectionFailure(err, issuer);
      options.onResult?.('unavailable', (performance.now() - started) / 1000);
      throw failure;
    }
  }

  /** Judges an answer; throws the refusal. Run on every call, cached or not. */
  function check(claims: Claims): void {
    checkIntrospectedClaims(claims, { ...expectations, nowSec: now() / 1000 });
  }

  /** Introspects and caches the answer (active or refused) until its deadline. */
  async function introspectAndStore(token: string, key: string): Promise<VerifiedEntry> {
    const started = performance.now();
    const claims = await introspect(token);
    const seconds = (performance.now() - started) / 1000;
    const at = now();
    try {
      check(claims);
    } catch (err) {
      options.onResult?.(
        isCertboundError(err, 'ERR_TOKEN_INACTIVE') ? 'inactive' : 'refused',
        seconds,
      );
      const entry = { claims, deadAt: at + refusedMaxAgeMs };
      refused.set(key, entry);
      return entry;
    }
    options.onResult?.('active', seconds);
    const expMs = (claims['exp'] as number) * 1000 + clockToleranceSec * 1000;
    const entry = { claims, deadAt: Math.min(expMs, at + maxAgeMs) };
    cache.set(key, entry);
    return entry;
  }

  async function entryOf(token: string, key: string): Promise<VerifiedEntry> {
    const at = now();
    const hit = cache.get(key, at) ?? refused.get(key, at);
    if (hit !== undefined) return hit;
    // Single-flight: concurrent first uses of one token cost one introspection call.
    let inflight = pending.get(key);
    if (inflight === undefined) {
      inflight = introspectAndStore(token, key).finally(() => pending.delete(key));
      pending.set(key, inflight);
    }
    return inflight;
  }

  return {
    kind: 'introspection',
    issuer,
    cache,
    async validate(token: string): Promise<ValidatedToken> {
      if (typeof token !== 'string' || token.length === 0)
        throw new CertboundError('ERR_TOKEN_MISSING');
      if (Buffer.byteLength(token, 'utf8') > maxTokenBytes) {
        throw new CertboundError(
          'ERR_TOKEN_TOO_LARGE',
          `The token is larger than ${maxTokenBytes} bytes.`,
        );
      }
      const entry = await entryOf(token, VerifiedTokenCache.keyOf(token));
      // Checked on every call, cached or not (exp may pass while the entry lives).
      check(entry.claims);
      return {
        claims: entry.claims,
        validator: 'introspection',
        expiresAtMs: (entry.claims['exp'] as number) * 1000,
        revalidateAtMs: entry.deadAt,
      };
    },
    ready(): ReadinessStatus {
      if (failure === undefined) return { ok: true };
      // An unready sidecar gets no traffic to find out the AS is back: the probe asks, at
      // most once per PROBE_COOLDOWN_MS.
      const at = now();
      if (at - probedAt >= PROBE_COOLDOWN_MS) {
        probedAt = at;
        introspect(probeToken).catch(() => undefined);
      }
      return { ok: false, reason: failure.message };
    },
    close: () => Promise.resolve(),
  };
}
