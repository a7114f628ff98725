import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { CertboundError } from '../../errors.js';
import { requestHasBody } from '../../http/request-has-body.js';

/**
 * Why an HTTP/1.1 upgrade request is not forwarded, or `undefined` for the one upgrade
 * that is: `GET`, HTTP/1.1, `Upgrade: websocket` alone (RFC 6455 §4.1), no request body.
 * `h2c` is never passed on (RFC 9113 §3.1 retired it; over TLS it does not exist).
 */
export function upgradeRefusalOf(req: IncomingMessage): CertboundError | undefined {
  const protocols = (req.headers.upgrade ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0);
  if (protocols.length !== 1 || protocols[0] !== 'websocket') {
    return new CertboundError(
      'ERR_UPGRADE_UNSUPPORTED',
      protocols.includes('h2c')
        ? 'Upgrade to h2c is not supported (RFC 9113 §3.1); negotiate h2 with ALPN.'
        : 'Only Upgrade: websocket is forwarded.',
    );
  }
  if (req.method !== 'GET' || req.httpVersion !== '1.1')
    return new CertboundError(
      'ERR_UPGRADE_UNSUPPORTED',
      'A WebSocket upgrade must be an HTTP/1.1 GET (RFC 6455 §4.1).',
    );
  if (requestHasBody(req))
    return new CertboundError(
      'ERR_UPGRADE_UNSUPPORTED',
      'An upgrade request must not carry a body.',
    );
  return undefined;
}

/** How the app answered a forwarded upgrade request. */
export type UpgradeOutcome =
  | {
      /** `101 Switching Protocols` to websocket: join `socket` with the client. */
      readonly switched: true;
      readonly response: IncomingMessage;
      readonly socket: Socket;
      /** Bytes the app sent after its 101 head. */
      readonly head: Buffer;
    }
  | {
      /** Any other answer: relay `response` as an HTTP response. */
      readonly switched: false;
      readonly response: IncomingMessage;
    };

/** Options of {@link requestUpgrade}. */
export interface UpgradeRequestOptions {
  readonly app: URL;
  readonly path: string;
  readonly headers: OutgoingHttpHeaders;
  /** The app must answer (and keep sending its body) within this time. */
  readonly timeoutMs: number;
  /** Largest response head accepted from the app. */
  readonly maxHeaderBytes: number;
}

/** A forwarded upgrade request in flight. */
export interface PendingUpgrade {
  readonly outcome: Promise<UpgradeOutcome>;
  /** Gives up (the client went away). */
  abort(): void;
}

/**
 * Sends a verified WebSocket upgrade request to the app on its own connection and waits
 * for the app's answer head (bounded in size and time). Nothing is joined here: the caller
 * joins the sockets only on `switched`. A 101 that switches to another protocol than
 * websocket is an error.
 *
 * @returns rejects with the socket error (mapped by the caller) or `ERR_APP_TIMEOUT`
 */
export function requestUpgrade(options: UpgradeRequestOptions): PendingUpgrade {
  let req: ClientRequest | undefined;
  const outcome = new Promise<UpgradeOutcome>((resolve, reject) => {
    req = httpRequest({
      host: options.app.hostname,
      port: Number(options.app.port || 80),
      method: 'GET',
      path: options.path,
      headers: options.headers,
      agent: false,
      setHost: false,
      maxHeaderSize: options.maxHeaderBytes,
    });
    const sent = req;
    sent.setTimeout(options.timeoutMs, () =>
      sent.destroy(
        new CertboundError('ERR_APP_TIMEOUT', 'The application did not answer in time.'),
      ),
    );
    sent.once('upgrade', (response: IncomingMessage, socket: Socket, head: Buffer) => {
      sent.setTimeout(0);
      if ((response.headers.upgrade ?? '').trim().toLowerCase() !== 'websocket') {
        socket.destroy();
        reject(
          new CertboundError(
            'ERR_APP_UNREACHABLE',
            'The application switched to another protocol than websocket.',
          ),
        );
        return;
      }
      resolve({ switched: true, response, socket, head });
    });
    sent.once('response', (response: IncomingMessage) => resolve({ switched: false, response }));
    sent.once('error', reject);
    sent.end();
  });
  return { outcome, abort: () => req?.destroy() };
}
