import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { TestWorkload } from './pki.js';

/** One request the test app received. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A plain HTTP app that records every request and answers per path. */
export interface RecordingApp {
  readonly url: string;
  readonly port: number;
  readonly seen: SeenRequest[];
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * Starts the app behind the sidecar. `/slow` never answers; `/reset` drops the connection
 * unanswered; `/stream` sends three chunks; `/echo` echoes the body; anything else answers
 * 200 JSON `{ path }` with `x-app: yes`.
 */
export async function startRecordingApp(): Promise<RecordingApp> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url?.startsWith('/slow')) {
        if (req.url.startsWith('/slow-ok')) {
          setTimeout(() => res.writeHead(200, { 'x-slow': 'done' }).end('slow done'), 1_500);
        }
        return;
      }
      if (req.url?.startsWith('/reset')) {
        req.socket.destroy();
        return;
      }
      if (req.url?.startsWith('/stream')) {
        res.writeHead(207, { 'content-type': 'text/plain', 'x-app': 'yes' });
        res.write('one,');
        setImmediate(() => {
          res.write('two,');
          setImmediate(() => res.end('three'));
        });
        return;
      }
      if (req.url?.startsWith('/echo')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
        return;
      }
      res
        .writeHead(200, {
          'content-type': 'application/json',
          'x-app': 'yes',
          'set-cookie': ['a=1', 'b=2'],
        })
        .end(JSON.stringify({ path: req.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** An undici agent presenting `workload`'s certificate (or none) and trusting its bundle. */
export function mtlsAgent(workload: TestWorkload | undefined, bundlePem: string): Agent {
  return new Agent({
    connect: {
      ca: bundlePem,
      ...(workload !== undefined ? { cert: workload.certPem, key: workload.keyPem } : {}),
      servername: 'localhost',
    },
  });
}

/** A response read whole. */
export interface ReadResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: Record<string, unknown> | undefined;
}

/** Sends one request through `agent` and reads the whole answer. */
export async function send(
  agent: Agent,
  url: string,
  options: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {},
): Promise<ReadResponse> {
  const res = await request(url, {
    dispatcher: agent,
    method: (options.method ?? 'GET') as 'GET',
    headers: options.headers ?? {},
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const body = await res.body.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(body) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, body, json };
}

/** A temp directory for config files, removed by `cleanup`. */
export async function tempDir(): Promise<{
  dir: string;
  write(name: string, text: string): Promise<string>;
  cleanup(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-http-'));
  return {
    dir,
    async write(name, text) {
      const path = join(dir, name);
      await writeFile(path, text);
      return path;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
