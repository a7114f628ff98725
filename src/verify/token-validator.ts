import type { ErrorCode } from '../errors.js';
import type { ReadinessStatus } from '../readiness-check.js';

/** Claims of an access token that a {@link TokenValidator} accepted. */
export interface ValidatedToken {
  /** The verified claims (JWT payload, or the introspection response). */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Which validator accepted it: `jwt` or `introspection`. */
  readonly validator: string;
  /** When the token expires, ms since the epoch (`exp`). */
  readonly expiresAtMs: number;
  /**
   * When this answer must be fetched again (an introspection cache deadline, so a revoked
   * token stops working within it); unset: valid until `expiresAtMs`.
   */
  readonly revalidateAtMs?: number;
}

/**
 * The token step of the inbound pipeline: checks that an access token is genuine and
 * current (signature against the issuer's keys, or introspection), its issuer, audience,
 * type and time claims. It does NOT check the proof of possession (the `cnf` binding) nor
 * any policy: those are later steps of `authorizeRequest`. Implementations may cache, but
 * must re-check expiry on every call.
 */
export interface TokenValidator {
  /** Short name used in logs and metrics (`jwt`, `introspection`). */
  readonly kind: string;
  /**
   * @throws CertboundError with a stable code; never resolves for an invalid token
   */
  validate(token: string): Promise<ValidatedToken>;
  /**
   * Runs the checks of {@link validate} one by one and says how each went (`certbound
   * verify`): the same functions, in the same order. Not on the hot path; absent where the
   * checks cannot run offline (introspection).
   */
  explain?(token: string): Promise<readonly TokenCheck[]>;
  /** Whether it can validate tokens now (keys fetched, AS reachable). */
  ready(): ReadinessStatus;
  /** Releases sockets and timers. */
  close(): Promise<void>;
}

/** How one check of a token went (see {@link TokenValidator.explain}). Never holds the token. */
export interface TokenCheck {
  /** What was checked, e.g. `signature`, `aud`. */
  readonly check: string;
  /** Passed, failed, or not run because an earlier check it needs failed. */
  readonly result: 'pass' | 'fail' | 'skipped';
  /** The stable code of a failure. */
  readonly code?: ErrorCode;
  /** What was compared (claim values, key id), or why it failed. */
  readonly detail: string;
}
