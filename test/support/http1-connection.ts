import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';

/** One HTTP/1.1 response read off the wire. */
export interface WireResponse {
  readonly status: number;
  /** Header names lower-cased; the last value wins. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What became of one request written on an {@link Http1Connection}. */
export type WireOutcome =
  | { readonly ok: true; readonly response: WireResponse }
  /** The request was written but no complete response came back (reset, EOF, error). */
  | { readonly ok: false; readonly reason: string };

/**
 * A raw keep-alive HTTP/1.1 connection over TLS that sends one request at a time (no
 * pipelining) and frames responses (`content-length` or chunked), so a test sees exactly what the
 * server did on the wire: which requests were answered, whether the server announced
 * `connection: close`, and whether it closed the connection (FIN) or reset it.
 */
export interface Http1Connection {
  readonly socket: TLSSocket;
  /** True once the server closed its side (FIN/close_notify, reset or error). */
  readonly ended: boolean;
  /**
   * Writes `head` (one request, or several to pipeline them, or nothing to await the next
   * response of requests already written) and resolves with the next response (bounded by
   * `timeoutMs`).
   */
  request(head: string, timeoutMs?: number): Promise<WireOutcome>;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  destroy(): void;
}

/** Parses one complete response at the start of `buffer`, or undefined when incomplete. */
function parseResponse(buffer: string): { response: WireResponse; rest: string } | undefined {
  const end = buffer.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine = '', ...lines] = buffer.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(statusLine.split(' ')[1]);
  const bodyStart = end + 4;
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    let body = '';
    let at = bodyStart;
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at);
      if (lineEnd === -1) return undefined;
      const size = parseInt(buffer.slice(at, lineEnd), 16);
      if (size === 0) {
        // No trailers expected: the last chunk is followed by one empty line.
        if (buffer.length < lineEnd + 4) return undefined;
        return { response: { status, headers, body }, rest: buffer.slice(lineEnd + 4) };
      }
      if (buffer.length < lineEnd + 2 + size + 2) return undefined;
      body += buffer.slice(lineEnd + 2, lineEnd + 2 + size);
      at = lineEnd + 2 + size + 2;
    }
  }
  const length = Number(headers['content-length'] ?? '0');
  if (buffer.length < bodyStart + length) return undefined;
  return {
    response: { status, headers, body: buffer.slice(bodyStart, bodyStart + length) },
    rest: buffer.slice(bodyStart + length),
  };
}

/** Opens an {@link Http1Connection} to 127.0.0.1:`port` (ALPN `http/1.1`). */
export function openHttp1Connection(
  port: number,
  tls: ConnectionOptions,
): Promise<Http1Connection> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ALPNProtocols: ['http/1.1'],
      ...tls,
    });
    let buffer = '';
    let ended = false;
    let reason = '';
    let waiting: ((outcome: WireOutcome) => void) | undefined;
    const settle = (outcome: WireOutcome): void => {
      const w = waiting;
      waiting = undefined;
      w?.(outcome);
    };
    const stop = (why: string): void => {
      if (!ended) reason = why;
      ended = true;
      if (waiting !== undefined) settle({ ok: false, reason });
    };
    // Responses may arrive several to a chunk (pipelining): each waits in the buffer for its request.
    const deliver = (): void => {
      if (waiting === undefined) return;
      const parsed = parseResponse(buffer);
      if (parsed === undefined) return;
      buffer = parsed.rest;
      settle({ ok: true, response: parsed.response });
    };
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      deliver();
    });
    socket.on('end', () => stop('EOF before a response'));
    socket.on('error', (err: Error & { code?: string }) => stop(err.code ?? err.message));
    const closed = new Promise<void>((r) =>
      socket.once('close', () => {
        stop('closed before a response');
        r();
      }),
    );
    socket.once('secureConnect', () =>
      resolve({
        socket,
        get ended() {
          return ended;
        },
        closed,
        request(head, timeoutMs = 15_000) {
          if (waiting !== undefined) throw new Error('one request at a time');
          return new Promise<WireOutcome>((done) => {
            const timer = setTimeout(() => settle({ ok: false, reason: 'timeout' }), timeoutMs);
            waiting = (outcome) => {
              clearTimeout(timer);
              done(outcome);
            };
            if (head.length > 0) socket.write(head);
            deliver();
            if (waiting !== undefined && ended) settle({ ok: false, reason });
          });
        },
        destroy: () => socket.destroy(),
      }),
    );
    socket.once('error', reject);
  });
}

/** What {@link keepAliveLoops} saw. */
export interface KeepAliveLoopsResult {
  /** Requests written on a connection that looked open and got no response. */
  readonly failures: string[];
  readonly answered: number;
  /** Connections whose last response said `connection: close`. */
  readonly announcedClose: number;
}

/**
 * Runs one keep-alive client loop per connection: each sends its next request (`head(n)`) as
 * soon as it has read the previous response, until the server says `connection: close` or
 * closes its side — as a keep-alive client does. `onWarm` runs once every connection has
 * completed `warmUp` requests (e.g. to start a drain). Bounded to `maxPerConnection`.
 */
export async function keepAliveLoops(
  conns: readonly Http1Connection[],
  head: (n: number) => string,
  options: { warmUp: number; onWarm: () => void; maxPerConnection?: number },
): Promise<KeepAliveLoopsResult> {
  const max = options.maxPerConnection ?? 10_000;
  const failures: string[] = [];
  let answered = 0;
  let announcedClose = 0;
  let warmed = 0;
  await Promise.all(
    conns.map(async (conn, i) => {
      for (let n = 0; n < max && !conn.ended; n++) {
        const outcome = await conn.request(head(n));
        if (!outcome.ok) {
          failures.push(`connection ${i}, request ${n}: ${outcome.reason}`);
          return;
        }
        answered++;
        if (n + 1 === options.warmUp && ++warmed === conns.length) options.onWarm();
        if (outcome.response.headers['connection'] === 'close') {
          announcedClose++;
          return;
        }
      }
    }),
  );
  return { failures, answered, announcedClose };
}
