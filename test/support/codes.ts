import { CertboundError } from '../../src/errors.js';

/**
 * Settles `p` and names the outcome: `ACCEPTED`, the CertboundError code, or a
 * `not a CertboundError: …` string (so a wrong error type fails the assertion visibly).
 */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ACCEPTED';
  } catch (err) {
    return err instanceof CertboundError ? err.code : `not a CertboundError: ${String(err)}`;
  }
}
