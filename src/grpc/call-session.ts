import type { ServerInterceptingCallInterface } from '@grpc/grpc-js';

// The one place certbound reads grpc-js private fields (test/integration/grpc-call-session.test.ts
// pins it to the installed grpc-js version): without it the peer certificate is re-read on
// every call (≈13 µs) instead of once per HTTP/2 session.
/**
 * The HTTP/2 session under a grpc-js server call, found through grpc-js internals
 * (`nextCall` chain, then `stream.session`); undefined when the layout differs, in which
 * case the peer is simply read on every call.
 */
export function sessionOf(call: ServerInterceptingCallInterface): object | undefined {
  let current: unknown = call;
  for (let depth = 0; depth < 16 && typeof current === 'object' && current !== null; depth++) {
    const stream = (current as { stream?: { session?: unknown } }).stream;
    if (typeof stream === 'object' && stream !== null) {
      const session = stream.session;
      return typeof session === 'object' && session !== null ? session : undefined;
    }
    current = (current as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}
