/** What a {@link CsrSigner} is asked to certify. */
export interface SigningRequest {
  /** PEM PKCS#10 request; the certificate must certify its key. */
  readonly csrPem: string;
  /** Workload name (CN and DNS SAN). */
  readonly name: string;
  /** SPIFFE ID to write as the URI SAN. */
  readonly spiffeId?: string;
  /** Requested lifetime in milliseconds. */
  readonly ttlMs: number;
  /** Requested notBefore (slightly back-dated for clock skew). */
  readonly notBefore: Date;
}

/** A signed certificate and the trust bundle (PEM) it must chain to. */
export interface SignedCertificate {
  readonly certPem: string;
  readonly bundlePem: string;
}

/**
 * Signs a CSR: the dev CA (`devCaSigner`), or any real CA (an ACME/step-ca/Vault client)
 * a user plugs in. Called on every renewal; a rejection keeps the current certificate.
 */
export type CsrSigner = (request: SigningRequest) => Promise<SignedCertificate>;
