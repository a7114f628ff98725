import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { CertboundError, ERROR_TABLE, isCertboundError, type ErrorMapping } from '../errors.js';
import { DPOP_DETAILS, dpopNonceOf } from '../verify/dpop/dpop-challenge.js';
import { DPOP_DEFAULT_ALGORITHMS } from '../verify/dpop/dpop-options.js';

/** An HTTP error answer, ready to write. */
export interface BearerErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** `{ "error": code, "message": … }` */
  readonly body: string;
  /** The stable code, for logs and metrics. */
  readonly code: CertboundError['code'];
}

/** Options of {@link bearerErrorResponseOf}. */
export interface BearerErrorOptions {
  /** RFC 6750 §3 `realm`. Default `certbound`. */
  realm?: string;
  /**
   * RFC 9728 §5.1: URL of this resource's protected resource metadata, sent as
   * `resource_metadata="…"` in every `Bearer` challenge. Default: none.
   */
  resourceMetadata?: string;
}

// RFC 6750 §3: error_description is a quoted-string limited to %x20-21 / %x23-5B / %x5D-7E.
function quotable(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, ' ').slice(0, 300);
}

// RFC 9449 §7.1 algs: space-separated JWS alg names.
const ALGS = /^[A-Za-z0-9-]+( [A-Za-z0-9-]+)*$/;
const DPOP_ERRORS = new Set(['invalid_dpop_proof', 'use_dpop_nonce']);

/**
 * The `WWW-Authenticate` value of a refusal: RFC 6750 §3 `Bearer` and/or RFC 9449 §7.1
 * `DPoP algs="…"` challenges (several challenges in one field, RFC 9110 §11.6.1). The
 * error goes in the challenge of the scheme the request used; a route that accepts both
 * gets both. Undefined for answers without a challenge (502/503…).
 */
function challengesOf(
  error: CertboundError,
  mapping: ErrorMapping,
  realm: string,
  /** `, resource_metadata="…"` (RFC 9728 §5.1) or empty, added to every challenge. */
  metadata: string,
): string | undefined {
  const d = error.details;
  const algsDetail = d[DPOP_DETAILS.algs];
  const algs = typeof algsDetail === 'string' && ALGS.test(algsDetail) ? algsDetail : undefined;
  const dpopError = mapping.bearer !== null && DPOP_ERRORS.has(mapping.bearer);
  const usedDpop = d[DPOP_DETAILS.scheme] === 'DPoP' || dpopError;
  const routeSchemes = d[DPOP_DETAILS.challenge];
  const acceptsDpop = algs !== undefined || usedDpop || routeSchemes !== undefined;
  // A route that accepts DPoP names its schemes; otherwise only the one in use is known.
  const acceptsBearer =
    routeSchemes === 'DPoP' ? false : routeSchemes === 'Bearer, DPoP' ? true : !usedDpop;
  if (mapping.bearer === null && mapping.http !== 401) return undefined;
  const description = `error_description="${quotable(error.message)}"`;
  const scope = d['scope'];
  // RFC 6750 §3: insufficient_scope may name the scope needed.
  const scopeParam =
    mapping.bearer === 'insufficient_scope' && typeof scope === 'string' && scope.length > 0
      ? `, scope="${quotable(scope)}"`
      : '';
  const parts: string[] = [];
  if (acceptsBearer) {
    // RFC 6750 §3.1: no error attribute when the request lacked any authentication.
    parts.push(
      mapping.bearer === null || usedDpop
        ? `Bearer realm="${realm}"${metadata}`
        : `Bearer realm="${realm}", error="${mapping.bearer}", ${description}${scopeParam}${metadata}`,
    );
  }
  if (acceptsDpop) {
    const algsParam = `algs="${algs ?? DPOP_DEFAULT_ALGORITHMS.join(' ')}"`;
    parts.push(
      mapping.bearer === null || !usedDpop
        ? `DPoP ${algsParam}${metadata}`
        : `DPoP ${algsParam}, error="${mapping.bearer}", ${description}${scopeParam}${metadata}`,
    );
  }
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/**
 * The response for a failed request: status from the error table, an RFC 6750 §3
 * `WWW-Authenticate: Bearer …` challenge (bare `Bearer realm=…` when the request carried
 * no credentials, none for non-auth failures such as 502/503) and/or an RFC 9449 §7.1
 * `DPoP algs=…` one with `DPoP-Nonce` (from the error's DPoP details), `Retry-After` for the outage
 * codes whose table row has `retryAfterSec`, and a small JSON body.
 * Errors that are not {@link CertboundError}s become `ERR_INTERNAL` without their message.
 */
export function bearerErrorResponseOf(
  err: unknown,
  options: BearerErrorOptions = {},
): BearerErrorResponse {
  const error = isCertboundError(err) ? err : new CertboundError('ERR_INTERNAL');
  const mapping: ErrorMapping = ERROR_TABLE[error.code];
  const realm = quotable(options.realm ?? 'certbound');
  // RFC 9728 §5.1: where a client finds which AS and token forms this resource accepts.
  const metadata =
    options.resourceMetadata !== undefined
      ? `, resource_metadata="${quotable(options.resourceMetadata)}"`
      : '';
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  };
  const challenges = challengesOf(error, mapping, realm, metadata);
  if (challenges !== undefined) headers['www-authenticate'] = challenges;
  // RFC 9449 §8.1: the nonce the client must put in its next proof.
  const nonce = dpopNonceOf(error.details);
  if (nonce !== undefined) headers['dpop-nonce'] = nonce;
  // RFC 9110 §10.2.3: an outage says when to retry, on every transport that answers HTTP.
  if (mapping.retryAfterSec !== undefined) headers['retry-after'] = String(mapping.retryAfterSec);
  const body = JSON.stringify({ error: error.code, message: error.message });
  headers['content-length'] = String(Buffer.byteLength(body));
  return { status: mapping.http, headers, body, code: error.code };
}

/**
 * Writes {@link bearerErrorResponseOf} to a node:http or HTTP/2 compatibility response.
 * Does nothing when headers were already sent (the connection is then destroyed).
 */
export function writeBearerError(
  res: ServerResponse | Http2ServerResponse,
  err: unknown,
  options: BearerErrorOptions = {},
): BearerErrorResponse {
  const response = bearerErrorResponseOf(err, options);
  if (res.headersSent) {
    res.destroy();
    return response;
  }
  (res as ServerResponse).writeHead(response.status, response.headers);
  res.end(response.body);
  return response;
}
