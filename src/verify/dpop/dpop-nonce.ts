import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DPOP_DEFAULTS, type DpopNonceOptions } from './dpop-options.js';

/** Stateless server nonces (RFC 9449 §8, §9). */
export interface DpopNonces {
  /** The nonce of the current time step (for `DPoP-Nonce`). */
  current(): string;
  /** `ok`, or why `nonce` is refused: issued for an older step, or not by this key. */
  check(nonce: string): 'ok' | 'stale' | 'forged';
}

const STEP_BYTES = 8;
const MAC_BYTES = 16;
// base64url of 8 + 16 bytes: 32 characters, NQCHAR-safe (RFC 9449 §8.1).
const NONCE_SHAPE = /^[A-Za-z0-9_-]{32}$/;
const LABEL = Buffer.from('certbound dpop nonce v1\0');

/**
 * Nonces that are an HMAC of the time step (`floor(now / stepMs)`): no state, so replicas
 * that share `key` accept each other's. A nonce is accepted during its step and the next
 * one, so the nonce sent with a response stays good for at least one whole step.
 *
 * @throws TypeError when `key` is shorter than 32 bytes or `stepMs` below 1 s
 */
export function createDpopNonces(options: DpopNonceOptions, now: () => number): DpopNonces {
  const key = options.key ?? randomBytes(32);
  if (key.byteLength < 32) throw new TypeError('the DPoP nonce key must be at least 32 bytes');
  const stepMs = options.stepMs ?? DPOP_DEFAULTS.nonceStepMs;
  if (!Number.isInteger(stepMs) || stepMs < 1000)
    throw new TypeError('the DPoP nonce step must be at least 1000 ms');
  const macOf = (step: number): Buffer => {
    const payload = Buffer.alloc(STEP_BYTES);
    payload.writeBigUInt64BE(BigInt(step));
    return createHmac('sha256', key).update(LABEL).update(payload).digest().subarray(0, MAC_BYTES);
  };
  // One HMAC per step, not per request.
  let cached: { step: number; nonce: string; mac: Buffer } | undefined;
  let previous: { step: number; mac: Buffer } | undefined;
  const entryOf = (step: number): { step: number; nonce: string; mac: Buffer } => {
    if (cached?.step === step) return cached;
    if (cached !== undefined) previous = { step: cached.step, mac: cached.mac };
    const mac = macOf(step);
    const payload = Buffer.alloc(STEP_BYTES);
    payload.writeBigUInt64BE(BigInt(step));
    cached = { step, nonce: Buffer.concat([payload, mac]).toString('base64url'), mac };
    return cached;
  };
  const stepNow = (): number => Math.floor(now() / stepMs);
  return {
    current: () => entryOf(stepNow()).nonce,
    check(nonce) {
      if (!NONCE_SHAPE.test(nonce)) return 'forged';
      const bytes = Buffer.from(nonce, 'base64url');
      if (bytes.length !== STEP_BYTES + MAC_BYTES) return 'forged';
      const step = Number(bytes.readBigUInt64BE(0));
      const current = stepNow();
      const expected =
        step === current
          ? entryOf(current).mac
          : previous?.step === step
            ? previous.mac
            : macOf(step);
      if (!timingSafeEqual(bytes.subarray(STEP_BYTES), expected)) return 'forged';
      return step === current || step === current - 1 ? 'ok' : 'stale';
    },
  };
}
