import { createPublicKey } from 'node:crypto';
import type { JSONWebKeySet, JWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { fetch as undiciFetch } from 'undici';
import {
  startAuthorizationServer,
  type AuthorizationServerOptions,
  type DevAuthorizationServer,
} from '../../devstack/authorization-server.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { mtlsAgent } from './http-fixtures.js';
import { createTestPki, type TestPki, type TestWorkload } from './pki.js';

/** The resource most tests ask tokens for. */
export const PAYMENTS = 'https://payments.demo.local';

/** A PKI plus a dev AS with clients `orders` (tls_client_auth) and `unbound` (no binding). */
export interface AsFixture {
  pki: TestPki;
  as: DevAuthorizationServer;
  close(): Promise<void>;
}

/** A StaticX509Source holding `workload`. */
export function sourceOf(workload: TestWorkload): StaticX509Source {
  return StaticX509Source.create({
    certPem: workload.certPem,
    keyPem: workload.keyPem,
    bundlePem: workload.bundlePem,
  });
}

/** RFC 8705 §2.2 registration: the certificate's public key with the certificate in x5c. */
export function jwksOf(workload: TestWorkload): JSONWebKeySet {
  const jwk = createPublicKey(workload.certPem).export({ format: 'jwk' }) as JWK;
  const der = workload.certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return { keys: [{ ...jwk, x5c: [der] }] };
}

/** Starts the dev AS over a fresh PKI. */
export async function startTestAs(
  overrides: Partial<Omit<AuthorizationServerOptions, 'ca'>> = {},
  names: string[] = ['orders', 'attacker'],
): Promise<AsFixture> {
  const pki = await createTestPki(names);
  const orders = pki.workloads['orders']!;
  const as = await startAuthorizationServer({
    ca: pki.ca,
    clients: [
      { clientId: 'orders', spiffeId: orders.spiffeId },
      { clientId: 'unbound', spiffeId: orders.spiffeId, bound: false },
    ],
    resources: [{ indicator: PAYMENTS, scopes: ['payments:read', 'payments:write'], ttlSec: 300 }],
    ...overrides,
  });
  return {
    pki,
    as,
    async close() {
      await as.close();
      await pki.cleanup();
    },
  };
}

/**
 * A DPoP-bound access token from the dev AS (started with `dpop: true`): oauth4webapi's
 * `client_credentials` grant with a DPoP proof by `handle`, the client authenticating with
 * its certificate (`tls_client_auth`). The AS adds `cnf.jkt`
 * (RFC 9449 §6.1) — and `cnf.x5t#S256` too when the client is certificate-bound.
 */
export async function dpopTokenOf(
  as: DevAuthorizationServer,
  clientId: string,
  workload: TestWorkload,
  handle: oauth.DPoPHandle,
  resource = PAYMENTS,
): Promise<string> {
  const agent = mtlsAgent(workload, workload.bundlePem);
  try {
    // The plain endpoint: the dev AS rewrites its /mtls alias, which oidc-provider's htu check sees.
    const server: oauth.AuthorizationServer = {
      issuer: as.issuer,
      token_endpoint: as.tokenEndpoint,
    };
    const client: oauth.Client = { client_id: clientId };
    const options = {
      DPoP: handle,
      [oauth.customFetch]: ((url: string, init: RequestInit) =>
        undiciFetch(url, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch,
    };
    const grant = () =>
      oauth.clientCredentialsGrantRequest(
        server,
        client,
        oauth.TlsClientAuth(),
        new URLSearchParams({ resource }),
        options,
      );
    let response = await grant();
    try {
      return (await oauth.processClientCredentialsResponse(server, client, response)).access_token;
    } catch (err) {
      // RFC 9449 §8: an AS that wants a nonce answers use_dpop_nonce once; the handle keeps it.
      if (!oauth.isDPoPNonceError(err)) throw err;
      response = await grant();
      return (await oauth.processClientCredentialsResponse(server, client, response)).access_token;
    }
  } finally {
    await agent.close();
  }
}
