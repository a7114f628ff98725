import { InterceptingCall, Metadata, status as Status, type Interceptor } from '@grpc/grpc-js';
import { CertboundError, isCertboundError } from '../errors.js';
import type { TokenProvider, TokenRequest } from '../token/access-token.js';
import { detailsOf } from './grpc-status.js';

/**
 * A grpc-js client interceptor that attaches `authorization: Bearer <token>` to every call,
 * with a token from `tokens` for `request` (audience/resource and scope of the upstream).
 *
 * When no token can be had the call fails with `UNAVAILABLE` and details starting with
 * `ERR_AS_UNAVAILABLE` (or the more precise `ERR_AS_*` code); nothing is sent. Use it with
 * `channelCredentialsFrom(source)` so the certificate the token is bound to is the one
 * presented on the connection.
 */
export function boundTokenClientInterceptor(
  tokens: TokenProvider,
  request: TokenRequest = {},
): Interceptor {
  return (options, nextCall) => {
    const next = nextCall(options);
    return new InterceptingCall(next, {
      start(metadata, listener, proceed) {
        tokens.get(request).then(
          (token) => {
            // RFC 6750 §2.1; the scheme is always Bearer for certificate-bound tokens (RFC 8705 §3).
            metadata.set('authorization', `Bearer ${token.accessToken}`);
            proceed(metadata, listener);
          },
          (err: unknown) => {
            const failure = isCertboundError(err)
              ? err
              : new CertboundError('ERR_AS_UNAVAILABLE', undefined, { cause: err });
            const details = detailsOf(
              failure.code.startsWith('ERR_AS_')
                ? failure
                : new CertboundError('ERR_AS_UNAVAILABLE', `${failure.code}: ${failure.message}`),
            );
            listener.onReceiveStatus({
              code: Status.UNAVAILABLE,
              details,
              metadata: new Metadata(),
            });
            // The inner call was never started: cancelling only releases it.
            next.cancelWithStatus(Status.CANCELLED, details);
          },
        );
      },
    });
  };
}
