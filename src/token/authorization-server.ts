import type { AuthorizationServer } from 'oauth4webapi';
import type { Logger } from '../observability/logger.js';
import {
  discoverAuthorizationServer,
  type DiscoveryOptions,
} from './discover-authorization-server.js';
import type { TlsAuthMethod } from './options.js';

/** The AS endpoints a client uses, after discovery. */
export interface TokenClientEndpoints {
  readonly issuer: string;
  /** The token endpoint requests go to (the RFC 8705 §5 alias when published). */
  readonly tokenEndpoint: string;
}

/** What {@link authorizationServerOf} needs: one of `issuer` and `tokenEndpoint`. */
export interface AuthorizationServerSettings {
  readonly issuer: string | undefined;
  readonly tokenEndpoint: string | undefined;
  readonly authMethod: TlsAuthMethod;
}

/**
 * The AS a token client talks to: a configured `tokenEndpoint` as is (issuer: its origin
 * unless set), else the metadata discovered at `issuer`. Warns when the metadata does not
 * advertise our authentication method or certificate-bound tokens (RFC 8705 §3.3) — the
 * requests are still tried, the AS may simply not publish it.
 *
 * @throws CertboundError from {@link discoverAuthorizationServer}
 */
export async function authorizationServerOf(
  settings: AuthorizationServerSettings,
  discovery: DiscoveryOptions,
  log: Logger | undefined,
): Promise<AuthorizationServer> {
  if (settings.tokenEndpoint !== undefined) {
    return {
      issuer: settings.issuer ?? new URL(settings.tokenEndpoint).origin,
      token_endpoint: settings.tokenEndpoint,
    };
  }
  const as = await discoverAuthorizationServer(settings.issuer as string, discovery);
  const methods = as.token_endpoint_auth_methods_supported;
  if (Array.isArray(methods) && !methods.includes(settings.authMethod)) {
    log?.warn(
      { authMethod: settings.authMethod, supported: methods },
      'the authorization server does not advertise this client authentication method',
    );
  }
  if (as.tls_client_certificate_bound_access_tokens !== true) {
    log?.warn(
      'the authorization server metadata does not advertise certificate-bound access tokens (RFC 8705 §3.3)',
    );
  }
  return as;
}

/** The endpoints of `as` a client uses: RFC 8705 §5 aliases whenever published. */
export function endpointsOf(as: AuthorizationServer): TokenClientEndpoints {
  const alias = as.mtls_endpoint_aliases?.token_endpoint;
  return { issuer: as.issuer, tokenEndpoint: alias ?? as.token_endpoint ?? '' };
}
