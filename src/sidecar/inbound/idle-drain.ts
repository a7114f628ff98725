import type { TLSSocket } from 'node:tls';

/**
 * Drain of idle HTTP/1.1 connections: a client may be sending its next request right now,
 * and a FIN crossing it loses that request (RFC 9112 §9.6). So an idle connection is closed
 * only once it stayed idle for the keep-alive time the client was told (`Keep-Alive:
 * timeout`), with no bytes arriving meanwhile; a request that does arrive is answered with
 * `connection: close` and the connection closes after it.
 */
export class IdleDrain {
  readonly #keepAliveMs: number;
  readonly #busy: (socket: object) => boolean;
  readonly #timers = new WeakMap<object, NodeJS.Timeout>();

  /** `busy` tells whether a connection has a response in flight (then it is left alone). */
  constructor(keepAliveMs: number, busy: (socket: object) => boolean) {
    this.#keepAliveMs = keepAliveMs;
    this.#busy = busy;
  }

  /** Half-closes `socket` once it stayed idle (no request, no bytes in) for the keep-alive time. */
  closeWhenIdle(socket: TLSSocket): void {
    clearTimeout(this.#timers.get(socket));
    const bytesSeen = socket.bytesRead;
    const timer = setTimeout(() => {
      if (this.#busy(socket)) return;
      if (socket.bytesRead !== bytesSeen) return this.closeWhenIdle(socket);
      // Half-close and let the client close its side (RFC 9112 §9.6); the grace bounds it.
      socket.end();
    }, this.#keepAliveMs);
    timer.unref();
    this.#timers.set(socket, timer);
  }

  /** A request arrived on `socket` (or it closed): it is not idle. */
  cancel(socket: object): void {
    clearTimeout(this.#timers.get(socket));
  }
}
