import { Agent } from 'undici';
import { ConnectionsPerIdentity } from './connections-per-identity.js';
import { tlsOptionsOf, type TlsContextSettings } from './follow-secure-context.js';

/** Options of {@link undiciAgentsPerIdentity}: undici agent options without `connect`, plus TLS settings. */
export interface UndiciAgentOptions extends Omit<Agent.Options, 'connect'>, TlsContextSettings {
  /** Extra `connect` options (servername, timeout, checkServerIdentity…); key material is ours. */
  connect?: Omit<NonNullable<Agent.Options['connect']> & object, 'key' | 'cert' | 'ca'>;
  /** PEM trusted for the servers instead of the identity's bundle (e.g. a public AS). */
  ca?: string;
}

/**
 * One undici `Agent` per workload identity (see {@link ConnectionsPerIdentity}): use
 * `agents.for(identity)`, or `agents.follow(source).current()` per request.
 */
export function undiciAgentsPerIdentity(
  options: UndiciAgentOptions = {},
): ConnectionsPerIdentity<Agent> {
  const { connect, ca, minVersion, maxVersion, ciphers, ciphersuites, ecdhCurve, ...agentOptions } =
    options;
  const settings = { minVersion, maxVersion, ciphers, ciphersuites, ecdhCurve };
  return new ConnectionsPerIdentity<Agent>({
    build: (identity) =>
      new Agent({
        ...agentOptions,
        connect: {
          ...connect,
          ...tlsOptionsOf(identity, settings),
          ...(ca !== undefined ? { ca } : {}),
        },
      }),
    retire: (agent) => agent.close(),
    destroy: (agent) => agent.destroy(),
  });
}
