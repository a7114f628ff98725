import type { WorkloadIdentity } from '../identity/workload-identity.js';
import type { X509Source } from '../identity/x509-source.js';

/** How {@link ConnectionsPerIdentity} makes and ends one client stack. */
export interface ConnectionFactory<T> {
  /** A client stack (agent, dispatcher, session pool) presenting `identity`'s certificate. */
  build(identity: WorkloadIdentity): T;
  /** Graceful end of a retired stack: requests in flight finish, then it closes. */
  retire(connections: T): Promise<void>;
  /** Immediate end (in-flight requests are aborted). Default: {@link retire}. */
  destroy?(connections: T): Promise<void>;
}

/**
 * One client stack per workload identity snapshot — the one place certbound pairs outbound
 * connections with a certificate. TLS sessions and pooled sockets are cached per stack
 * (an `https.Agent` caches by cert/key, an HTTP/2 session keeps the certificate it opened
 * with), so a stack never outlives its identity: asking for a new identity builds a new
 * stack and retires the previous one, which finishes its in-flight requests and closes.
 *
 * Callers that pair a certificate with something bound to it (a token, RFC 8705 §3) take
 * both from the same snapshot: `for(identity)` and a token for `identity.thumbprint`.
 */
export class ConnectionsPerIdentity<T> {
  readonly #factory: ConnectionFactory<T>;
  #current: { identity: WorkloadIdentity; connections: T } | undefined;
  readonly #retiring = new Set<Promise<void>>();
  #unfollow: (() => void) | undefined;
  #closed = false;

  constructor(factory: ConnectionFactory<T>) {
    this.#factory = factory;
  }

  /**
   * The stack presenting `identity`'s certificate (built on first use).
   *
   * @throws Error after {@link close}
   */
  for(identity: WorkloadIdentity): T {
    if (this.#closed) throw new Error('connections are closed');
    if (this.#current?.identity === identity) return this.#current.connections;
    if (this.#current !== undefined) this.#retire(this.#current.connections);
    const connections = this.#factory.build(identity);
    this.#current = { identity, connections };
    return connections;
  }

  /**
   * Follows `source`: the stack for each new identity is built as soon as it is published
   * (and the previous one retired), so {@link current} never builds on the request path.
   * Returns this, for chaining.
   */
  follow(source: X509Source): this {
    this.#unfollow?.();
    this.for(source.current());
    this.#unfollow = source.onUpdate((identity) => {
      if (!this.#closed) this.for(identity);
    });
    return this;
  }

  /** The identity whose stack is current, if any. */
  get identity(): WorkloadIdentity | undefined {
    return this.#current?.identity;
  }

  /**
   * The stack of the identity in force (after {@link follow}, or the last {@link for}).
   *
   * @throws Error when none was built yet or after {@link close}
   */
  current(): T {
    if (this.#closed) throw new Error('connections are closed');
    if (this.#current === undefined) throw new Error('no identity yet: call for() or follow()');
    return this.#current.connections;
  }

  /** Number of retired stacks still finishing requests. */
  get retiringCount(): number {
    return this.#retiring.size;
  }

  /**
   * Stops following and ends every stack: gracefully (in-flight requests finish), or at
   * once with `abort`. Idempotent.
   */
  async close(options: { abort?: boolean } = {}): Promise<void> {
    this.#closed = true;
    this.#unfollow?.();
    this.#unfollow = undefined;
    const current = this.#current?.connections;
    this.#current = undefined;
    const factory = this.#factory;
    const ending =
      current === undefined
        ? undefined
        : options.abort === true && factory.destroy !== undefined
          ? factory.destroy(current)
          : factory.retire(current);
    await Promise.all([ending?.catch(() => undefined), ...this.#retiring]);
  }

  #retire(connections: T): void {
    const closing: Promise<void> = this.#factory
      .retire(connections)
      .catch(() => undefined)
      .finally(() => this.#retiring.delete(closing));
    this.#retiring.add(closing);
  }
}
