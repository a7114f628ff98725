import fc from 'fast-check';
import { Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertboundError, ERROR_CODES } from '../../src/errors.js';
import {
  boundTokenServerInterceptor,
  channelCredentialsFrom,
  errorCodeOfDetails,
  identityEntriesOf,
  serverCredentialsFrom,
} from '../../src/grpc/index.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { bearerTokenOf } from '../../src/verify/bearer-token.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import type { Principal } from '../../src/verify/principal.js';
import {
  AUDIENCE,
  ISSUER,
  createTokenMinter,
  echoClient,
  startEchoServer,
  unary,
  type EchoClient,
  type EchoServer,
  type TokenMinter,
} from '../support/grpc-echo.js';
import { createTestPki, type TestPki } from '../support/pki.js';

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const PRINTABLE = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 120,
});

/** The interceptor's path: every string `authorization` value of the metadata → bearerTokenOf. */
function tokenOfMetadata(md: Metadata): { token: string } | { code: string } {
  try {
    const values = md.get('authorization').filter((v): v is string => typeof v === 'string');
    return { token: bearerTokenOf(values) };
  } catch (err) {
    if (!(err instanceof CertboundError))
      throw new Error(`not a CertboundError: ${String(err)}`, { cause: err });
    expect(ERROR_CODES).toContain(err.code);
    return { code: err.code };
  }
}

describe('property: gRPC authorization metadata parsing', () => {
  it('any HTTP/2 header set grpc-js turns into metadata yields a b64token or ERR_TOKEN_MISSING / ERR_INVALID_REQUEST', () => {
    const value = fc.oneof(
      PRINTABLE,
      PRINTABLE.map((t) => `Bearer ${t}`),
      fc.string(),
    );
    const headers = fc.dictionary(
      fc.constantFrom(
        'authorization',
        'x-certbound-client-id',
        'x-other',
        'authorization-bin',
        'grpc-timeout',
        'te',
      ),
      fc.oneof(value, fc.array(value, { minLength: 1, maxLength: 3 })),
    );
    fc.assert(
      fc.property(headers, (h) => {
        let md: Metadata;
        try {
          md = Metadata.fromHttp2Headers(h);
        } catch {
          return; // grpc-js refuses the header set itself: nothing reaches certbound
        }
        const r = tokenOfMetadata(md);
        if ('token' in r) expect(r.token).toMatch(B64TOKEN);
        else expect(['ERR_TOKEN_MISSING', 'ERR_INVALID_REQUEST']).toContain(r.code);
      }),
      { numRuns: 2_000 },
    );
  });

  it('identity metadata for any principal: only printable values, only keys under the prefix (or the token is refused)', () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), PRINTABLE);
    fc.assert(
      fc.property(
        text,
        fc.option(text, { nil: undefined }),
        fc.option(text, { nil: undefined }),
        fc.array(text, { maxLength: 3 }),
        (subject, clientId, spiffeId, scopes) => {
          const principal = {
            subject,
            clientId,
            spiffeId,
            scopes,
            thumbprint: 'A'.repeat(43),
          } as unknown as Principal;
          let entries;
          try {
            entries = identityEntriesOf(principal, 'x-certbound-');
          } catch (err) {
            // Issue 11 §3: a value that cannot travel as it is refuses the token.
            expect(['ERR_CLAIM_UNSAFE', 'ERR_CLAIM_NON_ASCII']).toContain(
              (err as { code?: string }).code,
            );
            return;
          }
          for (const [key, v] of entries) {
            expect(key.startsWith('x-certbound-')).toBe(true);
            expect(v).toMatch(/^[\x20-\x7e]+$/);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

describe('property: random authorization metadata against the real interceptor (grpc-js over mTLS)', () => {
  let pki: TestPki;
  let minter: TokenMinter;
  let verifier: Verifier;
  let server: EchoServer;
  let client: EchoClient;
  const sources: StaticX509Source[] = [];

  beforeAll(async () => {
    pki = await createTestPki(['orders', 'payments']);
    minter = await createTokenMinter();
    verifier = createVerifier({ jwks: { keys: minter.jwks }, issuer: ISSUER, audience: AUDIENCE });
    const [p, o] = ['payments', 'orders'].map((n) => {
      const w = pki.workloads[n]!;
      const s = StaticX509Source.create({
        certPem: w.certPem,
        keyPem: w.keyPem,
        bundlePem: w.bundlePem,
      });
      sources.push(s);
      return s;
    });
    server = await startEchoServer({
      credentials: serverCredentialsFrom(p!),
      interceptors: [boundTokenServerInterceptor(verifier)],
    });
    client = echoClient(`127.0.0.1:${server.port}`, channelCredentialsFrom(o!));
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
    await verifier?.close();
    for (const s of sources) await s.close();
    await pki?.cleanup();
  });

  it('every call with random authorization values (and spoofed identity metadata) ends UNAUTHENTICATED with a known code; the handler never runs', async () => {
    const valid = await minter.mint({ thumbprint: pki.workloads['orders']!.thumbprint });
    const [vh, vp] = valid.split('.');
    const value = fc.oneof(
      PRINTABLE,
      PRINTABLE.map((t) => `Bearer ${t}`),
      PRINTABLE.map((t) => `Bearer ${vh}.${vp}.${t}`),
      fc.constant(`Bearer ${valid}x`),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(value, { maxLength: 3 }), PRINTABLE, async (values, spoof) => {
        const md = new Metadata();
        for (const v of values) md.add('authorization', v);
        md.add('x-certbound-client-id', spoof);
        const before = server.seen.length;
        const out = await unary(client, { message: 'p' }, md);
        expect(out.ok).toBe(false);
        if (out.ok) return;
        if (values.length > 1 && out.err.code === status.INTERNAL) {
          // node's HTTP/2 client refuses to send two authorization headers: nothing left the client.
          expect(out.err.details).toMatch(/authorization.*(single value|cannot have)/i);
        } else {
          expect(out.err.code).toBe(status.UNAUTHENTICATED);
          expect(ERROR_CODES).toContain(errorCodeOfDetails(out.err.details));
        }
        expect(server.seen.length).toBe(before);
      }),
      { numRuns: 60 },
    );
    // The same channel with the valid token passes (the property above can fail).
    const md = new Metadata();
    md.add('authorization', `Bearer ${valid}`);
    md.add('x-certbound-client-id', 'spoofed');
    const ok = await unary(client, { message: 'p' }, md);
    expect(ok.ok).toBe(true);
    expect(server.seen.at(-1)?.identityMetadata['x-certbound-client-id']).toBe('orders');
  });
});
