/** One `certbound` sub-command. */
export interface Command {
  /** Words that select it, e.g. `['certs', 'issue']`. */
  readonly path: readonly string[];
  /** One-line description for `--help`. */
  readonly summary: string;
  /** Usage line shown in errors and help. */
  readonly usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

/** Thrown for bad command-line usage: printed with the usage line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
