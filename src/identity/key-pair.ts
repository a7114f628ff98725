import { webcrypto } from 'node:crypto';
import { toPem } from './pem.js';

const subtle = webcrypto.subtle;

/** Key algorithms of workload (and dev CA) keys. */
export type KeyType = 'P-256' | 'Ed25519';

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const ED25519 = { name: 'Ed25519' } as const;

/** The WebCrypto algorithm (key generation and signing) of a {@link KeyType}. */
export function algorithmOf(keyType: KeyType): EcKeyGenParams | Algorithm {
  return keyType === 'Ed25519' ? ED25519 : ECDSA_P256;
}

/** A fresh, extractable signing key pair. */
export async function generateKeyPair(keyType: KeyType): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(algorithmOf(keyType), true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
}

/** PKCS#8 PEM of a private key. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  return toPem(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}
