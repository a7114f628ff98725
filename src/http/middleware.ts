import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InboundRecorder } from '../observability/inbound-recorder.js';
import type { Logger } from '../observability/logger.js';
import type { Principal } from '../verify/principal.js';
import { adoptInteractionId } from './adopt-interaction-id.js';
import { writeBearerError, type BearerErrorOptions } from './bearer-error-response.js';
import { compilePolicies } from '../verify/policy.js';
import type { RequestTarget } from '../verify/request-path.js';
import { connectionPeerOf, type AnyRequest } from './connection-peer.js';
import {
  httpRequestTargetOf,
  verifyHttpRequest,
  type HttpVerifyOptions,
} from './verify-http-request.js';

/** Options of {@link certboundMiddleware} and the Fastify plugin. */
export interface CertboundHttpOptions extends HttpVerifyOptions {
  /** Logs refusals at debug (never the token). Default: none. */
  readonly logger?: Logger;
  /** RFC 6750 §3 realm. Default `certbound`. */
  readonly realm?: string;
  /**
   * RFC 9728 §5.1: the URL of this resource's protected resource metadata, sent as
   * `resource_metadata` in every `Bearer` challenge (see `protectedResourceMetadataOf`,
   * `resourceMetadataUrlOf`). Default: none.
   */
  readonly resourceMetadata?: string;
  /**
   * Counts and access-logs every request, refused or served, as the sidecar does
   * (`createInboundRecorder({ logger, metrics })`). Default: none.
   */
  readonly recorder?: InboundRecorder;
}

const PRINCIPAL = Symbol.for('certbound.principal');

/** A request that went through the certbound middleware. */
export interface CertboundRequest {
  /** The verified caller. */
  certbound?: Principal;
}

/** The verified {@link Principal} of a request, or undefined when it was not verified. */
export function principalOf(req: object): Principal | undefined {
  return (req as Record<symbol, Principal | undefined>)[PRINCIPAL];
}

/** Stores the principal on the request (`req.certbound` and {@link principalOf}). */
export function attachPrincipal(req: object, principal: Principal): void {
  (req as Record<symbol, Principal>)[PRINCIPAL] = principal;
  (req as CertboundRequest).certbound = principal;
}

/**
 * node:http / Express / Connect middleware for services that terminate mTLS themselves
 * (`https.createServer({ requestCert: true, rejectUnauthorized: true, … })`): reads the
 * request target once (normalised; unsafe paths, `*` and CONNECT refused), verifies the
 * bearer token and its binding to `req.socket`'s verified peer certificate, applies the
 * route policy to the normalised path, and puts the {@link Principal} on `req.certbound`.
 * `req.url` is then set to the normalised origin-form target (and `Host` to the authority
 * of an absolute-form target), so routes mounted after the middleware see exactly the path
 * the policy judged. Refusals are answered here with the RFC 6750 challenge and JSON body;
 * `next` is then not called.
 *
 * Does not check that the server requested or verified client certificates: without a
 * verified certificate every request is refused with `ERR_PEER_CERT_MISSING`.
 *
 * @throws TypeError at once when a policy prefix cannot be normalised
 */
export function certboundMiddleware(
  options: CertboundHttpOptions,
): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  if (options.policies !== undefined) compilePolicies(options.policies);
  const recorder = options.recorder;
  const bearer = bearerOptionsOf(options);
  const refuse = (
    req: IncomingMessage,
    res: ServerResponse,
    err: unknown,
    path: string,
    startedAt: number,
    interactionId: string,
  ): void => {
    const response = writeBearerError(res, err, bearer);
    options.logger?.debug({ code: response.code, path }, 'request refused');
    recorder?.record({
      transport: 'http',
      method: req.method ?? 'GET',
      path,
      status: response.status,
      code: response.code,
      peer: connectionPeerOf(req),
      startedAt,
      interactionId,
    });
  };
  return (req, res, next) => {
    const startedAt = recorder !== undefined ? performance.now() : 0;
    // FAPI 2.0 Implementation Advice §2.2.1: echoed on every answer, passed to the routes.
    const interactionId = adoptInteractionId(req, res, options.logger);
    let target: RequestTarget;
    try {
      target = httpRequestTargetOf(req);
    } catch (err) {
      refuse(req, res, err, (req.url ?? '/').split('?')[0] ?? '/', startedAt, interactionId);
      return;
    }
    verifyHttpRequest(req as AnyRequest, options, target).then(
      (principal) => {
        req.url = target.path + target.query;
        if (target.authority !== undefined) req.headers.host = target.authority;
        attachPrincipal(req, principal);
        if (recorder !== undefined)
          res.once('finish', () =>
            recorder.record({
              transport: 'http',
              method: req.method ?? 'GET',
              path: target.path,
              status: res.statusCode,
              code: undefined,
              principal,
              startedAt,
              interactionId,
            }),
          );
        next();
      },
      (err: unknown) => refuse(req, res, err, target.path, startedAt, interactionId),
    );
  };
}

/** The challenge options of {@link CertboundHttpOptions} (realm, RFC 9728 `resource_metadata`). */
export function bearerOptionsOf(options: CertboundHttpOptions): BearerErrorOptions {
  return {
    ...(options.realm !== undefined ? { realm: options.realm } : {}),
    ...(options.resourceMetadata !== undefined
      ? { resourceMetadata: options.resourceMetadata }
      : {}),
  };
}
