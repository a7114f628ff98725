import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built CLI bundle next to this file (`dist/certbound.mjs`), as the image runs it. */
export const CLI_PATH: string = fileURLToPath(new URL('../../certbound.mjs', import.meta.url));

/** Listener addresses from the sidecar's start log line. */
export interface SidecarAddresses {
  readonly inbound?: string;
  readonly outbound?: string;
  readonly outboundGrpc?: string;
  readonly admin?: string;
  readonly localApi?: string;
}

/** A `certbound run` child process in its own process group. */
export interface SidecarChild {
  readonly name: string;
  readonly pid: number;
  readonly addresses: SidecarAddresses;
  /** Where its stdout and stderr (pino JSON lines) are written. */
  readonly logPath: string;
  /** True once the process has exited. */
  exited(): boolean;
  /** SIGTERM to the group, wait (bounded), then SIGKILL; resolves once it has exited. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Negative pid: the whole group (the child was started detached, as a group leader).
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Environment of a child: ours without `CERTBOUND_*` overrides (the generated file rules). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('CERTBOUND_')) env[key] = value;
  }
  return env;
}

/**
 * Starts `node <cli> run --config <configPath>` detached (own process group, so a Ctrl-C
 * in the terminal reaches only the demo, which then stops the group in order), writes its
 * output to `logPath` and resolves with the addresses of its start log line.
 *
 * @throws Error when the process exits or prints no start line within `timeoutMs`.
 */
export function spawnSidecar(options: {
  name: string;
  configPath: string;
  logPath: string;
  timeoutMs?: number;
}): Promise<SidecarChild> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Last resort when the demo exits without stopping the stack (e.g. an uncaught error).
    process.once('exit', () => {
      for (const child of live) killGroup(child, 'SIGKILL');
    });
  }
  const child = spawn(process.execPath, [CLI_PATH, 'run', '--config', options.configPath], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...childEnv(), CERTBOUND_LOG_LEVEL: 'info' },
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const log = createWriteStream(options.logPath);
  child.once('close', () => log.end());
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      killGroup(child, 'SIGTERM');
      if (!(await waitExit(child, 15_000))) {
        killGroup(child, 'SIGKILL');
        await waitExit(child, 5_000);
      }
      // Also ends anything the sidecar itself may have started in its group.
      killGroup(child, 'SIGKILL');
    })();
    return stopping;
  };

  return new Promise<SidecarChild>((resolve, reject) => {
    const recent: string[] = [];
    let buffer = '';
    let started = false;
    child.stderr?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      if (started) return;
      recent.push(...chunk.toString().trimEnd().split('\n'));
      recent.splice(0, Math.max(0, recent.length - 20));
    });
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${options.name} sidecar did not start in time; see ${options.logPath}`));
    }, options.timeoutMs ?? 60_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!started) {
        reject(
          new Error(
            `${options.name} sidecar exited (${code ?? signal}) before starting; see ${options.logPath}\n${recent.join('\n')}`,
          ),
        );
      }
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      if (started) return;
      buffer += chunk.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        recent.push(line);
        if (recent.length > 20) recent.shift();
        if (!line.includes('certbound sidecar started')) continue;
        started = true;
        clearTimeout(timer);
        const parsed = JSON.parse(line) as SidecarAddresses;
        resolve({
          name: options.name,
          pid: child.pid as number,
          addresses: {
            ...(parsed.inbound !== undefined ? { inbound: parsed.inbound } : {}),
            ...(parsed.outbound !== undefined ? { outbound: parsed.outbound } : {}),
            ...(parsed.outboundGrpc !== undefined ? { outboundGrpc: parsed.outboundGrpc } : {}),
            ...(parsed.admin !== undefined ? { admin: parsed.admin } : {}),
            ...(parsed.localApi !== undefined ? { localApi: parsed.localApi } : {}),
          },
          logPath: options.logPath,
          exited: () => child.exitCode !== null || child.signalCode !== null,
          stop,
        });
        return;
      }
    });
  });
}
