import {
  OperationProcessingError,
  ResponseBodyError,
  WWWAuthenticateChallengeError,
} from 'oauth4webapi';
import { causeCodeOf, codeOf, findCause } from '../error-cause.js';
import { CertboundError, isCertboundError } from '../errors.js';

const MAX_DESCRIPTION = 200;

/** undici's own deadlines (connect, headers, body); AbortSignal.timeout throws a TimeoutError. */
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function isTimeout(err: unknown): boolean {
  const timeout = findCause(
    err,
    (e) => e.name === 'TimeoutError' || TIMEOUT_CODES.has(codeOf(e) ?? ''),
  );
  return timeout !== undefined;
}

/** Keeps only printable ASCII (RFC 6749 §5.2 error_description charset), shortened. */
function clean(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '').slice(0, MAX_DESCRIPTION);
}

/**
 * Turns whatever an AS call threw into a {@link CertboundError}:
 * an OAuth error response → `ERR_AS_ERROR` (details `error`, `error_description`, `status`),
 * a timeout → `ERR_AS_TIMEOUT`, an invalid response → `ERR_AS_RESPONSE`, anything else
 * (refused connection, TLS failure) → `ERR_AS_UNAVAILABLE`. The cause is attached.
 *
 * @param operation what was attempted, e.g. `token request` (goes into the message)
 */
export function mapAsError(err: unknown, operation: string): CertboundError {
  if (isCertboundError(err)) return err;
  if (err instanceof ResponseBodyError || err instanceof WWWAuthenticateChallengeError) {
    // RFC 6749 §5.2 body, or the RFC 6750 §3 challenge of a 401.
    const params = err instanceof ResponseBodyError ? err.cause : (err.cause[0]?.parameters ?? {});
    const error = clean(params['error']);
    const description = clean(params['error_description']);
    return new CertboundError(
      'ERR_AS_ERROR',
      `The authorization server refused the ${operation}: ${error ?? 'error'}${description ? ` (${description})` : ''}.`,
      { cause: err, details: { error, error_description: description, status: err.status } },
    );
  }
  if (isTimeout(err)) {
    return new CertboundError('ERR_AS_TIMEOUT', `The ${operation} timed out.`, { cause: err });
  }
  if (err instanceof OperationProcessingError) {
    return new CertboundError(
      'ERR_AS_RESPONSE',
      `The authorization server sent an invalid ${operation} response: ${clean(err.message)}.`,
      { cause: err, details: { reason: err.code } },
    );
  }
  const reason = causeCodeOf(err);
  return new CertboundError(
    'ERR_AS_UNAVAILABLE',
    `The ${operation} failed: the authorization server is unreachable${reason ? ` (${reason})` : ''}.`,
    { cause: err, details: { reason } },
  );
}

/**
 * True for a failure that will not go away by retrying until a setting changes: the AS
 * refused the grant with a 4xx (`invalid_client`, `invalid_scope`, `unauthorized_client`;
 * not 408/429), answered something that is not a valid response, issued unbound tokens,
 * or publishes no valid metadata. Such failures are still retried (the AS may be fixed),
 * but logged as errors.
 */
export function isPermanentAsError(error: CertboundError): boolean {
  switch (error.code) {
    case 'ERR_AS_ERROR': {
      const status = error.details['status'];
      return (
        typeof status === 'number' &&
        status >= 400 &&
        status < 500 &&
        status !== 408 &&
        status !== 429
      );
    }
    case 'ERR_AS_RESPONSE':
    case 'ERR_TOKEN_NOT_BOUND':
      return true;
    case 'ERR_DISCOVERY':
      // An unreachable or silent AS sets `reason`; invalid metadata does not.
      return error.details['reason'] === undefined;
    default:
      return false;
  }
}
