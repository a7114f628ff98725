#!/usr/bin/env node
import { CertboundError } from '../errors.js';
import { UsageError, type Command } from './command.js';
import { COMMANDS } from './commands/index.js';
import { closestOf, commandHelpOf, helpOf, suggestionFor } from './help.js';
import { packageVersion } from './version.js';

function find(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of COMMANDS) {
    if (
      c.path.every((word, i) => argv[i] === word) &&
      (best === undefined || c.path.length > best.path.length)
    )
      best = c;
  }
  return best === undefined ? undefined : { command: best, rest: argv.slice(best.path.length) };
}

/** `--help` / `-h` anywhere before a `--` terminator. */
function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** Help for words that name no command: a group (`certs`) lists its commands. */
function notFound(words: readonly string[], asked: boolean): number {
  const group = COMMANDS.filter((c) => c.path.length > 1 && c.path[0] === words[0]);
  if (group.length > 0 && (words.length === 1 || asked)) {
    const out = helpOf(group, words[0]);
    if (asked) console.log(out);
    else console.error(`certbound: "${words[0]}" needs a sub-command\n\n${out}`);
    return asked ? 0 : 2;
  }
  const typed = words.filter((w) => !w.startsWith('-'));
  const suggestion = suggestionFor(typed, COMMANDS);
  const hint = suggestion !== undefined ? ` — did you mean "certbound ${suggestion}"?` : '';
  console.error(`certbound: unknown command "${typed.join(' ')}"${hint}\n\n${helpOf(COMMANDS)}`);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-v') {
    console.log(packageVersion());
    return 0;
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    console.log(helpOf(COMMANDS));
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === 'help') {
    const words = argv.slice(1);
    // `help`, `help help`, `help --help`: the top-level help.
    if (
      words.length === 0 ||
      (words.length === 1 && ['help', '--help', '-h'].includes(words[0] as string))
    ) {
      console.log(helpOf(COMMANDS));
      return 0;
    }
    const named = find(words);
    if (named === undefined || named.rest.length > 0) return notFound(words, true);
    console.log(commandHelpOf(named.command));
    return 0;
  }
  const found = find(argv);
  if (found === undefined) return notFound(argv, wantsHelp(argv));
  if (wantsHelp(found.rest)) {
    console.log(commandHelpOf(found.command));
    return 0;
  }
  try {
    return await found.command.run(found.rest);
  } catch (err) {
    if (
      err instanceof UsageError ||
      (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      const unknown = /^Unknown option '--([^']+)'/.exec(err.message)?.[1];
      const option =
        unknown !== undefined ? closestOf(unknown, Object.keys(found.command.options)) : undefined;
      const hint = option !== undefined ? ` — did you mean --${option}?` : '';
      console.error(
        `certbound: ${err.message}${hint}\nusage: ${found.command.usage}\n(certbound ${found.command.path.join(' ')} --help lists the options)`,
      );
      return 2;
    }
    if (err instanceof CertboundError) {
      console.error(`certbound: ${err.code}: ${err.message}`);
      return 1;
    }
    console.error(`certbound: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
