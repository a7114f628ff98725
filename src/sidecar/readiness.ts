import type { ReadinessReport } from './admin-server.js';
import type { Logger } from '../observability/logger.js';
import type { ReadinessCheck, ReadinessStatus } from '../readiness-check.js';

/**
 * Readiness of a sidecar: composes the checks its components own (certificate, JWKS, token
 * endpoint) plus `notDraining`. Every check must pass for `/readyz` to answer 200; a failing
 * one names itself and its reason in the body. Checks are read on every report: they say
 * the current state, not what happened at start.
 */
export class Readiness {
  readonly #checks: ReadinessCheck[] = [];
  readonly #log: Logger | undefined;
  readonly #wasOk = new Map<string, boolean>();
  #wasReady = false;
  #draining = false;

  /** @param logger logs when a check that passed fails (warn) and when the sidecar becomes ready (info) */
  constructor(logger?: Logger) {
    this.#log = logger;
  }

  /** Adds a component's check. */
  add(check: ReadinessCheck): void {
    this.#checks.push(check);
  }

  /** From now on the sidecar is not ready (graceful drain). */
  drain(): void {
    this.#draining = true;
  }

  /** Runs every check now. */
  report(): ReadinessReport {
    const checks: Record<string, boolean> = {};
    const reasons: Record<string, string> = {};
    for (const check of this.#checks) {
      let status: ReadinessStatus;
      try {
        status = check.check();
      } catch (err) {
        status = {
          ok: false,
          reason: `the check failed: ${err instanceof Error ? err.message : 'unknown error'}`,
        };
      }
      checks[check.name] = status.ok;
      if (!status.ok) reasons[check.name] = status.reason ?? 'not ready';
      if (this.#wasOk.get(check.name) === true && !status.ok) {
        this.#log?.warn(
          { check: check.name, reason: reasons[check.name] },
          `not ready: ${check.name}: ${reasons[check.name]}`,
        );
      }
      this.#wasOk.set(check.name, status.ok);
    }
    checks['notDraining'] = !this.#draining;
    if (this.#draining) reasons['notDraining'] = 'the sidecar is shutting down (draining).';
    const ready = Object.values(checks).every((ok) => ok);
    if (ready && !this.#wasReady) this.#log?.info({ checks: Object.keys(checks) }, 'ready');
    this.#wasReady = ready;
    return { ready, checks, reasons };
  }

  /** True when every check passes and the sidecar is not draining. */
  get ready(): boolean {
    return this.report().ready;
  }
}
