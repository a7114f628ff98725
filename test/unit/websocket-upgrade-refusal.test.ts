import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { upgradeRefusalOf } from '../../src/sidecar/inbound/websocket-upgrade.js';

function request(
  headers: Record<string, string>,
  method = 'GET',
  httpVersion = '1.1',
): IncomingMessage {
  return { headers, method, httpVersion } as unknown as IncomingMessage;
}

describe('upgradeRefusalOf: only a bodiless HTTP/1.1 GET to websocket is passed on', () => {
  it.each([
    ['websocket', { upgrade: 'websocket' }],
    ['WebSocket', { upgrade: 'WebSocket' }],
    ['websocket with content-length 0', { upgrade: 'websocket', 'content-length': '0' }],
  ])('%s is forwarded', (_name, headers) => {
    expect(upgradeRefusalOf(request(headers))).toBeUndefined();
  });

  it.each([
    ['h2c', request({ upgrade: 'h2c', 'http2-settings': 'AAMA' })],
    ['websocket and h2c', request({ upgrade: 'websocket, h2c' })],
    ['TLS/1.0 (RFC 2817)', request({ upgrade: 'TLS/1.0' })],
    ['an empty Upgrade', request({ upgrade: '' })],
    ['POST', request({ upgrade: 'websocket' }, 'POST')],
    ['HTTP/1.0', request({ upgrade: 'websocket' }, 'GET', '1.0')],
    ['a body (content-length)', request({ upgrade: 'websocket', 'content-length': '5' })],
    ['a body (chunked)', request({ upgrade: 'websocket', 'transfer-encoding': 'chunked' })],
  ])('%s → ERR_UPGRADE_UNSUPPORTED', (_name, req) => {
    expect(upgradeRefusalOf(req)?.code).toBe('ERR_UPGRADE_UNSUPPORTED');
  });
});
