import type { SecureContextOptions, SecureVersion } from 'node:tls';
import type { WorkloadIdentity } from '../identity/workload-identity.js';
import type { X509Source } from '../identity/x509-source.js';

/** TLS settings certbound applies to every context built from an identity. */
export interface TlsContextSettings {
  /** Lowest protocol version. Default `TLSv1.2`. */
  minVersion?: SecureVersion;
  /** Highest protocol version. Default node's (TLS 1.3). */
  maxVersion?: SecureVersion;
  /** OpenSSL cipher list for TLS ≤ 1.2. Default node's. */
  ciphers?: string;
  /** TLS 1.3 cipher suites. Default node's. */
  ciphersuites?: string;
  /** Curves for ECDHE. Default node's. */
  ecdhCurve?: string;
}

/** Server options {@link followSecureContext} needs besides the context settings. */
export interface FollowSecureContextOptions extends TlsContextSettings {
  /**
   * Ask clients for a certificate (mTLS). Only used by {@link tlsOptionsOf} when creating the
   * server: `setSecureContext` cannot change it.
   */
  requestCert?: boolean;
  /** Called when `setSecureContext` throws (the old context stays). */
  onError?: (error: unknown) => void;
}

/** The subset of `tls.Server` the follower needs (https/http2 secure servers qualify). */
export interface SecureContextTarget {
  setSecureContext(options: SecureContextOptions): void;
}

/**
 * Every secure-context option derived from `identity`: key, chain, the trust bundle as
 * `ca` (peers we accept and servers we trust), and the TLS settings (min TLS 1.2).
 * Use it to create a server or agent; spread extra server options (requestCert, …) over it.
 */
export function tlsOptionsOf(
  identity: WorkloadIdentity,
  settings: TlsContextSettings = {},
): SecureContextOptions & { minVersion: SecureVersion } {
  return {
    key: identity.keyPem,
    cert: identity.chainPem,
    ca: identity.bundlePem,
    minVersion: settings.minVersion ?? 'TLSv1.2',
    ...(settings.maxVersion !== undefined ? { maxVersion: settings.maxVersion } : {}),
    ...(settings.ciphers !== undefined ? { ciphers: settings.ciphers } : {}),
    ...(settings.ciphersuites !== undefined ? { ciphersuites: settings.ciphersuites } : {}),
    ...(settings.ecdhCurve !== undefined ? { ecdhCurve: settings.ecdhCurve } : {}),
  };
}

/**
 * Keeps a `tls`/`https`/`http2` secure server's context in step with `source`: on every
 * update calls `server.setSecureContext()` with ALL options again (it rebuilds the whole
 * context; anything left out falls back to node's defaults). New handshakes use the new
 * certificate and bundle at once; established connections keep theirs until they close.
 *
 * @returns unsubscribe
 */
export function followSecureContext(
  server: SecureContextTarget,
  source: X509Source,
  options: FollowSecureContextOptions = {},
): () => void {
  let applied: WorkloadIdentity | undefined;
  return source.onUpdate((identity) => {
    if (identity === applied) return;
    try {
      server.setSecureContext(tlsOptionsOf(identity, options));
      applied = identity;
    } catch (err) {
      options.onError?.(err);
    }
  });
}
