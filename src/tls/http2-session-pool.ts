import type { ClientHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** Checks a freshly connected session (e.g. the peer's SPIFFE ID); throws to refuse it. */
export type SessionCheck = (socket: TLSSocket | Socket) => void;

/**
 * One reusable HTTP/2 client session (HTTP/2 multiplexes every call on it), reconnected
 * when it closes, errors or receives GOAWAY. A session keeps the certificate it was opened
 * with: for one pool per certificate, build pools with `ConnectionsPerIdentity`.
 */
export class Http2SessionPool {
  readonly #connect: () => ClientHttp2Session;
  readonly #check: SessionCheck | undefined;
  #current: Promise<ClientHttp2Session> | undefined;
  #closed = false;
  readonly #all = new Set<ClientHttp2Session>();

  constructor(connect: () => ClientHttp2Session, check?: SessionCheck) {
    this.#connect = connect;
    this.#check = check;
  }

  /** A connected session; rejects with the connection error when connecting fails. */
  session(): Promise<ClientHttp2Session> {
    if (this.#closed) return Promise.reject(new Error('session pool closed'));
    this.#current ??= this.#open();
    return this.#current;
  }

  /** Closes every session (calls in flight are allowed to finish). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#current = undefined;
    await Promise.all(
      [...this.#all].map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.destroyed) return resolve();
            s.close(() => resolve());
          }),
      ),
    );
  }

  #open(): Promise<ClientHttp2Session> {
    const session = this.#connect();
    this.#all.add(session);
    const attempt = new Promise<ClientHttp2Session>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      session.once('error', onError);
      session.once('connect', (_session, socket) => {
        session.off('error', onError);
        try {
          this.#check?.(socket);
          resolve(session);
        } catch (err) {
          reject(err instanceof Error ? err : new Error('session check failed'));
        }
      });
    });
    const forget = (): void => {
      this.#all.delete(session);
      if (this.#current === attempt) this.#current = undefined;
    };
    session.on('close', forget);
    session.on('goaway', forget);
    // Later session errors surface on the streams; without a listener they would crash.
    session.on('error', () => {
      forget();
    });
    attempt.catch(() => {
      forget();
      session.destroy();
    });
    return attempt;
  }
}
