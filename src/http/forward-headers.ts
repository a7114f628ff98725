import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
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

function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const value: string | string[] | undefined = headers['connection'];
  const tokens = new Set<string>();
  const values: string[] = Array.isArray(value) ? value : value === undefined ? [] : [value];
  for (const v of values) {
    for (const t of v.split(',')) tokens.add(t.trim().toLowerCase());
  }
  return tokens;
}

/** Options of {@link appRequestHeaders}. */
export interface AppHeaderOptions {
  /** Keep `Authorization` for the app. Default false. */
  readonly keepAuthorization: boolean;
  /** Prefix of the identity headers; every incoming header with it is removed. */
  readonly identityHeaderPrefix: string;
  /** Keep `connection`/`upgrade` (WebSocket upgrade). */
  readonly upgrade?: boolean;
}

/** Connection facts for `x-forwarded-*`. */
export interface ForwardedFacts {
  readonly remoteAddress: string | undefined;
  readonly host: string | undefined;
}

/**
 * Headers sent to the app for a verified request: hop-by-hop and pseudo-headers removed,
 * `Authorization` removed unless kept, EVERY incoming header with the identity prefix
 * removed (a client must never assert its own identity), then the identity headers set
 * from the verified principal and `x-forwarded-for/proto/host` added.
 */
export function appRequestHeaders(
  incoming: IncomingHttpHeaders,
  principal: Principal,
  facts: ForwardedFacts,
  options: AppHeaderOptions,
): OutgoingHttpHeaders {
  const named = connectionTokens(incoming);
  const prefix = options.identityHeaderPrefix;
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || name.startsWith(':')) continue;
    const upgradeHeader = options.upgrade === true && (name === 'connection' || name === 'upgrade');
    if (!upgradeHeader && (HOP_BY_HOP.has(name) || named.has(name))) continue;
    if (name === 'authorization' && !options.keepAuthorization) continue;
    if (name.startsWith(prefix)) continue;
    out[name] = value;
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
  out[`${prefix}cert-thumbprint`] = principal.thumbprint;
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
