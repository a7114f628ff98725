import type { Duplex } from 'node:stream';

/**
 * Deadlines of connections handed back to the HTTP parser after a refused upgrade: the next
 * request must start within the listener's `headersTimeout`, as on any kept-alive
 * connection, or the connection is destroyed.
 */
export class ResumedDeadlines {
  readonly #timers = new WeakMap<object, NodeJS.Timeout>();
  #waiting = 0;

  /** Connections resumed and still waiting for their next request (a cheap pre-check). */
  get waiting(): number {
    return this.#waiting;
  }

  /** A request (or upgrade) arrived on `socket`, or it closed: its deadline is off. */
  settle(socket: object): void {
    const timer = this.#timers.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#timers.delete(socket);
    this.#waiting--;
  }

  /** `socket` was just resumed: starts its deadline (the server's headersTimeout, else 60 s). */
  arm(socket: Duplex): void {
    const server = (socket as Duplex & { server?: { headersTimeout?: unknown } }).server;
    const limit = server?.headersTimeout;
    const timer = setTimeout(
      () => {
        this.settle(socket);
        socket.destroy();
      },
      typeof limit === 'number' && limit > 0 ? limit : 60_000,
    );
    timer.unref();
    this.#timers.set(socket, timer);
    this.#waiting++;
  }
}
