#!/usr/bin/env node
import { CertboundError } from '../errors.js';
import { UsageError, type Command } from './command.js';
import { COMMANDS } from './commands/index.js';
import { packageVersion } from './version.js';

function help(): string {
  const lines = COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(22)} ${c.summary}`);
  return [
    'usage: certbound <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    '  --version               print the version',
  ].join('\n');
}

function find(argv: string[]): { command: Command; rest: string[] } | undefined {
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

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-v') {
    console.log(packageVersion());
    return 0;
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    console.log(help());
    return argv.length === 0 ? 2 : 0;
  }
  const found = find(argv);
  if (found === undefined) {
    console.error(`certbound: unknown command "${argv.join(' ')}"\n\n${help()}`);
    return 2;
  }
  try {
    return await found.command.run(found.rest);
  } catch (err) {
    if (
      err instanceof UsageError ||
      (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      console.error(`certbound: ${err.message}\nusage: ${found.command.usage}`);
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
