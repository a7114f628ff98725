import type { ChannelCredentials } from '@grpc/grpc-js';
import type { X509Source } from '../identity/x509-source.js';
import { channelCredentialsFrom, type ChannelCredentialsOptions } from './credentials.js';

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
 * would see a binding mismatch (RFC 8705 §3). A new channel per identity makes new calls use
 * new connections at once; the replaced channel is closed after `closeGraceMs`, so the calls
 * in flight on it finish with the token they already carry.
 */
export function rotatingClient<T extends { close(): void }>(
  source: X509Source,
  create: (credentials: ChannelCredentials) => T,
  options: RotatingClientOptions = {},
): RotatingClient<T> {
  const grace = options.closeGraceMs ?? 10_000;
  const retiring = new Map<T, NodeJS.Timeout>();
  let thumbprint = source.current().thumbprint;
  let client = create(channelCredentialsFrom(source, options));
  let closed = false;
  const unsubscribe = source.onUpdate((identity) => {
    if (closed || identity.thumbprint === thumbprint) return;
    thumbprint = identity.thumbprint;
    const old = client;
    client = create(channelCredentialsFrom(source, options));
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
