import { Agent } from 'undici';
import { tlsOptionsOf, type TlsContextSettings } from './follow-secure-context.js';
import type { WorkloadIdentity } from './workload-identity.js';
import type { X509Source } from './x509-source.js';

/** Options of {@link RotatingDispatcher}: undici agent options without `connect`, plus TLS settings. */
export interface RotatingDispatcherOptions
  extends Omit<Agent.Options, 'connect'>, TlsContextSettings {
  /** Extra `connect` options (servername, timeout, checkServerIdentity…); key material is ours. */
  connect?: Omit<NonNullable<Agent.Options['connect']> & object, 'key' | 'cert' | 'ca'>;
}

/**
 * The undici counterpart of {@link RotatingHttpsAgent}: a fresh `undici.Agent` presenting our
 * certificate and trusting the bundle for every identity. Callers MUST read
 * {@link currentDispatcher} per request (`fetch(url, { dispatcher: d.currentDispatcher() })`);
 * a retired agent is closed gracefully (`close()` lets in-flight requests finish).
 */
export class RotatingDispatcher {
  #agent: Agent;
  #identity: WorkloadIdentity;
  readonly #options: RotatingDispatcherOptions;
  readonly #unsubscribe: () => void;
  readonly #closing = new Set<Promise<void>>();
  #closed = false;

  constructor(source: X509Source, options: RotatingDispatcherOptions = {}) {
    this.#options = options;
    this.#identity = source.current();
    this.#agent = this.#build(this.#identity);
    this.#unsubscribe = source.onUpdate((identity) => {
      if (this.#closed || identity === this.#identity) return;
      const old = this.#agent;
      this.#identity = identity;
      this.#agent = this.#build(identity);
      const closing = old.close().catch(() => undefined);
      this.#closing.add(closing);
      void closing.finally(() => this.#closing.delete(closing));
    });
  }

  /** The undici agent for the identity in force; read it per request. */
  currentDispatcher(): Agent {
    if (this.#closed) throw new Error('RotatingDispatcher is closed');
    return this.#agent;
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
    await Promise.all([this.#agent.close(), ...this.#closing]);
  }

  #build(identity: WorkloadIdentity): Agent {
    const { connect, minVersion, maxVersion, ciphers, ciphersuites, ecdhCurve, ...agentOptions } =
      this.#options;
    return new Agent({
      ...agentOptions,
      connect: {
        ...connect,
        ...tlsOptionsOf(identity, { minVersion, maxVersion, ciphers, ciphersuites, ecdhCurve }),
      },
    });
  }
}
