import { InterceptingCall, Metadata, status as Status, type Interceptor } from '@grpc/grpc-js';
import { CertboundError, isCertboundError } from '../errors.js';
import type { TokenGetOptions, TokenProvider, TokenRequest } from '../token/access-token.js';
import { grpcDetailsOf } from './trailers-only.js';

/**
 * A grpc-js client interceptor that attaches `authorization: Bearer <token>` to every call,
 * with a token from `tokens` for `request` (audience/resource and scope of the upstream).
 *
 * When no token can be had the call fails with `UNAVAILABLE` and details starting with
 * `ERR_AS_UNAVAILABLE` (or the more precise `ERR_AS_*` code); nothing is sent.
 *
 * The token must be bound to the certificate the channel presents (RFC 8705 §3). With
 * {@link rotatingClient}, pass `{ thumbprint: identity.thumbprint }` of the channel's
 * identity: a call that started on a channel just replaced by a rotation then still carries
 * the token of the certificate that channel presents, never the new one.
 */
export function boundTokenClientInterceptor(
  tokens: TokenProvider,
  request: TokenRequest = {},
  getOptions: TokenGetOptions = {},
): Interceptor {
  return (options, nextCall) => {
    const next = nextCall(options);
    return new InterceptingCall(next, {
      start(metadata, listener, proceed) {
        tokens.get(request, getOptions).then(
          (token) => {
            // RFC 6750 §2.1; the scheme is always Bearer for certificate-bound tokens (RFC 8705 §3).
            metadata.set('authorization', `Bearer ${token.accessToken}`);
            proceed(metadata, listener);
          },
          (err: unknown) => {
            const failure = isCertboundError(err)
              ? err
              : new CertboundError('ERR_AS_UNAVAILABLE', undefined, { cause: err });
            const details = grpcDetailsOf(
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
