import { Agent, type AgentOptions } from 'node:https';
import type { Socket } from 'node:net';
import { ConnectionsPerIdentity } from './connections-per-identity.js';
import { tlsOptionsOf, type TlsContextSettings } from './follow-secure-context.js';

/** Options of {@link httpsAgentsPerIdentity}: node agent options without the key material. */
export interface HttpsAgentOptions
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
 * Resolves once a retired agent is empty: idle sockets close at once, busy ones as they
 * free (unless they took a queued request), and everything after `drainTimeoutMs`.
 */
function drainAgent(agent: Agent, drainTimeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(), drainTimeoutMs);
    timer.unref();
    const finish = (): void => {
      clearTimeout(timer);
      agent.off('free', onFree);
      agent.destroy();
      resolve();
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
    agent.on('free', onFree);
    for (const list of Object.values(agent.freeSockets))
      for (const s of [...(list ?? [])]) s.destroy();
    if (count(agent.sockets) === 0 && count(agent.requests) === 0) finish();
    else
      for (const list of Object.values(agent.sockets))
        for (const s of list ?? []) s.once('close', drainedCheck);
  });
}

/**
 * One keep-alive `https.Agent` per workload identity (see {@link ConnectionsPerIdentity}).
 * node's agent caches TLS sessions and sockets by cert/key, so reusing one after a rotation
 * would keep presenting the old certificate. Read `agents.follow(source).current()` for each
 * request; a retired agent finishes its in-flight and queued requests first.
 */
export function httpsAgentsPerIdentity(
  options: HttpsAgentOptions = {},
): ConnectionsPerIdentity<Agent> {
  const {
    drainTimeoutMs = 30_000,
    minVersion,
    maxVersion,
    ciphers,
    ciphersuites,
    ecdhCurve,
    ...agentOptions
  } = options;
  const settings = { minVersion, maxVersion, ciphers, ciphersuites, ecdhCurve };
  return new ConnectionsPerIdentity<Agent>({
    build: (identity) =>
      new Agent({ keepAlive: true, ...agentOptions, ...tlsOptionsOf(identity, settings) }),
    retire: (agent) => drainAgent(agent, drainTimeoutMs),
    destroy: (agent) => {
      agent.destroy();
      return Promise.resolve();
    },
  });
}
