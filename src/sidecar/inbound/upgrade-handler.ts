import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { isCertboundError } from '../../errors.js';
import { adoptInteractionId } from '../../http/adopt-interaction-id.js';
import {
  bearerErrorResponseOf,
  type BearerErrorOptions,
} from '../../http/bearer-error-response.js';
import { interactionIdHeaderOf } from '../../observability/interaction-id.js';
import { httpRequestTargetOf } from '../../http/verify-http-request.js';
import type { Logger } from '../../observability/logger.js';
import type { Principal } from '../../verify/principal.js';
import type { RequestTarget } from '../../verify/request-path.js';
import { appRequestHeaders, type AppHeaderOptions } from '../forward-headers.js';
import { appErrorOf } from './app-error.js';
import type { CallReporter } from './call-reporter.js';
import type { MeteredVerify } from './metered-verify.js';
import { rawBearerErrorOf } from './raw-bearer-error.js';
import { hostOf } from './request-shape.js';
import { canResumeHttp1, http1HeadOf, relayHttp1Response, resumeHttp1 } from './resume-http1.js';
import type { ResumedDeadlines } from './resumed-deadlines.js';
import { requestUpgrade, upgradeRefusalOf, type UpgradeOutcome } from './websocket-upgrade.js';

/** Options of {@link createUpgradeHandler}. */
export interface UpgradeHandlerOptions {
  /** The app's origin. */
  readonly app: URL;
  /** The app must answer the upgrade request within this time. */
  readonly appTimeoutMs: number;
  /** Largest header block of the app's answer. */
  readonly maxHeaderBytes: number;
  /** Header rules for an upgrade (`upgrade: true`), compiled once. */
  readonly headerOptions: AppHeaderOptions;
  readonly verify: MeteredVerify;
  readonly reporter: CallReporter;
  readonly logger: Logger;
  /** Deadlines of connections resumed as HTTP after a refused upgrade (shared with requests). */
  readonly resumed: ResumedDeadlines;
  /** True while the listener drains: after a non-101 answer the connection closes. */
  readonly draining?: () => boolean;
  /** How refusals are rendered (RFC 9728 `resource_metadata`). Default: plain challenges. */
  readonly bearer?: BearerErrorOptions;
}

/** The `upgrade` event handler. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** The head of the app's 101 answer, relayed as the app sent it (names as they came). */
function switchedHeadOf(response: IncomingMessage, interactionId: string | undefined): string {
  const headers: OutgoingHttpHeaders = {};
  for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) {
    const name = response.rawHeaders[i]!;
    const prior = headers[name];
    const value = response.rawHeaders[i + 1]!;
    headers[name] =
      prior === undefined
        ? value
        : Array.isArray(prior)
          ? [...prior, value]
          : [String(prior), value];
  }
  if (interactionId !== undefined) headers['x-fapi-interaction-id'] = interactionId;
  return http1HeadOf('HTTP/1.1 101 Switching Protocols', headers);
}

/** The app switched protocols: only now are the two sockets joined. */
function join(
  socket: Duplex,
  head: Buffer,
  outcome: Extract<UpgradeOutcome, { switched: true }>,
  interactionId: string | undefined,
): void {
  const upstream = outcome.socket;
  upstream.on('error', () => socket.destroy());
  socket.once('close', () => upstream.destroy());
  upstream.once('close', () => socket.destroy());
  socket.write(switchedHeadOf(outcome.response, interactionId));
  if (outcome.head.length > 0) socket.write(outcome.head);
  if (head.length > 0) upstream.write(head);
  upstream.pipe(socket);
  socket.pipe(upstream);
}

/**
 * The HTTP/1.1 upgrade path (WebSocket; CONNECT is refused with a code): verify, then ask
 * the app to upgrade without reading the client; join the sockets on 101, otherwise relay
 * the app's answer and serve the connection as HTTP again.
 */
export function createUpgradeHandler(options: UpgradeHandlerOptions): UpgradeHandler {
  const { app, verify, reporter, logger, resumed } = options;

  // Listeners a socket gets once, however many upgrade round trips it makes.
  const watched = new WeakSet<Duplex>();
  function watch(socket: Duplex): void {
    if (watched.has(socket)) return;
    watched.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => resumed.settle(socket));
  }

  function refuse(
    req: IncomingMessage,
    socket: Duplex,
    err: unknown,
    started: number,
    target: RequestTarget | undefined,
  ): void {
    if (!isCertboundError(err)) logger.error({ err }, 'inbound upgrade failed unexpectedly');
    const response = bearerErrorResponseOf(err, options.bearer);
    // No ServerResponse here: the interaction id goes into the raw head itself.
    const stamped = {
      ...response,
      headers: { ...response.headers, ...interactionIdHeaderOf(req.headers) },
    };
    if (socket.writable) socket.end(rawBearerErrorOf(stamped));
    else socket.destroy();
    reporter.record(req, response.status, response.code, undefined, started, target);
  }

  /** The app answered anything but 101: relay it, then serve the connection as HTTP again. */
  function relay(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    response: IncomingMessage,
    principal: Principal,
    started: number,
    target: RequestTarget,
  ): void {
    const resume = options.draining?.() !== true && canResumeHttp1(socket);
    relayHttp1Response(socket, response, !resume).then(
      () => {
        reporter.record(req, response.statusCode ?? 0, undefined, principal, started, target);
        if (!resume || socket.destroyed) return;
        resumed.arm(socket);
        resumeHttp1(socket, head);
      },
      () => reporter.record(req, 502, 'ERR_APP_UNREACHABLE', principal, started, target),
    );
  }

  function upgradeVerified(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    principal: Principal,
    started: number,
    target: RequestTarget,
  ): void {
    let headers: OutgoingHttpHeaders;
    try {
      headers = appRequestHeaders(
        req.headers,
        principal,
        { remoteAddress: req.socket.remoteAddress, host: hostOf(req, target) },
        options.headerOptions,
      );
    } catch (err) {
      refuse(req, socket, err, started, target);
      return;
    }
    if (socket.destroyed) return;
    // The client is not read from until the app has answered: nothing it sends can
    // reach the app before the app agreed to switch protocols.
    const pending = requestUpgrade({
      app,
      path: target.path + target.query,
      headers,
      timeoutMs: options.appTimeoutMs,
      maxHeaderBytes: options.maxHeaderBytes,
    });
    const onClose = (): void => pending.abort();
    socket.once('close', onClose);
    pending.outcome.then(
      (outcome) => {
        socket.off('close', onClose);
        if (socket.destroyed) {
          (outcome.switched ? outcome.socket : outcome.response).destroy();
          return;
        }
        if (outcome.switched) {
          join(socket, head, outcome, interactionIdHeaderOf(req.headers)['x-fapi-interaction-id']);
          reporter.record(req, 101, undefined, principal, started, target);
        } else relay(req, socket, head, outcome.response, principal, started, target);
      },
      (err: unknown) => {
        socket.off('close', onClose);
        if (socket.destroyed) return;
        refuse(req, socket, isCertboundError(err) ? err : appErrorOf(err), started, target);
      },
    );
  }

  return (req, socket, head) => {
    const started = performance.now();
    adoptInteractionId(req, undefined, logger);
    watch(socket);
    if (resumed.waiting > 0) resumed.settle(socket);
    let target: RequestTarget;
    try {
      target = httpRequestTargetOf(req);
      const refusal = upgradeRefusalOf(req);
      if (refusal !== undefined) throw refusal;
    } catch (err) {
      refuse(req, socket, err, started, undefined);
      return;
    }
    verify(req, target).then(
      (principal) => upgradeVerified(req, socket, head, principal, started, target),
      (err: unknown) => refuse(req, socket, err, started, target),
    );
  };
}
