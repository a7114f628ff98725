import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { CertboundError, ERROR_TABLE, isCertboundError, type ErrorMapping } from '../errors.js';

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

/**
 * The response for a failed request: status from the error table, an RFC 6750 §3
 * `WWW-Authenticate: Bearer …` challenge (bare `Bearer realm=…` when the request carried
 * no credentials, none for non-auth failures such as 502/503), `Retry-After` for the outage
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
  if (mapping.bearer !== null) {
    let challenge = `Bearer realm="${realm}", error="${mapping.bearer}", error_description="${quotable(error.message)}"`;
    const scope = error.details['scope'];
    // RFC 6750 §3: insufficient_scope may name the scope needed.
    if (mapping.bearer === 'insufficient_scope' && typeof scope === 'string' && scope.length > 0)
      challenge += `, scope="${quotable(scope)}"`;
    headers['www-authenticate'] = challenge + metadata;
  } else if (mapping.http === 401) {
    // RFC 6750 §3.1: no error attribute when the request lacked any authentication.
    headers['www-authenticate'] = `Bearer realm="${realm}"${metadata}`;
  }
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
