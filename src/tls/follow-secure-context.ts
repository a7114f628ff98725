import { DEFAULT_CIPHERS, type SecureContextOptions, type SecureVersion } from 'node:tls';
import type { WorkloadIdentity } from '../identity/workload-identity.js';
import type { X509Source } from '../identity/x509-source.js';

/**
 * TLS 1.2 suites certbound allows by default: RFC 9325 §4.2 (BCP 195) — ECDHE key exchange
 * with AES-GCM or ChaCha20-Poly1305 only; no CBC, no static-RSA key exchange, no DHE, no
 * CCM8 or ARIA. ECDSA first: certbound's workload keys are P-256.
 */
export const RFC9325_TLS12_CIPHERS: readonly string[] = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

/** TLS 1.3 suites as node offers them: the `TLS_*` names of `tls.DEFAULT_CIPHERS`. */
export const NODE_TLS13_CIPHERSUITES: readonly string[] =
  DEFAULT_CIPHERS.split(':').filter(isTls13Suite);

/** True for a TLS 1.3 suite name (`TLS_AES_128_GCM_SHA256`); node takes them in `ciphers`. */
export function isTls13Suite(name: string): boolean {
  return name.startsWith('TLS_');
}

/** TLS settings certbound applies to every context built from an identity. */
export interface TlsContextSettings {
  /** Lowest protocol version. Default `TLSv1.2`. */
  minVersion?: SecureVersion | undefined;
  /** Highest protocol version. Default node's (TLS 1.3). */
  maxVersion?: SecureVersion | undefined;
  /**
   * Colon-separated TLS 1.2 suites (OpenSSL names). Default {@link RFC9325_TLS12_CIPHERS}.
   * `TLS_*` names in it set the TLS 1.3 suites too, as in node's own `ciphers` option.
   */
  ciphers?: string | undefined;
  /** Colon-separated TLS 1.3 suites. Default {@link NODE_TLS13_CIPHERSUITES}. */
  ciphersuites?: string | undefined;
  /** Colon-separated ECDHE groups (`X25519:P-256`). Default node's (`auto`). */
  ecdhCurve?: string | undefined;
}

function namesOf(list: string): string[] {
  return list.split(':').filter((name) => name.length > 0);
}

/**
 * The one `ciphers` string node takes for both versions: TLS 1.3 suites first (node turns
 * TLS 1.3 off when a list has none), then the TLS 1.2 ones.
 */
export function cipherListOf(settings: TlsContextSettings = {}): string {
  const given = settings.ciphers === undefined ? undefined : namesOf(settings.ciphers);
  const tls12 = given?.filter((name) => !isTls13Suite(name)) ?? RFC9325_TLS12_CIPHERS;
  const tls13 =
    settings.ciphersuites !== undefined
      ? namesOf(settings.ciphersuites)
      : given?.some(isTls13Suite) === true
        ? given.filter(isTls13Suite)
        : NODE_TLS13_CIPHERSUITES;
  return [...tls13, ...tls12].join(':');
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
 * `ca` (peers we accept and servers we trust), and the TLS settings: min TLS 1.2, TLS 1.2
 * limited to {@link RFC9325_TLS12_CIPHERS}, TLS 1.3 suites as node offers them.
 * Use it to create a server or agent; spread extra server options (requestCert, …) over it.
 */
export function tlsOptionsOf(
  identity: WorkloadIdentity,
  settings: TlsContextSettings = {},
): SecureContextOptions & { minVersion: SecureVersion; ciphers: string } {
  return {
    key: identity.keyPem,
    cert: identity.chainPem,
    ca: identity.bundlePem,
    minVersion: settings.minVersion ?? 'TLSv1.2',
    ...(settings.maxVersion !== undefined ? { maxVersion: settings.maxVersion } : {}),
    ciphers: cipherListOf(settings),
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
