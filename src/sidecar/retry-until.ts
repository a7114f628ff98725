/**
 * Calls `attempt` until it resolves, with exponential backoff (500 ms → 10 s), until
 * `stopped()` says to give up. Timers are unref'd: they never keep the process alive.
 */
export function retryUntil(
  attempt: () => Promise<unknown>,
  stopped: () => boolean,
  onFailure: (err: unknown, tries: number) => void,
): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let tries = 0;
    const run = (): void => {
      if (stopped()) return resolve(false);
      tries++;
      attempt().then(
        () => resolve(true),
        (err: unknown) => {
          onFailure(err, tries);
          const delay = Math.min(10_000, 500 * 2 ** Math.min(tries - 1, 5));
          setTimeout(run, delay).unref();
        },
      );
    };
    run();
  });
}
