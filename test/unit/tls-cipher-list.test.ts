import { DEFAULT_CIPHERS } from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  cipherListOf,
  NODE_TLS13_CIPHERSUITES,
  RFC9325_TLS12_CIPHERS,
  type TlsContextSettings,
} from '../../src/tls/follow-secure-context.js';

const TLS13 = NODE_TLS13_CIPHERSUITES.join(':');

describe('cipherListOf: RFC 9325 §4.2 defaults, TLS 1.3 as node offers it', () => {
  it('TLS 1.3 suites are node’s own (never emptied: node would turn TLS 1.3 off)', () => {
    expect(NODE_TLS13_CIPHERSUITES.length).toBeGreaterThan(0);
    expect(NODE_TLS13_CIPHERSUITES).toEqual(
      DEFAULT_CIPHERS.split(':').filter((n) => n.startsWith('TLS_')),
    );
  });

  it('the TLS 1.2 default is ECDHE with AES-GCM or ChaCha20-Poly1305 only', () => {
    for (const name of RFC9325_TLS12_CIPHERS) {
      expect(name).toMatch(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    }
  });

  const cases: Array<[string, TlsContextSettings, string]> = [
    ['defaults', {}, `${TLS13}:${RFC9325_TLS12_CIPHERS.join(':')}`],
    [
      'a TLS 1.2 list keeps node’s TLS 1.3 suites',
      { ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' },
      `${TLS13}:ECDHE-ECDSA-AES128-GCM-SHA256`,
    ],
    [
      'TLS_* names in ciphers replace the TLS 1.3 suites',
      { ciphers: 'TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384' },
      'TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384',
    ],
    [
      'ciphersuites sets the TLS 1.3 suites',
      { ciphersuites: 'TLS_CHACHA20_POLY1305_SHA256' },
      `TLS_CHACHA20_POLY1305_SHA256:${RFC9325_TLS12_CIPHERS.join(':')}`,
    ],
  ];
  it.each(cases)('%s', (_name, settings, expected) => {
    expect(cipherListOf(settings)).toBe(expected);
  });
});
