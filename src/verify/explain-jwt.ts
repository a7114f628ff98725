import { decodeJwt, type JWTVerifyOptions } from 'jose';
import type { CertboundError, ErrorCode } from '../errors.js';
import { mapJoseError } from './map-jose-error.js';
import type { TokenCheck } from './token-validator.js';

/** The JWT validator's own check functions, as {@link explainJwt} runs them. */
export interface JwtCheckSteps {
  readonly issuers: readonly string[];
  readonly audiences: readonly string[];
  readonly maxTokenBytes: number;
  screenShape(token: string): void;
  screenHeader(token: string): { alg: string; typ: string; kid?: unknown };
  screenClaims(token: string): Readonly<Record<string, unknown>>;
  /** jose's JWS signature check alone, with the validator's keys and algorithms. */
  signature(token: string): Promise<unknown>;
  /** jose's `jwtVerify` with the validator's keys and `options`. */
  claims(token: string, options: JWTVerifyOptions): Promise<unknown>;
  /** The options every `validate` passes to jose. */
  joseOptions(): JWTVerifyOptions;
}

type ClaimCheck = 'iss' | 'aud' | 'exp/nbf/iat';

// Which claim a jose claim failure is about, and how to switch that check off to see the next.
const CLAIM_OF: Partial<Record<ErrorCode, ClaimCheck>> = {
  ERR_TOKEN_ISSUER: 'iss',
  ERR_TOKEN_AUDIENCE: 'aud',
  ERR_TOKEN_EXPIRED: 'exp/nbf/iat',
  ERR_TOKEN_NOT_YET_VALID: 'exp/nbf/iat',
  ERR_TOKEN_CLAIMS: 'exp/nbf/iat',
};
// Larger than any NumericDate up to 9999 (jose wants a finite tolerance).
const ANY_TIME_SEC = 1e12;

function relax(options: JWTVerifyOptions, claim: ClaimCheck): JWTVerifyOptions {
  if (claim === 'iss') return { ...options, issuer: undefined };
  if (claim === 'aud') return { ...options, audience: undefined };
  return { ...options, clockTolerance: ANY_TIME_SEC, requiredClaims: [] };
}

const asError = (err: unknown): CertboundError => mapJoseError(err);
const quoted = (v: unknown): string => JSON.stringify(v)?.slice(0, 200) ?? 'undefined';

function timeOf(claims: Readonly<Record<string, unknown>>, name: string): string {
  const v = claims[name];
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < 1e11
    ? `${name} ${new Date(v * 1000).toISOString()}`
    : `${name} ${v === undefined ? '(absent)' : quoted(v)}`;
}

/**
 * Runs a JWT validator's checks one by one, in `validate`'s order, and reports each: size
 * and shape, `alg`/`typ`, time-claim ranges and lifetime, the signature (jose, the
 * validator's keys), then jose's `iss`, `aud` and `exp`/`nbf`/`iat` checks with the options
 * `validate` uses. jose stops at the first failing claim, so a failed claim check is
 * switched off and jose run again, to report the others too. The claims of a token whose
 * signature does not verify are not evaluated (they are not the issuer's). Never reports
 * the token or its signature.
 */
export async function explainJwt(token: string, steps: JwtCheckSteps): Promise<TokenCheck[]> {
  const out: TokenCheck[] = [];
  const run = <T>(check: string, fn: () => T, detail: (value: T) => string): T | undefined => {
    try {
      const value = fn();
      out.push({ check, result: 'pass', detail: detail(value) });
      return value;
    } catch (err) {
      const e = asError(err);
      out.push({ check, result: 'fail', code: e.code, detail: e.message });
      return undefined;
    }
  };
  run(
    'decode',
    () => steps.screenShape(token),
    () => `JWS compact, ${Buffer.byteLength(token, 'utf8')} bytes (limit ${steps.maxTokenBytes})`,
  );
  if (out.at(-1)?.result === 'fail') return out;
  const header = run(
    'alg/typ',
    () => steps.screenHeader(token),
    (h) => `alg ${h.alg}, typ ${h.typ}, kid ${quoted(h.kid)}`,
  );
  let unverified: Readonly<Record<string, unknown>> = {};
  try {
    unverified = decodeJwt(token);
  } catch {
    // screenClaims reports it.
  }
  run(
    'time claims',
    () => steps.screenClaims(token),
    (c) =>
      `${timeOf(c, 'iat')}, ${timeOf(c, 'exp')}: NumericDates in range, iat not in the future, lifetime within the limit`,
  );
  if (header === undefined) {
    out.push({
      check: 'signature',
      result: 'skipped',
      detail: 'not checked: the header is refused before any key is used',
    });
    return out;
  }
  try {
    await steps.signature(token);
    out.push({
      check: 'signature',
      result: 'pass',
      detail: `verified with the JWKS key kid ${quoted(header.kid)}`,
    });
  } catch (err) {
    const e = asError(err);
    out.push({ check: 'signature', result: 'fail', code: e.code, detail: e.message });
    for (const check of ['iss', 'aud', 'exp/nbf/iat'])
      out.push({
        check,
        result: 'skipped',
        detail: 'not checked: the claims of a token whose signature fails are not trusted',
      });
    return out;
  }
  const failed = new Map<ClaimCheck, CertboundError>();
  let other: CertboundError | undefined;
  let options = steps.joseOptions();
  for (let i = 0; i < 4; i++) {
    try {
      await steps.claims(token, options);
      break;
    } catch (err) {
      const e = asError(err);
      const claim = CLAIM_OF[e.code];
      if (claim === undefined || failed.has(claim)) {
        other = e;
        break;
      }
      failed.set(claim, e);
      options = relax(options, claim);
    }
  }
  const details: Record<ClaimCheck, string> = {
    iss: `${quoted(unverified['iss'])}; configured: ${steps.issuers.join(', ')}`,
    aud: `${quoted(unverified['aud'])}; accepted: ${steps.audiences.join(', ')}`,
    'exp/nbf/iat': `${timeOf(unverified, 'exp')}, ${timeOf(unverified, 'nbf')}, ${timeOf(unverified, 'iat')}; now ${(steps.joseOptions().currentDate ?? new Date()).toISOString()}`,
  };
  for (const check of ['iss', 'aud', 'exp/nbf/iat'] as const) {
    const e = failed.get(check);
    out.push(
      e === undefined
        ? { check, result: other === undefined ? 'pass' : 'skipped', detail: details[check] }
        : { check, result: 'fail', code: e.code, detail: `${e.message} (${details[check]})` },
    );
  }
  if (other !== undefined)
    out.push({ check: 'claims', result: 'fail', code: other.code, detail: other.message });
  return out;
}
