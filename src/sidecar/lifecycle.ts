import type { Logger } from '../observability/logger.js';

/**
 * What the composition root opened, closed in reverse order (a listener before the
 * verifier it uses, the verifier before the source). A failing close is logged and the
 * rest still close.
 */
export class Lifecycle {
  readonly #closers: Array<() => unknown> = [];
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Registers `resource` to be closed by {@link closeAll}; returns it, for chaining. */
  own<T>(resource: T, close: (resource: T) => unknown): T {
    this.#closers.push(() => close(resource));
    return resource;
  }

  /** Closes everything registered, last first. Idempotent. */
  async closeAll(): Promise<void> {
    for (const close of this.#closers.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        this.#logger.warn({ err }, 'cleanup failed');
      }
    }
  }
}
