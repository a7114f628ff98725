import { errors } from 'jose';
import { causeCodeOf, findCause } from '../error-cause.js';
import { CertboundError } from '../errors.js';

/** What the JWKS endpoint answered to the failed attempt, when it answered at all. */
export interface JwksAnswer {
  readonly status: number;
  /** `content-type` without parameters, printable ASCII only. */
  readonly contentType: string | undefined;
}

function isTimeout(err: unknown): boolean {
  return (
    findCause(err, (e) => e instanceof errors.JWKSTimeout || e.name === 'TimeoutError') !==
    undefined
  );
}

/**
 * Says precisely why one JWKS fetch failed, as `ERR_JWKS_UNAVAILABLE`: the URL (origin and
 * path only: a query may hold a secret) and `answered HTTP 404`, `answered … that is not
 * JSON`, `is not a JWK Set`, `did not answer within …` or `cannot be reached (ECONNREFUSED)`.
 * `details.permanent` is true when retrying will not help until a setting changes (a 4xx
 * other than 408/429, a body that is not a JWK Set): the sidecar logs those as errors.
 *
 * @param answer the response the attempt got, `undefined` when there was none
 */
export function jwksFetchError(
  err: unknown,
  where: string,
  answer: JwksAnswer | undefined,
  timeoutMs: number,
): CertboundError {
  const fail = (text: string, reason: string, permanent: boolean): CertboundError =>
    new CertboundError('ERR_JWKS_UNAVAILABLE', `JWKS ${where} ${text}.`, {
      cause: err,
      details: { url: where, status: answer?.status, reason, permanent },
    });
  if (isTimeout(err)) return fail(`did not answer within ${timeoutMs} ms`, 'timeout', false);
  if (answer !== undefined && answer.status !== 200) {
    const status = answer.status;
    const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
    // jose asks with redirect: manual: a 3xx is reported, not followed.
    return fail(`answered HTTP ${status} (expected 200)`, `status ${status}`, permanent);
  }
  if (err instanceof errors.JWKSInvalid) {
    return fail(
      'answered JSON that is not a JWK Set (RFC 7517 §5: a "keys" array)',
      'not a JWK Set',
      true,
    );
  }
  if (answer !== undefined && err instanceof errors.JOSEError) {
    const type = answer.contentType !== undefined ? ` (${answer.contentType})` : '';
    return fail(`answered HTTP 200 with a body${type} that is not JSON`, 'not JSON', true);
  }
  const code = causeCodeOf(err);
  return fail(
    `cannot be reached${code !== undefined ? ` (${code})` : ''}`,
    code ?? 'unreachable',
    false,
  );
}
