import type { CertboundError } from '../errors.js';
import type { AccessToken } from './access-token.js';
import { backoffDelay } from './backoff.js';
import { refreshTime } from './refresh-schedule.js';

/**
 * What one (audience, resource, scope) key of the token cache holds. Immutable: every
 * {@link transition} returns a new state (or the same object when nothing changed).
 */
export interface SlotState {
  /** Token bound to the current certificate; kept after it lapses until replaced. */
  readonly token: AccessToken | undefined;
  /** Token of the previous certificate, for connections still presenting it. */
  readonly retired: AccessToken | undefined;
  /** Asked for since its token was obtained or its last background attempt. */
  readonly used: boolean;
  /** The token request in flight: for which certificate, and its number. */
  readonly fetching: { readonly thumbprint: string; readonly seq: number } | undefined;
  /** Number of the next token request. */
  readonly nextSeq: number;
  /** Consecutive failed requests. */
  readonly failures: number;
  /** While `lastError` is set, callers get it instead of a new request before this time. */
  readonly retryAt: number;
  readonly lastError: CertboundError | undefined;
}

/** A slot nobody has asked for yet. */
export const EMPTY_SLOT: SlotState = {
  token: undefined,
  retired: undefined,
  used: false,
  fetching: undefined,
  nextSeq: 1,
  failures: 0,
  retryAt: 0,
  lastError: undefined,
};

/** The refresh and retry rules a slot follows (the resolved token client options). */
export interface SlotPolicy {
  readonly refreshAtFraction: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
}

/** Why a token request is started or joined. */
export type RequestReason = 'get' | 'refresh' | 'prefetch';

export type SlotEvent =
  /** A caller wants a token for the current certificate. */
  | { readonly type: 'get'; readonly thumbprint: string }
  /** The slot's timer fired (refresh point, or retry after a failure). */
  | { readonly type: 'refresh-due'; readonly thumbprint: string }
  /** The workload certificate rotated; `canRequest` once the AS is known. */
  | { readonly type: 'rotated'; readonly thumbprint: string; readonly canRequest: boolean }
  /** Request `seq` got `token`; `thumbprint` is the current certificate's now. */
  | {
      readonly type: 'obtained';
      readonly seq: number;
      readonly token: AccessToken;
      readonly requestedAt: number;
      readonly thumbprint: string;
    }
  /** Request `seq` failed; `random` in [0, 1) spreads the backoff (see {@link backoffDelay}). */
  | {
      readonly type: 'failed';
      readonly seq: number;
      readonly error: CertboundError;
      readonly random: number;
    }
  /** Drop the tokens and the failure state (an upstream refused the token). */
  | { readonly type: 'invalidated' };

export type SlotEffect =
  /** Answer the caller with this token. */
  | { readonly type: 'serve'; readonly token: AccessToken }
  /** Wait for the request in flight (`fetching`). */
  | { readonly type: 'join'; readonly reason: RequestReason }
  /** Send token request `seq` with the certificate `thumbprint`. */
  | {
      readonly type: 'request';
      readonly thumbprint: string;
      readonly seq: number;
      readonly reason: RequestReason;
    }
  /** Answer the caller with the last failure: backing off, the AS is not asked. */
  | { readonly type: 'backoff'; readonly error: CertboundError }
  /** (Re)arm the slot's timer for this time; it fires `refresh-due`. */
  | { readonly type: 'schedule'; readonly at: number }
  /** Disarm the slot's timer. */
  | { readonly type: 'cancel' }
  /** A request succeeded after `attempts - 1` failures. */
  | { readonly type: 'succeeded'; readonly attempts: number }
  /** Request number `attempt` in a row failed; the next try is in `retryInMs`. */
  | {
      readonly type: 'failure';
      readonly error: CertboundError;
      readonly attempt: number;
      readonly retryInMs: number;
    };

/** The next state and what the caller of {@link transition} must do, in order. */
export interface SlotTransition {
  readonly state: SlotState;
  readonly effects: readonly SlotEffect[];
}

/** How a slot is doing, for messages and tests (derived from the state, never stored). */
export type SlotPhase = 'empty' | 'fetching' | 'fresh' | 'refreshing' | 'stale' | 'failed';

/** True when `token` may be sent by a connection presenting `thumbprint` at `now`. */
export function isUsable(
  token: AccessToken | undefined,
  thumbprint: string,
  now: number,
): token is AccessToken {
  return token !== undefined && token.thumbprint === thumbprint && now < token.expiresAt.getTime();
}

/**
 * `fresh`/`refreshing`/`stale` while a valid token is held (nothing in flight / a request
 * in flight / the last request failed), else `empty`/`fetching`/`failed`.
 */
export function phaseOf(state: SlotState, now: number): SlotPhase {
  const held = state.token !== undefined && isUsable(state.token, state.token.thumbprint, now);
  if (state.fetching !== undefined) return held ? 'refreshing' : 'fetching';
  if (state.lastError !== undefined) return held ? 'stale' : 'failed';
  return held ? 'fresh' : 'empty';
}

const CANCEL: SlotEffect = { type: 'cancel' };
const NONE: readonly SlotEffect[] = [];

/** Joins the request in flight for `thumbprint`, else starts one (backoff is the caller's rule). */
function obtain(state: SlotState, thumbprint: string, reason: RequestReason): SlotTransition {
  if (state.fetching?.thumbprint === thumbprint) {
    return { state, effects: [{ type: 'join', reason }] };
  }
  const seq = state.nextSeq;
  return {
    state: { ...state, fetching: { thumbprint, seq }, nextSeq: seq + 1 },
    effects: [{ type: 'request', thumbprint, seq, reason }],
  };
}

/** `fetching` without request `seq`, which just ended (a later request may have replaced it). */
function ended(state: SlotState, seq: number): SlotState['fetching'] {
  return state.fetching?.seq === seq ? undefined : state.fetching;
}

/**
 * The token a `get` for `thumbprint` is served without any change to the state: held,
 * valid, and the key already marked used. The cache's hot path; {@link transition} gives
 * the same answer (and the same state object) for it.
 */
export function cacheHit(
  state: SlotState,
  thumbprint: string,
  now: number,
): AccessToken | undefined {
  return state.used && isUsable(state.token, thumbprint, now) ? state.token : undefined;
}

function onGet(state: SlotState, thumbprint: string, now: number): SlotTransition {
  const hit = cacheHit(state, thumbprint, now);
  if (hit !== undefined) return { state, effects: [{ type: 'serve', token: hit }] };
  const marked = state.used ? state : { ...state, used: true };
  if (isUsable(marked.token, thumbprint, now)) {
    return { state: marked, effects: [{ type: 'serve', token: marked.token }] };
  }
  const joinable = marked.fetching?.thumbprint === thumbprint;
  if (!joinable && marked.lastError !== undefined && now < marked.retryAt) {
    // Backing off: answer with the last failure instead of hammering a failing AS.
    return { state: marked, effects: [{ type: 'backoff', error: marked.lastError }] };
  }
  return obtain(marked, thumbprint, 'get');
}

function onRefreshDue(state: SlotState, thumbprint: string): SlotTransition {
  // Nobody asked since the last attempt: let the token lapse.
  if (!state.used) return { state, effects: NONE };
  return obtain({ ...state, used: false }, thumbprint, 'refresh');
}

function onRotated(state: SlotState, thumbprint: string, canRequest: boolean): SlotTransition {
  const wasInUse = state.token !== undefined || state.used;
  const outdated = state.token !== undefined && state.token.thumbprint !== thumbprint;
  const next: SlotState = {
    ...state,
    // RFC 8705 §3: a token is only good with its certificate; keep it for pinned callers.
    token: outdated ? undefined : state.token,
    retired: outdated ? state.token : state.retired,
    // A new certificate may cure an authentication failure: no backoff carried over.
    failures: 0,
    retryAt: 0,
    lastError: undefined,
  };
  if (!wasInUse || next.token !== undefined || !canRequest) {
    return { state: next, effects: [CANCEL] };
  }
  const prefetch = obtain({ ...next, used: true }, thumbprint, 'prefetch');
  return { state: prefetch.state, effects: [CANCEL, ...prefetch.effects] };
}

function onObtained(
  state: SlotState,
  event: Extract<SlotEvent, { type: 'obtained' }>,
  policy: SlotPolicy,
): SlotTransition {
  const succeeded: SlotEffect = { type: 'succeeded', attempts: state.failures + 1 };
  const settled = {
    ...state,
    fetching: ended(state, event.seq),
    failures: 0,
    retryAt: 0,
    lastError: undefined,
  };
  // A token for a certificate rotated away meanwhile is only kept for connections that
  // still present that certificate (pinned callers); it is never handed out otherwise.
  if (event.token.thumbprint !== event.thumbprint) {
    return { state: { ...settled, retired: event.token }, effects: [succeeded] };
  }
  return {
    state: { ...settled, token: event.token, used: false },
    effects: [
      succeeded,
      {
        type: 'schedule',
        at: refreshTime(event.token, event.requestedAt, policy.refreshAtFraction),
      },
    ],
  };
}

function onFailed(
  state: SlotState,
  event: Extract<SlotEvent, { type: 'failed' }>,
  now: number,
  policy: SlotPolicy,
): SlotTransition {
  const failures = state.failures + 1;
  const delay = backoffDelay(failures, policy.minBackoffMs, policy.maxBackoffMs, event.random);
  const retryAt = now + delay;
  return {
    state: {
      ...state,
      fetching: ended(state, event.seq),
      failures,
      retryAt,
      lastError: event.error,
    },
    effects: [
      { type: 'failure', error: event.error, attempt: failures, retryInMs: delay },
      { type: 'schedule', at: retryAt },
    ],
  };
}

/**
 * The slot state machine: the next state of `state` after `event` at `now`, and the
 * effects to carry out (answer the caller, send a request, arm the timer, log). Pure: no
 * clock, no timers, no I/O — the {@link TokenClient} runs the effects.
 *
 * Rules: a valid token for the caller's certificate is served; otherwise callers share the
 * one request in flight for that certificate; after a failure they get that failure until
 * the backoff has passed, while the timer retries for keys in use; a token is refreshed
 * at `refreshAtFraction` of its lifetime only when asked for again since it was obtained.
 */
export function transition(
  state: SlotState,
  event: SlotEvent,
  now: number,
  policy: SlotPolicy,
): SlotTransition {
  switch (event.type) {
    case 'get':
      return onGet(state, event.thumbprint, now);
    case 'refresh-due':
      return onRefreshDue(state, event.thumbprint);
    case 'rotated':
      return onRotated(state, event.thumbprint, event.canRequest);
    case 'obtained':
      return onObtained(state, event, policy);
    case 'failed':
      return onFailed(state, event, now, policy);
    case 'invalidated':
      return {
        state: {
          ...state,
          token: undefined,
          retired: undefined,
          failures: 0,
          retryAt: 0,
          lastError: undefined,
        },
        effects: [CANCEL],
      };
  }
}
