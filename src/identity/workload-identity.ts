import type { KeyObject, X509Certificate } from 'node:crypto';

/**
 * One verified workload identity: what an {@link X509Source} publishes.
 * The private key is a `KeyObject` so it never prints by accident.
 */
export interface WorkloadIdentity {
  /** Leaf first, then intermediates, as PEM. */
  readonly chainPem: string;
  /** Leaf first, then intermediates, as DER. */
  readonly chainDer: readonly Buffer[];
  /** Parsed leaf certificate. */
  readonly leaf: X509Certificate;
  /** The leaf's private key. Never log it. */
  readonly privateKey: KeyObject;
  /** PKCS#8 PEM of the key, for TLS contexts. Never log it. */
  readonly keyPem: string;
  /** RFC 8705 x5t#S256 of the leaf. */
  readonly thumbprint: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SPIFFE ID from the leaf's URI SAN, if any. */
  readonly spiffeId: string | undefined;
  /** Trust bundle: every CA certificate accepted for peers, as PEM (one or more). */
  readonly bundlePem: string;
  /** Parsed bundle certificates. */
  readonly bundle: readonly X509Certificate[];
}

/** Raw PEM material before it is checked and published. */
export interface IdentityMaterial {
  /** Leaf + intermediates PEM. */
  readonly certPem: string;
  /** Private key PEM (PKCS#8, SEC1 or PKCS#1). */
  readonly keyPem: string;
  /** Trust bundle PEM (one or more CA certificates). */
  readonly bundlePem: string;
}
