import type { Server } from 'node:net';

/**
 * The error of a listener that could not bind, naming it and its address (issue 18: an
 * `EADDRINUSE` with no listener named sends the operator guessing between four ports).
 * Keeps the system `code` (`EADDRINUSE`, `EACCES`, …) and the original error as `cause`.
 */
export function listenerError(
  listener: string,
  address: string,
  err: unknown,
): Error & { code?: string } {
  const code = (err as { code?: unknown } | null)?.code;
  const reason = err instanceof Error ? err.message : String(err);
  const error: Error & { code?: string } = new Error(
    `${listener} listener cannot listen on ${address}: ${reason}`,
    { cause: err },
  );
  if (typeof code === 'string') error.code = code;
  return error;
}

/**
 * Listens on `host:port` (port 0 = ephemeral); rejects on a bind error (e.g. EADDRINUSE)
 * with an error that names `listener` and the address.
 */
export function listen(
  server: Server,
  port: number | undefined,
  host: string,
  listener: string,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(listenerError(listener, `${host}:${port ?? 0}`, err));
    server.once('error', onError);
    server.listen(port ?? 0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
