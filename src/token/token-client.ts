import {
  clientCredentialsGrantRequest,
  customFetch,
  processClientCredentialsResponse,
  TlsClientAuth,
  type AuthorizationServer,
  type Client,
} from 'oauth4webapi';
import { CertboundError } from '../errors.js';
import { FailureLog } from '../identity/identity-logger.js';
import type { WorkloadIdentity } from '../identity/workload-identity.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import type { ReadinessStatus } from '../readiness-check.js';
import type { AccessToken, TokenGetOptions, TokenProvider, TokenRequest } from './access-token.js';
import { backoffDelay } from './backoff.js';
import { discoverAuthorizationServer } from './discover-authorization-server.js';
import { isPermanentAsError, mapAsError } from './map-as-error.js';
import { MtlsAgents, type FetchFunction } from './mtls-agents.js';
import {
  resolveTokenClientOptions,
  type ResolvedTokenClientOptions,
  type TokenClientOptions,
} from './options.js';
import { accessTokenOf } from './process-token-response.js';
import { normalizeTokenRequest, type NormalizedTokenRequest } from './token-request-key.js';

/** Counters of a {@link TokenClient}, for metrics and tests. */
export interface TokenClientStats {
  /** HTTP requests sent to the AS, by endpoint. */
  readonly asRequests: { readonly discovery: number; readonly token: number };
  /** `get` calls answered from the cache. */
  readonly hits: number;
  /** `get` calls that needed a token request (or joined one in flight). */
  readonly misses: number;
  /** Background refreshes started ahead of expiry (or retries after a failure). */
  readonly refreshes: number;
  /** Token requests started after a rotation for the keys in use. */
  readonly prefetches: number;
  /** Token requests that failed. */
  readonly failures: number;
  /** Cached tokens. */
  readonly cached: number;
}

/** The AS endpoints a client uses, after discovery. */
export interface TokenClientEndpoints {
  readonly issuer: string;
  /** The token endpoint requests go to (the RFC 8705 §5 alias when published). */
  readonly tokenEndpoint: string;
}

/** State of one (audience, resource, scope) key; its token is bound to one certificate. */
interface Slot {
  readonly request: NormalizedTokenRequest;
  token: AccessToken | undefined;
  /** The token of the previous certificate, kept for connections still presenting it. */
  retired: AccessToken | undefined;
  /** Asked for since its token was obtained or its last background attempt. */
  used: boolean;
  inflight: { readonly thumbprint: string; readonly promise: Promise<AccessToken> } | undefined;
  failures: number;
  retryAt: number;
  lastError: CertboundError | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Logs a failure that repeats once, and a different one again. */
  readonly failureLog: FailureLog;
}

/** A request the client keeps a token ready for ({@link TokenClient.warmUp}). */
interface WarmRequest {
  readonly request: TokenRequest;
  readonly normalized: NormalizedTokenRequest;
  obtained: boolean;
  /** Why the last warm-up attempt failed (also discovery, which has no slot). */
  lastError: CertboundError | undefined;
}

/** `resource https://payments.example (scope a b)`, for messages; never a token. */
function describeRequest(request: NormalizedTokenRequest): string {
  const parts = [
    request.audience !== undefined ? `audience ${request.audience}` : undefined,
    request.resource !== undefined ? `resource ${request.resource}` : undefined,
    request.scopes.length > 0 ? `scope "${request.scopes.join(' ')}"` : undefined,
  ].filter((p) => p !== undefined);
  return parts.length > 0 ? parts.join(', ') : 'the default audience';
}

const MAX_ROTATION_RETRIES = 3;

/**
 * Gets OAuth 2.0 `client_credentials` access tokens bound to the workload certificate
 * (RFC 8705): authenticates with mutual TLS using `source.current()`, checks the token's
 * binding, caches per (certificate thumbprint, audience/resource, sorted scope), refreshes
 * ahead of expiry, and follows certificate rotation.
 *
 * Guarantee: `get` never resolves with a token whose `thumbprint` differs from
 * `source.current().thumbprint` at the moment it resolves.
 */
export class TokenClient implements TokenProvider {
  readonly #opts: ResolvedTokenClientOptions;
  readonly #log: Logger | undefined;
  readonly #agents: MtlsAgents;
  readonly #slots = new Map<string, Slot>();
  readonly #warm = new Map<string, WarmRequest>();
  readonly #startFailures: FailureLog;
  readonly #client: Client;
  #as: AuthorizationServer | undefined;
  #starting: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  #thumbprint: string | undefined;
  #closed = false;
  readonly #counts = {
    discovery: 0,
    token: 0,
    hits: 0,
    misses: 0,
    refreshes: 0,
    prefetches: 0,
    failures: 0,
  };

  /** @throws TypeError on invalid options (see {@link resolveTokenClientOptions}). */
  constructor(options: TokenClientOptions) {
    this.#opts = resolveTokenClientOptions(options);
    this.#log = this.#opts.logger?.child({ component: 'token-client' });
    this.#startFailures = new FailureLog(this.#log ?? silentLogger());
    this.#agents = new MtlsAgents(this.#opts.ca, this.#opts.timeoutMs);
    // RFC 8705 §5: use the mTLS aliases whenever the AS publishes them.
    this.#client = { client_id: this.#opts.clientId, use_mtls_endpoint_aliases: true };
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
          { code: error.code, details: error.details },
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
    if (this.#as !== undefined) return;
    if (this.#opts.tokenEndpoint !== undefined) {
      this.#as = {
        issuer: this.#opts.issuer ?? new URL(this.#opts.tokenEndpoint).origin,
        token_endpoint: this.#opts.tokenEndpoint,
      };
      return;
    }
    const issuer = this.#opts.issuer as string;
    const as = await discoverAuthorizationServer(issuer, {
      fetch: this.#fetchFor(this.#opts.source.current()),
      timeoutMs: this.#opts.timeoutMs,
      onRequest: () => this.#counts.discovery++,
    });
    const methods = as.token_endpoint_auth_methods_supported;
    if (Array.isArray(methods) && !methods.includes(this.#opts.authMethod)) {
      this.#log?.warn(
        { authMethod: this.#opts.authMethod, supported: methods },
        'the authorization server does not advertise this client authentication method',
      );
    }
    if (as.tls_client_certificate_bound_access_tokens !== true) {
      this.#log?.warn(
        'the authorization server metadata does not advertise certificate-bound access tokens (RFC 8705 §3.3)',
      );
    }
    this.#as = as;
  }

  /** Endpoints in use, once started. */
  endpoints(): TokenClientEndpoints | undefined {
    const as = this.#as;
    if (as === undefined) return undefined;
    const alias = as.mtls_endpoint_aliases?.token_endpoint;
    return { issuer: as.issuer, tokenEndpoint: alias ?? as.token_endpoint ?? '' };
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
    const slot = this.#slotFor(normalized);
    const pinned = options.thumbprint;
    if (pinned !== undefined && pinned !== this.#opts.source.current().thumbprint) {
      return this.#retiredToken(slot, pinned);
    }
    for (let attempt = 0; attempt <= MAX_ROTATION_RETRIES; attempt++) {
      this.#assertOpen();
      slot.used = true;
      const identity = this.#opts.source.current();
      const held = slot.token;
      if (
        held !== undefined &&
        held.thumbprint === identity.thumbprint &&
        Date.now() < held.expiresAt.getTime()
      ) {
        this.#counts.hits++;
        return held;
      }
      if (attempt === 0) this.#counts.misses++;
      // The caller that triggers a request does not count as use: a key is refreshed ahead
      // only when asked for again while its token is held.
      const token = await this.#obtain(slot, identity, false);
      // RFC 8705 §3: the token must match the certificate the caller's connection presents;
      // when the identity rotated during the request, fetch again with the new one.
      if (token.thumbprint === (pinned ?? this.#opts.source.current().thumbprint)) return token;
      if (pinned !== undefined && pinned !== this.#opts.source.current().thumbprint) {
        return this.#retiredToken(slot, pinned);
      }
    }
    throw new CertboundError(
      'ERR_AS_UNAVAILABLE',
      'The workload certificate rotated during every token request; try again.',
    );
  }

  /** A still-valid token bound to a certificate that was rotated away (or in flight for it). */
  async #retiredToken(slot: Slot, thumbprint: string): Promise<AccessToken> {
    if (slot.inflight?.thumbprint === thumbprint) {
      const token = await slot.inflight.promise.catch(() => undefined);
      if (token?.thumbprint === thumbprint && Date.now() < token.expiresAt.getTime()) return token;
    }
    const retired = slot.retired;
    if (retired?.thumbprint === thumbprint && Date.now() < retired.expiresAt.getTime()) {
      this.#counts.hits++;
      return retired;
    }
    throw new CertboundError(
      'ERR_TOKEN_NOT_BOUND',
      'No valid token is held for the requested certificate: it is not the current one and was rotated away.',
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
    const entries = requests.map((request) => {
      const normalized = normalizeTokenRequest(request);
      let entry = this.#warm.get(normalized.key);
      if (entry === undefined) {
        entry = { request, normalized, obtained: false, lastError: undefined };
        this.#warm.set(normalized.key, entry);
      }
      return entry;
    });
    return Promise.all(entries.map((entry) => this.#warmOne(entry))).then((done) =>
      done.every(Boolean),
    );
  }

  async #warmOne(entry: WarmRequest): Promise<boolean> {
    for (let attempt = 1; !this.#closed; attempt++) {
      try {
        await this.get(entry.request);
        entry.obtained = true;
        entry.lastError = undefined;
        return true;
      } catch (err) {
        if (this.#closed) break;
        entry.lastError = mapAsError(err, 'token request');
        const delay = backoffDelay(attempt, this.#opts.minBackoffMs, this.#opts.maxBackoffMs);
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
    return false;
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
    for (const entry of this.#warm.values()) {
      const slot = this.#slots.get(entry.normalized.key);
      const held = slot?.token;
      if (held?.thumbprint === thumbprint && Date.now() < held.expiresAt.getTime()) continue;
      const error = entry.obtained ? slot?.lastError : (slot?.lastError ?? entry.lastError);
      if (!entry.obtained || error !== undefined) {
        return {
          ok: false,
          reason: `token for ${describeRequest(entry.normalized)}: ${error?.message ?? 'not obtained yet.'}`,
        };
      }
    }
    return { ok: true };
  }

  /** Counters since creation. */
  stats(): TokenClientStats {
    const c = this.#counts;
    let cached = 0;
    for (const slot of this.#slots.values()) if (slot.token !== undefined) cached++;
    return {
      asRequests: { discovery: c.discovery, token: c.token },
      hits: c.hits,
      misses: c.misses,
      refreshes: c.refreshes,
      prefetches: c.prefetches,
      failures: c.failures,
      cached,
    };
  }

  /**
   * Drops cached tokens (all, or the one for `request`), e.g. after an upstream refused
   * one. The next `get` asks the AS.
   */
  invalidate(request?: TokenRequest): void {
    const slots =
      request === undefined
        ? [...this.#slots.values()]
        : [this.#slots.get(normalizeTokenRequest(request).key)];
    for (const slot of slots) {
      if (slot === undefined) continue;
      this.#clearTimer(slot);
      slot.token = undefined;
      slot.retired = undefined;
      slot.failures = 0;
      slot.retryAt = 0;
      slot.lastError = undefined;
    }
  }

  /** Stops timers and the rotation listener, closes the TLS agents. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe?.();
    for (const slot of this.#slots.values()) {
      this.#clearTimer(slot);
      slot.token = undefined;
      slot.retired = undefined;
    }
    this.#slots.clear();
    await this.#agents.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new CertboundError('ERR_AS_UNAVAILABLE', 'The token client is closed.');
  }

  #slotFor(request: NormalizedTokenRequest): Slot {
    let slot = this.#slots.get(request.key);
    if (slot === undefined) {
      slot = {
        request,
        token: undefined,
        retired: undefined,
        used: false,
        inflight: undefined,
        failures: 0,
        retryAt: 0,
        lastError: undefined,
        timer: undefined,
        failureLog: new FailureLog(this.#log ?? silentLogger()),
      };
      this.#slots.set(request.key, slot);
    }
    return slot;
  }

  #fetchFor(identity: WorkloadIdentity): FetchFunction {
    return this.#agents.fetchFor(identity);
  }

  /** Single-flight per (slot, certificate); honours the backoff unless `force`. */
  #obtain(slot: Slot, identity: WorkloadIdentity, force: boolean): Promise<AccessToken> {
    if (slot.inflight?.thumbprint === identity.thumbprint) return slot.inflight.promise;
    if (!force && slot.lastError !== undefined && Date.now() < slot.retryAt) {
      const last = slot.lastError;
      // Backing off: answer with the last failure instead of hammering a failing AS.
      return Promise.reject(
        new CertboundError(last.code, last.message, { cause: last.cause, details: last.details }),
      );
    }
    const promise = this.#request(slot, identity).finally(() => {
      if (slot.inflight?.promise === promise) slot.inflight = undefined;
    });
    slot.inflight = { thumbprint: identity.thumbprint, promise };
    return promise;
  }

  async #request(slot: Slot, identity: WorkloadIdentity): Promise<AccessToken> {
    const requestedAt = Date.now();
    try {
      const as = this.#as;
      if (as === undefined) throw new CertboundError('ERR_DISCOVERY', 'The client is not started.');
      const params = new URLSearchParams();
      if (slot.request.scopes.length > 0) params.set('scope', slot.request.scopes.join(' '));
      if (slot.request.resource !== undefined) params.set('resource', slot.request.resource);
      if (slot.request.audience !== undefined) params.set('audience', slot.request.audience);
      this.#counts.token++;
      const response = await clientCredentialsGrantRequest(
        as,
        this.#client,
        TlsClientAuth(),
        params,
        {
          signal: AbortSignal.timeout(this.#opts.timeoutMs),
          [customFetch]: this.#fetchFor(identity),
        },
      );
      const body = await processClientCredentialsResponse(as, this.#client, response);
      const token = accessTokenOf(body, {
        thumbprint: identity.thumbprint,
        requestedAt,
        allowUnboundTokens: this.#opts.allowUnboundTokens,
        defaultLifetimeSec: this.#opts.defaultLifetimeSec,
      });
      this.#onSuccess(slot, token, requestedAt);
      return token;
    } catch (err) {
      const error = mapAsError(err, 'token request');
      this.#onFailure(slot, error);
      throw error;
    }
  }

  #onSuccess(slot: Slot, token: AccessToken, requestedAt: number): void {
    if (slot.failureLog.reset()) {
      this.#log?.info(
        { request: describeRequest(slot.request), attempts: slot.failures + 1 },
        'token request succeeded again',
      );
    }
    slot.failures = 0;
    slot.retryAt = 0;
    slot.lastError = undefined;
    if (this.#closed) return;
    // A token for a certificate rotated away meanwhile is only kept for connections that
    // still present that certificate (pinned requests); it is never handed out otherwise.
    if (token.thumbprint !== this.#opts.source.current().thumbprint) {
      slot.retired = token;
      return;
    }
    slot.token = token;
    slot.used = false;
    const lifetime = token.expiresAt.getTime() - requestedAt;
    this.#schedule(slot, requestedAt + lifetime * this.#opts.refreshAtFraction);
  }

  #onFailure(slot: Slot, error: CertboundError): void {
    this.#counts.failures++;
    slot.failures++;
    const delay = backoffDelay(slot.failures, this.#opts.minBackoffMs, this.#opts.maxBackoffMs);
    slot.retryAt = Date.now() + delay;
    slot.lastError = error;
    // Once per distinct failure: a retried invalid_client must not flood the log.
    slot.failureLog.failure(
      `${error.code}|${error.message}`,
      {
        code: error.code,
        details: error.details,
        request: describeRequest(slot.request),
        attempt: slot.failures,
        retryInMs: delay,
      },
      `token request for ${describeRequest(slot.request)} failed (retried with backoff): ${error.message}`,
      isPermanentAsError(error) ? 'error' : 'warn',
    );
    if (!this.#closed) this.#schedule(slot, slot.retryAt);
  }

  #schedule(slot: Slot, at: number): void {
    this.#clearTimer(slot);
    const timer = setTimeout(() => this.#refresh(slot), Math.max(0, at - Date.now()));
    timer.unref();
    slot.timer = timer;
  }

  #clearTimer(slot: Slot): void {
    if (slot.timer !== undefined) clearTimeout(slot.timer);
    slot.timer = undefined;
  }

  /** Background refresh ahead of expiry, or retry after a failure, for keys in use. */
  #refresh(slot: Slot): void {
    slot.timer = undefined;
    if (this.#closed || this.#slots.get(slot.request.key) !== slot) return;
    if (!slot.used) return; // nobody asked since the last attempt: let it lapse
    slot.used = false;
    this.#counts.refreshes++;
    this.#obtain(slot, this.#opts.source.current(), true).catch(() => {
      // #onFailure logged it and scheduled the next attempt.
    });
  }

  #onRotation(identity: WorkloadIdentity): void {
    if (this.#closed || identity.thumbprint === this.#thumbprint) return;
    this.#thumbprint = identity.thumbprint;
    this.#log?.info(
      { thumbprint: identity.thumbprint },
      'workload certificate rotated: dropping tokens bound to the previous one',
    );
    for (const slot of this.#slots.values()) {
      const wasInUse = slot.token !== undefined || slot.used;
      this.#clearTimer(slot);
      if (slot.token !== undefined && slot.token.thumbprint !== identity.thumbprint) {
        slot.retired = slot.token;
        slot.token = undefined;
      }
      // A new certificate may cure an authentication failure: no backoff carried over.
      slot.failures = 0;
      slot.retryAt = 0;
      slot.lastError = undefined;
      if (wasInUse && slot.token === undefined && this.#as !== undefined) {
        this.#counts.prefetches++;
        slot.used = true;
        this.#obtain(slot, identity, true).catch(() => {
          // #onFailure logged it and scheduled a retry.
        });
      }
    }
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
