import type { X509Certificate } from 'node:crypto';
import { verifyCertificateChain } from '../../binding/certificate-chain.js';
import { peerIdentityOf, type PeerIdentity } from '../../binding/peer-identity.js';
import { CertboundError, isCertboundError, type ErrorCode } from '../../errors.js';
import { base64DerFormat } from './base64-der-header.js';
import { escapedPemFormat } from './escaped-pem-header.js';
import type { ForwardedChain } from './forwarded-chain.js';
import type { ForwardedHeaderFormat } from './header-format.js';
import type { ForwardedCertificates } from '../proof-inputs.js';
import { rfc9440Format } from './rfc9440-header.js';
import { trustedHopTest, type TrustedHopsOptions } from './trusted-hops.js';
import { xfccFormat } from './xfcc-header.js';

/** How the trusted proxy writes the client certificate. */
export type ForwardedCertFormat = 'rfc9440' | 'xfcc' | 'nginx' | 'haproxy';

/** Options of {@link createForwardedCertificates} (`inbound.forwardedClientCert` in the sidecar). */
export interface ForwardedCertificateOptions {
  /**
   * `rfc9440`: `Client-Cert` + `Client-Cert-Chain` (RFC 9440); `xfcc`: Envoy
   * `X-Forwarded-Client-Cert` (`Cert=`/`Chain=`); `nginx`: `$ssl_client_escaped_cert`
   * (URL-encoded PEM); `haproxy`: `%[ssl_c_der,base64]` (base64 DER).
   */
  readonly format: ForwardedCertFormat;
  /**
   * Header name of the `nginx` (default `ssl-client-cert`) and `haproxy` (default
   * `x-ssl-client-der`) formats, lower-case. Not allowed with `rfc9440`/`xfcc`.
   */
  readonly header?: string | undefined;
  /** The proxies allowed to forward a certificate (see {@link TrustedHopsOptions}). */
  readonly trustedHops: TrustedHopsOptions;
  /**
   * The CA certificates a forwarded certificate must chain to, read on every cache miss
   * (bundle rotation is followed). Return the same array until the bundle changes: a new
   * array re-validates every cached certificate. The sidecar passes its X509Source's
   * `current().bundle`.
   */
  readonly trustAnchors: () => readonly X509Certificate[];
  /**
   * Distinct header values whose parse + validation is kept (second-chance LRU).
   * Default 1024; 0 = none.
   */
  readonly cacheSize?: number;
  /** Clock (ms since the epoch). Default `Date.now`. */
  readonly now?: () => number;
  /**
   * Called when a request carries the headers over a connection that is not a trusted hop
   * (the caller strips them); for metrics and logs. Must not throw.
   */
  readonly onUntrusted?: (event: UntrustedForwarding) => void;
}

/** A request that carried forwarded-certificate headers from a connection that may not. */
export interface UntrustedForwarding {
  /** Names of the headers it carried. */
  readonly headers: readonly string[];
  /** The connection's certificate, if it had one (not an allow-listed hop). */
  readonly peer: PeerIdentity | undefined;
  readonly remoteAddress: string | undefined;
}

/**
 * A {@link ForwardedCertificates} (the pipeline's interface) with its cache counters.
 * `resolve` throws `ERR_FORWARDED_CERT_MALFORMED`, `_UNTRUSTED`, `_EXPIRED`, `_NOT_LEAF`,
 * `_WEAK_KEY`, `_NOT_CLIENT` or `_HOP_MISMATCH`.
 */
export interface CachedForwardedCertificates extends ForwardedCertificates {
  /** Cache counters (a hit skips parsing and chain validation). */
  readonly stats: { readonly hits: number; readonly misses: number };
}

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

function formatOf(format: ForwardedCertFormat, header: string | undefined): ForwardedHeaderFormat {
  if (header !== undefined && (format === 'rfc9440' || format === 'xfcc'))
    throw new TypeError(`header is only for the nginx and haproxy formats, not ${format}`);
  if (header !== undefined && !HEADER_NAME.test(header))
    throw new TypeError('header must be a lower-case header name');
  switch (format) {
    case 'rfc9440':
      return rfc9440Format;
    case 'xfcc':
      return xfccFormat;
    case 'nginx':
      return escapedPemFormat(header);
    case 'haproxy':
      return base64DerFormat(header);
    default:
      throw new TypeError('format must be rfc9440, xfcc, nginx or haproxy');
  }
}

/**
 * The cache key of a request's header values: the one value itself in the common case (no
 * copy, so no second hash of a string of several kB), else every value with its header's
 * position (values cannot hold NUL or LF).
 */
function cacheKeyOf(values: readonly (readonly string[])[]): string {
  let only: string | undefined;
  let count = 0;
  for (const v of values) {
    count += v.length;
    if (v.length === 1) only = v[0];
  }
  if (count === 1 && only !== undefined && values[0]?.length === 1) return only;
  return values.map((v) => v.join('\n')).join('\0');
}

const LEAF_CODES: Partial<Record<ErrorCode, ErrorCode>> = {
  ERR_PEER_CERT_NOT_LEAF: 'ERR_FORWARDED_CERT_NOT_LEAF',
  ERR_PEER_CERT_WEAK_KEY: 'ERR_FORWARDED_CERT_WEAK_KEY',
  ERR_PEER_CERT_NOT_CLIENT: 'ERR_FORWARDED_CERT_NOT_CLIENT',
};

function refused(code: ErrorCode, reason: string, problem?: string): CertboundError {
  return new CertboundError(code, `The forwarded client certificate is refused: ${reason}.`, {
    details: { reason, ...(problem !== undefined ? { problem } : {}) },
  });
}

/** A re-validated forwarded leaf, with the window in which that verdict holds. */
interface Validated {
  readonly client: PeerIdentity;
  readonly by: string | undefined;
  readonly validFromMs: number;
  readonly validToMs: number;
}

interface CacheEntry {
  /** The bundle it was validated against: another array (a rotation) re-validates. */
  readonly anchors: readonly X509Certificate[];
  readonly outcome: Validated | CertboundError;
  /** Hit since the eviction sweep last passed it (CLOCK: a hit costs no map write). */
  used: boolean;
}

/**
 * The forwarded leaf re-validated as if it had arrived on the connection: it chains to
 * `anchors` (with the forwarded intermediates), every certificate of that path is in its
 * validity period, and it may act as a client leaf (`checkClientLeaf`: not a CA, key size,
 * clientAuth EKU). The proxy is trusted to carry the certificate, not to have checked it.
 */
function validate(
  forwarded: ForwardedChain,
  anchors: readonly X509Certificate[],
  nowMs: number,
): Validated {
  const chain = verifyCertificateChain(forwarded.leaf, forwarded.chain, anchors, nowMs);
  if (!chain.ok)
    throw refused(
      chain.problem === 'untrusted' ? 'ERR_FORWARDED_CERT_UNTRUSTED' : 'ERR_FORWARDED_CERT_EXPIRED',
      chain.reason,
      chain.problem,
    );
  let client: PeerIdentity;
  try {
    client = peerIdentityOf(forwarded.leaf);
  } catch (err) {
    const code = isCertboundError(err) ? LEAF_CODES[err.code] : undefined;
    if (code === undefined || !isCertboundError(err)) throw err;
    throw refused(code, String(err.details['reason'] ?? err.message));
  }
  return { client, by: forwarded.by, validFromMs: chain.validFromMs, validToMs: chain.validToMs };
}

/**
 * Client certificates forwarded by trusted TLS-terminating proxies (nginx, HAProxy, Envoy,
 * ingress controllers): a header is read **only** on a connection whose own verified
 * certificate is an allow-listed hop; the forwarded leaf is then re-validated against the
 * trust bundle. Parsing and validation are cached per distinct header value (bounded LRU,
 * re-done when the bundle array changes or the chain's validity window is left), so a
 * keep-alive stream of requests pays one map lookup each.
 *
 * Does not strip the headers (the transport does, using `headerNames`), nor decide whether
 * a route accepts the forwarded certificate (the pipeline's `proof` does). Does not check
 * revocation, as the TLS stack does not either.
 *
 * @throws TypeError on invalid options (unknown format, a `header` with `rfc9440`/`xfcc`,
 *   an allow-list without `spiffeIds`/`thumbprints`, an address that is not an IP or CIDR)
 */
export function createForwardedCertificates(
  options: ForwardedCertificateOptions,
): CachedForwardedCertificates {
  const format = formatOf(options.format, options.header);
  const isTrustedHop = trustedHopTest(options.trustedHops);
  if (typeof options.trustAnchors !== 'function')
    throw new TypeError('trustAnchors must be a function returning the CA certificates');
  const max = options.cacheSize ?? 1024;
  if (!Number.isInteger(max) || max < 0) throw new TypeError('cacheSize must be an integer ≥ 0');
  const now = options.now ?? Date.now;
  const names = format.headerNames;
  const cache = new Map<string, CacheEntry>();
  const stats = { hits: 0, misses: 0 };

  // Second-chance (CLOCK) eviction: the oldest entry not hit since the sweep last passed it
  // goes; a hit entry moves to the back once. Re-inserting on every hit (exact LRU) cost
  // more than the rest of a cached resolve (a long string key re-hashed into the map).
  const remember = (key: string, entry: CacheEntry): void => {
    if (max === 0) return;
    cache.delete(key);
    cache.set(key, entry);
    for (let turns = cache.size; cache.size > max && turns >= 0; turns--) {
      const [oldest, e] = cache.entries().next().value as [string, CacheEntry];
      cache.delete(oldest);
      if (e.used && turns > 0) {
        e.used = false;
        cache.set(oldest, e);
      }
    }
  };

  const outcomeOf = (key: string, values: readonly (readonly string[])[], nowMs: number) => {
    const anchors = options.trustAnchors();
    const known = cache.get(key);
    if (known !== undefined && known.anchors === anchors) {
      const o = known.outcome;
      if (o instanceof CertboundError || (o.validFromMs <= nowMs && nowMs <= o.validToMs)) {
        known.used = true;
        stats.hits++;
        return o;
      }
    }
    stats.misses++;
    let outcome: Validated | CertboundError;
    try {
      outcome = validate(format.parse(values), anchors, nowMs);
    } catch (err) {
      if (!isCertboundError(err)) throw err;
      // "Not valid yet" may not hold later: decided again next time (expired stays expired).
      if (err.details['problem'] === 'not-yet-valid') throw err;
      outcome = err;
    }
    remember(key, { anchors, outcome, used: false });
    return outcome;
  };

  return {
    headerNames: names,
    stats,
    resolve(input) {
      const values = names.map((name) => input.header(name));
      if (values.every((v) => v.length === 0)) return { kind: 'none' };
      const peer = input.peer ?? undefined;
      if (peer === undefined || !isTrustedHop(peer, input.remoteAddress)) {
        options.onUntrusted?.({
          headers: names.filter((_, i) => (values[i] as readonly string[]).length > 0),
          peer,
          remoteAddress: input.remoteAddress,
        });
        return { kind: 'untrusted' };
      }
      const key = cacheKeyOf(values);
      const outcome = outcomeOf(key, values, now());
      if (outcome instanceof CertboundError) throw outcome;
      // Envoy XFCC `By` is the URI SAN of the proxy that added the element: it must be this hop.
      if (outcome.by !== undefined && peer.spiffeId !== undefined && outcome.by !== peer.spiffeId)
        throw new CertboundError('ERR_FORWARDED_CERT_HOP_MISMATCH', undefined, {
          details: { reason: 'By= names another proxy than the connection' },
        });
      return { kind: 'forwarded', client: outcome.client, hop: peer };
    },
  };
}
