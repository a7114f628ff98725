import { timingSafeEqual } from 'node:crypto';

/**
 * Compares two strings in time that depends only on the length of `expected`.
 * Strings of a different length are unequal (a thumbprint's length is public: 43 chars).
 */
export function constantTimeEqual(actual: string, expected: string): boolean {
  const a = Buffer.from(actual, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  if (a.length !== b.length) {
    // Burn the same work as a real comparison so length mismatches do not return early.
    timingSafeEqual(b, b);
    return false;
  }
  return timingSafeEqual(a, b);
}
