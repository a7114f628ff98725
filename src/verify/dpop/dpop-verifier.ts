import { hash } from 'node:crypto';
import { errors, jwtVerify, type JWK } from 'jose';
import { jwsClaimsOf, jwsHeaderOf } from '../compact-jws.js';
import { nodeVerifies, verificationKeyOf, verifyJwsSignature } from '../jws-signature.js';
import { constantTimeEqual } from '../../binding/constant-time-equal.js';
import { CertboundError, type ErrorCode } from '../../errors.js';
import { DPOP_DETAILS } from './dpop-challenge.js';
import { createDpopNonces } from './dpop-nonce.js';
import {
  DPOP_DEFAULT_ALGORITHMS,
  DPOP_DEFAULTS,
  DPOP_FORBIDDEN_ALGORITHM,
  type DpopVerifierOptions,
} from './dpop-options.js';
import { normaliseHtu, publicOriginOf } from './htu.js';
import type { DpopProofInput, DpopVerifier, VerifiedDpopProof } from '../proof-inputs.js';
import { createMemoryReplayStore } from './memory-replay-store.js';
import { ProofKeyCache } from './proof-key-cache.js';

/** The DPoP verifier of one listener: every member of the pipeline's interface is there. */
export type CertboundDpopVerifier = Required<DpopVerifier>;

// RFC 7515 §7.1 compact serialisation, signature required (no unsecured JWS).
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
// RFC 7517/7518: members that make a JWK private or symmetric (RFC 9449 §4.3 point 7).
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;
const ASYMMETRIC_KTY = new Set(['EC', 'RSA', 'OKP']);
const MAX_JTI_CHARS = 256;

function sha256url(text: string): string {
  return hash('sha256', text, 'base64url');
}

function claimString(claims: Record<string, unknown>, name: string): string {
  const value = claims[name];
  if (typeof value !== 'string' || value.length === 0)
    throw new CertboundError(
      name === 'ath' ? 'ERR_DPOP_ATH' : 'ERR_DPOP_PROOF_MALFORMED',
      `The DPoP proof has no string ${name} claim.`,
    );
  return value;
}

/** node:crypto's check of the proof signature, its refusals in the DPoP codes. */
function verifyProofSignature(proof: string, alg: string, key: unknown): void {
  let object;
  try {
    object = verificationKeyOf(key, alg);
  } catch {
    throw new CertboundError('ERR_DPOP_JWK');
  }
  try {
    verifyJwsSignature(proof, alg, object);
  } catch {
    throw new CertboundError('ERR_DPOP_SIGNATURE');
  }
}

function mapVerifyError(err: unknown): CertboundError {
  if (err instanceof CertboundError) return err;
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new CertboundError('ERR_DPOP_SIGNATURE');
  if (err instanceof errors.JWTExpired)
    return new CertboundError('ERR_DPOP_IAT', 'The DPoP proof has expired (exp).');
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
    return new CertboundError('ERR_DPOP_ALG');
  // EmbeddedJWK and key import: not a usable public key for alg (RSA < 2048 bits, a curve
  // other than alg's: WebCrypto's DataError).
  if (
    err instanceof errors.JWSInvalid ||
    err instanceof TypeError ||
    (err instanceof Error && err.name === 'DataError')
  )
    return new CertboundError('ERR_DPOP_JWK');
  return new CertboundError('ERR_DPOP_PROOF_MALFORMED', undefined, { cause: err });
}

/**
 * The RFC 9449 §4.3 proof check, every point: exactly one proof of bounded size; a compact
 * JWS with `typ: dpop+jwt`; an allowed asymmetric `alg` (never `none` or HS*); a public
 * asymmetric `jwk` header that verifies the signature (jose `EmbeddedJWK`); `htm` = the
 * method; `htu` = `publicOrigin` + path after RFC 3986 normalisation; `iat` within the
 * window; a `jti`; `ath` = base64url(SHA-256(token)); the server nonce when nonces are on.
 * Replay (jkt, jti) is recorded by {@link VerifiedDpopProof.commit}. Does not check the
 * token's `cnf.jkt` (`checkJktBinding`) or that the token is valid.
 *
 * @throws TypeError on unsafe options (a forbidden or unknown algorithm, a bad origin)
 */
export function createDpopVerifier(options: DpopVerifierOptions): CertboundDpopVerifier {
  const origin = publicOriginOf(options.publicOrigin);
  const algorithms = [...(options.algorithms ?? DPOP_DEFAULT_ALGORITHMS)];
  if (algorithms.length === 0) throw new TypeError('DPoP algorithms must not be empty');
  for (const alg of algorithms) {
    if (DPOP_FORBIDDEN_ALGORITHM.test(alg))
      throw new TypeError(
        `DPoP proofs cannot use ${alg}: RFC 9449 §4.3 requires an asymmetric alg`,
      );
    if (!(DPOP_DEFAULT_ALGORITHMS as readonly string[]).includes(alg))
      throw new TypeError(
        `unknown DPoP algorithm ${alg} (one of ${DPOP_DEFAULT_ALGORITHMS.join(', ')})`,
      );
  }
  const windowMs = options.iatWindowMs ?? DPOP_DEFAULTS.iatWindowMs;
  if (!Number.isInteger(windowMs) || windowMs < 1000)
    throw new TypeError('iatWindowMs must be at least 1000');
  const maxProofBytes = options.maxProofBytes ?? DPOP_DEFAULTS.maxProofBytes;
  const now = options.now ?? Date.now;
  const nonces = options.nonce !== undefined ? createDpopNonces(options.nonce, now) : undefined;
  const store = options.replayStore ?? createMemoryReplayStore({ now });
  const algs = algorithms.join(' ');
  const keys = new ProofKeyCache();

  const refuse = (code: ErrorCode, message?: string): CertboundError => {
    options.onResult?.(code);
    return new CertboundError(code, message, {
      details: {
        [DPOP_DETAILS.algs]: algs,
        [DPOP_DETAILS.scheme]: 'DPoP',
        ...(nonces !== undefined ? { [DPOP_DETAILS.nonce]: nonces.current() } : {}),
      },
    });
  };

  // The htu a proof must name for a request path: a client calls the same paths again and
  // again, so the last one is kept (URL parsing per proof was ≈ 1 % of a check).
  let lastPath: string | undefined;
  let lastHtu: string | undefined;
  const expectedHtu = (path: string): string | undefined => {
    if (path !== lastPath) {
      lastHtu = normaliseHtu(origin + path);
      lastPath = path;
    }
    return lastHtu;
  };

  async function check(input: DpopProofInput): Promise<VerifiedDpopProof> {
    // RFC 9449 §4.3 point 1: exactly one DPoP header, one proof (a comma means a list).
    if (input.proofs.length === 0) throw refuse('ERR_DPOP_PROOF_MISSING');
    if (input.proofs.length > 1 || (input.proofs[0] as string).includes(','))
      throw refuse('ERR_DPOP_PROOF_MULTIPLE');
    const proof = (input.proofs[0] as string).trim();
    if (proof.length > maxProofBytes) throw refuse('ERR_DPOP_PROOF_TOO_LARGE');
    // Point 2: a well-formed JWT.
    if (!JWS_COMPACT.test(proof)) throw refuse('ERR_DPOP_PROOF_MALFORMED');
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = jwsHeaderOf(proof);
      claims = jwsClaimsOf(proof);
    } catch {
      throw refuse('ERR_DPOP_PROOF_MALFORMED');
    }
    // Point 4: typ (media type names are case-insensitive, RFC 2045 §5.1).
    if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'dpop+jwt')
      throw refuse('ERR_DPOP_PROOF_MALFORMED', 'The DPoP proof typ must be dpop+jwt.');
    // Point 5: asymmetric, allowed; screened before jose so none/HS* never reach a key.
    if (typeof header.alg !== 'string' || !algorithms.includes(header.alg))
      throw refuse('ERR_DPOP_ALG');
    // Point 7: the jwk header is a public asymmetric key.
    const jwk = header.jwk as Record<string, unknown> | undefined;
    if (jwk === undefined || typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
      throw refuse('ERR_DPOP_JWK', 'The DPoP proof has no jwk header.');
    if (typeof jwk['kty'] !== 'string' || !ASYMMETRIC_KTY.has(jwk['kty']))
      throw refuse('ERR_DPOP_JWK', 'The DPoP proof jwk is not an EC, RSA or OKP public key.');
    if (PRIVATE_MEMBERS.some((m) => m in jwk))
      throw refuse('ERR_DPOP_JWK', 'The DPoP proof jwk carries private key members.');
    // Point 8: htm.
    if (claimString(claims, 'htm') !== input.method) throw refuse('ERR_DPOP_HTM');
    // Point 9: htu, ignoring query and fragment, after RFC 3986 §6.2.2 normalisation.
    const htu = normaliseHtu(claimString(claims, 'htu'));
    const expected = expectedHtu(input.path);
    if (htu === undefined || expected === undefined || htu !== expected)
      throw refuse('ERR_DPOP_HTU');
    // Point 11: iat within the window (both sides: clock skew, RFC 9449 §11.1).
    const iat = claims['iat'];
    if (typeof iat !== 'number' || !Number.isFinite(iat))
      throw refuse('ERR_DPOP_PROOF_MALFORMED', 'The DPoP proof has no numeric iat claim.');
    const at = now();
    if (Math.abs(iat * 1000 - at) > windowMs) throw refuse('ERR_DPOP_IAT');
    const jti = claimString(claims, 'jti');
    if (jti.length > MAX_JTI_CHARS)
      throw refuse('ERR_DPOP_PROOF_MALFORMED', 'The DPoP proof jti is too long.');
    // Point 12 / §7.1: ath binds the proof to this access token.
    const ath = claimString(claims, 'ath');
    if (!constantTimeEqual(ath, sha256url(input.accessToken))) throw refuse('ERR_DPOP_ATH');
    // Point 10 / §8: the server nonce.
    if (nonces !== undefined) {
      const nonce = claims['nonce'];
      if (nonce === undefined) throw refuse('ERR_DPOP_NONCE_REQUIRED');
      const verdict = typeof nonce === 'string' ? nonces.check(nonce) : 'forged';
      if (verdict !== 'ok')
        throw refuse(
          'ERR_DPOP_NONCE_INVALID',
          verdict === 'stale'
            ? 'The DPoP proof nonce has expired; retry with the DPoP-Nonce sent.'
            : 'The DPoP proof nonce was not issued by this service.',
        );
    }
    // Point 6: the signature, with the embedded key (last: the expensive step). The key
    // is imported by jose's EmbeddedJWK once per client key (ProofKeyCache).
    let jkt: string;
    try {
      const proofKey = await keys.keyOf(header as typeof header & { jwk: JWK });
      jkt = proofKey.jkt;
      const alg = header.alg;
      if (nodeVerifies(alg)) {
        // One OpenSSL call on this thread (as for access tokens), not a WebCrypto job; the
        // typ and alg were screened above, and a proof exp is honoured as jose would.
        verifyProofSignature(proof, alg, proofKey.key);
        const exp = claims['exp'];
        if (typeof exp === 'number' && exp * 1000 <= at)
          throw new CertboundError('ERR_DPOP_IAT', 'The DPoP proof has expired (exp).');
      } else await jwtVerify(proof, proofKey.key, { algorithms, typ: 'dpop+jwt' });
    } catch (err) {
      const mapped = mapVerifyError(err);
      throw refuse(mapped.code, mapped.message);
    }
    // The proof is acceptable until iat + window: remember it that long (§11.1).
    const ttlMs = Math.max(1000, Math.ceil(iat * 1000 + windowMs - at) + 1000);
    const key = `${jkt}:${sha256url(jti)}`;
    let committed = false;
    return {
      jkt,
      async commit() {
        if (committed) throw new TypeError('commit() was already called for this proof');
        committed = true;
        let fresh: boolean;
        try {
          fresh = await store.remember(key, ttlMs);
        } catch (err) {
          const error =
            err instanceof CertboundError
              ? err
              : new CertboundError('ERR_DPOP_REPLAY_STORE_UNAVAILABLE', undefined, { cause: err });
          throw refuse(error.code, error.message);
        }
        if (!fresh) throw refuse('ERR_DPOP_REPLAY');
        options.onResult?.('ok');
      },
    };
  }

  return {
    algorithms,
    verify: check,
    nonceForResponse: () => nonces?.current(),
    readinessProblem: () => store.readinessProblem?.(),
    close: async () => {
      await store.close?.();
    },
  };
}
