import {
  OperationProcessingError,
  ResponseBodyError,
  WWWAuthenticateChallengeError,
} from 'oauth4webapi';
import { CertboundError, isCertboundError } from '../errors.js';

const MAX_DESCRIPTION = 200;

function isTimeout(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e.name === 'TimeoutError' || (e as { code?: unknown }).code === 'UND_ERR_CONNECT_TIMEOUT')
      return true;
    if (
      (e as { code?: unknown }).code === 'UND_ERR_HEADERS_TIMEOUT' ||
      (e as { code?: unknown }).code === 'UND_ERR_BODY_TIMEOUT'
    )
      return true;
    e = e.cause;
  }
  return false;
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
  const reason = err instanceof Error ? causeCode(err) : undefined;
  return new CertboundError(
    'ERR_AS_UNAVAILABLE',
    `The ${operation} failed: the authorization server is unreachable${reason ? ` (${reason})` : ''}.`,
    { cause: err, details: { reason } },
  );
}

/** The innermost `code` (ECONNREFUSED, ERR_TLS_…) of an error chain. */
function causeCode(err: Error): string | undefined {
  let code: string | undefined;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') code = c;
    e = e.cause;
  }
  return code;
}
