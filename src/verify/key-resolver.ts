import { Agent, fetch as undiciFetch } from 'undici';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  jwksCache,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import { CertboundError } from '../errors.js';
import { isLoopback } from '../loopback.js';
import { tracedCall } from '../traced-call.js';
import type { ReadinessStatus } from '../readiness-check.js';
import { jwksFetchError, type JwksAnswer } from './jwks-fetch-error.js';
import { JWKS_DEFAULTS, type JwksOption } from './options.js';

/** A jose key function, its readiness, a way to fetch now, and to release its sockets. */
export interface KeyResolver {
  readonly getKey: JWTVerifyGetKey;
  /**
   * Fetches the remote set now (start-up warm-up); resolves at once for a local set.
   *
   * @throws CertboundError `ERR_JWKS_UNAVAILABLE` saying what is wrong (URL, HTTP status,
   *   not JSON, not a JWK Set, timeout, connection error).
   */
  refresh(): Promise<void>;
  /**
   * Not ok before the first successful fetch, and when the keys are older than the
   * max age while refetching them fails. A stale set starts a refetch (at most once per
   * cooldown) so the answer stays true without traffic. Always ok for a local set.
   */
  ready(): ReadinessStatus;
  close(): Promise<void>;
}

function contentTypeOf(value: string | null): string | undefined {
  if (value === null) return undefined;
  return (value.split(';')[0] ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, 60) || undefined;
}

/**
 * Builds the key function for `jwtVerify`.
 *
 * Remote sets are fetched with jose (`createRemoteJWKSet`, used for its fetch, validation
 * and single-flight reload); the refetch policy is here: the set is refetched when older
 * than `cacheMaxAgeMs`, and once for an unknown `kid` unless a fetch succeeded within
 * `cooldownMs`. When a fetch fails, the keys fetched before keep verifying tokens (an AS
 * outage must not become a verifier outage), no request fetches again for `cooldownMs`
 * (a failing endpoint is neither hammered nor waited for), and a token whose `kid` is not
 * among the cached keys gets `ERR_JWKS_UNAVAILABLE` (503): it may be signed by a key the
 * AS published during the outage, so it is not called invalid. Without any keys, every
 * token gets `ERR_JWKS_UNAVAILABLE`.
 */
export function createKeyResolver(option: JwksOption): KeyResolver {
  if ('keys' in option) {
    const local = createLocalJWKSet(option.keys);
    return {
      getKey: local,
      refresh: () => Promise.resolve(),
      ready: () => ({ ok: true }),
      close: () => Promise.resolve(),
    };
  }
  const url = option.url instanceof URL ? option.url : new URL(option.url);
  if (url.protocol !== 'https:' && !isLoopback(url.hostname)) {
    throw new TypeError('jwks.url must use https (plain http is only accepted on loopback)');
  }
  // Origin and path only: a query string may carry a secret.
  const where = `${url.origin}${url.pathname}`;
  const cooldownMs = option.cooldownMs ?? JWKS_DEFAULTS.cooldownMs;
  const maxAgeMs = option.cacheMaxAgeMs ?? JWKS_DEFAULTS.cacheMaxAgeMs;
  const timeoutMs = option.timeoutMs ?? JWKS_DEFAULTS.timeoutMs;
  const onFetch = option.onFetch;
  const agent = new Agent({
    connect: {
      ...(option.ca !== undefined ? { ca: option.ca } : {}),
      ...(option.cert !== undefined ? { cert: option.cert } : {}),
      ...(option.key !== undefined ? { key: option.key } : {}),
    },
  });
  // jose writes the set and the time of every successful fetch here.
  const fetched: { jwks?: JSONWebKeySet; uat?: number } = {};
  let answer: JwksAnswer | undefined;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let failure: { readonly at: number; readonly error: CertboundError } | undefined;
  let local: { readonly uat: number; readonly getKey: JWTVerifyGetKey } | undefined;

  const remote = createRemoteJWKSet(url, {
    cooldownDuration: cooldownMs,
    cacheMaxAge: maxAgeMs,
    timeoutDuration: timeoutMs,
    [jwksCache]: fetched as Record<string, never>,
    [customFetch]: async (input: string, init: RequestInit) => {
      lastAttemptAt = Date.now();
      answer = undefined;
      const res = await undiciFetch(input, { ...(init as object), dispatcher: agent });
      answer = { status: res.status, contentType: contentTypeOf(res.headers.get('content-type')) };
      return res as unknown as Response;
    },
  });

  /** One fetch (shared by concurrent callers); records the outcome, never throws. */
  async function reload(): Promise<CertboundError | undefined> {
    try {
      await tracedCall('certbound.jwks_fetch', { 'url.full': where }, () => remote.reload());
      failure = undefined;
      onFetch?.('ok', fetched.jwks?.keys.length ?? 0);
      return undefined;
    } catch (err) {
      const error = jwksFetchError(err, where, answer, timeoutMs);
      failure = { at: Date.now(), error };
      onFetch?.('error', fetched.jwks?.keys.length ?? 0, error);
      return error;
    }
  }

  /** The key function over the last set fetched (rebuilt once per fetch, not per token). */
  function lastKeys(): JWTVerifyGetKey | undefined {
    const { jwks, uat } = fetched;
    if (jwks === undefined || uat === undefined) return undefined;
    if (local?.uat !== uat) local = { uat, getKey: createLocalJWKSet(jwks) };
    return local.getKey;
  }

  const mayFetch = (now: number): boolean =>
    failure === undefined || now >= failure.at + cooldownMs;
  const isFresh = (now: number, within: number): boolean =>
    fetched.uat !== undefined && now < fetched.uat + within;

  function unavailable(because: string): CertboundError {
    const last = failure?.error;
    return new CertboundError(
      'ERR_JWKS_UNAVAILABLE',
      `${because}${last !== undefined ? `: ${last.message}` : '.'}`,
      { cause: last, details: { ...last?.details, url: where } },
    );
  }

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (!isFresh(Date.now(), maxAgeMs) && mayFetch(Date.now())) await reload();
    const keys = lastKeys();
    if (keys === undefined) throw failure?.error ?? unavailable(`JWKS ${where} has no keys yet`);
    try {
      return await keys(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // A healthy set fetched within the cooldown: the kid is unknown, not merely unseen.
      if (failure === undefined && isFresh(Date.now(), cooldownMs)) throw err;
      if (mayFetch(Date.now())) await reload();
      if (failure !== undefined) {
        throw unavailable(
          `No cached JWKS key matches the token's kid and the set cannot be refetched`,
        );
      }
      return (lastKeys() as JWTVerifyGetKey)(header, token);
    }
  };

  return {
    getKey,
    async refresh() {
      const error = await reload();
      if (error !== undefined) throw error;
    },
    ready() {
      const now = Date.now();
      if (!isFresh(now, maxAgeMs) && !remote.reloading && now >= lastAttemptAt + cooldownMs) {
        // Nothing else refetches a set nobody uses: the probe does, so its answer stays true.
        void reload();
      }
      const uat = fetched.uat;
      if (uat === undefined) {
        return { ok: false, reason: failure?.error.message ?? `JWKS ${where} not fetched yet.` };
      }
      if (now >= uat + maxAgeMs && failure !== undefined && failure.at > uat) {
        return {
          ok: false,
          reason: `${failure.error.message} The keys in use were fetched ${Math.round((now - uat) / 1000)} s ago, longer than the max age (${Math.round(maxAgeMs / 1000)} s).`,
        };
      }
      return { ok: true };
    },
    close: () => agent.close(),
  };
}
