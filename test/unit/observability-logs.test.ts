import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { TLS_FAILURE_REASONS } from '../../src/observability/metrics.js';
import { RateLimitedLog } from '../../src/observability/rate-limited-log.js';
import { tlsFailureReasonOf } from '../../src/observability/tls-failure-reason.js';
import { tracesUrlOf, tracingWanted } from '../../src/observability/tracing.js';
import { captureLogs } from '../support/log-capture.js';

describe('log lines (issue 18)', () => {
  it('name the level as a string ("level":"info"), not pino\'s number', () => {
    const { logger, lines } = captureLogs('debug');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(lines.map((l) => l['level'])).toEqual(['debug', 'info', 'warn', 'error']);
  });

  it('honour the configured level', () => {
    const out: string[] = [];
    const logger = createLogger({
      level: 'warn',
      destination: new Writable({
        write(chunk: Buffer, _e, done) {
          out.push(chunk.toString());
          done();
        },
      }),
    });
    logger.info('hidden');
    logger.warn('shown');
    expect(out.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['shown']);
  });
});

describe('RateLimitedLog', () => {
  it('writes one line per key per interval and counts what it left out', () => {
    const { logger, lines } = captureLogs();
    const log = new RateLimitedLog(logger, { intervalMs: 60_000 });
    for (let i = 0; i < 50; i++) log.log('no_client_certificate', { reason: 'a' }, 'refused');
    log.log('not_tls', { reason: 'b' }, 'refused');
    expect(lines.map((l) => l['reason'])).toEqual(['a', 'b']);
    expect(lines[0]!['level']).toBe('info');
  });

  it('reports the suppressed count on the next line after the interval', () => {
    const { logger, lines } = captureLogs();
    let now = 0;
    const log = new RateLimitedLog(logger, { intervalMs: 1_000, level: 'warn', now: () => now });
    log.log('k', {}, 'one');
    now = 500;
    log.log('k', {}, 'hidden');
    log.log('k', {}, 'hidden');
    now = 1_000;
    log.log('k', {}, 'two');
    expect(lines.map((l) => [l['msg'], l['level'], l['suppressed']])).toEqual([
      ['one', 'warn', undefined],
      ['two', 'warn', 2],
    ]);
  });
});

describe('tlsFailureReasonOf', () => {
  it.each([
    ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', null, 'no_client_certificate'],
    ['ECONNRESET', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'untrusted_client_certificate'],
    ['ECONNRESET', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'untrusted_client_certificate'],
    ['ECONNRESET', 'CERT_HAS_EXPIRED', 'client_certificate_expired'],
    ['ERR_SSL_UNSUPPORTED_PROTOCOL', null, 'protocol_version'],
    ['ERR_SSL_NO_SHARED_CIPHER', null, 'no_shared_cipher'],
    ['ERR_SSL_HTTP_REQUEST', null, 'not_tls'],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', null, 'peer_refused_certificate'],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', null, 'timeout'],
    ['ECONNRESET', null, 'connection_reset'],
    ['ERR_SSL_SOMETHING_NEW', null, 'other'],
    [undefined, undefined, 'other'],
  ] as const)('%s / %s → %s', (code, authorizationError, reason) => {
    expect(tlsFailureReasonOf(code, authorizationError)).toBe(reason);
  });

  it('only ever answers one of the bounded label values', () => {
    for (const code of ['x', 'ERR_SSL_HTTP_REQUEST', '"><script>', ''])
      expect(TLS_FAILURE_REASONS).toContain(tlsFailureReasonOf(code, undefined));
    // An Error where @types/node says one could be: never a free-form label.
    expect(tlsFailureReasonOf('ECONNRESET', new Error('x'))).toBe('connection_reset');
  });
});

describe('tracingWanted (OpenTelemetry environment variables)', () => {
  it.each([
    [undefined, {}, false],
    [{ enabled: true, sampleRatio: 1 }, {}, true],
    [undefined, { OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [undefined, { OTEL_TRACES_EXPORTER: 'console, otlp' }, true],
    [{ enabled: true, sampleRatio: 1 }, { OTEL_SDK_DISABLED: 'true' }, false],
    [undefined, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'TRUE' }, false],
    [{ enabled: true, sampleRatio: 1 }, { OTEL_TRACES_EXPORTER: 'none' }, false],
    [{ enabled: false, sampleRatio: 1 }, { OTEL_SDK_DISABLED: 'false' }, false],
  ] as const)('config %j, env %j → %s', (config, env, wanted) => {
    expect(tracingWanted(config, env)).toBe(wanted);
  });
});

describe('tracesUrlOf', () => {
  it.each([
    [undefined, {}, 'http://localhost:4318/v1/traces'],
    [
      undefined,
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' },
      'http://collector:4318/v1/traces',
    ],
    [
      undefined,
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b/t',
      },
      'http://b/t',
    ],
    [
      { enabled: true, sampleRatio: 1, endpoint: 'http://c/v1/traces' },
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b/t' },
      'http://c/v1/traces',
    ],
  ] as const)('config %j, env %j → %s', (config, env, url) => {
    expect(tracesUrlOf(config, env)).toBe(url);
  });
});
