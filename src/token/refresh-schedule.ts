import type { AccessToken } from './access-token.js';

/**
 * When a token obtained by a request sent at `requestedAt` is refreshed: after `fraction`
 * of its lifetime, counted from the request (as its expiry is), so a slow AS answer does
 * not push the refresh past the point it was meant to leave for retries.
 */
export function refreshTime(token: AccessToken, requestedAt: number, fraction: number): number {
  return requestedAt + (token.expiresAt.getTime() - requestedAt) * fraction;
}

/**
 * The one timer of a cache slot: arming it again replaces the previous time. Unref'd, so a
 * pending refresh never keeps the process alive.
 */
export class SlotTimer {
  #timer: NodeJS.Timeout | undefined;

  /** Calls `fire` at `at` (ms since the epoch; at once when past), replacing any earlier arming. */
  arm(at: number, fire: () => void): void {
    this.cancel();
    const timer = setTimeout(
      () => {
        this.#timer = undefined;
        fire();
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
    this.#timer = timer;
  }

  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
