import { algorithmOf, generateKeyPair, privateKeyPem, type KeyType } from './key-pair.js';
import { x509 } from './x509-provider.js';

/** A PKCS#10 certificate request and the private key it was made with (PKCS#8 PEM). */
export interface CsrAndKey {
  readonly csrPem: string;
  readonly keyPem: string;
}

/** Makes a fresh key and a PKCS#10 CSR for it, subject `CN=<name>`. */
export async function createCsr(name: string, keyType: KeyType = 'P-256'): Promise<CsrAndKey> {
  const keys = await generateKeyPair(keyType);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${name}`,
    keys,
    signingAlgorithm: algorithmOf(keyType),
  });
  return { csrPem: csr.toString('pem') + '\n', keyPem: await privateKeyPem(keys.privateKey) };
}
