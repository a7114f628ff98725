import type { CertboundConfig } from '../config/schema.js';
import type { X509Source } from '../identity/x509-source.js';
import type { Logger } from '../observability/logger.js';
import type { SidecarMetrics } from '../observability/metrics.js';
import {
  createForwardedCertificates,
  type CachedForwardedCertificates,
  type UntrustedForwarding,
} from '../verify/forwarded/forwarded-certificates.js';

/** `inbound.forwardedClientCert`, validated. */
export type ForwardedClientCertConfig = NonNullable<
  NonNullable<CertboundConfig['inbound']>['forwardedClientCert']
>;

/** At most one warning per this interval for headers from untrusted peers (a client can send many). */
const UNTRUSTED_LOG_INTERVAL_MS = 60_000;

/** What {@link forwardedCertificatesOf} wires in. */
export interface ForwardedDeps {
  /** Its bundle is the trust anchors (rotation followed: `current().bundle` per cache miss). */
  readonly source: X509Source;
  readonly logger: Logger;
  readonly metrics: SidecarMetrics;
  /** Clock of the log rate limit. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * The sidecar's {@link ForwardedCertificates} of `inbound.forwardedClientCert`: trust anchors
 * from the identity source's bundle in force; a request carrying the headers from a peer that
 * is not a trusted hop is counted (`certbound_forwarded_cert_untrusted_total{header}`) and
 * logged at warn at most once a minute, with the peer's SPIFFE ID or a thumbprint prefix and
 * how many were not logged — never the header value.
 */
export function forwardedCertificatesOf(
  config: ForwardedClientCertConfig,
  deps: ForwardedDeps,
): CachedForwardedCertificates {
  const log = deps.logger.child({ component: 'forwarded-cert' });
  const now = deps.now ?? Date.now;
  let nextLogAt = 0;
  let suppressed = 0;
  const onUntrusted = (event: UntrustedForwarding): void => {
    for (const header of event.headers) deps.metrics.forwardedCertUntrusted.inc({ header });
    const t = now();
    if (t < nextLogAt) {
      suppressed++;
      return;
    }
    nextLogAt = t + UNTRUSTED_LOG_INTERVAL_MS;
    log.warn(
      {
        headers: event.headers,
        peer: event.peer?.spiffeId ?? event.peer?.thumbprint.slice(0, 12) ?? null,
        remoteAddress: event.remoteAddress,
        suppressed,
      },
      'forwarded client certificate header from a peer that is not a trusted hop: stripped',
    );
    suppressed = 0;
  };
  return createForwardedCertificates({
    format: config.format,
    ...(config.header !== undefined ? { header: config.header } : {}),
    trustedHops: config.trustedHops,
    cacheSize: config.cacheSize,
    trustAnchors: () => deps.source.current().bundle,
    onUntrusted,
  });
}
