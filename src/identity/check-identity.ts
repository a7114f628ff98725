import type { X509Certificate } from 'node:crypto';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { extendedKeyUsageOf } from '../binding/check-client-leaf.js';
import { spiffeIdOf } from '../binding/peer-identity.js';
import { thumbprintOf } from '../binding/thumbprint.js';
import { CertboundError } from '../errors.js';
import { parsePemCertificates } from './pem.js';
import type { IdentityMaterial, WorkloadIdentity } from './workload-identity.js';

/** Options of {@link checkIdentity}. */
export interface CheckIdentityOptions {
  /** Also require the serverAuth EKU (the identity serves TLS). Default false. */
  requireServerAuth?: boolean;
  /** Clock, for tests. */
  now?: () => number;
  /** Name of where the material came from, for messages (e.g. a file path). */
  origin?: string;
  /**
   * Also accept a self-signed leaf that is in no bundle, as `self_signed_tls_client_auth`
   * uses (RFC 8705 §2.2: the AS trusts the registered certificate itself, not a CA).
   * The leaf must be self-issued and verify with its own key. Default false.
   */
  selfSignedLeaf?: boolean;
}

const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

function parseCerts(pem: string, what: string, origin: string): X509Certificate[] {
  let certs: X509Certificate[];
  try {
    certs = parsePemCertificates(pem);
  } catch {
    throw new CertboundError(
      'ERR_CERT_PARSE',
      `${origin}: the ${what} holds a PEM block that is not a valid certificate (truncated or corrupt?).`,
      { details: { origin } },
    );
  }
  if (certs.length === 0) {
    const code = what === 'trust bundle' ? 'ERR_BUNDLE_EMPTY' : 'ERR_CERT_PARSE';
    throw new CertboundError(code, `${origin}: the ${what} holds no complete PEM certificate.`, {
      details: { origin },
    });
  }
  return certs;
}

function publicKeysMatch(privateKey: KeyObject, cert: X509Certificate): boolean {
  const fromKey = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const fromCert = cert.publicKey.export({ type: 'spki', format: 'der' });
  return fromKey.equals(fromCert);
}

function chainsToBundle(chain: X509Certificate[], bundle: X509Certificate[]): boolean {
  // Walk leaf → intermediates → a bundle CA, verifying each signature.
  let current = chain[0];
  const intermediates = chain.slice(1);
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    const cert: X509Certificate = current;
    const anchor = bundle.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
    if (anchor !== undefined) return true;
    current = intermediates.find((i) => cert.checkIssued(i) && cert.verify(i.publicKey));
  }
  return false;
}

function isSelfSigned(leaf: X509Certificate): boolean {
  // Not checkIssued(leaf): OpenSSL requires keyCertSign of an issuer, which a CA:FALSE leaf lacks.
  return leaf.subject === leaf.issuer && leaf.verify(leaf.publicKey);
}

/**
 * Check-before-publish (as linkerd2-proxy does): parses PEM material and verifies that the
 * key matches the leaf, the leaf is within its validity window, it chains to the bundle
 * (or, with `selfSignedLeaf`, is a self-signed certificate) and it has the clientAuth EKU
 * (and serverAuth when asked).
 *
 * @throws CertboundError ERR_CERT_PARSE, ERR_KEY_PARSE, ERR_BUNDLE_EMPTY, ERR_KEY_MISMATCH,
 *   ERR_CERT_EXPIRED, ERR_CERT_NOT_YET_VALID, ERR_CERT_UNTRUSTED or ERR_CERT_EKU.
 *   Messages name the origin, never the key.
 */
export function checkIdentity(
  material: IdentityMaterial,
  options: CheckIdentityOptions = {},
): WorkloadIdentity {
  const origin = options.origin ?? 'identity';
  const chain = parseCerts(material.certPem, 'certificate file', origin);
  const bundle = parseCerts(material.bundlePem, 'trust bundle', origin);
  const leaf = chain[0] as X509Certificate;
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(material.keyPem);
  } catch {
    throw new CertboundError(
      'ERR_KEY_PARSE',
      `${origin}: the key file holds no valid PEM private key.`,
      { details: { origin } },
    );
  }
  if (!publicKeysMatch(privateKey, leaf)) {
    throw new CertboundError(
      'ERR_KEY_MISMATCH',
      `${origin}: the private key does not belong to the certificate ${leaf.subject.replace(/\n/g, ', ')}.`,
      { details: { origin } },
    );
  }
  const now = (options.now ?? Date.now)();
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (now >= notAfter.getTime()) {
    throw new CertboundError(
      'ERR_CERT_EXPIRED',
      `${origin}: the certificate expired at ${notAfter.toISOString()}.`,
      { details: { origin } },
    );
  }
  if (now < notBefore.getTime()) {
    throw new CertboundError(
      'ERR_CERT_NOT_YET_VALID',
      `${origin}: the certificate is not valid before ${notBefore.toISOString()}.`,
      { details: { origin } },
    );
  }
  const selfSigned = options.selfSignedLeaf === true && chain.length === 1 && isSelfSigned(leaf);
  if (!selfSigned && !chainsToBundle(chain, bundle)) {
    throw new CertboundError(
      'ERR_CERT_UNTRUSTED',
      `${origin}: the certificate (issuer ${leaf.issuer.replace(/\n/g, ', ')}) does not chain to the trust bundle.`,
      { details: { origin } },
    );
  }
  const eku = extendedKeyUsageOf(leaf) ?? [];
  if (
    !eku.includes(OID_CLIENT_AUTH) ||
    (options.requireServerAuth === true && !eku.includes(OID_SERVER_AUTH))
  ) {
    const wanted = options.requireServerAuth === true ? 'clientAuth and serverAuth' : 'clientAuth';
    throw new CertboundError(
      'ERR_CERT_EKU',
      `${origin}: the certificate lacks the ${wanted} extended key usage.`,
      { details: { origin } },
    );
  }
  return {
    chainPem: chain.map((c) => c.toString()).join(''),
    chainDer: chain.map((c) => c.raw),
    leaf,
    privateKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    thumbprint: thumbprintOf(leaf),
    notBefore,
    notAfter,
    spiffeId: spiffeIdOf(leaf),
    bundlePem: bundle.map((c) => c.toString()).join(''),
    bundle,
  };
}
