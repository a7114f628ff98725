import { checkBinding } from '../binding/check-binding.js';
import { checkJktBinding, hasCertificateBinding, jktOf } from '../binding/check-jkt-binding.js';
import type { PeerIdentity } from '../binding/peer-identity.js';
import { CertboundError } from '../errors.js';
import type { Credentials } from './credentials.js';
import type {
  DpopVerifier,
  ForwardedCertificates,
  ForwardedResolution,
  VerifiedDpopProof,
} from './proof-inputs.js';
import type { ProofRules } from './proof-requirement.js';

/** What the proof step may read of a request (filled in by the transport). */
export interface ProofContext {
  /** Verified certificate of this connection (once per connection), or none. */
  readonly peer: PeerIdentity | null | undefined;
  /**
   * Why there is no peer, when the transport knows (a certificate refused as a client
   * leaf: `ERR_PEER_CERT_NOT_LEAF`, …); default `ERR_PEER_CERT_MISSING`.
   */
  readonly peerError?: CertboundError;
  /**
   * Every value of one request header or metadata key (lower-case name): the `DPoP` proof
   * and forwarded-certificate headers. Absent: the transport has none to offer.
   */
  header?(name: string): readonly string[];
  /** Remote address of the connection (trusted-hop address lists). */
  readonly remoteAddress?: string | undefined;
}

/** The certificate an `x5t#S256` binding is checked against on one request. */
export interface CertificateEvidence {
  /** The certificate's identity: the connection's, or the one a trusted hop forwarded. */
  readonly peer: PeerIdentity;
  readonly source: 'connection' | 'forwarded';
  /** The trusted hop (the connection's peer) when `source` is `forwarded`. */
  readonly hop?: PeerIdentity | undefined;
}

/** What the proof step showed: which bindings were checked, and what to record after. */
export interface BindingProof {
  /** `mtls` (certificate), `dpop`, or `mtls+dpop` when the token carried both. */
  readonly kind: 'mtls' | 'dpop' | 'mtls+dpop';
  /** The certificate checked, when there was one. */
  readonly certificate?: CertificateEvidence | undefined;
  /** The DPoP proof checked, when there was one. */
  readonly dpop?: VerifiedDpopProof | undefined;
}

const NONE: ForwardedResolution = { kind: 'none' };

// One evidence object per connection identity (transports keep one PeerIdentity per
// connection), not one allocation per request.
const connectionEvidence = new WeakMap<PeerIdentity, CertificateEvidence>();

function evidenceOfConnection(peer: PeerIdentity): CertificateEvidence {
  let evidence = connectionEvidence.get(peer);
  if (evidence === undefined) {
    evidence = Object.freeze({ peer, source: 'connection' as const });
    connectionEvidence.set(peer, evidence);
  }
  return evidence;
}

function missingPeer(request: ProofContext): CertboundError {
  return request.peerError ?? new CertboundError('ERR_PEER_CERT_MISSING');
}

/**
 * The certificate this request's `x5t#S256` binding is checked against, chosen by the
 * route's rules: the connection's, or one forwarded by a trusted hop (re-validated by
 * `forwarded`). Runs before any token work, so a request that can never pass costs nothing.
 *
 * @throws CertboundError `ERR_PEER_CERT_*` / `ERR_FORWARDED_CERT_*` when the route needs
 *   a certificate and there is none
 */
export function certificateEvidenceOf(
  request: ProofContext,
  rules: ProofRules,
  forwarded: ForwardedCertificates | undefined,
): CertificateEvidence | undefined {
  const peer = request.peer ?? undefined;
  if (rules.certificates === 'connection') {
    if (peer === undefined) {
      if (rules.requiresCertificate) throw missingPeer(request);
      return undefined;
    }
    return evidenceOfConnection(peer);
  }
  const resolution =
    forwarded !== undefined && request.header !== undefined
      ? forwarded.resolve({
          peer,
          remoteAddress: request.remoteAddress,
          header: (name) => request.header?.(name) ?? [],
        })
      : NONE;
  if (resolution.kind === 'forwarded')
    return { peer: resolution.client, source: 'forwarded', hop: resolution.hop };
  if (rules.certificates === 'forwarded') {
    if (!rules.requiresCertificate) return undefined;
    if (peer === undefined) throw missingPeer(request);
    throw new CertboundError(
      'ERR_FORWARDED_CERT_MISSING',
      forwarded === undefined
        ? 'This route takes the client certificate from a trusted hop, and none is configured.'
        : undefined,
    );
  }
  if (peer === undefined) {
    if (rules.requiresCertificate) throw missingPeer(request);
    return undefined;
  }
  return evidenceOfConnection(peer);
}

/** What {@link proveBinding} checks one token against. */
export interface BindingInput {
  readonly credentials: Credentials;
  readonly rules: ProofRules;
  /** From {@link certificateEvidenceOf}. */
  readonly certificate: CertificateEvidence | undefined;
  /** Why there is no certificate (the transport's peer error). */
  readonly certificateError?: CertboundError | undefined;
  /** The request's DPoP proofs, method and path (DPoP `htm`/`htu`). */
  readonly dpopProofs: readonly string[];
  readonly method: string;
  readonly path: string;
  readonly dpop: DpopVerifier | undefined;
}

/**
 * The proof-of-possession step: every binding the token carries is checked, and the
 * route's required ones must be there.
 * - `cnf.x5t#S256` = the certificate's thumbprint (RFC 8705 §3), whatever the scheme;
 * - a `cnf.jkt` token must come with the `DPoP` scheme (RFC 9449 §7.2: no downgrade to
 *   `Bearer`) and a valid proof whose key thumbprint is `cnf.jkt` (§4.3, §6.1);
 * - an unbound token is refused on every route.
 * The DPoP proof's replay record is left to the caller ({@link VerifiedDpopProof.commit}),
 * after the policy passed.
 *
 * @throws CertboundError `ERR_BINDING_MISMATCH`, `ERR_CNF_*`, `ERR_DPOP_*`, …
 */
export function proveBinding(
  claims: Readonly<Record<string, unknown>>,
  input: BindingInput,
): BindingProof | Promise<BindingProof> {
  const jkt = jktOf(claims);
  if (jkt !== undefined && input.credentials.scheme === 'Bearer')
    throw new CertboundError('ERR_DPOP_DOWNGRADE');
  let certificate: CertificateEvidence | undefined;
  if (input.rules.requiresCertificate || hasCertificateBinding(claims)) {
    if (input.certificate === undefined)
      throw input.certificateError ?? new CertboundError('ERR_PEER_CERT_MISSING');
    checkBinding(claims, input.certificate.peer.thumbprint);
    certificate = input.certificate;
  }
  if (input.credentials.scheme === 'DPoP') return proveDpop(claims, input, certificate);
  if (input.rules.requiresDpop) throw new CertboundError('ERR_DPOP_REQUIRED');
  if (certificate === undefined) throw new CertboundError('ERR_CNF_MISSING');
  // Synchronous for certificate-only proofs: the reused-token path pays no promise hop.
  return { kind: 'mtls', certificate };
}

async function proveDpop(
  claims: Readonly<Record<string, unknown>>,
  input: BindingInput,
  certificate: CertificateEvidence | undefined,
): Promise<BindingProof> {
  if (input.dpop === undefined) throw new CertboundError('ERR_DPOP_UNAVAILABLE');
  const dpop = await input.dpop.verify({
    proofs: input.dpopProofs,
    method: input.method,
    path: input.path,
    accessToken: input.credentials.token,
  });
  checkJktBinding(claims, dpop.jkt);
  return { kind: certificate === undefined ? 'dpop' : 'mtls+dpop', certificate, dpop };
}
