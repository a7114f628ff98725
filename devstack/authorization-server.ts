import { generateKeyPairSync, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { JSONWebKeySet, JWK } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { issueCertificate, type DevCa } from '../src/devca/dev-ca.js';

/** One OAuth client registered at the dev AS. */
export interface DevAsClient {
  /** `client_id`. */
  readonly clientId: string;
  /**
   * SPIFFE ID the client certificate must carry (`tls_client_auth_san_uri`, RFC 8705 §2.1.2).
   * Registers the client for `tls_client_auth`.
   */
  readonly spiffeId?: string;
  /**
   * Public JWKS whose keys carry the client certificate in `x5c` (RFC 8705 §2.2).
   * Registers the client for `self_signed_tls_client_auth` (takes precedence over `spiffeId`).
   */
  readonly jwks?: JSONWebKeySet;
  /** Scopes the client may ask for. Default: every scope of every resource. */
  readonly scopes?: readonly string[];
  /**
   * `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.4). Default `true`;
   * `false` models an AS set up without certificate binding.
   */
  readonly bound?: boolean;
  /**
   * A resource server: may introspect tokens issued to any client (RFC 7662 §4 leaves who
   * may introspect to the AS). Default false: a client introspects only its own tokens.
   */
  readonly introspector?: boolean;
  /** Registers the client for `client_secret_basic` with this secret (instead of mTLS). */
  readonly secret?: string;
  /**
   * `dpop_bound_access_tokens` (RFC 9449 §5.2): every token request must carry a DPoP proof.
   * Set `bound: false` with it (oidc-provider binds a token to one mechanism). Default false.
   */
  readonly dpopBound?: boolean;
}

/**
 * One protected API (resource server). Clients ask for it with `resource=<indicator>`
 * (RFC 8707) or with `audience=<audience>`, which the dev AS maps to the indicator.
 */
export interface DevAsResource {
  /** Resource indicator: an absolute URI without fragment, e.g. `https://payments.demo.local`. */
  readonly indicator: string;
  /** `aud` of the tokens. Default: the indicator. */
  readonly audience?: string;
  /** Scopes this resource accepts. */
  readonly scopes: readonly string[];
  /** Access-token lifetime in seconds. Default: the server's `tokenTtlSec`. */
  readonly ttlSec?: number;
  /** `jwt` (RFC 9068, default) or `opaque` reference tokens, validated by introspection. */
  readonly format?: 'jwt' | 'opaque';
}

/** Options of {@link startAuthorizationServer}. */
export interface AuthorizationServerOptions {
  /** CA that issues the server's TLS certificate. */
  readonly ca: DevCa;
  /** CA certificates trusted for client certificates. Default: `ca.certPem`. */
  readonly bundlePem?: string;
  readonly clients: readonly DevAsClient[];
  readonly resources: readonly DevAsResource[];
  /** Port on 127.0.0.1. Default 0 (any free port). */
  readonly port?: number;
  /** Default access-token lifetime in seconds. Default 300. */
  readonly tokenTtlSec?: number;
  /**
   * When true, client certificates only count at the mTLS alias endpoints (RFC 8705 §5), as
   * when the aliases live on a separate host: a client that ignores the aliases gets
   * `invalid_client`. Default false.
   */
  readonly mtlsOnlyAtAliases?: boolean;
  /**
   * RFC 9449 DPoP at the token endpoint (always on: a token request with a `DPoP` proof gets
   * a `cnf.jkt`-bound token); `requireNonce: true` makes every DPoP proof carry an AS-issued
   * nonce (RFC 9449 §8), so a client's first request is answered `use_dpop_nonce`.
   * `true` is the same as `{}`. Default: nonces off.
   */
  readonly dpop?: boolean | { readonly requireNonce?: boolean };
  /**
   * Publish `mtls_endpoint_aliases` (RFC 8705 §5). Default true. oidc-provider checks a DPoP
   * proof's `htu` against its own `/token`, not the `/mtls/token` alias served here, so DPoP
   * clients need the plain endpoint (which takes client certificates too).
   */
  readonly mtlsEndpointAliases?: boolean;
}

/** Requests served, per endpoint. */
export interface DevAsRequestCounts {
  /** Plain `token_endpoint`. */
  token: number;
  /** `mtls_endpoint_aliases.token_endpoint`. */
  mtlsToken: number;
  /** Both `.well-known` metadata documents. */
  discovery: number;
  jwks: number;
  introspection: number;
}

/** A running dev authorization server (oidc-provider over HTTPS with client certificates). */
export interface DevAuthorizationServer {
  /** Issuer identifier, `https://127.0.0.1:<port>`. */
  readonly issuer: string;
  /** Same as {@link DevAuthorizationServer.issuer}. */
  readonly url: string;
  readonly port: number;
  readonly jwksUri: string;
  readonly tokenEndpoint: string;
  /** RFC 8705 §5 alias of the token endpoint (`/mtls/token`). */
  readonly mtlsTokenEndpoint: string;
  readonly introspectionEndpoint: string;
  /** PEM of the server's TLS certificate (issued by `ca`). */
  readonly serverCertPem: string;
  /** Live counters; {@link DevAuthorizationServer.resetCounts} zeroes them. */
  readonly requestCounts: Readonly<DevAsRequestCounts>;
  resetCounts(): void;
  /** Adds a new ES256 signing key (new `kid`, used from now on); old keys stay in the JWKS. */
  rotateSigningKey(): Promise<void>;
  /** Closes the port and every connection, keeping keys, clients and issued tokens. */
  stop(): Promise<void>;
  /** Listens again on the same port after {@link DevAuthorizationServer.stop}. */
  start(): Promise<void>;
  /** Revokes an access token: introspection answers `active: false` from now on. */
  revokeToken(token: string): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
}

const MTLS_ALIAS_PREFIX = '/mtls';

/** Reads one `tls_client_auth_*` value from a certificate (RFC 8705 §2.1.2). */
function subjectMatches(cert: X509Certificate, property: string, expected: string): boolean {
  if (property === 'tls_client_auth_subject_dn') return cert.subject === expected;
  const prefix = {
    tls_client_auth_san_uri: 'URI:',
    tls_client_auth_san_dns: 'DNS:',
    tls_client_auth_san_ip: 'IP Address:',
    tls_client_auth_san_email: 'email:',
  }[property];
  if (prefix === undefined) return false;
  return (cert.subjectAltName ?? '')
    .split(', ')
    .some((entry) => entry.startsWith(prefix) && entry.slice(prefix.length) === expected);
}

function signingJwk(): JWK {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    ...(privateKey.export({ format: 'jwk' }) as JWK),
    kid: randomUUID(),
    alg: 'ES256',
    use: 'sig',
  };
}

interface ProviderContext {
  readonly req: IncomingMessage;
  readonly oidc: { readonly body?: Readonly<Record<string, unknown>> };
}

function tlsSocketOf(ctx: ProviderContext): TLSSocket {
  return ctx.req.socket as TLSSocket;
}

function clientMetadata(client: DevAsClient, allScopes: string[]): Record<string, unknown> {
  const auth =
    client.secret !== undefined
      ? { token_endpoint_auth_method: 'client_secret_basic', client_secret: client.secret }
      : client.jwks !== undefined
        ? { token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: client.jwks }
        : client.spiffeId !== undefined
          ? {
              token_endpoint_auth_method: 'tls_client_auth',
              tls_client_auth_san_uri: client.spiffeId,
            }
          : undefined;
  if (auth === undefined) {
    throw new TypeError(
      `client ${client.clientId}: set spiffeId (tls_client_auth), jwks or secret`,
    );
  }
  return {
    client_id: client.clientId,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: (client.scopes ?? allScopes).join(' '),
    tls_client_certificate_bound_access_tokens: client.bound ?? true,
    ...(client.dpopBound === true ? { dpop_bound_access_tokens: true } : {}),
    ...auth,
  };
}

/**
 * Starts oidc-provider as a development authorization server: HTTPS on 127.0.0.1 asking
 * for client certificates, `tls_client_auth` + `self_signed_tls_client_auth`,
 * certificate-bound (RFC 8705 §3) RFC 9068 JWT access tokens signed with ES256 for the
 * configured resources, `client_credentials`, introspection, and `mtls_endpoint_aliases`.
 *
 * Not for production: state lives in memory, the signing key is generated per start.
 *
 * @throws TypeError when a client has neither `spiffeId` nor `jwks`, or a resource
 *   indicator is not an absolute URI.
 */
export async function startAuthorizationServer(
  options: AuthorizationServerOptions,
): Promise<DevAuthorizationServer> {
  const tokenTtlSec = options.tokenTtlSec ?? 300;
  const resources = options.resources.map((r) => {
    if (URL.parse(r.indicator) === null || r.indicator.includes('#')) {
      throw new TypeError(
        `resource indicator ${r.indicator} must be an absolute URI (RFC 8707 §2)`,
      );
    }
    return { ...r, audience: r.audience ?? r.indicator };
  });
  const allScopes = [...new Set(resources.flatMap((r) => r.scopes))];
  const clients = options.clients.map((c) => clientMetadata(c, allScopes));
  const introspectors = new Set(
    options.clients.filter((c) => c.introspector).map((c) => c.clientId),
  );

  const issued = await issueCertificate(options.ca, {
    name: 'authorization-server',
    usages: ['serverAuth'],
  });
  const counts: DevAsRequestCounts = {
    token: 0,
    mtlsToken: 0,
    discovery: 0,
    jwks: 0,
    introspection: 0,
  };
  let provider: Provider | undefined;
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;

  const server: Server = createServer(
    {
      key: issued.keyPem,
      cert: issued.certPem,
      ca: options.bundlePem ?? options.ca.certPem,
      // RFC 8705 §2: the certificate is checked by the AS logic, so the handshake must not fail.
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (path === `${MTLS_ALIAS_PREFIX}/token`) {
        counts.mtlsToken++;
        req.url = req.url?.slice(MTLS_ALIAS_PREFIX.length);
        (req as { certboundAlias?: boolean }).certboundAlias = true;
      } else if (path === '/token') counts.token++;
      else if (path.startsWith('/.well-known/')) counts.discovery++;
      else if (path === '/jwks') counts.jwks++;
      else if (path === '/token/introspection') counts.introspection++;
      if (handle === undefined) {
        res.statusCode = 503;
        res.end();
        return;
      }
      handle(req, res);
    },
  );

  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const port = await listen(options.port ?? 0);
  const issuer = `https://127.0.0.1:${port}`;

  const certificateOf = (ctx: ProviderContext): X509Certificate | undefined => {
    if (options.mtlsOnlyAtAliases && !(ctx.req as { certboundAlias?: boolean }).certboundAlias) {
      return undefined;
    }
    // DER, not getPeerX509Certificate(): that leaks native memory per call on Node 20.
    // Not verifiedPeerDerOf: self_signed_tls_client_auth needs the unverified certificate too.
    const raw = tlsSocketOf(ctx).getPeerCertificate(false)?.raw;
    return raw instanceof Uint8Array && raw.length > 0 ? new X509Certificate(raw) : undefined;
  };

  const signingKeys: JWK[] = [signingJwk()];
  const cookieKeys = [randomBytes(32).toString('base64url')];
  // RFC 9449 §8: the key the AS derives its DPoP nonces from (per start).
  const dpopNonceSecret = randomBytes(32);
  const requireDpopNonce = typeof options.dpop === 'object' && options.dpop.requireNonce === true;

  const buildProvider = (): Provider => {
    const configuration: Record<string, unknown> = {
      clients,
      jwks: { keys: signingKeys },
      cookies: { keys: cookieKeys },
      clientAuthMethods: ['tls_client_auth', 'self_signed_tls_client_auth', 'client_secret_basic'],
      // The only signing key is ES256 (RFC 9068 tokens); the default RS256 has no key here.
      clientDefaults: {
        id_token_signed_response_alg: 'ES256',
        // RFC 9701: signed introspection answers to clients that ask for them (Accept).
        introspection_signed_response_alg: 'ES256',
        grant_types: ['client_credentials'],
        response_types: [],
      },
      scopes: allScopes,
      ttl: {
        ClientCredentials: (
          _ctx: unknown,
          token: { resourceServer?: { accessTokenTTL?: number } },
        ) => token.resourceServer?.accessTokenTTL ?? tokenTtlSec,
      },
      discovery:
        options.mtlsEndpointAliases === false
          ? {}
          : {
              // RFC 8705 §5: oidc-provider does not publish aliases itself; they are served here.
              mtls_endpoint_aliases: { token_endpoint: `${issuer}${MTLS_ALIAS_PREFIX}/token` },
            },
      clientBasedCORS: () => false,
      features: {
        devInteractions: { enabled: false },
        dPoP: {
          enabled: true,
          nonceSecret: dpopNonceSecret,
          requireNonce: () => requireDpopNonce,
        },
        clientCredentials: { enabled: true },
        // RFC 9701 JWT introspection responses, for clients with introspection_signed_response_alg.
        jwtIntrospection: { enabled: true },
        introspection: {
          enabled: true,
          allowedPolicy: (
            _ctx: unknown,
            client: { clientId: string },
            token: { clientId?: string },
          ) => token.clientId === client.clientId || introspectors.has(client.clientId),
        },
        mTLS: {
          enabled: true,
          certificateBoundAccessTokens: true,
          tlsClientAuth: true,
          selfSignedTlsClientAuth: true,
          getCertificate: (ctx: ProviderContext) => certificateOf(ctx)?.toString(),
          certificateAuthorized: (ctx: ProviderContext) => tlsSocketOf(ctx).authorized,
          certificateSubjectMatches: (ctx: ProviderContext, property: string, expected: string) => {
            const cert = certificateOf(ctx);
            return cert !== undefined && subjectMatches(cert, property, expected);
          },
        },
        resourceIndicators: {
          enabled: true,
          // `audience=<aud>` (Auth0/Keycloak style) selects the resource with that audience.
          defaultResource: (ctx: ProviderContext, _client: unknown, oneOf?: string[]) => {
            // The token endpoint drops unknown parameters from `params`; the body keeps them.
            const audience = ctx.oidc.body?.['audience'];
            if (typeof audience === 'string' && audience.length > 0) {
              const match = resources.find((r) => r.audience === audience);
              if (match === undefined) throw new errors.InvalidTarget('unknown audience');
              return match.indicator;
            }
            return oneOf;
          },
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, indicator: string) => {
            const match = resources.find((r) => r.indicator === indicator);
            if (match === undefined) throw new errors.InvalidTarget();
            return {
              scope: match.scopes.join(' '),
              audience: match.audience,
              accessTokenTTL: match.ttlSec ?? tokenTtlSec,
              // RFC 9068 JWT access tokens (typ at+jwt), ES256.
              accessTokenFormat: match.format ?? 'jwt',
              ...(match.format === 'opaque' ? {} : { jwt: { sign: { alg: 'ES256' } } }),
            };
          },
        },
      },
    };
    const next = new Provider(issuer, configuration);
    // Errors are answered to the client; the dev AS has nothing to add on stderr.
    next.on('server_error', () => undefined);
    return next;
  };

  const install = (): void => {
    provider = buildProvider();
    handle = provider.callback();
  };
  install();

  let listening = true;
  const stop = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };

  return {
    issuer,
    url: issuer,
    port,
    jwksUri: `${issuer}/jwks`,
    tokenEndpoint: `${issuer}/token`,
    mtlsTokenEndpoint: `${issuer}${MTLS_ALIAS_PREFIX}/token`,
    introspectionEndpoint: `${issuer}/token/introspection`,
    serverCertPem: issued.certPem,
    requestCounts: counts,
    resetCounts() {
      for (const key of Object.keys(counts) as Array<keyof DevAsRequestCounts>) counts[key] = 0;
    },
    rotateSigningKey() {
      signingKeys.unshift(signingJwk());
      install();
      return Promise.resolve();
    },
    async revokeToken(token: string) {
      const found = await provider?.ClientCredentials.find(token);
      await found?.destroy();
    },
    stop,
    async start() {
      if (listening) return;
      await listen(port);
      listening = true;
    },
    close: stop,
  };
}
