import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import {
  createInboundRecorder,
  resultOf,
  traceIdOf,
} from '../../src/observability/inbound-recorder.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { principalOf } from '../../src/verify/principal.js';
import { captureLogs } from '../support/log-capture.js';

describe('resultOf: one classification for HTTP and gRPC', () => {
  it.each<[ErrorCode | undefined, string]>([
    [undefined, 'ok'],
    ['ERR_BINDING_MISMATCH', 'rejected'],
    ['ERR_TOKEN_MISSING', 'rejected'],
    ['ERR_POLICY_DENIED', 'rejected'],
    ['ERR_APP_UNREACHABLE', 'error'],
    ['ERR_APP_TIMEOUT', 'error'],
    ['ERR_INTERNAL', 'error'],
  ])('%s → %s', (code, result) => expect(resultOf(code)).toBe(result));
});

describe('traceIdOf', () => {
  it.each<[string | undefined, string | undefined]>([
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '4bf92f3577b34da6a3ce929d0e0e4736'],
    ['00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', '4bf92f3577b34da6a3ce929d0e0e4736'],
    ['00-00000000000000000000000000000000-00f067aa0ba902b7-01', undefined],
    ['00-4bf92f3577b34da6-00f067aa0ba902b7-01', undefined],
    ['garbage\r\nx: y', undefined],
    [undefined, undefined],
  ])('%j → %j', (header, id) => expect(traceIdOf(header)).toBe(id));
});

describe('createInboundRecorder', () => {
  function setup() {
    const { logger, lines } = captureLogs();
    const metrics = createMetrics({ processMetrics: false });
    const recorder = createInboundRecorder({ logger, metrics });
    return { lines, metrics, recorder };
  }
  const peer = {
    thumbprint: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
    spiffeId: 'spiffe://d/x',
  };
  const principal = principalOf(
    { client_id: 'orders', iss: 'https://as', exp: 2_000_000_000, scope: 'a' },
    peer,
    'introspection',
  );

  it('logs HTTP and gRPC calls with the same fields and counts them by result and code', async () => {
    const { lines, metrics, recorder } = setup();
    const startedAt = performance.now();
    recorder.record({
      transport: 'http',
      method: 'GET',
      path: '/x',
      status: 200,
      code: undefined,
      principal,
      startedAt,
    });
    recorder.record({
      transport: 'grpc',
      method: 'POST',
      path: '/demo.v1.Echo/Unary',
      status: 200,
      grpcStatus: 0,
      code: undefined,
      principal,
      startedAt,
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    });
    recorder.record({
      transport: 'grpc',
      method: 'POST',
      path: '/demo.v1.Echo/Unary',
      status: 200,
      grpcStatus: 16,
      code: 'ERR_BINDING_MISMATCH',
      peer,
      startedAt,
    });
    recorder.record({
      transport: 'grpc',
      method: 'POST',
      path: '/demo.v1.Echo/Unary',
      status: 200,
      grpcStatus: 14,
      code: 'ERR_APP_UNREACHABLE',
      peer,
      startedAt,
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('certbound_inbound_requests_total{result="ok",code="none"} 2');
    expect(text).toContain(
      'certbound_inbound_requests_total{result="rejected",code="ERR_BINDING_MISMATCH"} 1',
    );
    expect(text).toContain(
      'certbound_inbound_requests_total{result="error",code="ERR_APP_UNREACHABLE"} 1',
    );
    expect(lines).toHaveLength(4);
    const keys = (l: Record<string, unknown>) =>
      Object.keys(l).filter(
        (k) => !['time', 'pid', 'hostname', 'level', 'service', 'msg'].includes(k),
      );
    expect(keys(lines[1]!)).toEqual(expect.arrayContaining(keys(lines[0]!)));
    expect(lines[1]).toMatchObject({
      transport: 'grpc',
      clientId: 'orders',
      issuer: 'https://as',
      validator: 'introspection',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      msg: 'inbound request',
    });
    // A refusal names the caller's certificate identity, never the whole thumbprint.
    expect(lines[2]).toMatchObject({
      code: 'ERR_BINDING_MISMATCH',
      spiffeId: 'spiffe://d/x',
      thumbprint: 'abcdefghijkl',
    });
    expect(JSON.stringify(lines)).not.toContain(peer.thumbprint);
  });
});
