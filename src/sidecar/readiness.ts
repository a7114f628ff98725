/** Readiness of a sidecar: every flag must be true for `/readyz` to answer 200. */
export class Readiness {
  readonly #checks = new Map<string, boolean>();
  #draining = false;

  /** Declares a check, false until {@link Readiness.pass}. */
  require(name: string, initially = false): void {
    this.#checks.set(name, initially);
  }

  /** Marks a check as passed. */
  pass(name: string): void {
    this.#checks.set(name, true);
  }

  /** From now on the sidecar is not ready (graceful drain). */
  drain(): void {
    this.#draining = true;
  }

  /** The checks, plus `notDraining`. */
  checks(): Record<string, boolean> {
    return { ...Object.fromEntries(this.#checks), notDraining: !this.#draining };
  }

  /** True when every check passes and the sidecar is not draining. */
  get ready(): boolean {
    return !this.#draining && [...this.#checks.values()].every((v) => v);
  }
}
