import { execFileSync } from 'node:child_process';

/** Where a command is, or why it is not there. */
export interface EnsuredCommand {
  readonly path?: string;
  readonly note: string;
}

function find(command: string): string | undefined {
  try {
    return (
      execFileSync('sh', ['-c', `command -v ${command}`], {
        encoding: 'utf8',
        env: { ...process.env, PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin` },
      }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

/**
 * Finds `command`, installing the Debian package `pkg` with apt-get when it is missing and
 * possible (a fresh CI machine), as the bench and the e2e tests need real nginx and HAProxy.
 * The one install-when-missing helper: `bench/` and `test/` both use it.
 */
export function ensureDebianCommand(command: string, pkg: string = command): EnsuredCommand {
  let path = find(command);
  if (path !== undefined) return { path, note: `${command} found` };
  try {
    console.log(`${command} is missing: installing it with apt-get (Debian package ${pkg})…`);
    execFileSync(
      'sh',
      ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkg}`],
      { stdio: 'ignore', timeout: 300_000 },
    );
    path = find(command);
  } catch {
    // reported below
  }
  return path !== undefined
    ? { path, note: `${command} installed (Debian package ${pkg})` }
    : { note: `${command} could not be installed (apt-get failed)` };
}
