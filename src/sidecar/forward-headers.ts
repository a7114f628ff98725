import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { forwardedByOf } from '../grpc/identity-metadata.js';
import { checkIdentityValues } from '../verify/identity-claims.js';
import type { Principal } from '../verify/principal.js';

// RFC 9110 §7.6.1 connection-specific fields, plus fields that HTTP/2 forbids (RFC 9113 §8.2.2).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'http2-settings',
]);

/** True for a connection-specific field that is never forwarded (RFC 9110 §7.6.1, RFC 9113 §8.2.2). */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const value: string | string[] | undefined = headers['connection'];
  const tokens = new Set<string>();
  const values: string[] = Array.isArray(value) ? value : value === undefined ? [] : [value];
  for (const v of values) {
    for (const t of v.split(',')) tokens.add(t.trim().toLowerCase());
  }
  return tokens;
}

/**
 * Client-certificate forwarding headers a client may send, always removed so the app never
 * takes them for something the sidecar vouched for: RFC 9440 §2 `Client-Cert` and
 * `Client-Cert-Chain`, Envoy's XFCC, and the nginx/HAProxy/Traefik/ALB conventions.
 * A trailing `*` matches a name prefix.
 */
export const CERT_FORWARDING_HEADERS: readonly string[] = [
  'client-cert',
  'client-cert-chain',
  'x-forwarded-client-cert',
  'x-ssl-client-*',
  'x-client-cert*',
  'x-forwarded-tls-client-cert*',
  'x-amzn-mtls-clientcert*',
];

/** Options of {@link appRequestHeaders}. */
export interface AppHeaderOptions {
  /** Keep `Authorization` for the app. Default false. */
  readonly keepAuthorization: boolean;
  /**
   * Prefix of the identity headers; every incoming header with it is removed, `_` read as
   * `-` (CGI, nginx and many frameworks treat `x_certbound_id` and `x-certbound-id` alike).
   */
  readonly identityHeaderPrefix: string;
  /**
   * More request headers to remove (lower-case names, `_` read as `-`, a trailing `*`
   * matches a prefix), on top of {@link CERT_FORWARDING_HEADERS}.
   */
  readonly stripHeaders?: readonly string[];
  /** A verified WebSocket upgrade: sends `connection: upgrade` and `upgrade: websocket`. */
  readonly upgrade?: boolean;
}

// Header names as routers behind CGI/nginx see them: case-folded, "_" read as "-".
function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes('_') ? lower.replaceAll('_', '-') : lower;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// One anchored pattern per options object (the proxy keeps one): the identity prefix,
// the certificate-forwarding names and `stripHeaders`, tested once per incoming header.
const strippedOf = new WeakMap<AppHeaderOptions, RegExp>();

function strippedPattern(options: AppHeaderOptions): RegExp {
  const known = strippedOf.get(options);
  if (known !== undefined) return known;
  const alternatives = [`${escapeRegExp(canonicalName(options.identityHeaderPrefix))}`];
  for (const entry of [...CERT_FORWARDING_HEADERS, ...(options.stripHeaders ?? [])]) {
    const name = canonicalName(entry);
    alternatives.push(
      name.endsWith('*') ? escapeRegExp(name.slice(0, -1)) : `${escapeRegExp(name)}$`,
    );
  }
  const pattern = new RegExp(`^(?:${alternatives.join('|')})`);
  strippedOf.set(options, pattern);
  return pattern;
}

/** Connection facts for `x-forwarded-*`. */
export interface ForwardedFacts {
  readonly remoteAddress: string | undefined;
  readonly host: string | undefined;
}

/**
 * Headers sent to the app for a verified request: hop-by-hop and pseudo-headers removed,
 * `Authorization` removed unless kept, EVERY incoming header with the identity prefix
 * removed (`_` read as `-`: a client must never assert its own identity), certificate
 * forwarding headers and `stripHeaders` removed, then the identity headers set from the
 * verified principal and `x-forwarded-for/proto/host` added. `incoming` names must be
 * lower-case (as node:http and HTTP/2 deliver them). The one place identity headers are
 * written, so the one place their values are checked.
 *
 * @throws CertboundError `ERR_CLAIM_UNSAFE` / `ERR_CLAIM_NON_ASCII` when a value copied
 *   from the token or certificate cannot be a header value as it is (see
 *   `checkIdentityValues`)
 */
export function appRequestHeaders(
  incoming: IncomingHttpHeaders,
  principal: Principal,
  facts: ForwardedFacts,
  options: AppHeaderOptions,
): OutgoingHttpHeaders {
  checkIdentityValues(principal);
  const named = connectionTokens(incoming);
  const stripped = strippedPattern(options);
  const prefix = options.identityHeaderPrefix;
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || name.startsWith(':')) continue;
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    if (name === 'authorization' && !options.keepAuthorization) continue;
    if (stripped.test(name.includes('_') ? name.replaceAll('_', '-') : name)) continue;
    out[name] = value;
  }
  if (options.upgrade === true) {
    // RFC 6455 §4.1: the one upgrade passed on, spelt by us rather than copied.
    out['connection'] = 'upgrade';
    out['upgrade'] = 'websocket';
  }
  const host = facts.host;
  if (host !== undefined) out['host'] = host;
  const xff = incoming['x-forwarded-for'];
  const prior = Array.isArray(xff) ? xff.join(', ') : xff;
  if (facts.remoteAddress !== undefined)
    out['x-forwarded-for'] = prior ? `${prior}, ${facts.remoteAddress}` : facts.remoteAddress;
  out['x-forwarded-proto'] = 'https';
  if (host !== undefined) out['x-forwarded-host'] = host;
  if (principal.clientId !== undefined) out[`${prefix}client-id`] = principal.clientId;
  if (principal.subject !== undefined) out[`${prefix}subject`] = principal.subject;
  out[`${prefix}scope`] = principal.scopes.join(' ');
  if (principal.spiffeId !== undefined) out[`${prefix}spiffe-id`] = principal.spiffeId;
  if (principal.thumbprint !== undefined) out[`${prefix}cert-thumbprint`] = principal.thumbprint;
  const forwardedBy = forwardedByOf(principal);
  if (forwardedBy !== undefined) out[`${prefix}forwarded-by`] = forwardedBy;
  if (principal.jkt !== undefined) out[`${prefix}dpop-jkt`] = principal.jkt;
  return out;
}

/** Response headers to relay: hop-by-hop fields removed (forbidden on HTTP/2). */
export function relayResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
): OutgoingHttpHeaders {
  const named = connectionTokens(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}
