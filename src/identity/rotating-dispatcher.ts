import type { Agent } from 'undici';
import { AgentPerIdentity, type AgentPerIdentityOptions } from './agent-per-identity.js';
import type { WorkloadIdentity } from './workload-identity.js';
import type { X509Source } from './x509-source.js';

/** Options of {@link RotatingDispatcher}: those of {@link AgentPerIdentity}. */
export type RotatingDispatcherOptions = AgentPerIdentityOptions;

/**
 * The undici counterpart of {@link RotatingHttpsAgent}: an {@link AgentPerIdentity} that
 * follows `source`, so the agent for the new identity exists as soon as it is published.
 * Callers MUST read {@link currentDispatcher} per request
 * (`fetch(url, { dispatcher: d.currentDispatcher() })`); a retired agent is closed
 * gracefully (in-flight requests finish).
 */
export class RotatingDispatcher {
  readonly #agents: AgentPerIdentity;
  #identity: WorkloadIdentity;
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(source: X509Source, options: RotatingDispatcherOptions = {}) {
    this.#agents = new AgentPerIdentity(options);
    this.#identity = source.current();
    this.#agents.agentFor(this.#identity);
    this.#unsubscribe = source.onUpdate((identity) => {
      if (this.#closed || identity === this.#identity) return;
      this.#identity = identity;
      this.#agents.agentFor(identity);
    });
  }

  /** The undici agent for the identity in force; read it per request. */
  currentDispatcher(): Agent {
    if (this.#closed) throw new Error('RotatingDispatcher is closed');
    return this.#agents.agentFor(this.#identity);
  }

  /** Alias of {@link currentDispatcher}. */
  current(): Agent {
    return this.currentDispatcher();
  }

  /** Stops following the source; closes every agent once its requests finish. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    await this.#agents.close();
  }
}
