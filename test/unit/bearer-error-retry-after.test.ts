import { describe, expect, it } from 'vitest';
import { CertboundError, ERROR_CODES, ERROR_TABLE, type ErrorMapping } from '../../src/errors.js';
import { bearerErrorResponseOf } from '../../src/http/bearer-error-response.js';

describe('Retry-After on outage answers (RFC 9110 §10.2.3)', () => {
  it.each([
    ['ERR_INTROSPECTION_UNAVAILABLE', '1'],
    ['ERR_JWKS_UNAVAILABLE', '5'],
    ['ERR_OVERLOADED', '1'],
  ] as const)('%s answers 503 with Retry-After: %s', (code, seconds) => {
    const response = bearerErrorResponseOf(new CertboundError(code));
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe(seconds);
  });

  it('only codes with retryAfterSec carry it, never a token refusal', () => {
    for (const code of ERROR_CODES) {
      const mapping: ErrorMapping = ERROR_TABLE[code];
      const header = bearerErrorResponseOf(new CertboundError(code)).headers['retry-after'];
      expect(header, code).toBe(
        mapping.retryAfterSec === undefined ? undefined : String(mapping.retryAfterSec),
      );
      // A retry cannot fix a refused token (401/403): no back-off hint there.
      if (mapping.retryAfterSec !== undefined) expect(mapping.http, code).toBe(503);
    }
    expect(
      bearerErrorResponseOf(new CertboundError('ERR_TOKEN_EXPIRED')).headers,
    ).not.toHaveProperty('retry-after');
  });
});
