import { randomBytes, webcrypto } from 'node:crypto';
import { algorithmOf, generateKeyPair, privateKeyPem, type KeyType } from '../identity/key-pair.js';
import { x509 } from '../identity/x509-provider.js';

const ECDSA_P256 = algorithmOf('P-256');
const DAY = 86_400_000;
/** notBefore is back-dated this much for clock skew between peers; it is not taken from the lifetime. */
const CLOCK_SKEW_MS = 60_000;

/** A CA able to sign certificates: its certificate and private key. */
export interface DevCa {
  readonly certPem: string;
  readonly keyPem: string;
  readonly cert: x509.X509Certificate;
  readonly privateKey: CryptoKey;
}

/** A certificate issued by the dev CA. */
export interface IssuedCertificate {
  /** The leaf certificate PEM. */
  readonly certPem: string;
  /** PKCS#8 PEM of the generated key; absent when issued from a CSR. */
  readonly keyPem?: string;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Options of {@link issueCertificate}. */
export interface IssueOptions {
  /** Workload name: CN and a DNS SAN. */
  name: string;
  /** SPIFFE ID written as the URI SAN, e.g. `spiffe://demo.local/ns/default/sa/orders`. */
  spiffeId?: string;
  /** Lifetime in milliseconds, counted from now (from `notBefore` when given). Default 24 h. */
  ttlMs?: number;
  /**
   * Override notBefore (tests of not-yet-valid and expired certificates); the lifetime then
   * counts from it. Default: one minute ago, for clock skew.
   */
  notBefore?: Date;
  /** Key algorithm when no CSR is given. Default `P-256`. */
  keyType?: KeyType;
  /** PEM CSR: the certificate certifies the CSR's key (verified first). */
  csrPem?: string;
  /** Extra DNS SANs; `localhost` and `name` are always included. */
  dnsNames?: string[];
  /** Extended key usages. Default clientAuth + serverAuth. */
  usages?: Array<'clientAuth' | 'serverAuth'>;
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER (RFC 5280 §4.1.2.2)
  return bytes.toString('hex');
}

/**
 * Creates a self-signed root CA (ECDSA P-256) for development and tests.
 *
 * @param options.ttlMs lifetime counted from now, default 1 year
 */
export async function createDevCa(
  options: { commonName?: string; ttlMs?: number } = {},
): Promise<DevCa> {
  const keys = await generateKeyPair('P-256');
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${options.commonName ?? 'certbound dev CA'}, O=certbound`,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + (options.ttlMs ?? 365 * DAY)),
    signingAlgorithm: ECDSA_P256,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certPem: cert.toString('pem') + '\n',
    keyPem: await privateKeyPem(keys.privateKey),
    cert,
    privateKey: keys.privateKey,
  };
}

/**
 * Loads a CA from its certificate and PKCS#8 key PEM.
 *
 * @throws Error when the key is not an ECDSA P-256 PKCS#8 key.
 */
export async function loadDevCa(certPem: string, keyPem: string): Promise<DevCa> {
  const cert = new x509.X509Certificate(certPem);
  const der = Buffer.from(keyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, ECDSA_P256, true, ['sign']);
  return { certPem, keyPem, cert, privateKey };
}

/**
 * Issues a workload (leaf) certificate: EKU clientAuth+serverAuth, SAN URI (SPIFFE ID),
 * SAN DNS `localhost` + name, SAN IP 127.0.0.1. From a CSR when given (its signature is
 * checked), else from a fresh key.
 *
 * @throws Error when the CSR does not verify.
 */
export async function issueCertificate(
  ca: DevCa,
  options: IssueOptions,
): Promise<IssuedCertificate> {
  let publicKey: CryptoKey;
  let keyPem: string | undefined;
  if (options.csrPem !== undefined) {
    const csr = new x509.Pkcs10CertificateRequest(options.csrPem);
    if (!(await csr.verify())) throw new Error('CSR signature does not verify');
    publicKey = await csr.publicKey.export();
  } else {
    const keys = await generateKeyPair(options.keyType ?? 'P-256');
    publicKey = keys.publicKey;
    keyPem = await privateKeyPem(keys.privateKey);
  }
  const now = Date.now();
  const notBefore = options.notBefore ?? new Date(now - CLOCK_SKEW_MS);
  // `--ttl 30s` means valid for 30 s from now: the skew back-dating comes on top.
  const notAfter = new Date((options.notBefore?.getTime() ?? now) + (options.ttlMs ?? DAY));
  const usages = options.usages ?? ['clientAuth', 'serverAuth'];
  const sans: x509.JsonGeneralName[] = [
    ...(options.spiffeId !== undefined ? [{ type: 'url' as const, value: options.spiffeId }] : []),
    { type: 'dns', value: 'localhost' },
    ...[options.name, ...(options.dnsNames ?? [])]
      .filter((n) => n !== 'localhost')
      .map((value) => ({ type: 'dns' as const, value })),
    { type: 'ip', value: '127.0.0.1' },
  ];
  const serial = serialNumber();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: `CN=${options.name}, O=certbound`,
    issuer: ca.cert.subject,
    notBefore,
    notAfter,
    signingAlgorithm: ECDSA_P256,
    publicKey,
    signingKey: ca.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ...(usages.length > 0
        ? [
            new x509.ExtendedKeyUsageExtension(
              usages.map((u) =>
                u === 'clientAuth'
                  ? x509.ExtendedKeyUsage.clientAuth
                  : x509.ExtendedKeyUsage.serverAuth,
              ),
              false,
            ),
          ]
        : []),
      new x509.SubjectAlternativeNameExtension(sans, false),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return {
    certPem: cert.toString('pem') + '\n',
    ...(keyPem !== undefined ? { keyPem } : {}),
    serialNumber: serial,
    // What the certificate says (whole seconds), which is what `certs issue` prints.
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}
