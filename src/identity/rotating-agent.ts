import { Agent, type AgentOptions } from 'node:https';
import type { Socket } from 'node:net';
import { tlsOptionsOf, type TlsContextSettings } from './follow-secure-context.js';
import type { WorkloadIdentity } from './workload-identity.js';
import type { X509Source } from './x509-source.js';

/** Options of {@link RotatingHttpsAgent}: node agent options without the key material. */
export interface RotatingAgentOptions
  extends
    Omit<AgentOptions, 'key' | 'cert' | 'ca' | 'pfx' | 'minVersion' | 'maxVersion' | 'ciphers'>,
    TlsContextSettings {
  /** How long a retired agent may wait for its in-flight requests before it is destroyed. Default 30 s. */
  drainTimeoutMs?: number;
}

type SocketMap = NodeJS.ReadOnlyDict<Socket[]>;

function count(map: SocketMap | NodeJS.ReadOnlyDict<unknown[]>): number {
  let n = 0;
  for (const list of Object.values(map)) n += list?.length ?? 0;
  return n;
}

/**
 * Outbound HTTPS that follows an {@link X509Source}: a fresh `https.Agent` (our cert and key,
 * the bundle as trusted CAs) for every identity. node's agent caches TLS sessions and sockets
 * by cert/key, so reusing one after rotation would keep presenting the old certificate.
 *
 * Callers MUST read {@link current} for each request (`https.request(url, { agent: a.current() })`);
 * a retired agent finishes its in-flight and queued requests, closes each socket as it frees,
 * and is destroyed once empty (or after `drainTimeoutMs`).
 */
export class RotatingHttpsAgent {
  #agent: Agent;
  #identity: WorkloadIdentity;
  readonly #options: RotatingAgentOptions;
  readonly #unsubscribe: () => void;
  readonly #retiring = new Set<{ agent: Agent; timer: NodeJS.Timeout }>();
  #closed = false;

  constructor(source: X509Source, options: RotatingAgentOptions = {}) {
    this.#options = options;
    this.#identity = source.current();
    this.#agent = this.#build(this.#identity);
    this.#unsubscribe = source.onUpdate((identity) => {
      if (this.#closed || identity === this.#identity) return;
      const old = this.#agent;
      this.#identity = identity;
      this.#agent = this.#build(identity);
      this.#retire(old);
    });
  }

  /** The agent for the identity in force; read it per request. */
  current(): Agent {
    if (this.#closed) throw new Error('RotatingHttpsAgent is closed');
    return this.#agent;
  }

  /** Number of retired agents still finishing requests (for tests and metrics). */
  get retiringCount(): number {
    return this.#retiring.size;
  }

  /** Stops following the source and destroys every agent (in-flight requests are aborted). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#agent.destroy();
    for (const r of this.#retiring) {
      clearTimeout(r.timer);
      r.agent.destroy();
    }
    this.#retiring.clear();
  }

  #build(identity: WorkloadIdentity): Agent {
    const {
      drainTimeoutMs: _drain,
      minVersion,
      maxVersion,
      ciphers,
      ciphersuites,
      ecdhCurve,
      ...agentOptions
    } = this.#options;
    return new Agent({
      keepAlive: true,
      ...agentOptions,
      ...tlsOptionsOf(identity, { minVersion, maxVersion, ciphers, ciphersuites, ecdhCurve }),
    });
  }

  #retire(agent: Agent): void {
    const entry = {
      agent,
      timer: setTimeout(() => finish(), this.#options.drainTimeoutMs ?? 30_000),
    };
    entry.timer.unref();
    const finish = (): void => {
      clearTimeout(entry.timer);
      agent.off('free', onFree);
      agent.destroy();
      this.#retiring.delete(entry);
    };
    const drainedCheck = (): void => {
      // Sockets leave `sockets` on close, a tick after destroy(); re-check then.
      if (count(agent.sockets) === 0 && count(agent.requests) === 0) finish();
    };
    const onFree = (socket: Socket): void => {
      // The agent's own 'free' handler ran first: the socket is idle unless it took a queued request.
      if (Object.values(agent.freeSockets).some((list) => list?.includes(socket))) {
        socket.once('close', drainedCheck);
        socket.destroy();
      }
    };
    this.#retiring.add(entry);
    agent.on('free', onFree);
    for (const list of Object.values(agent.freeSockets))
      for (const s of [...(list ?? [])]) s.destroy();
    if (count(agent.sockets) === 0 && count(agent.requests) === 0) finish();
    else
      for (const list of Object.values(agent.sockets))
        for (const s of list ?? []) s.once('close', drainedCheck);
  }
}

/** Same as `new RotatingHttpsAgent(source, options)`. */
export function createRotatingAgent(
  source: X509Source,
  options: RotatingAgentOptions = {},
): RotatingHttpsAgent {
  return new RotatingHttpsAgent(source, options);
}
