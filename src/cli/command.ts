import { parseArgs } from 'node:util';

/** One command-line option of a {@link Command}, in `node:util` `parseArgs` form plus help text. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly default?: string | boolean;
  /** One line for `--help`. */
  readonly description: string;
  /** Placeholder of the value in `--help`, e.g. `<file>`. Default `<value>`. */
  readonly valueName?: string;
}

/** The options of one command, by long name. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** One `certbound` sub-command. */
export interface Command {
  /** Words that select it, e.g. `['certs', 'issue']`. */
  readonly path: readonly string[];
  /** One-line description for `--help`. */
  readonly summary: string;
  /** Usage line shown in errors and help. */
  readonly usage: string;
  /** Its options, shown by `certbound <command> --help`. `--help` itself is implied. */
  readonly options: OptionSpecs;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

/** Thrown for bad command-line usage: printed with the usage line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Parses a command's arguments strictly against its own options (the ones `--help`
 * prints), so an unknown option is a usage error.
 */
export function parseOptions<const O extends OptionSpecs>(
  args: string[],
  options: O,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true }>>['values'] {
  return parseArgs({ args, options, strict: true }).values;
}
