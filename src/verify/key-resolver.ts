import { Agent, fetch as undiciFetch } from 'undici';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  type JWTVerifyGetKey,
} from 'jose';
import { CertboundError } from '../errors.js';
import type { JwksOption } from './options.js';

/** A jose key function plus a way to release its sockets. */
export interface KeyResolver {
  readonly getKey: JWTVerifyGetKey;
  close(): Promise<void>;
}

/**
 * Builds the key function for `jwtVerify`.
 *
 * Remote sets use jose's `createRemoteJWKSet` (an unknown `kid` causes one refetch, then
 * a cooldown). When a refetch fails, the last keys fetched keep verifying tokens: an AS
 * outage must not turn into a verifier outage. Without any keys, the error is
 * `ERR_JWKS_UNAVAILABLE`.
 */
export function createKeyResolver(option: JwksOption): KeyResolver {
  if ('keys' in option) {
    const local = createLocalJWKSet(option.keys);
    return { getKey: local, close: () => Promise.resolve() };
  }
  const url = option.url instanceof URL ? option.url : new URL(option.url);
  if (url.protocol !== 'https:' && url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
    throw new TypeError('jwks.url must use https (plain http is only accepted on loopback)');
  }
  const agent = new Agent({
    connect: {
      ...(option.ca !== undefined ? { ca: option.ca } : {}),
      ...(option.cert !== undefined ? { cert: option.cert } : {}),
      ...(option.key !== undefined ? { key: option.key } : {}),
    },
  });
  const remote = createRemoteJWKSet(url, {
    cooldownDuration: option.cooldownMs ?? 30_000,
    cacheMaxAge: option.cacheMaxAgeMs ?? 600_000,
    timeoutDuration: option.timeoutMs ?? 5_000,
    [customFetch]: (input: string, init: RequestInit) =>
      undiciFetch(input, {
        ...(init as object),
        dispatcher: agent,
      }) as unknown as Promise<Response>,
  });
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (
        err instanceof errors.JWKSNoMatchingKey ||
        err instanceof errors.JWKSMultipleMatchingKeys
      ) {
        throw err;
      }
      const lastKnown = remote.jwks();
      if (lastKnown !== undefined) return createLocalJWKSet(lastKnown)(header, token);
      throw new CertboundError(
        'ERR_JWKS_UNAVAILABLE',
        `JWKS at ${url.origin}${url.pathname} could not be fetched.`,
        {
          cause: err,
        },
      );
    }
  };
  return { getKey, close: () => agent.close() };
}
