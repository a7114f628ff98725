import { isDPoPNonceError, type AuthorizationServer, type Client } from 'oauth4webapi';
import { CertboundError } from '../errors.js';
import { FailureLog } from '../identity/identity-logger.js';
import type { WorkloadIdentity } from '../identity/workload-identity.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import type { ReadinessStatus } from '../readiness-check.js';
import { tracedCall } from '../traced-call.js';
import type { AccessToken, TokenGetOptions, TokenProvider, TokenRequest } from './access-token.js';
import {
  authorizationServerOf,
  endpointsOf,
  type TokenClientEndpoints,
} from './authorization-server.js';
import { clientCredentialsRequest, processClientCredentials } from './client-credentials-grant.js';
import { DpopKeys } from './dpop-keys.js';
import { isPermanentAsError, mapAsError } from './map-as-error.js';
import { MtlsAgents } from './mtls-agents.js';
import {
  resolveTokenClientOptions,
  type ResolvedTokenClientOptions,
  type TokenClientOptions,
} from './options.js';
import { TokenCache } from './token-cache.js';
import { zeroTokenCounts, type TokenClientStats } from './token-client-stats.js';
import { normalizeTokenRequest, type NormalizedTokenRequest } from './token-request-key.js';
import { TokenWarmUp } from './token-warm-up.js';

const MAX_ROTATION_RETRIES = 3;

/**
 * Gets OAuth 2.0 `client_credentials` access tokens bound to the workload certificate
 * (RFC 8705): authenticates with mutual TLS using `source.current()`, checks the token's
 * binding, caches per (certificate thumbprint, audience/resource, sorted scope), refreshes
 * ahead of expiry, and follows certificate rotation. The rules live in the slot state
 * machine (`token-slot.ts`); this class runs its effects: requests, timers, logs.
 *
 * Guarantee: `get` never resolves with a token whose `thumbprint` differs from
 * `source.current().thumbprint` at the moment it resolves.
 */
export class TokenClient implements TokenProvider {
  readonly #opts: ResolvedTokenClientOptions;
  readonly #log: Logger | undefined;
  readonly #agents: MtlsAgents;
  readonly #counts = zeroTokenCounts();
  readonly #cache: TokenCache;
  readonly #warmUp: TokenWarmUp;
  readonly #startFailures: FailureLog;
  readonly #client: Client;
  readonly #dpopKeys: DpopKeys;
  #as: AuthorizationServer | undefined;
  #starting: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  #thumbprint: string | undefined;
  #closed = false;

  /** @throws TypeError on invalid options (see {@link resolveTokenClientOptions}). */
  constructor(options: TokenClientOptions) {
    this.#opts = resolveTokenClientOptions(options);
    this.#log = this.#opts.logger?.child({ component: 'token-client' });
    this.#startFailures = new FailureLog(this.#log ?? silentLogger());
    this.#agents = new MtlsAgents(this.#opts.ca, this.#opts.timeoutMs);
    // RFC 8705 §5: use the mTLS aliases whenever the AS publishes them.
    this.#client = { client_id: this.#opts.clientId, use_mtls_endpoint_aliases: true };
    this.#dpopKeys = new DpopKeys(this.#client);
    this.#cache = new TokenCache({
      policy: this.#opts,
      fetchToken: (request, identity) => this.#fetchToken(request, identity),
      current: () => this.#opts.source.current(),
      counts: this.#counts,
      log: this.#log,
    });
    this.#warmUp = new TokenWarmUp({
      get: (request) => this.get(request),
      isClosed: () => this.#closed,
      minBackoffMs: this.#opts.minBackoffMs,
      maxBackoffMs: this.#opts.maxBackoffMs,
    });
  }

  /**
   * Discovers the AS metadata (when `issuer` is set) and starts following the source.
   * Idempotent; `get` calls it too.
   *
   * @throws CertboundError `ERR_DISCOVERY` when the metadata cannot be had (a later call retries).
   */
  start(): Promise<void> {
    this.#starting ??= this.#start().then(
      () => {
        this.#startFailures.reset();
      },
      (err: unknown) => {
        this.#starting = undefined;
        const error = mapAsError(err, 'metadata request');
        this.#startFailures.failure(
          `${error.code}|${error.message}`,
          { code: error.code, details: error.details, issuer: this.#opts.issuer },
          `authorization server discovery failed: ${error.message}`,
          isPermanentAsError(error) ? 'error' : 'warn',
        );
        throw error;
      },
    );
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (this.#opts.allowUnboundTokens) {
      this.#log?.warn(
        'allowUnboundTokens is on: opaque tokens are accepted without checking their certificate binding',
      );
    }
    if (this.#unsubscribe === undefined) {
      this.#thumbprint = this.#opts.source.current().thumbprint;
      this.#unsubscribe = this.#opts.source.onUpdate((identity) => this.#onRotation(identity));
    }
    this.#as ??= await authorizationServerOf(
      this.#opts,
      {
        fetch: this.#agents.fetchFor(this.#opts.source.current()),
        timeoutMs: this.#opts.timeoutMs,
        onRequest: () => this.#counts.discovery++,
      },
      this.#log,
    );
  }

  /** Endpoints in use, once started. */
  endpoints(): TokenClientEndpoints | undefined {
    return this.#as === undefined ? undefined : endpointsOf(this.#as);
  }

  /**
   * A token for `request`, bound to the current certificate: from the cache when a valid
   * one is held, else from the AS (concurrent callers share one request).
   *
   * @throws CertboundError `ERR_AS_UNAVAILABLE`, `ERR_AS_TIMEOUT`, `ERR_AS_ERROR`,
   *   `ERR_AS_RESPONSE`, `ERR_TOKEN_NOT_BOUND`, `ERR_DISCOVERY`; TypeError on a bad request.
   */
  async get(request: TokenRequest = {}, options: TokenGetOptions = {}): Promise<AccessToken> {
    const normalized = normalizeTokenRequest(request);
    this.#assertOpen();
    await this.start();
    const pinned = options.thumbprint;
    if (pinned !== undefined && pinned !== this.#opts.source.current().thumbprint) {
      return this.#cache.pinned(normalized, pinned);
    }
    for (let attempt = 0; attempt <= MAX_ROTATION_RETRIES; attempt++) {
      this.#assertOpen();
      const answer = this.#cache.lookup(normalized, this.#opts.source.current());
      if (!(answer instanceof Promise)) {
        this.#counts.hits++;
        return answer;
      }
      if (attempt === 0) this.#counts.misses++;
      const token = await answer;
      // RFC 8705 §3: the token must match the certificate the caller's connection presents;
      // when the identity rotated during the request, fetch again with the new one.
      if (token.thumbprint === (pinned ?? this.#opts.source.current().thumbprint)) return token;
      if (pinned !== undefined && pinned !== this.#opts.source.current().thumbprint) {
        return this.#cache.pinned(normalized, pinned);
      }
    }
    throw new CertboundError(
      'ERR_AS_UNAVAILABLE',
      'The workload certificate rotated during every token request; try again.',
    );
  }

  /**
   * Obtains a token for each request now (start-up warm-up: the first calls find it in the
   * cache), retrying each with this client's backoff until it succeeds or the client is
   * closed. From then on {@link TokenClient.ready} reports on these requests.
   *
   * @returns true once every request got a token; false when the client was closed first
   * @throws TypeError at once (not in the promise) on a bad request
   */
  warmUp(requests: readonly TokenRequest[]): Promise<boolean> {
    return this.#warmUp.run(requests);
  }

  /**
   * Whether outbound calls can get their tokens: not ok until every warmed-up request
   * ({@link TokenClient.warmUp}) got one, and when one holds no valid token while its last
   * request failed — the reason carries the AS answer (`invalid_client`, …). A token that
   * lapsed unused is not a failure. Ok when nothing was warmed up.
   */
  ready(): ReadinessStatus {
    if (this.#closed) return { ok: false, reason: 'The token client is closed.' };
    let thumbprint: string;
    try {
      thumbprint = this.#opts.source.current().thumbprint;
    } catch (err) {
      return {
        ok: false,
        reason: `No workload identity: ${mapAsError(err, 'token request').message}`,
      };
    }
    return this.#warmUp.ready(thumbprint, (key) => this.#cache.stateOf(key), Date.now());
  }

  /** Counters since creation. */
  stats(): TokenClientStats {
    const c = this.#counts;
    return {
      asRequests: { discovery: c.discovery, token: c.token },
      hits: c.hits,
      misses: c.misses,
      refreshes: c.refreshes,
      prefetches: c.prefetches,
      failures: c.failures,
      cached: this.#cache.cached(),
    };
  }

  /**
   * Drops cached tokens (all, or the one for `request`), e.g. after an upstream refused
   * one. The next `get` asks the AS.
   */
  invalidate(request?: TokenRequest): void {
    this.#cache.invalidate(request === undefined ? undefined : normalizeTokenRequest(request).key);
  }

  /** Stops timers and the rotation listener, closes the TLS agents. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe?.();
    this.#cache.close();
    this.#dpopKeys.clear();
    await this.#agents.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new CertboundError('ERR_AS_UNAVAILABLE', 'The token client is closed.');
  }

  /** One grant: the request/process pair, presenting `identity`'s certificate. */
  async #fetchToken(
    request: NormalizedTokenRequest,
    identity: WorkloadIdentity,
  ): Promise<AccessToken> {
    const started = performance.now();
    try {
      const token = await tracedCall('certbound.token_request', {}, () =>
        this.#grant(request, identity),
      );
      this.#opts.onRequest?.('ok', (performance.now() - started) / 1000);
      return token;
    } catch (err) {
      this.#opts.onRequest?.('error', (performance.now() - started) / 1000);
      throw this.#withEndpoint(mapAsError(err, 'token request'));
    }
  }

  /** The failure with the token endpoint (origin and path) and HTTP status in its details, for the log. */
  #withEndpoint(error: CertboundError): CertboundError {
    const as = this.#as;
    const endpoint = URL.parse(
      as?.mtls_endpoint_aliases?.token_endpoint ?? as?.token_endpoint ?? '',
    );
    // oauth4webapi attaches the Response it judged (unexpected status, bad body) as a cause.
    let answered = error.cause as { cause?: unknown } | undefined;
    for (let i = 0; i < 4 && answered !== undefined && !(answered instanceof Response); i++)
      answered = answered.cause as { cause?: unknown } | undefined;
    return new CertboundError(error.code, error.message, {
      cause: error.cause ?? error,
      details: {
        ...error.details,
        url: endpoint !== null ? `${endpoint.origin}${endpoint.pathname}` : undefined,
        status:
          error.details['status'] ?? (answered instanceof Response ? answered.status : undefined),
      },
    });
  }

  async #grant(request: NormalizedTokenRequest, identity: WorkloadIdentity): Promise<AccessToken> {
    const requestedAt = Date.now();
    const as = this.#as;
    if (as === undefined) throw new CertboundError('ERR_DISCOVERY', 'The client is not started.');
    const context = {
      thumbprint: identity.thumbprint,
      requestedAt,
      allowUnboundTokens: this.#opts.allowUnboundTokens,
      defaultLifetimeSec: this.#opts.defaultLifetimeSec,
    };
    if (request.proof !== 'dpop') {
      this.#counts.token++;
      const response = await clientCredentialsRequest(as, this.#client, request, {
        fetch: this.#agents.fetchFor(identity),
        timeoutMs: this.#opts.timeoutMs,
      });
      return processClientCredentials(as, this.#client, response, context);
    }
    // RFC 9449 §5: the key of this certificate signs the proof; the token comes back bound to it.
    const key = await this.#dpopKeys.for(identity);
    for (let attempt = 0; ; attempt++) {
      this.#counts.token++;
      const response = await clientCredentialsRequest(as, this.#client, request, {
        fetch: this.#agents.fetchFor(identity),
        timeoutMs: this.#opts.timeoutMs,
        dpop: key.handle,
      });
      try {
        const token = await processClientCredentials(as, this.#client, response, {
          ...context,
          dpopJkt: key.jkt,
        });
        return { ...token, dpop: key };
      } catch (err) {
        // RFC 9449 §8: the AS asked for its nonce (now cached by the handle): one retry.
        if (attempt === 0 && isDPoPNonceError(err)) continue;
        throw err;
      }
    }
  }

  #onRotation(identity: WorkloadIdentity): void {
    if (this.#closed || identity.thumbprint === this.#thumbprint) return;
    this.#thumbprint = identity.thumbprint;
    this.#log?.info(
      { thumbprint: identity.thumbprint },
      'workload certificate rotated: dropping tokens bound to the previous one',
    );
    this.#cache.rotated(identity, this.#as !== undefined);
  }
}

/**
 * Creates a {@link TokenClient} and starts it (metadata discovery).
 *
 * @throws TypeError on invalid options; CertboundError `ERR_DISCOVERY` when discovery fails.
 */
export async function createTokenClient(options: TokenClientOptions): Promise<TokenClient> {
  const client = new TokenClient(options);
  try {
    await client.start();
  } catch (err) {
    await client.close();
    throw err;
  }
  return client;
}
