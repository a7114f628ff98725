import { describe, expect, it } from 'vitest';
import { CertboundError } from '../../src/errors.js';
import { createIntrospectionValidator } from '../../src/verify/introspection-validator.js';
import type { IntrospectionOptions } from '../../src/verify/introspection-options.js';

const ISSUER = 'https://as.test';
const AUD = 'https://payments.test';

/** An AS stand-in: answers each call with the next body (JSON) or throws it (Error). */
function stubAs(answers: Array<Record<string, unknown> | string | Error>) {
  const calls: string[] = [];
  const fetch: NonNullable<IntrospectionOptions['fetch']> = (url, init) => {
    calls.push(`${url} ${init.body instanceof URLSearchParams ? init.body.toString() : ''}`);
    const next = answers.shift() ?? { active: false };
    if (next instanceof Error) return Promise.reject(next);
    const body = typeof next === 'string' ? next : JSON.stringify(next);
    const type = typeof next === 'string' ? 'text/html' : 'application/json';
    return Promise.resolve(new Response(body, { headers: { 'content-type': type } }));
  };
  return { fetch, calls };
}

const active = () => ({
  active: true,
  iss: ISSUER,
  aud: AUD,
  exp: Math.floor(Date.now() / 1000) + 300,
  cnf: { 'x5t#S256': 'x' },
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof CertboundError) return err.code;
    throw err;
  }
  return 'ACCEPTED';
}

function validator(
  fetch: IntrospectionOptions['fetch'],
  overrides: Partial<IntrospectionOptions> = {},
) {
  return createIntrospectionValidator({
    issuer: ISSUER,
    audience: AUD,
    endpoint: `${ISSUER}/introspect`,
    clientId: 'rs',
    ...(fetch !== undefined ? { fetch } : {}),
    ...overrides,
  });
}

describe('createIntrospectionValidator (stub AS)', () => {
  it('refuses plain-http endpoints outside loopback and incomplete options at once', () => {
    expect(() => validator(undefined, { endpoint: 'http://as.test/introspect' })).toThrow(/https/);
    expect(() => validator(undefined, { clientId: '' })).toThrow(TypeError);
    expect(() => validator(undefined, { audience: [] })).toThrow(TypeError);
  });

  it('never sends an oversized token to the AS', async () => {
    const as = stubAs([active()]);
    expect(await codeOf(validator(as.fetch).validate('a'.repeat(9000)))).toBe(
      'ERR_TOKEN_TOO_LARGE',
    );
    expect(as.calls).toEqual([]);
  });

  it('an answer that is not RFC 7662 JSON is ERR_INTROSPECTION_UNAVAILABLE, not an invalid token', async () => {
    const as = stubAs(['<html>login</html>']);
    expect(await codeOf(validator(as.fetch).validate('t1'))).toBe('ERR_INTROSPECTION_UNAVAILABLE');
  });

  it('retries a failed endpoint discovery on the next call', async () => {
    const as = stubAs([active()]);
    let tries = 0;
    const v = validator(as.fetch, {
      endpoint: () =>
        ++tries === 1 ? Promise.reject(new Error('metadata down')) : Promise.resolve(`${ISSUER}/i`),
    });
    const first = v.validate('t1').catch((e: unknown) => e as CertboundError);
    expect(((await first) as CertboundError).message).toContain('metadata down');
    await expect(v.validate('t1')).resolves.toMatchObject({ validator: 'introspection' });
    expect(tries).toBe(2);
    expect(as.calls).toHaveLength(1);
  });

  it('does not put the token in its error messages', async () => {
    const token = 'secret-opaque-token-value';
    const as = stubAs([Object.assign(new Error(`fetch failed`), { code: 'ECONNREFUSED' })]);
    const err = (await validator(as.fetch)
      .validate(token)
      .catch((e: unknown) => e)) as CertboundError;
    expect(err.code).toBe('ERR_INTROSPECTION_UNAVAILABLE');
    expect(err.message).toContain('ECONNREFUSED');
    expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain(token);
  });
});
