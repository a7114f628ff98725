import type { PeerIdentity } from '../binding/peer-identity.js';

/**
 * What a forwarded-certificate source reads of one request (RFC 9440 `Client-Cert`, Envoy
 * XFCC, nginx and HAProxy formats).
 */
export interface ForwardedCertificateInput {
  /** Verified certificate of this connection: the hop, when it is a trusted one. */
  readonly peer: PeerIdentity | null | undefined;
  /** Remote address of the connection (for an address allow-list of hops). */
  readonly remoteAddress?: string | undefined;
  /** Every value of one header (lower-case name), from raw headers or gRPC metadata. */
  header(name: string): readonly string[];
}

/** What a forwarded-certificate source found on one request. */
export type ForwardedResolution =
  /** No forwarded-certificate header at all. */
  | { readonly kind: 'none' }
  /** Headers present, but the connection's peer is not a trusted hop: they are ignored. */
  | { readonly kind: 'untrusted' }
  /** A trusted hop forwarded `client`'s certificate, re-validated like a connection's. */
  | { readonly kind: 'forwarded'; readonly client: PeerIdentity; readonly hop: PeerIdentity };

/**
 * Client certificates forwarded by trusted TLS-terminating hops: a second source of the
 * certificate the `cnf.x5t#S256` binding is checked against.
 */
export interface ForwardedCertificates {
  /** Lower-case names of every header this reads (stripped before the app). */
  readonly headerNames: readonly string[];
  /**
   * The forwarded certificate of a request, re-validated (chain to the bundle, validity,
   * client leaf checks), or why there is none.
   *
   * @throws CertboundError `ERR_FORWARDED_CERT_*` when a trusted hop sent a malformed or
   *   invalid certificate
   */
  resolve(input: ForwardedCertificateInput): ForwardedResolution;
}

/** What a DPoP proof is checked against (RFC 9449 §4.3). */
export interface DpopProofInput {
  /** Every `DPoP` header value received (exactly one is allowed). */
  readonly proofs: readonly string[];
  /** HTTP method (`POST` for gRPC): the proof's `htm`. */
  readonly method: string;
  /** Normalised path (or `/package.Service/Method`): `htu` = public origin + path. */
  readonly path: string;
  /** The access token, for the proof's `ath`. */
  readonly accessToken: string;
}

/** A DPoP proof whose checks passed, except replay (recorded by {@link commit}). */
export interface VerifiedDpopProof {
  /** RFC 7638 thumbprint of the proof's public key, compared with the token's `cnf.jkt`. */
  readonly jkt: string;
  /**
   * Records the proof's (jkt, jti) so it cannot be used again; called only after every
   * other check of the request passed.
   *
   * @throws CertboundError `ERR_DPOP_REPLAY` (seen before) or the store's outage code
   */
  commit(): Promise<void>;
}

/** Verifies DPoP proofs (RFC 9449) for the proof-of-possession step. */
export interface DpopVerifier {
  /** Allowed proof algorithms (`WWW-Authenticate: DPoP algs="…"`, RFC 9728 metadata). */
  readonly algorithms: readonly string[];
  /**
   * Checks one request's proof (all of RFC 9449 §4.3 but the token binding and replay).
   *
   * @throws CertboundError `ERR_DPOP_*`
   */
  verify(input: DpopProofInput): Promise<VerifiedDpopProof>;
  /** A nonce to send as `DPoP-Nonce` on a response; undefined when nonces are off. */
  nonceForResponse?(): string | undefined;
  /** Why DPoP proofs cannot be checked now (the shared replay store), or undefined. */
  readinessProblem?(): string | undefined;
  /** Releases connections (the shared replay store). */
  close?(): Promise<void>;
}

/** The proof-of-possession sources a verifier may use besides the connection's certificate. */
export interface ProofSources {
  /**
   * DPoP proof checks for routes whose `proof` accepts DPoP (`createDpopVerifier`).
   * Without it those routes refuse every request (`ERR_DPOP_UNAVAILABLE`).
   */
  readonly dpop?: DpopVerifier | undefined;
  /**
   * Client certificates forwarded by trusted hops, for routes with `proof: forwarded`,
   * `either`, `dpop`, `any` or `both` (`createForwardedCertificates`).
   */
  readonly forwardedCertificates?: ForwardedCertificates | undefined;
}
