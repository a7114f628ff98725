import { fetch as undiciFetch, type Agent } from 'undici';
import type { ConnectionsPerIdentity } from '../tls/connections-per-identity.js';
import { undiciAgentsPerIdentity } from '../tls/undici-agents.js';
import type { WorkloadIdentity } from '../identity/workload-identity.js';

/** A fetch function compatible with oauth4webapi's `customFetch`. */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

/**
 * Fetch functions that present a given workload identity to the AS, over one undici agent
 * per identity ({@link ConnectionsPerIdentity}: never reused across a rotation).
 */
export class MtlsAgents {
  readonly #agents: ConnectionsPerIdentity<Agent>;

  /**
   * @param ca PEM trusted for the AS's certificate; default each identity's bundle
   * @param timeoutMs connect, headers and body timeouts of the agents
   */
  constructor(ca: string | undefined, timeoutMs: number) {
    this.#agents = undiciAgentsPerIdentity({
      ...(ca !== undefined ? { ca } : {}),
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  /** A fetch function that presents `identity`'s certificate. */
  fetchFor(identity: WorkloadIdentity): FetchFunction {
    const agent = this.#agents.for(identity);
    return (url, init) =>
      undiciFetch(url, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response>;
  }

  /** Closes every agent (in-flight requests are aborted). */
  close(): Promise<void> {
    return this.#agents.close({ abort: true });
  }
}
