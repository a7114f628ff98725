import { CertboundError, isCertboundError } from '../errors.js';
import { dpopNonceOf } from '../verify/dpop/dpop-challenge.js';
import { grpcDetailsOf } from './trailers-only.js';

/** A gRPC status as certbound reports it: numeric code and secret-free details. */
export interface GrpcStatus {
  /** gRPC status code (from `ERROR_TABLE[code].grpc`). */
  readonly code: number;
  /** `"<ERR_CODE>: <message>"`, so clients can switch on the stable code. */
  readonly details: string;
  /** RFC 9449 §8: the server nonce to send as `dpop-nonce` metadata, when the error has one. */
  readonly dpopNonce?: string | undefined;
}

/**
 * The gRPC status of a failure: a {@link CertboundError} maps through the error table;
 * anything else becomes `ERR_INTERNAL` (its own text may not be secret-free).
 */
export function grpcStatusOf(err: unknown): GrpcStatus {
  const error = isCertboundError(err) ? err : new CertboundError('ERR_INTERNAL');
  const dpopNonce = dpopNonceOf(error.details);
  return {
    code: error.mapping.grpc,
    details: grpcDetailsOf(error),
    ...(dpopNonce !== undefined ? { dpopNonce } : {}),
  };
}

/** The stable code at the start of gRPC status details, if there is one. */
export function errorCodeOfDetails(details: string): string | undefined {
  return /^(ERR_[A-Z0-9_]+):/.exec(details)?.[1];
}
