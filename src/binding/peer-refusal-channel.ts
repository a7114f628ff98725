import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ErrorCode } from '../errors.js';

/** One refused client certificate, as published on {@link PEER_REFUSED_CHANNEL}. */
export interface PeerRefusal {
  readonly code: ErrorCode;
  /** Why, in words (`it is a CA certificate (basicConstraints CA:TRUE)`). */
  readonly reason: string;
  /** Subject DN of the refused certificate, `, `-separated, at most 200 characters. */
  readonly subject: string;
  /** First 12 characters of its x5t#S256: enough to find it, not the certificate. */
  readonly thumbprintPrefix: string;
}

/**
 * `node:diagnostics_channel` name on which every refused client certificate is published,
 * once per connection (HTTP, the sidecar's gRPC path) or once per certificate and cache
 * lifetime (grpc-js interceptor). The sidecar logs it; library users may subscribe.
 */
export const PEER_REFUSED_CHANNEL = 'certbound:peer-certificate-refused';

const refusals = channel(PEER_REFUSED_CHANNEL);

/** Publishes `refusal` (a no-op without subscribers). */
export function publishPeerRefusal(refusal: PeerRefusal): void {
  if (refusals.hasSubscribers) refusals.publish(refusal);
}

/** Calls `listener` for every refused client certificate; returns the unsubscribe function. */
export function onPeerRefusal(listener: (refusal: PeerRefusal) => void): () => void {
  const handler = (message: unknown): void => listener(message as PeerRefusal);
  subscribe(PEER_REFUSED_CHANNEL, handler);
  return () => {
    unsubscribe(PEER_REFUSED_CHANNEL, handler);
  };
}
