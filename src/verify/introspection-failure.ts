import { ResponseBodyError, WWWAuthenticateChallengeError } from 'oauth4webapi';
import { causeCodeOf, findCause } from '../error-cause.js';
import { CertboundError } from '../errors.js';

/** undici's own deadlines (connect, headers, body); AbortSignal.timeout throws a TimeoutError. */
const TIMEOUT = /^(TimeoutError)$|^UND_ERR_(CONNECT|HEADERS|BODY)_TIMEOUT$/;

/** RFC 6749 §5.2 `error` codes are printable ASCII without `"` and `\`; keep them short. */
function clean(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '').slice(0, 60) || undefined;
}

/**
 * Turns whatever an introspection call threw into `ERR_INTROSPECTION_UNAVAILABLE` (503): an
 * AS that cannot answer, or refuses our own client authentication, says nothing about the
 * token, so the token is not called invalid. The message names the issuer and the reason;
 * no cause is attached (the request carried the token).
 */
export function introspectionFailure(err: unknown, issuer: string): CertboundError {
  let reason: string;
  if (err instanceof ResponseBodyError || err instanceof WWWAuthenticateChallengeError) {
    const params = err instanceof ResponseBodyError ? err.cause : (err.cause[0]?.parameters ?? {});
    reason = `HTTP ${err.status} ${clean(params['error']) ?? 'error'}`;
  } else if (
    findCause(
      err,
      (e) => TIMEOUT.test(e.name) || TIMEOUT.test(String((e as { code?: unknown }).code)),
    ) !== undefined
  ) {
    reason = 'timed out';
  } else {
    const code = causeCodeOf(err);
    const message = err instanceof Error ? clean(err.message) : undefined;
    // oauth4webapi's own checks (OAUTH_*): its fixed message says which one failed
    // (signature, alg, iss, aud of an RFC 9701 answer; the shape of a JSON one).
    reason =
      (code?.startsWith('OAUTH_') === true ? message : undefined) ??
      code ??
      message ??
      'unknown error';
  }
  return new CertboundError(
    'ERR_INTROSPECTION_UNAVAILABLE',
    `Token introspection at ${issuer} failed: ${reason}.`,
    { details: { issuer, reason } },
  );
}
