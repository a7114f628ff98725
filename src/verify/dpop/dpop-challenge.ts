import { CertboundError } from '../../errors.js';

/**
 * Keys of `CertboundError.details` that carry what an HTTP answer needs for its RFC 9449
 * §7.1 challenge and the gRPC one for its trailers. Values are secret-free.
 */
export const DPOP_DETAILS = {
  /** Space-separated allowed proof algorithms: `DPoP algs="…"`. */
  algs: 'dpopAlgs',
  /** A fresh server nonce to send as `DPoP-Nonce` (RFC 9449 §8.1). */
  nonce: 'dpopNonce',
  /** `DPoP` or `Bearer`: the scheme the request used (its error goes in that challenge). */
  scheme: 'authScheme',
  /** Whether the route accepts plain Bearer tokens (both challenges are sent then). */
  acceptsBearer: 'acceptsBearer',
} as const;

/** What {@link withDpopChallenge} adds to an error. */
export interface DpopChallenge {
  /** Allowed proof algorithms. */
  readonly algorithms: readonly string[];
  /** A nonce for the client, when server nonces are on. */
  readonly nonce?: string | undefined;
  /** The scheme the request used, if it had credentials. */
  readonly scheme?: 'DPoP' | 'Bearer' | undefined;
  /** Whether the route also accepts Bearer tokens. */
  readonly acceptsBearer?: boolean | undefined;
}

/**
 * `err` with the DPoP challenge data in its details (the same code, message and cause), so
 * the HTTP answer carries `WWW-Authenticate: DPoP algs=…` and `DPoP-Nonce`. The pipeline
 * calls it on every refusal of a route that accepts DPoP. Non-certbound errors pass as is.
 */
export function withDpopChallenge(err: unknown, challenge: DpopChallenge): unknown {
  if (!(err instanceof CertboundError)) return err;
  const annotated = new CertboundError(err.code, err.message, {
    ...(err.cause !== undefined ? { cause: err.cause } : {}),
    details: {
      ...err.details,
      [DPOP_DETAILS.algs]: challenge.algorithms.join(' '),
      ...(challenge.nonce !== undefined ? { [DPOP_DETAILS.nonce]: challenge.nonce } : {}),
      ...(challenge.scheme !== undefined ? { [DPOP_DETAILS.scheme]: challenge.scheme } : {}),
      ...(challenge.acceptsBearer !== undefined
        ? { [DPOP_DETAILS.acceptsBearer]: challenge.acceptsBearer }
        : {}),
    },
  });
  annotated.stack = err.stack;
  return annotated;
}
