import { describe, expect, it } from 'vitest';
import { CertboundError } from '../../src/errors.js';
import type { AccessToken } from '../../src/token/access-token.js';
import {
  cacheHit,
  EMPTY_SLOT,
  phaseOf,
  transition,
  type SlotEffect,
  type SlotEvent,
  type SlotPhase,
  type SlotPolicy,
  type SlotState,
} from '../../src/token/token-slot.js';
import { pinnedLookup } from '../../src/token/pinned-lookup.js';

/** The slot state machine, without timers or I/O: (state, event, now) → (state, effects). */

const A = 'A'.repeat(43);
const B = 'B'.repeat(43);
const NOW = 1_700_000_000_000;
const POLICY: SlotPolicy = { refreshAtFraction: 0.8, minBackoffMs: 500, maxBackoffMs: 30_000 };
const AS_DOWN = new CertboundError('ERR_AS_UNAVAILABLE', 'The token request failed.');

function token(thumbprint: string, expiresAt: number, name = 'at'): AccessToken {
  return { accessToken: name, tokenType: 'Bearer', expiresAt: new Date(expiresAt), thumbprint };
}

/** A token obtained at NOW for 100 s, bound to A. */
const TOKEN_A = token(A, NOW + 100_000, 'token-a');
const TOKEN_B = token(B, NOW + 100_000, 'token-b');
const LAPSED_A = token(A, NOW - 1, 'lapsed-a');

function slot(fields: Partial<SlotState>): SlotState {
  return Object.freeze({ ...EMPTY_SLOT, ...fields });
}

const fresh = slot({ token: TOKEN_A, nextSeq: 2 });
const freshUsed = slot({ token: TOKEN_A, nextSeq: 2, used: true });
const fetching = slot({ used: true, fetching: { thumbprint: A, seq: 1 }, nextSeq: 2 });
const refreshing = slot({ token: TOKEN_A, fetching: { thumbprint: A, seq: 2 }, nextSeq: 3 });
const stale = slot({
  token: TOKEN_A,
  used: true,
  nextSeq: 3,
  failures: 1,
  retryAt: NOW + 500,
  lastError: AS_DOWN,
});
const failed = slot({
  used: true,
  nextSeq: 2,
  failures: 1,
  retryAt: NOW + 500,
  lastError: AS_DOWN,
});

interface Row {
  readonly name: string;
  readonly from: SlotState;
  readonly event: SlotEvent;
  readonly now?: number;
  readonly state: Partial<SlotState>;
  readonly effects: readonly SlotEffect[];
  readonly phase?: SlotPhase;
}

const obtained = (seq: number, t: AccessToken, current = A): SlotEvent => ({
  type: 'obtained',
  seq,
  token: t,
  requestedAt: NOW,
  thumbprint: current,
});
const failedEvent = (seq: number, random = 0): SlotEvent => ({
  type: 'failed',
  seq,
  error: AS_DOWN,
  random,
});

const ROWS: readonly Row[] = [
  {
    name: 'empty + get → fetching: one request, the caller counts as use',
    from: EMPTY_SLOT,
    event: { type: 'get', thumbprint: A },
    state: { used: true, fetching: { thumbprint: A, seq: 1 }, nextSeq: 2 },
    effects: [{ type: 'request', thumbprint: A, seq: 1, reason: 'get' }],
    phase: 'fetching',
  },
  {
    name: 'fetching + get for the same certificate → join (single flight)',
    from: fetching,
    event: { type: 'get', thumbprint: A },
    state: fetching,
    effects: [{ type: 'join', reason: 'get' }],
    phase: 'fetching',
  },
  {
    name: 'fetching + obtained → fresh, refresh scheduled at 80 % of the lifetime',
    from: fetching,
    event: obtained(1, TOKEN_A),
    state: { token: TOKEN_A, used: false, fetching: undefined, failures: 0 },
    effects: [
      { type: 'succeeded', attempts: 1 },
      { type: 'schedule', at: NOW + 80_000 },
    ],
    phase: 'fresh',
  },
  {
    name: 'fresh + get → serve the held token, mark it used',
    from: fresh,
    event: { type: 'get', thumbprint: A },
    state: { token: TOKEN_A, used: true, fetching: undefined },
    effects: [{ type: 'serve', token: TOKEN_A }],
    phase: 'fresh',
  },
  {
    name: 'fresh, asked for again + refresh due → refreshing',
    from: freshUsed,
    event: { type: 'refresh-due', thumbprint: A },
    state: { used: false, fetching: { thumbprint: A, seq: 2 }, nextSeq: 3 },
    effects: [{ type: 'request', thumbprint: A, seq: 2, reason: 'refresh' }],
    phase: 'refreshing',
  },
  {
    name: 'fresh, not asked for since + refresh due → nothing: the token lapses',
    from: fresh,
    event: { type: 'refresh-due', thumbprint: A },
    state: fresh,
    effects: [],
    phase: 'fresh',
  },
  {
    name: 'refreshing + get → the held token is still served',
    from: refreshing,
    event: { type: 'get', thumbprint: A },
    state: { used: true, fetching: { thumbprint: A, seq: 2 } },
    effects: [{ type: 'serve', token: TOKEN_A }],
    phase: 'refreshing',
  },
  {
    name: 'refreshing + failed → stale: kept, retried after the backoff',
    from: refreshing,
    event: failedEvent(2),
    state: { token: TOKEN_A, fetching: undefined, failures: 1, retryAt: NOW + 500 },
    effects: [
      { type: 'failure', error: AS_DOWN, attempt: 1, retryInMs: 500 },
      { type: 'schedule', at: NOW + 500 },
    ],
    phase: 'stale',
  },
  {
    name: 'stale + get → still served while valid',
    from: stale,
    event: { type: 'get', thumbprint: A },
    state: stale,
    effects: [{ type: 'serve', token: TOKEN_A }],
    phase: 'stale',
  },
  {
    name: 'stale + obtained → fresh, failures forgotten, recovery reported',
    from: slot({ ...stale, fetching: { thumbprint: A, seq: 3 }, nextSeq: 4 }),
    event: obtained(3, TOKEN_A),
    state: { failures: 0, retryAt: 0, lastError: undefined, fetching: undefined },
    effects: [
      { type: 'succeeded', attempts: 2 },
      { type: 'schedule', at: NOW + 80_000 },
    ],
    phase: 'fresh',
  },
  {
    name: 'fetching + failed → failed',
    from: fetching,
    event: failedEvent(1),
    state: { token: undefined, fetching: undefined, failures: 1, lastError: AS_DOWN },
    effects: [
      { type: 'failure', error: AS_DOWN, attempt: 1, retryInMs: 500 },
      { type: 'schedule', at: NOW + 500 },
    ],
    phase: 'failed',
  },
  {
    name: 'failed + get within the backoff → the last failure, no request',
    from: failed,
    event: { type: 'get', thumbprint: A },
    state: failed,
    effects: [{ type: 'backoff', error: AS_DOWN }],
    phase: 'failed',
  },
  {
    name: 'failed + get after the backoff → a new request',
    from: failed,
    event: { type: 'get', thumbprint: A },
    now: NOW + 500,
    state: { fetching: { thumbprint: A, seq: 2 }, nextSeq: 3, lastError: AS_DOWN },
    effects: [{ type: 'request', thumbprint: A, seq: 2, reason: 'get' }],
    phase: 'fetching',
  },
  {
    name: 'failed, its retry in flight + get within the backoff → join the retry',
    from: slot({ ...failed, fetching: { thumbprint: A, seq: 2 }, nextSeq: 3 }),
    event: { type: 'get', thumbprint: A },
    state: { fetching: { thumbprint: A, seq: 2 } },
    effects: [{ type: 'join', reason: 'get' }],
    phase: 'fetching',
  },
  {
    name: 'failed + refresh due → the retry ignores the backoff it was scheduled by',
    from: failed,
    event: { type: 'refresh-due', thumbprint: A },
    state: { used: false, fetching: { thumbprint: A, seq: 2 } },
    effects: [{ type: 'request', thumbprint: A, seq: 2, reason: 'refresh' }],
    phase: 'fetching',
  },
  {
    name: 'a second failure in a row backs off longer (ceiling min·2)',
    from: slot({ ...failed, fetching: { thumbprint: A, seq: 2 }, nextSeq: 3 }),
    event: failedEvent(2, 1),
    state: { failures: 2, retryAt: NOW + 1000 },
    effects: [
      { type: 'failure', error: AS_DOWN, attempt: 2, retryInMs: 1000 },
      { type: 'schedule', at: NOW + 1000 },
    ],
    phase: 'failed',
  },
  {
    name: 'a lapsed token is not served: get → a new request',
    from: slot({ token: LAPSED_A, nextSeq: 2 }),
    event: { type: 'get', thumbprint: A },
    state: { token: LAPSED_A, fetching: { thumbprint: A, seq: 2 } },
    effects: [{ type: 'request', thumbprint: A, seq: 2, reason: 'get' }],
    phase: 'fetching',
  },
  {
    name: 'a token of another certificate is never served: get(B) on a token of A → request for B',
    from: fresh,
    event: { type: 'get', thumbprint: B },
    state: { token: TOKEN_A, fetching: { thumbprint: B, seq: 2 } },
    effects: [{ type: 'request', thumbprint: B, seq: 2, reason: 'get' }],
  },
  {
    name: 'rotation: the old token is retired, the key in use prefetched, backoff dropped',
    from: stale,
    event: { type: 'rotated', thumbprint: B, canRequest: true },
    state: {
      token: undefined,
      retired: TOKEN_A,
      used: true,
      fetching: { thumbprint: B, seq: 3 },
      failures: 0,
      retryAt: 0,
      lastError: undefined,
    },
    effects: [{ type: 'cancel' }, { type: 'request', thumbprint: B, seq: 3, reason: 'prefetch' }],
    phase: 'fetching',
  },
  {
    name: 'rotation before the AS is known: retired, nothing requested',
    from: fresh,
    event: { type: 'rotated', thumbprint: B, canRequest: false },
    state: { token: undefined, retired: TOKEN_A, fetching: undefined },
    effects: [{ type: 'cancel' }],
    phase: 'empty',
  },
  {
    name: 'rotation of a key never used: nothing to prefetch',
    from: EMPTY_SLOT,
    event: { type: 'rotated', thumbprint: B, canRequest: true },
    state: EMPTY_SLOT,
    effects: [{ type: 'cancel' }],
    phase: 'empty',
  },
  {
    name: 'an old-certificate request answering after the rotation: retired, not cached, not scheduled',
    from: slot({
      used: true,
      retired: undefined,
      fetching: { thumbprint: B, seq: 2 },
      nextSeq: 3,
    }),
    event: obtained(1, TOKEN_A, B),
    state: { token: undefined, retired: TOKEN_A, fetching: { thumbprint: B, seq: 2 } },
    effects: [{ type: 'succeeded', attempts: 1 }],
    phase: 'fetching',
  },
  {
    name: 'a superseded request failing leaves the newer request in flight',
    from: slot({ used: true, fetching: { thumbprint: B, seq: 2 }, nextSeq: 3 }),
    event: failedEvent(1),
    state: { fetching: { thumbprint: B, seq: 2 }, failures: 1 },
    effects: [
      { type: 'failure', error: AS_DOWN, attempt: 1, retryInMs: 500 },
      { type: 'schedule', at: NOW + 500 },
    ],
  },
  {
    name: 'invalidated: tokens and failure state dropped, timer cancelled',
    from: slot({ ...stale, retired: TOKEN_B }),
    event: { type: 'invalidated' },
    state: { token: undefined, retired: undefined, failures: 0, retryAt: 0, lastError: undefined },
    effects: [{ type: 'cancel' }],
    phase: 'empty',
  },
];

describe('slot state machine: transition(state, event, now)', () => {
  it.each(ROWS.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    const now = row.now ?? NOW;
    const next = transition(row.from, row.event, now, POLICY);
    expect(next.state).toMatchObject(row.state);
    expect(next.effects).toEqual(row.effects);
    if (row.phase !== undefined) expect(phaseOf(next.state, now)).toBe(row.phase);
  });

  it('never changes the state it is given (every input above is frozen)', () => {
    for (const row of ROWS) {
      const before = JSON.stringify(row.from);
      transition(row.from, row.event, row.now ?? NOW, POLICY);
      expect(JSON.stringify(row.from)).toBe(before);
    }
  });

  it('a cache hit on a key already in use returns the same state object (no allocation of state)', () => {
    expect(transition(freshUsed, { type: 'get', thumbprint: A }, NOW, POLICY).state).toBe(
      freshUsed,
    );
  });

  it('cacheHit (the hot path that skips the transition) agrees with transition on every get', () => {
    const states = [...new Set(ROWS.map((row) => row.from)), freshUsed, stale];
    let hits = 0;
    for (const state of states) {
      for (const [thumbprint, now] of [
        [A, NOW],
        [B, NOW],
        [A, NOW + 200_000],
      ] as const) {
        const hit = cacheHit(state, thumbprint, now);
        if (hit === undefined) continue;
        hits++;
        const next = transition(state, { type: 'get', thumbprint }, now, POLICY);
        expect(next.state).toBe(state);
        expect(next.effects).toEqual([{ type: 'serve', token: hit }]);
      }
    }
    expect(hits).toBeGreaterThanOrEqual(2);
    expect(cacheHit(fresh, A, NOW)).toBeUndefined(); // not marked used yet: the transition marks it
  });

  it('walks a key through its life: empty → fetching → fresh → refreshing → stale → failed → fetching → fresh', () => {
    const steps: Array<[SlotEvent, number, SlotPhase]> = [
      [{ type: 'get', thumbprint: A }, NOW, 'fetching'],
      [obtained(1, TOKEN_A), NOW, 'fresh'],
      [{ type: 'get', thumbprint: A }, NOW + 10_000, 'fresh'],
      [{ type: 'refresh-due', thumbprint: A }, NOW + 80_000, 'refreshing'],
      [failedEvent(2), NOW + 80_000, 'stale'],
      [{ type: 'get', thumbprint: A }, NOW + 99_000, 'stale'],
      // The token lapses while the AS is still down.
      [failedEvent(99), NOW + 100_000, 'failed'],
      [{ type: 'get', thumbprint: A }, NOW + 200_000, 'fetching'],
      [obtained(3, token(A, NOW + 300_000)), NOW + 200_000, 'fresh'],
    ];
    let state = EMPTY_SLOT;
    const phases = steps.map(([event, now]) => {
      state = transition(state, event, now, POLICY).state;
      return phaseOf(state, now);
    });
    expect(phases).toEqual(steps.map(([, , phase]) => phase));
  });
});

describe('pinnedLookup: a caller whose connection presents a rotated-away certificate', () => {
  it.each([
    [
      'the request in flight for that certificate → join',
      slot({ fetching: { thumbprint: A, seq: 1 } }),
      'join',
    ],
    ['its retired token, while valid → serve', slot({ retired: TOKEN_A, token: TOKEN_B }), 'serve'],
    [
      'its retired token once lapsed → refuse',
      slot({ retired: LAPSED_A, token: TOKEN_B }),
      'refuse',
    ],
    [
      'only a token of another certificate → refuse',
      slot({ token: TOKEN_B, retired: TOKEN_B }),
      'refuse',
    ],
    ['nothing held → refuse', EMPTY_SLOT, 'refuse'],
  ] as const)('%s', (_name, state, expected) => {
    const answer = pinnedLookup(state, A, NOW);
    expect(answer.type).toBe(expected);
    if (answer.type === 'serve') expect(answer.token).toBe(TOKEN_A);
    if (answer.type === 'refuse') expect(answer.error.code).toBe('ERR_TOKEN_NOT_BOUND');
  });
});
