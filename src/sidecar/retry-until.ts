import { backoffDelay } from '../token/backoff.js';

/** Backoff of {@link retryUntil}: 500 ms, doubling, at most 10 s (jittered by `backoffDelay`). */
const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

/**
 * Calls `attempt` until it resolves, with jittered exponential backoff (500 ms → 10 s),
 * until `stopped()` says to give up. Timers are unref'd: they never keep the process alive.
 *
 * @param onFailure told every failure, the attempt number and the delay before the next one
 * @returns true once `attempt` resolved, false when stopped first
 */
export function retryUntil(
  attempt: () => Promise<unknown>,
  stopped: () => boolean,
  onFailure: (err: unknown, tries: number, retryInMs: number) => void,
): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let tries = 0;
    const run = (): void => {
      if (stopped()) return resolve(false);
      tries++;
      attempt().then(
        () => resolve(true),
        (err: unknown) => {
          const delay = backoffDelay(tries, MIN_DELAY_MS, MAX_DELAY_MS);
          onFailure(err, tries, delay);
          setTimeout(run, delay).unref();
        },
      );
    };
    run();
  });
}
