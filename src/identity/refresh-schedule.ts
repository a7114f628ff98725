/** Options of {@link RefreshSchedule}. */
export interface RefreshScheduleOptions {
  /** One refresh. */
  readonly refresh: () => Promise<void>;
  /** The quiet period: change events are debounced by it, and {@link RefreshSchedule.pause} waits it. */
  readonly quietMs: number;
  /** True once the owner is closed: no more refreshes start. */
  readonly closed: () => boolean;
  /** A refresh threw (only a close racing it should). */
  readonly onError: (err: unknown) => void;
}

/**
 * When a file-based source refreshes: change events are debounced by the quiet period,
 * polls run at once, and refreshes are serialised (one at a time, and one more if asked
 * while running). {@link RefreshSchedule.close} cancels the timers, including a pause in
 * progress, so a close never waits a quiet period.
 */
export class RefreshSchedule {
  readonly #options: RefreshScheduleOptions;
  #debounce: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #pauseTimer: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  constructor(options: RefreshScheduleOptions) {
    this.#options = options;
  }

  /** The refresh in progress, if any. */
  get running(): Promise<void> | undefined {
    return this.#running;
  }

  /** A change event (debounced) or a poll tick (at once). */
  signal(reason: 'event' | 'poll'): void {
    if (this.#options.closed()) return;
    if (reason === 'poll') {
      void this.run();
      return;
    }
    if (this.#debounce !== undefined) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.run();
    }, this.#options.quietMs);
    this.#debounce.unref();
  }

  /** Refreshes now, or once more after the refresh in progress; resolves when done. */
  run(): Promise<void> {
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running;
    }
    const loop = async (): Promise<void> => {
      do {
        this.#again = false;
        try {
          await this.#options.refresh();
        } catch (err) {
          this.#options.onError(err);
        }
      } while (this.#again && !this.#options.closed());
    };
    this.#running = loop().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Waits one quiet period (cut short by {@link RefreshSchedule.close}). */
  pause(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pauseTimer = undefined;
        resolve();
      }, this.#options.quietMs);
      timer.unref();
      this.#pauseTimer = { timer, resolve };
    });
  }

  /** Cancels the pending debounce and ends a pause in progress. */
  close(): void {
    if (this.#debounce !== undefined) clearTimeout(this.#debounce);
    this.#debounce = undefined;
    if (this.#pauseTimer !== undefined) {
      clearTimeout(this.#pauseTimer.timer);
      this.#pauseTimer.resolve();
    }
  }
}
