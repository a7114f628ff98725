import type { Server } from 'node:net';

/** Listens on `host:port` (port 0 = ephemeral); rejects on a bind error (e.g. EADDRINUSE). */
export function listen(server: Server, port: number | undefined, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
