// RFC 7515 §7.1: BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature); a decoded
// part must be in the base64url alphabet only (Buffer's decoder would skip other characters
// silently). Only the part decoded is scanned: the signature is the verifier's to check.
const PART = /^[A-Za-z0-9_-]+$/;

/** Part `index` (0 header, 1 payload) of a token with exactly three parts. */
function partOf(token: string, index: 0 | 1): string {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (second < 0 || token.includes('.', second + 1)) throw new TypeError('not a compact JWS');
  const part = index === 0 ? token.slice(0, first) : token.slice(first + 1, second);
  if (!PART.test(part)) throw new TypeError('a JWS part is not base64url');
  return part;
}

function jsonObjectOf(part: string): Record<string, unknown> {
  const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError('a JWS part is not a JSON object');
  return value as Record<string, unknown>;
}

/**
 * The protected header of a compact JWS, decoded but not verified (RFC 7515 §7.1). Decoded
 * with node's base64url decoder: half the cost of jose's `decodeProtectedHeader`, the same
 * checks (three parts, base64url, a JSON object).
 *
 * @throws TypeError / SyntaxError when `token` is not a compact JWS with a JSON object header
 */
export function jwsHeaderOf(token: string): Record<string, unknown> {
  return jsonObjectOf(partOf(token, 0));
}

/**
 * The payload of a compact JWS as JWT claims (RFC 7519 §7.2), decoded but not verified.
 *
 * @throws TypeError / SyntaxError when `token` is not a compact JWS with a JSON object payload
 */
export function jwsClaimsOf(token: string): Record<string, unknown> {
  return jsonObjectOf(partOf(token, 1));
}
