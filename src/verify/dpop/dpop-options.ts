import type { ReplayStore } from './replay-store.js';

/**
 * Asymmetric JWS algorithms accepted for DPoP proofs by default (RFC 9449 §4.3 point 6:
 * never `none`, never a MAC). ES256 first: the one every browser and oauth4webapi supports.
 */
export const DPOP_DEFAULT_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'EdDSA',
  'Ed25519',
] as const;

/** Algorithms that can never sign a DPoP proof, whatever the configuration says. */
export const DPOP_FORBIDDEN_ALGORITHM = /^(none|HS\d+)$/i;

/** Defaults of {@link DpopVerifierOptions} (the config schema reads these: one place). */
export const DPOP_DEFAULTS = {
  /** ±60 s around `iat` (RFC 9449 §11.1 leaves the window to the server). */
  iatWindowMs: 60_000,
  /** A proof with an RSA-4096 jwk is ≈ 1.5 KB; 8 KiB leaves room for long URIs. */
  maxProofBytes: 8192,
  /** One nonce time step; a nonce is accepted in its step and the next. */
  nonceStepMs: 300_000,
  /** Entries of the in-memory replay store. */
  memoryMaxEntries: 100_000,
} as const;

/** Server-provided nonces (RFC 9449 §8), stateless: HMAC of a time step. */
export interface DpopNonceOptions {
  /**
   * HMAC key (≥ 32 bytes). Replicas that share it accept each other's nonces. Generated
   * at start when absent (then each replica only accepts its own).
   */
  readonly key?: Uint8Array | undefined;
  /** Length of one time step, ms. Default {@link DPOP_DEFAULTS.nonceStepMs}. */
  readonly stepMs?: number | undefined;
}

/** Options of `createDpopVerifier`. */
export interface DpopVerifierOptions {
  /**
   * The public `https://host[:port]` origin of the listener: `htu` must equal it + the
   * request path (RFC 9449 §4.3 point 9). Never the request's Host header.
   */
  readonly publicOrigin: string;
  /** Allowed proof algorithms. Default {@link DPOP_DEFAULT_ALGORITHMS}; `none`/HS* refused. */
  readonly algorithms?: readonly string[] | undefined;
  /** Accepted distance of `iat` from now, either side, ms. Default 60 000. */
  readonly iatWindowMs?: number | undefined;
  /** Largest accepted proof, bytes. Default 8192. */
  readonly maxProofBytes?: number | undefined;
  /** Require server nonces (RFC 9449 §8). Off when undefined. */
  readonly nonce?: DpopNonceOptions | undefined;
  /** Where (jkt, jti) pairs are remembered. Default: in memory, bounded. */
  readonly replayStore?: ReplayStore | undefined;
  /** Clock, ms since the epoch. */
  readonly now?: (() => number) | undefined;
  /** Called once per verified or refused proof: `ok` or the error code (metrics). */
  readonly onResult?: ((result: string) => void) | undefined;
}
