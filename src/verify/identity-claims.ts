import { CertboundError } from '../errors.js';
import type { Principal } from './principal.js';

/** The parts of a principal that are copied into identity headers or metadata. */
export type IdentityValues = Pick<Principal, 'clientId' | 'subject' | 'scopes' | 'spiffeId'> &
  Partial<Pick<Principal, 'forwardedBy'>>;

// RFC 9110 §5.5 field-value: visible ASCII and spaces, no leading or trailing space (a
// parser trims it, so the app would read another identity than the one verified).
const HEADER_SAFE = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/;
// RFC 6749 §3.3 scope-token: one space-separated header value must split back into the
// same scopes, so a scope may not hold a space, `"` or `\`.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const NON_ASCII = /[^\p{ASCII}]/u;

function refuse(claim: string, value: string): never {
  if (NON_ASCII.test(value))
    throw new CertboundError(
      'ERR_CLAIM_NON_ASCII',
      `The ${claim} has non-ASCII characters; it cannot be passed on as an identity header.`,
    );
  throw new CertboundError(
    'ERR_CLAIM_UNSAFE',
    `The ${claim} has control characters or surrounding spaces; it cannot be passed on as an identity header.`,
  );
}

function check(claim: string, value: string | undefined): void {
  if (value !== undefined && !HEADER_SAFE.test(value)) refuse(claim, value);
}

/**
 * Checks the values certbound copies into identity headers (HTTP) or metadata (gRPC): the
 * client id, subject, each scope and the SPIFFE ID. Pure; call it where the values are
 * written. Does not check what the values mean (policy does), only that each one arrives
 * exactly as verified: printable ASCII, no CR/LF/NUL/DEL or other control character, no
 * leading or trailing space, and scopes that are RFC 6749 §3.3 scope-tokens.
 *
 * @throws CertboundError `ERR_CLAIM_UNSAFE` (control characters, surrounding spaces, a
 *   scope that is not a scope-token) or `ERR_CLAIM_NON_ASCII`
 */
export function checkIdentityValues(values: IdentityValues): void {
  check('client id', values.clientId);
  check('subject', values.subject);
  check('SPIFFE ID', values.spiffeId);
  check('forwarding hop SPIFFE ID', values.forwardedBy?.spiffeId);
  for (const scope of values.scopes) if (!SCOPE_TOKEN.test(scope)) refuse('scope', scope);
}
