import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

/** Repository root (bench/..). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Which CPUs the servers under test and the load generator are pinned to, if any. */
export interface Pinning {
  server?: number;
  load?: number;
  note: string;
}

/** Pins servers to CPU 0 and the load generator to CPU 1 when `taskset` and 2+ CPUs exist. */
export function pinning(): Pinning {
  if (cpus().length < 2) return { note: 'one CPU: no pinning, load generator shares it' };
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return { server: 0, load: 1, note: 'servers under test on CPU 0, load generator on CPU 1' };
  } catch {
    return { note: 'taskset unavailable: processes not pinned (results noisier)' };
  }
}

/** `command args` run under `taskset -c cpu` when a CPU is given. */
export function pinned(
  cpu: number | undefined,
  command: string,
  args: string[],
): [string, string[]] {
  return cpu === undefined ? [command, args] : ['taskset', ['-c', String(cpu), command, ...args]];
}

/** A child process whose first stdout line is a JSON object. */
export interface JsonChild<T> {
  readonly child: ChildProcess;
  readonly first: T;
  stop(): Promise<void>;
}

/**
 * Runs a TypeScript file of bench/ (through tsx) as a separate process, pinned to `cpu`,
 * with `spec` as JSON in argv[2]; resolves with the first JSON line it prints (bounded).
 */
export function spawnTs<T>(
  file: string,
  spec: unknown,
  cpu: number | undefined,
  timeoutMs = 30_000,
): Promise<JsonChild<T>> {
  const [cmd, args] = pinned(cpu, process.execPath, [
    '--import',
    'tsx',
    fileURLToPath(new URL(file, import.meta.url)),
    JSON.stringify(spec),
  ]);
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} printed nothing within ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl === -1) return;
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      try {
        resolve({ child, first: JSON.parse(out.slice(0, nl)) as T, stop: () => stop(child) });
      } catch {
        reject(new Error(`${file} printed ${out.slice(0, 200)}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited ${code}: ${err.slice(0, 2000)}`));
    });
  });
}

/** SIGTERM, then SIGKILL after 3 s; resolves when the child has exited. */
export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Resident memory of a process in MiB, from /proc/<pid>/status: the total and its peak, and
 * the total split into anonymous pages (heap, stacks: what the process allocated) and
 * file-backed pages (mostly the node binary's code, shared by every node process).
 */
export function memoryOf(
  pid: number,
): { rssMiB: number; hwmMiB: number; anonMiB: number; fileMiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return {
      rssMiB: kb('VmRSS') / 1024,
      hwmMiB: kb('VmHWM') / 1024,
      anonMiB: kb('RssAnon') / 1024,
      fileMiB: kb('RssFile') / 1024,
    };
  } catch {
    return undefined;
  }
}

/**
 * The floor under any Node.js sidecar: the resident memory of `node` running an empty
 * script (an idle timer) on this machine, measured like the sidecar's.
 */
export async function idleNodeMemory(
  cpu: number | undefined,
): Promise<ReturnType<typeof memoryOf>> {
  const [cmd, args] = pinned(cpu, process.execPath, ['-e', 'setInterval(() => {}, 1e6)']);
  const child = spawn(cmd, args, { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1_000));
  const m = child.pid !== undefined ? memoryOf(child.pid) : undefined;
  await stop(child);
  return m;
}

let clockTicks: number | undefined;

/**
 * CPU time (user + system, all threads) a process has used so far, in seconds, from
 * /proc/<pid>/stat; undefined when the process is gone or /proc is unavailable.
 */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}
