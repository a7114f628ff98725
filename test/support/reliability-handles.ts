import type { Server } from 'node:net';

/** Open TCP/TLS socket handles of this process (`process.getActiveResourcesInfo()`). */
export function openSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TLSWrap')
    .length;
}

/** Connections a server holds right now. */
export function connectionsOf(server: Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
  );
}

/**
 * Polls `read` until `accept(value)` holds or `timeoutMs` passes (bounded; the check is on
 * the value, never on the time it took). Resolves with the last value read.
 */
export async function settleOn<T>(
  read: () => T | Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!accept(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  return value;
}

/** Resident set size of this process, bytes. */
export function rss(): number {
  return process.memoryUsage().rss;
}
