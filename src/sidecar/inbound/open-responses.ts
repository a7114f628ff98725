import type { TLSSocket } from 'node:tls';
import type { AnyRequest } from '../../http/connection-peer.js';
import type { AnyResponse } from './any-response.js';

/**
 * The HTTP/1.1 responses of each connection that have not closed yet: tells the drain which
 * connections are busy, and tells the listener when a connection went idle again.
 */
export class OpenResponses {
  readonly #open = new WeakMap<object, Set<AnyResponse>>();

  /** True while `socket` has a response not yet closed. */
  busy(socket: object): boolean {
    return (this.#open.get(socket)?.size ?? 0) > 0;
  }

  /**
   * Counts `res` as open on its connection until it closes; `onIdle` runs when the last open
   * response of a connection that is still up has closed.
   */
  track(req: AnyRequest, res: AnyResponse, onIdle: (socket: TLSSocket) => void): void {
    const conn = req.socket as object;
    let open = this.#open.get(conn);
    if (open === undefined) {
      const responses = new Set<AnyResponse>();
      open = responses;
      this.#open.set(conn, responses);
      // node never emits `close` on a response queued behind a pipelined one when the
      // connection dies; whatever waits for it (the app request's abort, the peer's
      // concurrency slot) would wait forever. Those that node did not close, we close.
      req.socket.once('close', () =>
        process.nextTick(() => {
          for (const orphan of responses) orphan.emit('close');
        }),
      );
    }
    const responses = open;
    responses.add(res);
    res.once('close', () => {
      responses.delete(res);
      const socket = conn as TLSSocket;
      if (responses.size > 0 || socket.destroyed) return;
      onIdle(socket);
    });
  }
}
