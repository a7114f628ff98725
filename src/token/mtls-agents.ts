import { Agent, fetch as undiciFetch } from 'undici';
import type { WorkloadIdentity } from '../identity/workload-identity.js';

/** A fetch function compatible with oauth4webapi's `customFetch`. */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

/**
 * One undici Agent per workload identity, presenting that identity's certificate to the AS.
 *
 * TLS sessions are cached per agent, so an agent is never reused across a rotation: the
 * first request with a new identity builds a new agent and retires the previous one, which
 * finishes its in-flight requests and then closes.
 */
export class MtlsAgents {
  readonly #ca: string | undefined;
  readonly #timeoutMs: number;
  #current: { thumbprint: string; agent: Agent } | undefined;
  readonly #retiring = new Set<Promise<void>>();

  /**
   * @param ca PEM trusted for the AS's certificate; default each identity's bundle
   * @param timeoutMs connect, headers and body timeouts of the agents
   */
  constructor(ca: string | undefined, timeoutMs: number) {
    this.#ca = ca;
    this.#timeoutMs = timeoutMs;
  }

  /** A fetch function that presents `identity`'s certificate. */
  fetchFor(identity: WorkloadIdentity): FetchFunction {
    const agent = this.#agentFor(identity);
    return (url, init) =>
      undiciFetch(url, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response>;
  }

  #agentFor(identity: WorkloadIdentity): Agent {
    if (this.#current?.thumbprint === identity.thumbprint) return this.#current.agent;
    if (this.#current !== undefined) this.#retire(this.#current.agent);
    const agent = new Agent({
      connect: {
        cert: identity.chainPem,
        key: identity.keyPem,
        ca: this.#ca ?? identity.bundlePem,
        timeout: this.#timeoutMs,
      },
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
    this.#current = { thumbprint: identity.thumbprint, agent };
    return agent;
  }

  #retire(agent: Agent): void {
    const closing = agent
      .close()
      .catch(() => undefined)
      .finally(() => this.#retiring.delete(closing));
    this.#retiring.add(closing);
  }

  /** Closes every agent (in-flight requests are aborted). */
  async close(): Promise<void> {
    const current = this.#current?.agent;
    this.#current = undefined;
    await Promise.all([current?.destroy().catch(() => undefined), ...this.#retiring]);
  }
}
