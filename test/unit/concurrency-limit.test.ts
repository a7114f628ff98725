import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { isCertboundError } from '../../src/errors.js';
import {
  ConcurrencyLimit,
  DEFAULT_MAX_CONCURRENT_STREAMS,
} from '../../src/sidecar/inbound/concurrency-limit.js';

/** A socket-like connection: `destroyed` once it has emitted `close`. */
class FakeConnection extends EventEmitter {
  destroyed = false;
  close(): void {
    this.destroyed = true;
    this.emit('close');
  }
}
const connection = (): FakeConnection => new FakeConnection();

function take(limit: ConcurrencyLimit, conn: FakeConnection, peer: string | undefined): () => void {
  const release = limit.acquire(conn, peer);
  if (typeof release === 'string') throw new Error(`refused by ${release}`);
  return release;
}

describe('ConcurrencyLimit', () => {
  it('defaults: 100 per connection (RFC 9113 §6.5.2), no per-peer limit', () => {
    const limit = new ConcurrencyLimit();
    expect(limit.maxPerConnection).toBe(DEFAULT_MAX_CONCURRENT_STREAMS);
    expect(DEFAULT_MAX_CONCURRENT_STREAMS).toBe(100);
    expect(limit.maxPerPeer).toBe(0);
  });

  it.each([
    [{ maxPerConnection: 0 }, /maxPerConnection must be an integer >= 1/],
    [{ maxPerConnection: 1.5 }, /maxPerConnection/],
    [{ maxPerConnection: Number.NaN }, /maxPerConnection/],
    [{ maxPerPeer: -1 }, /maxPerPeer must be an integer >= 0/],
    [{ maxPerPeer: Number.POSITIVE_INFINITY }, /maxPerPeer/],
  ])('refuses bad options %j', (options, message) => {
    expect(() => new ConcurrencyLimit(options)).toThrow(TypeError);
    expect(() => new ConcurrencyLimit(options)).toThrow(message);
  });

  it('refuses the request beyond maxPerConnection on that connection only', () => {
    const limit = new ConcurrencyLimit({ maxPerConnection: 2 });
    const a = connection();
    take(limit, a, 'peer-1');
    const second = take(limit, a, 'peer-1');
    expect(limit.acquire(a, 'peer-1')).toBe('connection');
    expect(typeof limit.acquire(connection(), 'peer-1')).toBe('function');
    second();
    expect(typeof limit.acquire(a, 'peer-1')).toBe('function');
  });

  it('refuses the request beyond maxPerPeer across all connections of that peer only', () => {
    const limit = new ConcurrencyLimit({ maxPerConnection: 10, maxPerPeer: 2 });
    const first = take(limit, connection(), 'greedy');
    take(limit, connection(), 'greedy');
    expect(limit.acquire(connection(), 'greedy')).toBe('peer');
    expect(limit.inFlightOf('greedy')).toBe(2);
    expect(typeof limit.acquire(connection(), 'polite')).toBe('function');
    first();
    expect(typeof limit.acquire(connection(), 'greedy')).toBe('function');
  });

  it('maxPerPeer 0 is no limit; a connection without a verified peer has only the connection limit', () => {
    const limit = new ConcurrencyLimit({ maxPerConnection: 1, maxPerPeer: 0 });
    for (let i = 0; i < 500; i++) take(limit, connection(), 'busy');
    expect(limit.inFlightOf('busy')).toBe(500);
    const strict = new ConcurrencyLimit({ maxPerConnection: 1, maxPerPeer: 1 });
    take(strict, connection(), undefined);
    take(strict, connection(), undefined);
    expect(strict.inFlight).toBe(2);
    expect(strict.activePeers).toBe(0);
  });

  it('a release counts once however often it is called', () => {
    const limit = new ConcurrencyLimit({ maxPerPeer: 5 });
    const release = take(limit, connection(), 'p');
    take(limit, connection(), 'p');
    release();
    release();
    expect(limit.inFlight).toBe(1);
    expect(limit.inFlightOf('p')).toBe(1);
  });

  it.each([
    ['before', true],
    ['after', false],
  ])(
    'a closing connection releases what it still holds (requests released %s the close)',
    (_when, releaseFirst) => {
      const limit = new ConcurrencyLimit({ maxPerPeer: 10 });
      const conn = connection();
      const releases = [take(limit, conn, 'p'), take(limit, conn, 'p'), take(limit, conn, 'p')];
      const elsewhere = take(limit, connection(), 'p');
      if (releaseFirst) releases[0]!();
      conn.close();
      for (const release of releases) release();
      expect(limit.inFlight).toBe(1);
      expect(limit.inFlightOf('p')).toBe(1);
      elsewhere();
      expect(limit.inFlight).toBe(0);
      expect(limit.activePeers).toBe(0);
    },
  );

  it.each([
    ['after', true],
    ['before', false],
  ])(
    'a request on a connection that already closed is not counted (closed %s its first request)',
    (_when, seenBefore) => {
      const limit = new ConcurrencyLimit({ maxPerConnection: 1 });
      const conn = connection();
      if (seenBefore) take(limit, conn, 'p')();
      conn.close();
      const late = take(limit, conn, 'p');
      expect(limit.inFlight).toBe(0);
      late();
      expect(limit.inFlight).toBe(0);
      expect(limit.activePeers).toBe(0);
    },
  );

  it('the peer of a connection is fixed by its first request', () => {
    const limit = new ConcurrencyLimit({ maxPerPeer: 1 });
    const conn = connection();
    take(limit, conn, 'first');
    expect(limit.acquire(conn, 'other')).toBe('peer');
    expect(limit.inFlightOf('other')).toBe(0);
  });

  it('subscribes to a connection once, whatever its number of requests', () => {
    const limit = new ConcurrencyLimit({ maxPerConnection: 1_000 });
    const conn = connection();
    for (let i = 0; i < 50; i++) take(limit, conn, 'p')();
    expect(conn.listenerCount('close')).toBe(1);
  });

  it('never exceeds a limit and returns to 0 under any order of acquire, release and close', () => {
    type Op =
      | { kind: 'acquire'; conn: number; peer: number }
      | { kind: 'release'; index: number }
      | { kind: 'close'; conn: number };
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('acquire' as const),
        conn: fc.nat(4),
        peer: fc.nat(2),
      }),
      fc.record({ kind: fc.constant('release' as const), index: fc.nat(40) }),
      fc.record({ kind: fc.constant('close' as const), conn: fc.nat(4) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops: Op[]) => {
        const limit = new ConcurrencyLimit({ maxPerConnection: 3, maxPerPeer: 4 });
        const conns = Array.from({ length: 5 }, connection);
        // Each connection's peer is fixed by its first request: the model does the same.
        const peerOfConn = new Map<number, string>();
        const closed = new Set<number>();
        const held: Array<{ conn: number; peer: string; release: () => void; live: boolean }> = [];
        const live = (f: (h: (typeof held)[number]) => boolean): number =>
          held.filter((h) => h.live && f(h)).length;
        for (const o of ops) {
          if (o.kind === 'acquire') {
            const peer = peerOfConn.get(o.conn) ?? `peer-${o.peer}`;
            peerOfConn.set(o.conn, peer);
            const result = limit.acquire(conns[o.conn]!, `peer-${o.peer}`);
            if (closed.has(o.conn)) {
              expect(typeof result).toBe('function');
              continue;
            }
            const onConn = live((h) => h.conn === o.conn);
            const ofPeer = live((h) => h.peer === peer);
            if (onConn >= 3) expect(result).toBe('connection');
            else if (ofPeer >= 4) expect(result).toBe('peer');
            else {
              expect(typeof result).toBe('function');
              held.push({ conn: o.conn, peer, release: result as () => void, live: true });
            }
          } else if (o.kind === 'release') {
            const h = held[o.index];
            if (h === undefined) continue;
            h.release();
            h.live = false;
          } else {
            conns[o.conn]!.close();
            closed.add(o.conn);
            for (const h of held) if (h.conn === o.conn) h.live = false;
          }
          expect(limit.inFlight).toBe(live(() => true));
          for (const p of ['peer-0', 'peer-1', 'peer-2'])
            expect(limit.inFlightOf(p)).toBe(live((h) => h.peer === p));
        }
        for (const h of held) h.release();
        expect(limit.inFlight).toBe(0);
        expect(limit.activePeers).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('configuration of the concurrency limits', () => {
  const base = {
    identity: { certPath: 'c.pem', keyPath: 'k.pem', bundlePath: 'ca.pem' },
    verify: { issuer: 'https://as', audience: 'https://api', jwksUri: 'https://as/jwks' },
  };
  const withInbound = (app: object, limits: object = {}) => ({
    ...base,
    inbound: { app: { url: 'http://127.0.0.1:8080', ...app }, limits },
  });
  function errorOf(raw: unknown): string {
    try {
      parseConfig(raw, {}, 'test.yaml');
    } catch (err) {
      if (isCertboundError(err, 'ERR_CONFIG_INVALID')) return err.message;
      throw err;
    }
    throw new Error('expected the configuration to be refused');
  }

  it('defaults: 128 app connections (the former fixed pool), 100 streams, per-peer derived by the proxy', () => {
    const inbound = parseConfig(withInbound({}), {}).inbound!;
    expect(inbound.app.maxConnections).toBe(128);
    expect(inbound.limits.maxConcurrentStreams).toBe(DEFAULT_MAX_CONCURRENT_STREAMS);
    expect(inbound.limits.maxRequestsPerPeer).toBeUndefined();
  });

  it.each([
    [withInbound({ maxConnections: 0 }), 'inbound.app.maxConnections: must be >= 1 (example: 128)'],
    [withInbound({ maxConnections: 1.5 }), 'inbound.app.maxConnections'],
    [
      withInbound({}, { maxConcurrentStreams: 0 }),
      'inbound.limits.maxConcurrentStreams: must be >= 1',
    ],
    [
      withInbound({}, { maxConcurrentStreams: 2 ** 31 }),
      'inbound.limits.maxConcurrentStreams: must be <= 2147483647',
    ],
    [
      withInbound({}, { maxRequestsPerPeer: -1 }),
      'inbound.limits.maxRequestsPerPeer: must be >= 0 (example: 64)',
    ],
    [
      withInbound({}, { maxRequestsPerPeer: 'many' }),
      'inbound.limits.maxRequestsPerPeer: must be a number',
    ],
  ])('refuses %j naming the key', (raw, message) => {
    expect(errorOf(raw)).toContain(message);
  });

  it('accepts 0 (no limit) for maxRequestsPerPeer', () => {
    expect(
      parseConfig(withInbound({}, { maxRequestsPerPeer: 0 }), {}).inbound!.limits
        .maxRequestsPerPeer,
    ).toBe(0);
  });
});
