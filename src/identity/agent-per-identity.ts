import { Agent } from 'undici';
import { tlsOptionsOf, type TlsContextSettings } from './follow-secure-context.js';
import type { WorkloadIdentity } from './workload-identity.js';

/** Options of {@link AgentPerIdentity}: undici agent options without `connect`, plus TLS settings. */
export interface AgentPerIdentityOptions
  extends Omit<Agent.Options, 'connect'>, TlsContextSettings {
  /** Extra `connect` options (servername, timeout, checkServerIdentity…); key material is ours. */
  connect?: Omit<NonNullable<Agent.Options['connect']> & object, 'key' | 'cert' | 'ca'>;
  /** PEM trusted for the servers instead of the identity's bundle (e.g. a public AS). */
  ca?: string;
}

/**
 * One undici `Agent` per workload identity snapshot. TLS sessions are cached per agent, so
 * an agent never outlives its identity: asking for a new identity builds a new agent and
 * retires the previous one, which finishes its in-flight requests and then closes.
 *
 * Callers that pair a certificate with something bound to it (a token, RFC 8705 §3) take
 * both from the same snapshot: `agentFor(identity)` and a token for `identity.thumbprint`.
 */
export class AgentPerIdentity {
  readonly #options: AgentPerIdentityOptions;
  #current: { identity: WorkloadIdentity; agent: Agent } | undefined;
  readonly #retiring = new Set<Promise<void>>();
  #closed = false;

  constructor(options: AgentPerIdentityOptions = {}) {
    this.#options = options;
  }

  /**
   * The agent presenting `identity`'s certificate.
   *
   * @throws Error after {@link close}
   */
  agentFor(identity: WorkloadIdentity): Agent {
    if (this.#closed) throw new Error('AgentPerIdentity is closed');
    if (this.#current?.identity === identity) return this.#current.agent;
    if (this.#current !== undefined) this.#retire(this.#current.agent);
    const agent = this.#build(identity);
    this.#current = { identity, agent };
    return agent;
  }

  /**
   * Closes every agent: gracefully (in-flight requests finish), or at once with `abort`.
   * Idempotent.
   */
  async close(options: { abort?: boolean } = {}): Promise<void> {
    this.#closed = true;
    const current = this.#current?.agent;
    this.#current = undefined;
    const ending =
      current === undefined ? undefined : options.abort ? current.destroy() : current.close();
    await Promise.all([ending?.catch(() => undefined), ...this.#retiring]);
  }

  #retire(agent: Agent): void {
    const closing = agent
      .close()
      .catch(() => undefined)
      .finally(() => this.#retiring.delete(closing));
    this.#retiring.add(closing);
  }

  #build(identity: WorkloadIdentity): Agent {
    const {
      connect,
      ca,
      minVersion,
      maxVersion,
      ciphers,
      ciphersuites,
      ecdhCurve,
      ...agentOptions
    } = this.#options;
    return new Agent({
      ...agentOptions,
      connect: {
        ...connect,
        ...tlsOptionsOf(identity, { minVersion, maxVersion, ciphers, ciphersuites, ecdhCurve }),
        ...(ca !== undefined ? { ca } : {}),
      },
    });
  }
}
