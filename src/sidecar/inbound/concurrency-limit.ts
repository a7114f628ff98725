import { connectionPeerOf, type AnyRequest } from '../../http/connection-peer.js';

/**
 * Default requests in flight per connection, advertised to HTTP/2 peers as
 * SETTINGS_MAX_CONCURRENT_STREAMS: RFC 9113 §6.5.2 recommends no less than 100, which is
 * also what Envoy's edge guidance and most clients (node, grpc-js) assume.
 */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 100;

/** The limit that refused a request: the connection's or the peer's. */
export type OverloadedBy = 'connection' | 'peer';

/** Options of {@link ConcurrencyLimit}. */
export interface ConcurrencyLimitOptions {
  /**
   * Requests in flight on one connection (HTTP/2 streams, pipelined HTTP/1.1 requests).
   * Default {@link DEFAULT_MAX_CONCURRENT_STREAMS}.
   */
  readonly maxPerConnection?: number;
  /** Requests in flight from one peer certificate across all its connections; 0 = no limit. Default 0. */
  readonly maxPerPeer?: number;
}

/** Something that ends once: a response, a socket, an HTTP/2 session. */
export interface Closable {
  /** True once it has closed (sockets and sessions have it). */
  readonly destroyed?: boolean;
  once(event: 'close', listener: () => void): unknown;
}

interface ConnectionState {
  active: number;
  closed: boolean;
  /** Fixed for the connection: the certificate of a TLS connection does not change. */
  readonly peer: string | undefined;
}

const noRelease = (): void => undefined;

function checkLimit(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min)
    throw new TypeError(`${name} must be an integer >= ${min}`);
  return value;
}

/**
 * Counts requests in flight per connection and per peer (the verified client certificate's
 * thumbprint) and refuses what exceeds either limit, so that one client cannot take every
 * connection to the app and starve the others. A request is counted from admission until its
 * response closes — finished, failed, aborted or timed out — and released exactly once: a
 * connection that closes releases whatever it still held (a queued pipelined HTTP/1.1
 * response never emits `close` of its own).
 *
 * It does not queue, and it does not limit connections or bytes (the listener does).
 */
export class ConcurrencyLimit {
  /** Requests in flight on one connection. */
  readonly maxPerConnection: number;
  /** Requests in flight from one peer; 0 = no limit. */
  readonly maxPerPeer: number;
  readonly #connections = new WeakMap<object, ConnectionState>();
  // Only peers with requests in flight: bounded by the requests themselves.
  readonly #peers = new Map<string, number>();
  #inFlight = 0;

  /** @throws TypeError when a limit is not an integer in range */
  constructor(options: ConcurrencyLimitOptions = {}) {
    this.maxPerConnection = checkLimit(
      'maxPerConnection',
      options.maxPerConnection ?? DEFAULT_MAX_CONCURRENT_STREAMS,
      1,
    );
    this.maxPerPeer = checkLimit('maxPerPeer', options.maxPerPeer ?? 0, 0);
  }

  /** Requests in flight in total. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Peers that have requests in flight. */
  get activePeers(): number {
    return this.#peers.size;
  }

  /** Requests in flight from `peer` (a certificate thumbprint). */
  inFlightOf(peer: string): number {
    return this.#peers.get(peer) ?? 0;
  }

  /**
   * Counts one request of `peer` on `connection`, or names the limit that refuses it. The
   * returned release may be called any number of times; it counts once. The first request
   * of a connection fixes its peer and subscribes to its `close`.
   */
  acquire(connection: Closable, peer: string | undefined): (() => void) | OverloadedBy {
    let state = this.#connections.get(connection);
    if (state === undefined) {
      // A connection that has already closed will not say so again: nothing to hold.
      if (connection.destroyed === true) return noRelease;
      const created: ConnectionState = { active: 0, closed: false, peer };
      state = created;
      this.#connections.set(connection, created);
      connection.once('close', () => {
        created.closed = true;
        this.#release(created, created.active);
      });
    }
    // A request on a connection that already closed cannot be answered; nothing to hold.
    if (state.closed) return noRelease;
    if (state.active >= this.maxPerConnection) return 'connection';
    const key = state.peer;
    const ofPeer = key === undefined ? 0 : (this.#peers.get(key) ?? 0);
    if (key !== undefined && this.maxPerPeer > 0 && ofPeer >= this.maxPerPeer) return 'peer';
    state.active++;
    this.#inFlight++;
    if (key !== undefined) this.#peers.set(key, ofPeer + 1);
    const held = state;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The connection's close already released everything it held.
      if (!held.closed) this.#release(held, 1);
    };
  }

  /**
   * Admits one request of the listener (HTTP/1.1 or HTTP/2): its connection is the socket or
   * the HTTP/2 session, its peer the connection's verified certificate. On admission the
   * request is released when `res` closes; otherwise returns the limit that refused it.
   */
  admit(req: AnyRequest, res: Closable): OverloadedBy | undefined {
    const connection: Closable | undefined = 'stream' in req ? req.stream.session : req.socket;
    // No session or socket any more: the client is gone and nothing will be forwarded.
    if (connection === undefined || connection === null) return undefined;
    const release = this.acquire(connection, connectionPeerOf(req)?.thumbprint);
    if (typeof release === 'string') return release;
    res.once('close', release);
    return undefined;
  }

  #release(state: ConnectionState, count: number): void {
    if (count === 0) return;
    state.active -= count;
    this.#inFlight -= count;
    const key = state.peer;
    if (key === undefined) return;
    const left = (this.#peers.get(key) ?? count) - count;
    if (left > 0) this.#peers.set(key, left);
    else this.#peers.delete(key);
  }
}
