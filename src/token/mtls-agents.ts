import { fetch as undiciFetch } from 'undici';
import { AgentPerIdentity } from '../identity/agent-per-identity.js';
import type { WorkloadIdentity } from '../identity/workload-identity.js';

/** A fetch function compatible with oauth4webapi's `customFetch`. */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

/**
 * Fetch functions that present a given workload identity to the AS, over one undici agent
 * per identity ({@link AgentPerIdentity}: never reused across a rotation).
 */
export class MtlsAgents {
  readonly #agents: AgentPerIdentity;

  /**
   * @param ca PEM trusted for the AS's certificate; default each identity's bundle
   * @param timeoutMs connect, headers and body timeouts of the agents
   */
  constructor(ca: string | undefined, timeoutMs: number) {
    this.#agents = new AgentPerIdentity({
      ...(ca !== undefined ? { ca } : {}),
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  /** A fetch function that presents `identity`'s certificate. */
  fetchFor(identity: WorkloadIdentity): FetchFunction {
    const agent = this.#agents.agentFor(identity);
    return (url, init) =>
      undiciFetch(url, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response>;
  }

  /** Closes every agent (in-flight requests are aborted). */
  close(): Promise<void> {
    return this.#agents.close({ abort: true });
  }
}
