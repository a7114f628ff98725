import { errors } from 'jose';
import { CertboundError } from '../errors.js';

/** Translates a jose verification error into the matching {@link CertboundError}. */
export function mapJoseError(err: unknown): CertboundError {
  if (err instanceof CertboundError) return err;
  if (err instanceof errors.JWTExpired) return new CertboundError('ERR_TOKEN_EXPIRED');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'nbf':
        return err.reason === 'check_failed'
          ? new CertboundError('ERR_TOKEN_NOT_YET_VALID')
          : new CertboundError('ERR_TOKEN_CLAIMS', 'The token nbf claim is not a number.');
      case 'iat':
        return err.reason === 'check_failed'
          ? new CertboundError('ERR_TOKEN_NOT_YET_VALID', 'The token iat is in the future.')
          : new CertboundError(
              'ERR_TOKEN_CLAIMS',
              'The token iat claim is missing or not a number.',
            );
      case 'iss':
        return new CertboundError('ERR_TOKEN_ISSUER');
      case 'aud':
        return new CertboundError('ERR_TOKEN_AUDIENCE');
      case 'typ':
        return new CertboundError('ERR_TOKEN_TYPE');
      default:
        return new CertboundError(
          'ERR_TOKEN_CLAIMS',
          `The token ${err.claim} claim is missing or invalid.`,
        );
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return new CertboundError('ERR_TOKEN_ALG');
  }
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new CertboundError('ERR_TOKEN_SIGNATURE');
  if (err instanceof errors.JWKSNoMatchingKey) return new CertboundError('ERR_TOKEN_UNKNOWN_KEY');
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return new CertboundError(
      'ERR_TOKEN_UNKNOWN_KEY',
      'Several JWKS keys match the token and none verified it.',
    );
  }
  if (err instanceof errors.JWKSTimeout)
    return new CertboundError('ERR_JWKS_UNAVAILABLE', undefined, { cause: err });
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    return new CertboundError('ERR_TOKEN_MALFORMED');
  }
  return new CertboundError('ERR_TOKEN_MALFORMED', 'The token could not be verified.', {
    cause: err,
  });
}
