import { CertboundError } from '../../errors.js';

// Transport failures that mean the app is not there (or went away), not that it is slow.
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * The certbound error for a failed request to the app (undici or node:net error):
 * `ERR_APP_TIMEOUT` for a header/body timeout, else `ERR_APP_UNREACHABLE` (naming the
 * transport code when it is a known one). Never carries the original message.
 */
export function appErrorOf(err: unknown): CertboundError {
  const code = (err as { code?: unknown }).code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return new CertboundError('ERR_APP_TIMEOUT', 'The application did not answer in time.');
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code))
    return new CertboundError(
      'ERR_APP_UNREACHABLE',
      `The application could not be reached (${code}).`,
    );
  return new CertboundError('ERR_APP_UNREACHABLE', 'The application request failed.');
}
