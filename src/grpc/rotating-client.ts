import type { ChannelCredentials } from '@grpc/grpc-js';
import type { WorkloadIdentity } from '../identity/workload-identity.js';
import type { X509Source } from '../identity/x509-source.js';
import { channelCredentialsOf, type ChannelCredentialsOptions } from './credentials.js';

/** Options of {@link rotatingClient}. */
export interface RotatingClientOptions extends ChannelCredentialsOptions {
  /** How long a replaced client stays open for its calls in flight. Default 10 000 ms. */
  closeGraceMs?: number;
}

/** A grpc-js client that is replaced on every rotation of its source. */
export interface RotatingClient<T> {
  /** The client of the current identity: take it for each call, do not keep it. */
  readonly client: T;
  /** Closes the current client and every replaced one still open. */
  close(): void;
}

/**
 * Keeps a grpc-js client whose connections present the current certificate of `source`.
 *
 * Why: a TokenClient hands out tokens bound to the *new* certificate right after a
 * rotation, but an open HTTP/2 connection keeps presenting the *old* one, so the server
 * would see a binding mismatch (RFC 8705 §3). Each identity gets its own channel whose
 * credentials are pinned to it (`channelCredentialsOf`); `create` receives that identity so
 * the client interceptor can ask for tokens bound to exactly its certificate
 * (`boundTokenClientInterceptor(tokens, request, { thumbprint: identity.thumbprint })`).
 * New calls take the new channel at once; the replaced channel is closed after
 * `closeGraceMs`, and calls that were already started on it keep the previous certificate's
 * token, which the TokenClient keeps until it expires.
 */
export function rotatingClient<T extends { close(): void }>(
  source: X509Source,
  create: (credentials: ChannelCredentials, identity: WorkloadIdentity) => T,
  options: RotatingClientOptions = {},
): RotatingClient<T> {
  const grace = options.closeGraceMs ?? 10_000;
  const retiring = new Map<T, NodeJS.Timeout>();
  let identity = source.current();
  let client = create(channelCredentialsOf(identity, options), identity);
  let closed = false;
  const unsubscribe = source.onUpdate((next) => {
    // Any new snapshot (certificate or bundle) gets a channel of its own.
    if (closed || next === identity) return;
    identity = next;
    const old = client;
    client = create(channelCredentialsOf(identity, options), identity);
    const timer = setTimeout(() => {
      retiring.delete(old);
      old.close();
    }, grace);
    timer.unref();
    retiring.set(old, timer);
  });
  return {
    get client() {
      return client;
    },
    close() {
      closed = true;
      unsubscribe();
      for (const [old, timer] of retiring) {
        clearTimeout(timer);
        old.close();
      }
      retiring.clear();
      client.close();
    },
  };
}
