import {
  discoveryRequest,
  processDiscoveryResponse,
  customFetch,
  type AuthorizationServer,
} from 'oauth4webapi';
import { CertboundError } from '../errors.js';
import { mapAsError } from './map-as-error.js';
import type { FetchFunction } from './mtls-agents.js';

/** Options of {@link discoverAuthorizationServer}. */
export interface DiscoveryOptions {
  /** How requests are sent (mTLS agent of the current identity). */
  readonly fetch: FetchFunction;
  readonly timeoutMs: number;
  /** Called before each HTTP request, for counters. */
  readonly onRequest?: () => void;
}

/**
 * Fetches and validates AS metadata: RFC 8414 `/.well-known/oauth-authorization-server`
 * first, then OpenID Connect Discovery `/.well-known/openid-configuration`. The metadata's
 * `issuer` must equal `issuer` exactly (RFC 8414 §3.3), which oauth4webapi checks.
 *
 * @throws CertboundError `ERR_DISCOVERY` (cause: what each attempt threw), or
 *   `ERR_AS_TIMEOUT` when the AS does not answer in time.
 */
export async function discoverAuthorizationServer(
  issuer: string,
  options: DiscoveryOptions,
): Promise<AuthorizationServer> {
  const url = new URL(issuer);
  const failures: CertboundError[] = [];
  for (const algorithm of ['oauth2', 'oidc'] as const) {
    try {
      options.onRequest?.();
      const response = await discoveryRequest(url, {
        algorithm,
        signal: AbortSignal.timeout(options.timeoutMs),
        [customFetch]: options.fetch,
      });
      return await processDiscoveryResponse(url, response);
    } catch (err) {
      const mapped = mapAsError(err, 'metadata request');
      // An unreachable or silent AS will not answer at the second address either.
      if (mapped.code === 'ERR_AS_TIMEOUT' || mapped.code === 'ERR_AS_UNAVAILABLE') {
        throw new CertboundError('ERR_DISCOVERY', `${mapped.message}`, {
          cause: mapped,
          details: { issuer, reason: mapped.code },
        });
      }
      failures.push(mapped);
    }
  }
  throw new CertboundError(
    'ERR_DISCOVERY',
    `No valid authorization server metadata at ${issuer} (tried RFC 8414 and OpenID Connect discovery).`,
    { cause: new AggregateError(failures), details: { issuer } },
  );
}
