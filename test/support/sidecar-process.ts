import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './cli.js';

/** A `certbound run` child process. */
export interface SidecarProcess {
  readonly child: ChildProcess;
  readonly lines: string[];
  /** `host:port` of each listener, from the start log line. */
  readonly addresses: { inbound?: string; outbound?: string; admin?: string };
  /**
   * Resolves with the first log line at index ≥ `from` that contains `text` (bounded by
   * `timeoutMs`); rejects when the process exits first.
   */
  waitForLine(text: string, from?: number, timeoutMs?: number): Promise<string>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

/**
 * Runs the built CLI `run --config <path>` and waits for its start log line (bounded).
 * `nodeArgs` go to node before the CLI (e.g. `--expose-gc`).
 */
export function startSidecarProcess(
  configPath: string,
  timeoutMs = 20_000,
  nodeArgs: readonly string[] = [],
): Promise<SidecarProcess> {
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'run', '--config', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CERTBOUND_LOG_LEVEL: 'info' },
  });
  const lines: string[] = [];
  let stderr = '';
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sidecar did not start: ${stderr}${lines.join('\n')}`));
    }, timeoutMs);
    let buffer = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      buffer += c.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        if (line.includes('certbound sidecar started')) {
          clearTimeout(timer);
          const parsed = JSON.parse(line) as {
            inbound?: string;
            outbound?: string;
            admin?: string;
          };
          resolve({
            child,
            lines,
            addresses: parsed,
            exited,
            waitForLine(text, from = 0, waitMs = 20_000) {
              const found = (): string | undefined =>
                lines.slice(from).find((l) => l.includes(text));
              return new Promise((resolveLine, rejectLine) => {
                const check = (): void => {
                  const line = found();
                  if (line === undefined) return;
                  done();
                  resolveLine(line);
                };
                const gone = (): void => {
                  done();
                  rejectLine(new Error(`sidecar exited before logging "${text}"`));
                };
                const t = setTimeout(() => {
                  done();
                  rejectLine(new Error(`no log line "${text}" within ${waitMs} ms`));
                }, waitMs);
                const done = (): void => {
                  clearTimeout(t);
                  child.stdout.off('data', check);
                  child.off('exit', gone);
                };
                child.stdout.on('data', check);
                child.once('exit', gone);
                check();
              });
            },
            stop(signal = 'SIGTERM') {
              if (child.exitCode === null) child.kill(signal);
              return exited;
            },
          });
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`sidecar exited ${code}: ${stderr}`));
    });
  });
}

/** One curl run. */
export interface CurlResult {
  exitCode: number;
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Runs curl (an independent client) and parses status, headers and body. */
export function curl(args: string[], timeoutMs = 15_000): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-s', '-S', '-D', '-', '--max-time', String(timeoutMs / 1000), ...args],
      { timeout: timeoutMs + 2_000, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout) => {
        const exitCode = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        const parts = stdout.split('\r\n\r\n');
        const head = parts.shift() ?? '';
        const [statusLine, ...headerLines] = head.split('\r\n');
        const headers: Record<string, string> = {};
        for (const h of headerLines) {
          const i = h.indexOf(':');
          if (i > 0) headers[h.slice(0, i).toLowerCase()] = h.slice(i + 1).trim();
        }
        resolve({
          exitCode,
          status: Number(/HTTP\/[\d.]+ (\d+)/.exec(statusLine ?? '')?.[1] ?? 0),
          headers,
          body: parts.join('\r\n\r\n'),
        });
      },
    );
  });
}
