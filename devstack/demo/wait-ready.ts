import { request } from 'node:http';

function readyzStatus(admin: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(`http://${admin}/readyz`, { timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
    req.end();
  });
}

/**
 * Polls `GET /readyz` on an admin listener until it answers 200 (identity loaded, JWKS
 * fetched, first token obtained), bounded by `timeoutMs`; gives up early when `gone()`.
 *
 * @throws Error naming the service when it is not ready in time.
 */
export async function waitReady(
  name: string,
  admin: string,
  options: { timeoutMs?: number; gone?: () => boolean } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let delay = 25;
  for (;;) {
    if ((await readyzStatus(admin)) === 200) return;
    if (options.gone?.() === true) throw new Error(`${name} sidecar exited while starting`);
    if (Date.now() > deadline) throw new Error(`${name} sidecar not ready within the time limit`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 250);
  }
}
