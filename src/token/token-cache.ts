import { CertboundError } from '../errors.js';
import { FailureLog } from '../identity/identity-logger.js';
import type { WorkloadIdentity } from '../identity/workload-identity.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import type { AccessToken } from './access-token.js';
import { isPermanentAsError, mapAsError } from './map-as-error.js';
import { pinnedLookup, retiredLookup } from './pinned-lookup.js';
import { SlotTimer } from './refresh-schedule.js';
import type { TokenCounts } from './token-client-stats.js';
import { describeTokenRequest, type NormalizedTokenRequest } from './token-request-key.js';
import {
  cacheHit,
  EMPTY_SLOT,
  isUsable,
  transition,
  type RequestReason,
  type SlotEvent,
  type SlotPolicy,
  type SlotState,
} from './token-slot.js';

/** What a {@link TokenCache} needs from its client. */
export interface TokenCacheOptions {
  readonly policy: SlotPolicy;
  /** Sends one token request presenting `identity`'s certificate (the grant; may throw). */
  readonly fetchToken: (
    request: NormalizedTokenRequest,
    identity: WorkloadIdentity,
  ) => Promise<AccessToken>;
  /** The certificate in force now. */
  readonly current: () => WorkloadIdentity;
  readonly counts: TokenCounts;
  readonly log: Logger | undefined;
}

/** One cache key: its pure state ({@link transition}) and the I/O handles that go with it. */
interface Slot {
  readonly request: NormalizedTokenRequest;
  state: SlotState;
  /** The promise of `state.fetching`: callers for the same certificate share it. */
  inflight: Promise<AccessToken> | undefined;
  readonly timer: SlotTimer;
  /** Logs a failure that repeats once, and a different one again. */
  readonly failureLog: FailureLog;
}

/**
 * The token cache of a client: one slot per (audience, resource, scope) key, each driven
 * by the slot state machine (`token-slot.ts`). This class only carries out the machine's
 * effects — sends the requests, arms the timers, logs, counts.
 */
export class TokenCache {
  readonly #options: TokenCacheOptions;
  readonly #slots = new Map<string, Slot>();
  #closed = false;

  constructor(options: TokenCacheOptions) {
    this.#options = options;
  }

  /**
   * The held token for `identity`'s certificate (synchronously), else the promise of one:
   * the request in flight for that certificate, a new request, or the last failure while
   * backing off.
   */
  lookup(
    request: NormalizedTokenRequest,
    identity: WorkloadIdentity,
  ): AccessToken | Promise<AccessToken> {
    const slot = this.#slotFor(request);
    // Hot path: a hit on a key in use changes no state, so the transition can be skipped.
    const hit = cacheHit(slot.state, identity.thumbprint, Date.now());
    if (hit !== undefined) return hit;
    const answer = this.#dispatch(slot, { type: 'get', thumbprint: identity.thumbprint }, identity);
    return answer ?? Promise.reject(new CertboundError('ERR_INTERNAL'));
  }

  /**
   * A still-valid token bound to `thumbprint`, a certificate rotated away (or the request
   * in flight for it).
   *
   * @throws CertboundError `ERR_TOKEN_NOT_BOUND` when none is held
   */
  async pinned(request: NormalizedTokenRequest, thumbprint: string): Promise<AccessToken> {
    const slot = this.#slotFor(request);
    let answer = pinnedLookup(slot.state, thumbprint, Date.now());
    if (answer.type === 'join') {
      const token = await slot.inflight?.catch(() => undefined);
      if (isUsable(token, thumbprint, Date.now())) return token;
      answer = retiredLookup(slot.state, thumbprint, Date.now());
    }
    if (answer.type === 'refuse') throw answer.error;
    this.#options.counts.hits++;
    return answer.token;
  }

  /** The certificate rotated: retire its tokens, prefetch keys in use when `canRequest`. */
  rotated(identity: WorkloadIdentity, canRequest: boolean): void {
    const event: SlotEvent = { type: 'rotated', thumbprint: identity.thumbprint, canRequest };
    for (const slot of this.#slots.values()) ignoreFailure(this.#dispatch(slot, event, identity));
  }

  /** Drops the tokens and failure state of `key` (all keys without one). */
  invalidate(key?: string): void {
    const slots = key === undefined ? [...this.#slots.values()] : [this.#slots.get(key)];
    for (const slot of slots) {
      if (slot !== undefined) void this.#dispatch(slot, { type: 'invalidated' }, undefined);
    }
  }

  /** The state of `key`, when it was asked for. */
  stateOf(key: string): SlotState | undefined {
    return this.#slots.get(key)?.state;
  }

  /** Slots holding a token (possibly lapsed). */
  cached(): number {
    let cached = 0;
    for (const slot of this.#slots.values()) if (slot.state.token !== undefined) cached++;
    return cached;
  }

  /** Stops every timer and forgets every token; requests in flight still answer their callers. */
  close(): void {
    this.#closed = true;
    for (const slot of this.#slots.values()) {
      slot.timer.cancel();
      slot.state = EMPTY_SLOT;
    }
    this.#slots.clear();
  }

  #slotFor(request: NormalizedTokenRequest): Slot {
    let slot = this.#slots.get(request.key);
    if (slot === undefined) {
      slot = {
        request,
        state: EMPTY_SLOT,
        inflight: undefined,
        timer: new SlotTimer(),
        failureLog: new FailureLog(this.#options.log ?? silentLogger()),
      };
      this.#slots.set(request.key, slot);
    }
    return slot;
  }

  /**
   * Applies `event` to the slot and runs the effects; `identity` is the certificate of the
   * event's `thumbprint` (requests present it).
   *
   * @returns the caller's answer: a held token or the promise of one; undefined for events
   *   that answer nobody
   */
  #dispatch(
    slot: Slot,
    event: SlotEvent,
    identity: WorkloadIdentity | undefined,
  ): AccessToken | Promise<AccessToken> | undefined {
    const { state, effects } = transition(slot.state, event, Date.now(), this.#options.policy);
    slot.state = state;
    let answer: AccessToken | Promise<AccessToken> | undefined;
    for (const effect of effects) {
      switch (effect.type) {
        case 'serve':
          answer = effect.token;
          break;
        case 'join':
          this.#countStart(effect.reason);
          answer = slot.inflight ?? Promise.reject(new CertboundError('ERR_INTERNAL'));
          break;
        case 'request':
          this.#countStart(effect.reason);
          answer = this.#send(slot, effect.seq, identity as WorkloadIdentity);
          break;
        case 'backoff': {
          const last = effect.error;
          answer = Promise.reject(
            new CertboundError(last.code, last.message, {
              cause: last.cause,
              details: last.details,
            }),
          );
          break;
        }
        case 'schedule':
          if (!this.#closed) slot.timer.arm(effect.at, () => this.#onTimer(slot));
          break;
        case 'cancel':
          slot.timer.cancel();
          break;
        case 'succeeded':
          if (slot.failureLog.reset()) {
            this.#options.log?.info(
              { request: describeTokenRequest(slot.request), attempts: effect.attempts },
              'token request succeeded again',
            );
          }
          break;
        case 'failure':
          this.#onFailure(slot, effect.error, effect.attempt, effect.retryInMs);
          break;
      }
    }
    return answer;
  }

  #countStart(reason: RequestReason): void {
    if (reason === 'refresh') this.#options.counts.refreshes++;
    else if (reason === 'prefetch') this.#options.counts.prefetches++;
  }

  /** Starts request `seq` of the slot, presenting `identity`'s certificate. */
  #send(slot: Slot, seq: number, identity: WorkloadIdentity): Promise<AccessToken> {
    const promise = this.#request(slot, seq, identity).finally(() => {
      if (slot.inflight === promise) slot.inflight = undefined;
    });
    slot.inflight = promise;
    return promise;
  }

  async #request(slot: Slot, seq: number, identity: WorkloadIdentity): Promise<AccessToken> {
    const requestedAt = Date.now();
    let token: AccessToken;
    try {
      token = await this.#options.fetchToken(slot.request, identity);
    } catch (err) {
      const error = mapAsError(err, 'token request');
      void this.#dispatch(slot, { type: 'failed', seq, error, random: Math.random() }, undefined);
      throw error;
    }
    // Closed meanwhile: the callers get their token, the cache keeps nothing.
    if (this.#closed) return token;
    const thumbprint = this.#options.current().thumbprint;
    void this.#dispatch(slot, { type: 'obtained', seq, token, requestedAt, thumbprint }, undefined);
    return token;
  }

  #onFailure(slot: Slot, error: CertboundError, attempt: number, retryInMs: number): void {
    this.#options.counts.failures++;
    const request = describeTokenRequest(slot.request);
    // Once per distinct failure: a retried invalid_client must not flood the log.
    slot.failureLog.failure(
      `${error.code}|${error.message}`,
      { code: error.code, details: error.details, request, attempt, retryInMs },
      `token request for ${request} failed (retried with backoff): ${error.message}`,
      isPermanentAsError(error) ? 'error' : 'warn',
    );
  }

  /** The slot's timer: background refresh ahead of expiry, or retry after a failure. */
  #onTimer(slot: Slot): void {
    if (this.#closed || this.#slots.get(slot.request.key) !== slot) return;
    let identity: WorkloadIdentity;
    try {
      identity = this.#options.current();
    } catch {
      return; // the source closed: nothing to refresh with
    }
    const event: SlotEvent = { type: 'refresh-due', thumbprint: identity.thumbprint };
    ignoreFailure(this.#dispatch(slot, event, identity));
  }
}

/** A background request's failure was logged and its retry scheduled by the machine. */
function ignoreFailure(answer: AccessToken | Promise<AccessToken> | undefined): void {
  if (answer instanceof Promise) answer.catch(() => undefined);
}
