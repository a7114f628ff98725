import { EventEmitter } from 'node:events';
import http, { STATUS_CODES, validateHeaderName, validateHeaderValue } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { relayResponseHeaders } from '../forward-headers.js';

type ConnectionListener = (this: EventEmitter, socket: Duplex) => void;

// node:http's per-connection setup, the same function node's own HTTP/2 server calls to
// serve HTTP/1.1 connections (`allowHTTP1`); present in Node 20, 22 and 24.
const connectionListener = (http as unknown as { _connectionListener?: unknown })
  ._connectionListener as ConnectionListener | undefined;

/**
 * An HTTP/1.1 head: start line, then `name: value` lines, each name and value checked by
 * node:http's own validators (no CR, LF or NUL can reach the wire), then the blank line.
 *
 * @throws TypeError (node's `ERR_INVALID_HTTP_TOKEN` / `ERR_INVALID_CHAR`) on a bad header
 */
export function http1HeadOf(startLine: string, headers: OutgoingHttpHeaders): string {
  let head = `${startLine}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    validateHeaderName(name);
    for (const v of Array.isArray(value) ? value : [String(value)]) {
      validateHeaderValue(name, v);
      head += `${name}: ${v}\r\n`;
    }
  }
  return `${head}\r\n`;
}

/**
 * Hands `socket`, which node:http detached from its parser for an `upgrade` event, back to
 * the HTTP/1.1 parser of the server that accepted it, as if the connection were new:
 * `head` (bytes read past the upgrade request) is parsed first, then whatever the client
 * sends next; every request is emitted as `request` again (and verified again).
 *
 * @returns false when this Node.js does not offer the hand-over (the caller then closes)
 */
export function resumeHttp1(socket: Duplex, head: Buffer): boolean {
  const server = (socket as Duplex & { server?: unknown }).server;
  if (typeof connectionListener !== 'function' || !(server instanceof EventEmitter)) return false;
  if (head.length > 0) socket.unshift(head);
  connectionListener.call(server, socket);
  return true;
}

/** Whether {@link resumeHttp1} can work on this socket. */
export function canResumeHttp1(socket: Duplex): boolean {
  return (
    typeof connectionListener === 'function' &&
    (socket as Duplex & { server?: unknown }).server instanceof EventEmitter
  );
}

function bodiless(status: number): boolean {
  return status === 204 || status === 304 || (status >= 100 && status < 200);
}

/**
 * Writes the app's (non-101) answer to an upgrade request onto the client's raw socket as
 * an HTTP/1.1 response: hop-by-hop headers removed, the body re-framed (its
 * `content-length` kept, otherwise chunked), with backpressure. With `close`, the response
 * says `connection: close` and the socket is ended after it.
 *
 * @returns resolves once the whole response was handed to the socket; rejects when the
 *   app's body failed (the socket is then destroyed)
 */
export function relayHttp1Response(
  socket: Duplex,
  answer: IncomingMessage,
  close: boolean,
): Promise<void> {
  const status = answer.statusCode ?? 502;
  const headers = relayResponseHeaders(answer.headers);
  const noBody = bodiless(status);
  const length = answer.headers['content-length'];
  const chunked = !noBody && length === undefined;
  if (chunked) headers['transfer-encoding'] = 'chunked';
  if (noBody) delete headers['content-length'];
  if (close) headers['connection'] = 'close';
  socket.write(http1HeadOf(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`, headers));
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      answer.resume();
    };
    socket.on('drain', onDrain);
    answer.on('data', (chunk: Buffer) => {
      if (noBody || chunk.length === 0) return;
      const ok = chunked
        ? socket.write(`${chunk.length.toString(16)}\r\n`) &&
          socket.write(chunk) &&
          socket.write('\r\n')
        : socket.write(chunk);
      if (!ok) answer.pause();
    });
    answer.once('end', () => {
      socket.off('drain', onDrain);
      if (chunked) socket.write('0\r\n\r\n');
      if (close) socket.end();
      resolve();
    });
    answer.once('error', (err) => {
      socket.off('drain', onDrain);
      socket.destroy();
      reject(err);
    });
  });
}
