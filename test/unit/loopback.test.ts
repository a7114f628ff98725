import { describe, expect, it } from 'vitest';
import { isLoopback } from '../../src/loopback.js';

/** The one loopback check used by the config schema, the outbound listeners and the local API. */
describe('isLoopback', () => {
  it.each([
    '127.0.0.1',
    '127.0.0.0',
    '127.255.255.255',
    '127.10.20.30',
    '::1',
    '0:0:0:0:0:0:0:1',
    '0000:0000:0000:0000:0000:0000:0000:0001',
    '::0001',
    '[::1]',
    '::ffff:127.0.0.1',
    '::FFFF:127.1.2.3',
    '::ffff:7f00:1',
    '0:0:0:0:0:ffff:127.0.0.1',
    'localhost',
    'LocalHost',
  ])('%s is loopback', (host) => {
    expect(isLoopback(host)).toBe(true);
  });

  it.each([
    // Names that merely start or end like loopback.
    '127.0.0.1.evil.com',
    'localhost.evil.com',
    'evil-localhost',
    'foo.localhost',
    'localhost.',
    '127.0.0.1.',
    // Every interface, and the neighbours of 127.0.0.0/8.
    '0.0.0.0',
    '::',
    '128.0.0.1',
    '126.255.255.255',
    '10.0.0.1',
    // Invalid or shorthand IPv4 (the old regex took 127.999.0.1).
    '127.999.0.1',
    '127.1',
    '127.0.1',
    '0127.0.0.1',
    '127.000.0.1',
    ' 127.0.0.1',
    '127.0.0.1 ',
    '2130706433',
    '0x7f000001',
    // IPv6 near misses: deprecated IPv4-compatible, NAT64, mapped non-loopback, zone index.
    '::2',
    '::127.0.0.1',
    '64:ff9b::127.0.0.1',
    '::ffff:128.0.0.1',
    '::ffff:0:127.0.0.1',
    '::1%lo',
    'fe80::1',
    '[::1',
    '::1]',
    '[127.0.0.1]',
    '',
  ])('%j is not loopback', (host) => {
    expect(isLoopback(host)).toBe(false);
  });
});
