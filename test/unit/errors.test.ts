import { describe, expect, it } from 'vitest';
import {
  CertboundError,
  ERROR_CODES,
  ERROR_TABLE,
  GrpcCode,
  isCertboundError,
} from '../../src/errors.js';

describe('error table', () => {
  it('maps every code to an HTTP status, an RFC 6750 error and a gRPC status', () => {
    const grpcCodes = new Set<number>(Object.values(GrpcCode));
    for (const code of ERROR_CODES) {
      const m = ERROR_TABLE[code];
      expect(code).toMatch(/^ERR_[A-Z_]+$/);
      expect(m.http).toBeGreaterThanOrEqual(400);
      expect(m.http).toBeLessThan(600);
      expect([
        null,
        'invalid_request',
        'invalid_token',
        'insufficient_scope',
        'invalid_dpop_proof',
        'use_dpop_nonce',
      ]).toContain(m.bearer);
      expect(grpcCodes.has(m.grpc)).toBe(true);
      expect(m.summary.length).toBeGreaterThan(10);
    }
  });

  it.each([
    ['ERR_BINDING_MISMATCH', 401, 'invalid_token', 16],
    ['ERR_TOKEN_MISSING', 401, null, 16],
    ['ERR_INVALID_REQUEST', 400, 'invalid_request', 16],
    ['ERR_INSUFFICIENT_SCOPE', 403, 'insufficient_scope', 7],
    ['ERR_AS_UNAVAILABLE', 503, null, 14],
  ] as const)('%s → HTTP %i, %s, gRPC %i', (code, http, bearer, grpc) => {
    expect(ERROR_TABLE[code]).toMatchObject({ http, bearer, grpc });
  });

  it('carries a stable code, a default message and secret-free details', () => {
    const err = new CertboundError('ERR_TOKEN_EXPIRED');
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('ERR_TOKEN_EXPIRED');
    expect(err.message).toBe(ERROR_TABLE.ERR_TOKEN_EXPIRED.summary);
    expect(err.mapping.http).toBe(401);
    expect(isCertboundError(err, 'ERR_TOKEN_EXPIRED')).toBe(true);
    expect(isCertboundError(err, 'ERR_TOKEN_ALG')).toBe(false);
    expect(isCertboundError(new Error('x'))).toBe(false);
  });

  it('a refusal (4xx) captures no stack trace; a failure of ours (5xx) keeps it; the global limit is restored', () => {
    const before = Error.stackTraceLimit;
    const refusal = new CertboundError('ERR_TOKEN_SIGNATURE', 'bad signature');
    expect(refusal.stack).toBe('CertboundError: bad signature');
    const failure = new CertboundError('ERR_INTERNAL');
    expect(ERROR_TABLE.ERR_INTERNAL.http).toBeGreaterThanOrEqual(500);
    expect(failure.stack?.split('\n').length).toBeGreaterThan(1);
    expect(failure.stack).toContain('errors.test.ts');
    expect(Error.stackTraceLimit).toBe(before);
    expect(new Error('plain').stack?.split('\n').length).toBeGreaterThan(1);
  });
});
