import type { KeyObject } from 'node:crypto';
import type { JWTVerifyGetKey } from 'jose';
import { CertboundError } from '../errors.js';

// WebCrypto / node curve sizes in bits; FAPI 2.0 §5.4.1 wants at least 224.
const CURVE_BITS: Readonly<Record<string, number>> = {
  'P-256': 256,
  'P-384': 384,
  'P-521': 521,
  prime256v1: 256,
  secp256k1: 256,
  secp384r1: 384,
  secp521r1: 521,
};

/** Bits of an RSA modulus or EC curve of a key jose resolved, or undefined for other kinds. */
function strengthOf(key: unknown): { kind: 'rsa' | 'ec'; bits: number } | undefined {
  if (typeof CryptoKey !== 'undefined' && key instanceof CryptoKey) {
    const alg = key.algorithm as { name: string; modulusLength?: number; namedCurve?: string };
    if (alg.modulusLength !== undefined) return { kind: 'rsa', bits: alg.modulusLength };
    if (alg.namedCurve !== undefined) return { kind: 'ec', bits: CURVE_BITS[alg.namedCurve] ?? 0 };
    return undefined;
  }
  const details = (key as Partial<KeyObject> | null)?.asymmetricKeyDetails;
  if (details?.modulusLength !== undefined) return { kind: 'rsa', bits: details.modulusLength };
  if (details?.namedCurve !== undefined)
    return { kind: 'ec', bits: CURVE_BITS[details.namedCurve] ?? 0 };
  return undefined;
}

/**
 * `getKey` that refuses a resolved key weaker than FAPI 2.0 §5.4.1 allows: RSA below
 * `minRsaBits`, EC below 224 bits. Checked after key selection, before the signature.
 *
 * @throws CertboundError `ERR_TOKEN_KEY_WEAK` (from the returned function)
 */
export function requireKeyStrength(getKey: JWTVerifyGetKey, minRsaBits: number): JWTVerifyGetKey {
  return async (header, token) => {
    const key = await getKey(header, token);
    const strength = strengthOf(key);
    if (strength !== undefined && strength.bits < (strength.kind === 'rsa' ? minRsaBits : 224)) {
      throw new CertboundError(
        'ERR_TOKEN_KEY_WEAK',
        `The token is signed with a ${strength.bits}-bit ${strength.kind.toUpperCase()} key, below the profile's minimum.`,
      );
    }
    return key;
  };
}
