import { describe, expect, it } from 'vitest';
import { OperationProcessingError } from 'oauth4webapi';
import { backoffDelay } from '../../src/token/backoff.js';
import { mapAsError } from '../../src/token/map-as-error.js';
import { CertboundError } from '../../src/errors.js';

describe('backoffDelay', () => {
  it('grows exponentially from min and is capped at max', () => {
    // min + (ceiling - min) * random, ceiling = min * 2^(attempt-1) capped at max
    expect(backoffDelay(1, 100, 10_000, 0.5)).toBe(100);
    expect(backoffDelay(2, 100, 10_000, 0.5)).toBe(150);
    expect(backoffDelay(4, 100, 10_000, 0.5)).toBe(450);
    expect(backoffDelay(20, 100, 10_000, 0.5)).toBe(5_050);
    expect(backoffDelay(1000, 100, 10_000, 0.999)).toBeLessThanOrEqual(10_000);
  });

  it('is jittered between min and the ceiling', () => {
    expect(backoffDelay(5, 100, 10_000, 0)).toBe(100);
    const values = new Set(Array.from({ length: 50 }, () => backoffDelay(6, 100, 10_000)));
    expect(values.size).toBeGreaterThan(10);
    for (const v of values) {
      expect(v).toBeGreaterThanOrEqual(100);
      expect(v).toBeLessThanOrEqual(3_200);
    }
  });
});

describe('mapAsError', () => {
  it('a timeout becomes ERR_AS_TIMEOUT', () => {
    const cause = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    const err = mapAsError(new TypeError('fetch failed', { cause }), 'token request');
    expect(err.code).toBe('ERR_AS_TIMEOUT');
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it('a refused connection becomes ERR_AS_UNAVAILABLE naming the reason', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
    });
    const err = mapAsError(new TypeError('fetch failed', { cause }), 'token request');
    expect(err.code).toBe('ERR_AS_UNAVAILABLE');
    expect(err.details['reason']).toBe('ECONNREFUSED');
  });

  it('an invalid response becomes ERR_AS_RESPONSE', () => {
    const err = mapAsError(new OperationProcessingError('bad', { code: 'X' }), 'token request');
    expect(err.code).toBe('ERR_AS_RESPONSE');
  });

  it('CertboundErrors pass through', () => {
    const original = new CertboundError('ERR_TOKEN_NOT_BOUND');
    expect(mapAsError(original, 'token request')).toBe(original);
  });
});
