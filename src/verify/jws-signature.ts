import { constants, KeyObject, verify } from 'node:crypto';
import { MIN_RSA_BITS } from '../binding/check-client-leaf.js';
import { CertboundError } from '../errors.js';

/** How node:crypto verifies one JWS `alg` (RFC 7518 §3), and which keys may do it. */
interface NodeAlgorithm {
  /** Digest for `crypto.verify` (null: EdDSA hashes internally). */
  readonly digest: string | null;
  readonly keyTypes: readonly string[];
  /** Named curve an EC key must be on (RFC 7518 §3.4: ES256 is P-256 only). */
  readonly curve?: string;
  readonly padding?: number;
  readonly dsaEncoding?: 'ieee-p1363';
}

const RSA = ['rsa'];
const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING } as const;
const ALGORITHMS: Readonly<Record<string, NodeAlgorithm>> = {
  RS256: { digest: 'sha256', keyTypes: RSA },
  RS384: { digest: 'sha384', keyTypes: RSA },
  RS512: { digest: 'sha512', keyTypes: RSA },
  PS256: { digest: 'sha256', keyTypes: ['rsa', 'rsa-pss'], ...PSS },
  PS384: { digest: 'sha384', keyTypes: ['rsa', 'rsa-pss'], ...PSS },
  PS512: { digest: 'sha512', keyTypes: ['rsa', 'rsa-pss'], ...PSS },
  ES256: { digest: 'sha256', keyTypes: ['ec'], curve: 'prime256v1', dsaEncoding: 'ieee-p1363' },
  ES384: { digest: 'sha384', keyTypes: ['ec'], curve: 'secp384r1', dsaEncoding: 'ieee-p1363' },
  ES512: { digest: 'sha512', keyTypes: ['ec'], curve: 'secp521r1', dsaEncoding: 'ieee-p1363' },
  EdDSA: { digest: null, keyTypes: ['ed25519', 'ed448'] },
  Ed25519: { digest: null, keyTypes: ['ed25519'] },
};

// One KeyObject per imported key (jose hands out the same CryptoKey for a JWKS entry until
// the set is refetched), so key import is paid once per key, not per token.
const keyObjects = new WeakMap<object, KeyObject>();

/** True when node:crypto can verify `alg` here (else the caller falls back to jose). */
export function nodeVerifies(alg: string): boolean {
  return Object.hasOwn(ALGORITHMS, alg);
}

/**
 * The node:crypto `KeyObject` of a key jose selected from a JWKS (a WebCrypto `CryptoKey`
 * or a `KeyObject`), after checking it may verify `alg`: its type, an EC key's curve
 * (RFC 7518 §3.4) and an RSA key's size (RFC 7518 §3.3, §3.5: at least 2048 bits), as
 * jose does.
 *
 * @throws CertboundError `ERR_TOKEN_ALG` when the key does not fit the algorithm
 */
export function verificationKeyOf(key: unknown, alg: string): KeyObject {
  const spec = ALGORITHMS[alg];
  if (spec === undefined) throw new CertboundError('ERR_TOKEN_ALG');
  let object: KeyObject | undefined;
  if (key instanceof KeyObject) object = key;
  else if (typeof key === 'object' && key !== null) {
    object = keyObjects.get(key);
    if (object === undefined) {
      try {
        object = KeyObject.from(key as CryptoKey);
      } catch {
        throw new CertboundError('ERR_TOKEN_ALG', 'The JWKS key cannot be used for this token.');
      }
      keyObjects.set(key, object);
    }
  }
  if (object?.type !== 'public' || !spec.keyTypes.includes(object.asymmetricKeyType ?? '')) {
    throw new CertboundError('ERR_TOKEN_ALG', `The JWKS key does not fit algorithm ${alg}.`);
  }
  const details = object.asymmetricKeyDetails;
  if (spec.curve !== undefined && details?.namedCurve !== spec.curve)
    throw new CertboundError('ERR_TOKEN_ALG', `The JWKS key is not on the curve ${alg} requires.`);
  if (spec.keyTypes === RSA || spec.padding !== undefined) {
    if ((details?.modulusLength ?? 0) < MIN_RSA_BITS)
      throw new CertboundError(
        'ERR_TOKEN_ALG',
        `The JWKS RSA key is shorter than ${MIN_RSA_BITS} bits.`,
      );
  }
  return object;
}

/**
 * Verifies the signature of a compact JWS (RFC 7515 §5.2) with node:crypto on the calling
 * thread: one OpenSSL call, no WebCrypto job on the libuv pool and no promise hops.
 * `token` must already have the compact shape (three base64url parts).
 *
 * @throws CertboundError `ERR_TOKEN_SIGNATURE` when the signature does not verify
 */
export function verifyJwsSignature(token: string, alg: string, key: KeyObject): void {
  const spec = ALGORITHMS[alg];
  if (spec === undefined) throw new CertboundError('ERR_TOKEN_ALG');
  const dot = token.lastIndexOf('.');
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  const input = Buffer.from(token.slice(0, dot), 'latin1');
  let ok: boolean;
  try {
    ok = verify(
      spec.digest,
      input,
      {
        key,
        ...(spec.padding !== undefined
          ? { padding: spec.padding, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
          : {}),
        ...(spec.dsaEncoding !== undefined ? { dsaEncoding: spec.dsaEncoding } : {}),
      },
      signature,
    );
  } catch {
    ok = false;
  }
  if (!ok) throw new CertboundError('ERR_TOKEN_SIGNATURE');
}
