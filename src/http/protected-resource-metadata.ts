/** RFC 9728 §3: the well-known path of the metadata of a resource whose identifier has no path. */
export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/** Inputs of {@link protectedResourceMetadataOf}. */
export interface ProtectedResourceMetadataOptions {
  /** The resource identifier: the listener's public `https://` origin (`inbound.publicOrigin`). */
  readonly resource: string;
  /** Issuer identifiers of the trusted authorization servers (RFC 9728 §2). */
  readonly authorizationServers: readonly string[];
  /** RFC 9728 §2 `dpop_bound_access_tokens_required`. Default false. */
  readonly dpopBoundAccessTokensRequired?: boolean;
  /** RFC 9728 §2 `dpop_signing_alg_values_supported`; left out when empty. */
  readonly dpopSigningAlgValuesSupported?: readonly string[];
}

/** The RFC 9728 §2 document certbound publishes. */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly bearer_methods_supported: readonly ['header'];
  readonly tls_client_certificate_bound_access_tokens: true;
  readonly dpop_bound_access_tokens_required: boolean;
  readonly dpop_signing_alg_values_supported?: readonly string[];
}

/** The origin of an `https://host[:port]` string with no path, query or fragment, or undefined. */
export function httpsOriginOf(value: string): string | undefined {
  const url = URL.parse(value);
  if (url === null || url.protocol !== 'https:' || url.username !== '' || url.password !== '')
    return undefined;
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '')
    return undefined;
  return url.origin;
}

/**
 * The protected resource metadata of an inbound listener (RFC 9728 §2): tokens only in the
 * `Authorization` header (RFC 6750 §2.1; FAPI 2.0 §5.3.4), certificate-bound tokens
 * (RFC 8705 §3), and the DPoP facts the caller passes. Pure.
 *
 * @throws TypeError when `resource` is not an `https://` origin or no AS is given
 */
export function protectedResourceMetadataOf(
  options: ProtectedResourceMetadataOptions,
): ProtectedResourceMetadata {
  const resource = httpsOriginOf(options.resource);
  if (resource === undefined)
    throw new TypeError('resource must be an https:// origin without path, query or fragment');
  if (options.authorizationServers.length === 0)
    throw new TypeError('authorizationServers must name at least one issuer');
  const algs = options.dpopSigningAlgValuesSupported ?? [];
  return {
    resource,
    authorization_servers: [...new Set(options.authorizationServers)],
    bearer_methods_supported: ['header'],
    tls_client_certificate_bound_access_tokens: true,
    dpop_bound_access_tokens_required: options.dpopBoundAccessTokensRequired === true,
    ...(algs.length > 0 ? { dpop_signing_alg_values_supported: [...algs] } : {}),
  };
}

/** The answer serving a metadata document: status, headers and JSON body. */
export interface MetadataAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * The HTTP answer to `GET`/`HEAD` of {@link PROTECTED_RESOURCE_METADATA_PATH} (RFC 9728 §3.2:
 * 200, `application/json`). Other methods are not metadata requests: callers treat them as
 * any other request (verified, then forwarded).
 */
export function metadataAnswerOf(
  metadata: ProtectedResourceMetadata,
  method: 'GET' | 'HEAD',
): MetadataAnswer {
  const body = JSON.stringify(metadata);
  return {
    status: 200,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'max-age=300',
      'content-length': String(Buffer.byteLength(body)),
    },
    body: method === 'HEAD' ? '' : body,
  };
}

/** True for a request the metadata answer serves: `GET`/`HEAD` of exactly the well-known path. */
export function isMetadataRequest(
  method: string | undefined,
  path: string,
): method is 'GET' | 'HEAD' {
  return (method === 'GET' || method === 'HEAD') && path === PROTECTED_RESOURCE_METADATA_PATH;
}

/** RFC 9728 §5.1: the `resource_metadata` URL of a resource served at `origin`. */
export function resourceMetadataUrlOf(origin: string): string {
  return `${origin}${PROTECTED_RESOURCE_METADATA_PATH}`;
}
