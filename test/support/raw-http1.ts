import { connect, type TLSSocket } from 'node:tls';

/** One HTTP/1.1 response read off a raw connection. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw HTTP/1.1-over-TLS connection: the attacker's view, bytes in, responses out. */
export interface RawConnection {
  readonly socket: TLSSocket;
  /** Writes bytes as they are (`\r\n` and all). */
  write(bytes: string): void;
  /** The next response (1xx included), or `closed` when the peer closed first (bounded). */
  next(timeoutMs?: number): Promise<RawResponse | 'closed'>;
  /** Every byte received so far. */
  received(): string;
  close(): void;
}

interface Parsed {
  response: RawResponse;
  length: number;
}

/** Parses one response at the start of `data` (Content-Length, chunked, 1xx or bodiless). */
function parseResponse(data: string, ended: boolean): Parsed | undefined {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const [statusLine, ...lines] = data.slice(0, headEnd).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  const start = headEnd + 4;
  const done = (body: string, length: number): Parsed => ({
    response: { status, headers, body },
    length,
  });
  if (status < 200 || status === 204 || status === 304) return done('', start);
  if (headers['content-length'] !== undefined) {
    const end = start + Number(headers['content-length']);
    return data.length >= end ? done(data.slice(start, end), end) : undefined;
  }
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    let at = start;
    let body = '';
    for (;;) {
      const nl = data.indexOf('\r\n', at);
      if (nl === -1) return undefined;
      const size = parseInt(data.slice(at, nl), 16);
      if (size === 0) {
        const trailerEnd = data.indexOf('\r\n', nl + 2);
        return trailerEnd === -1 ? undefined : done(body, trailerEnd + 2);
      }
      if (data.length < nl + 2 + size + 2) return undefined;
      body += data.slice(nl + 2, nl + 2 + size);
      at = nl + 2 + size + 2;
    }
  }
  // Close-delimited body (RFC 9112 §6.3).
  return ended ? done(data.slice(start), data.length) : undefined;
}

/** Opens a TLS connection to 127.0.0.1:`port` with `material`, offering only http/1.1. */
export function openRawHttp1(
  port: number,
  material: { certPem: string; keyPem: string; bundlePem: string },
): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: material.bundlePem,
      cert: material.certPem,
      key: material.keyPem,
      ALPNProtocols: ['http/1.1'],
    });
    let all = '';
    let pending = '';
    let ended = false;
    let wake: (() => void) | undefined;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      all += chunk;
      pending += chunk;
      wake?.();
    });
    socket.on('close', () => {
      ended = true;
      wake?.();
    });
    socket.on('error', () => undefined);
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      resolve({
        socket,
        write: (bytes) => socket.write(bytes, 'latin1'),
        received: () => all,
        close: () => socket.destroy(),
        next(timeoutMs = 10_000) {
          return new Promise((done, fail) => {
            const timer = setTimeout(() => {
              wake = undefined;
              fail(new Error(`no response within ${timeoutMs} ms; received: ${all.slice(-300)}`));
            }, timeoutMs);
            const check = (): void => {
              const parsed = parseResponse(pending, ended);
              if (parsed !== undefined) {
                pending = pending.slice(parsed.length);
              } else if (!ended) return;
              clearTimeout(timer);
              wake = undefined;
              done(parsed?.response ?? 'closed');
            };
            wake = check;
            check();
          });
        },
      });
    });
    socket.once('error', reject);
  });
}

/** An HTTP/1.1 request as raw text: `head` is `METHOD target`, headers as given. */
export function rawRequest(head: string, headers: Record<string, string>, body = ''): string {
  const lines = [`${head} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}
