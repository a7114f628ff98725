import { describe, expect, it } from 'vitest';
import { CertboundError, ERROR_CODES, ERROR_TABLE } from '../../src/errors.js';
import { errorCodeOfDetails, grpcStatusOf } from '../../src/grpc/grpc-status.js';
import { identityEntriesOf } from '../../src/grpc/identity-metadata.js';
import { principalOf } from '../../src/verify/principal.js';

describe('grpcStatusOf', () => {
  it.each(ERROR_CODES)('maps %s through the error table with the code first in details', (code) => {
    const status = grpcStatusOf(new CertboundError(code));
    expect(status.code).toBe(ERROR_TABLE[code].grpc);
    expect(errorCodeOfDetails(status.details)).toBe(code);
  });

  it('reports UNAUTHENTICATED for binding and PERMISSION_DENIED for policy', () => {
    expect(grpcStatusOf(new CertboundError('ERR_BINDING_MISMATCH')).code).toBe(16);
    expect(grpcStatusOf(new CertboundError('ERR_POLICY_DENIED')).code).toBe(7);
  });

  it('never repeats the text of a foreign error (it may hold a secret)', () => {
    const status = grpcStatusOf(new Error('token eyJhbGciOi.secret.value'));
    expect(errorCodeOfDetails(status.details)).toBe('ERR_INTERNAL');
    expect(status.details).not.toContain('secret');
  });

  it('keeps details printable ASCII', () => {
    const status = grpcStatusOf(new CertboundError('ERR_TOKEN_CLAIMS', 'bad claim é\n'));
    expect(status.details).toMatch(/^[\x20-\x7e]*$/);
  });
});

describe('identityEntriesOf', () => {
  const principal = principalOf(
    { sub: 'orders', client_id: 'orders', scope: 'a b', exp: 1, aud: 'x' },
    { thumbprint: 'T'.repeat(43), spiffeId: 'spiffe://demo.local/ns/default/sa/orders' },
  );

  it('lists the verified identity under the prefix', () => {
    expect(Object.fromEntries(identityEntriesOf(principal, 'x-certbound-'))).toEqual({
      'x-certbound-subject': 'orders',
      'x-certbound-client-id': 'orders',
      'x-certbound-spiffe-id': 'spiffe://demo.local/ns/default/sa/orders',
      'x-certbound-scope': 'a b',
      'x-certbound-cert-thumbprint': 'T'.repeat(43),
    });
  });

  it('refuses values that cannot travel in metadata instead of dropping them (issue 11 §3)', () => {
    const odd = principalOf({ sub: 'ünïcode\r\n', exp: 1 }, { thumbprint: 'T'.repeat(43) });
    expect(() => identityEntriesOf(odd, 'x-certbound-')).toThrow(
      expect.objectContaining({ code: 'ERR_CLAIM_NON_ASCII' }),
    );
    const crlf = principalOf({ sub: 'orders\r\nx: y', exp: 1 }, { thumbprint: 'T'.repeat(43) });
    expect(() => identityEntriesOf(crlf, 'x-certbound-')).toThrow(
      expect.objectContaining({ code: 'ERR_CLAIM_UNSAFE' }),
    );
    const plain = principalOf({ sub: 'orders', exp: 1 }, { thumbprint: 'T'.repeat(43) });
    expect(identityEntriesOf(plain, 'x-certbound-').map(([k]) => k)).toContain(
      'x-certbound-cert-thumbprint',
    );
  });
});
