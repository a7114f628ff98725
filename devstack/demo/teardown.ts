/**
 * Cleanup steps registered while the demo stack starts, run once in reverse order —
 * also when the start fails halfway or a signal arrives during it.
 */
export class Teardown {
  readonly #steps: Array<{ name: string; run: () => unknown }> = [];
  #running: Promise<void> | undefined;

  /** Registers a cleanup step (run before the ones registered earlier). */
  add(name: string, run: () => unknown): void {
    this.#steps.push({ name, run });
  }

  /** Runs every step once, newest first; errors are reported and do not stop the others. */
  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps.reverse()) {
        try {
          await step.run();
        } catch (err) {
          console.error(`demo: stopping ${step.name} failed: ${String(err)}`);
        }
      }
    })();
    return this.#running;
  }
}
