import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger.js';
import type { Principal } from '../verify/principal.js';
import { writeBearerError } from './bearer-error-response.js';
import type { AnyRequest } from './connection-peer.js';
import { verifyHttpRequest, type HttpVerifyOptions } from './verify-http-request.js';

/** Options of {@link certboundMiddleware} and the Fastify plugin. */
export interface CertboundHttpOptions extends HttpVerifyOptions {
  /** Logs refusals at debug (never the token). Default: none. */
  readonly logger?: Logger;
  /** RFC 6750 §3 realm. Default `certbound`. */
  readonly realm?: string;
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
 * (`https.createServer({ requestCert: true, rejectUnauthorized: true, … })`): verifies the
 * bearer token and its binding to `req.socket`'s verified peer certificate, applies the
 * route policy, and puts the {@link Principal} on `req.certbound`. Refusals are answered
 * here with the RFC 6750 challenge and JSON body; `next` is then not called.
 *
 * Does not check that the server requested or verified client certificates: without a
 * verified certificate every request is refused with `ERR_PEER_CERT_MISSING`.
 */
export function certboundMiddleware(
  options: CertboundHttpOptions,
): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  return (req, res, next) => {
    verifyHttpRequest(req as AnyRequest, options).then(
      (principal) => {
        attachPrincipal(req, principal);
        next();
      },
      (err: unknown) => {
        const response = writeBearerError(
          res,
          err,
          options.realm !== undefined ? { realm: options.realm } : {},
        );
        options.logger?.debug(
          { code: response.code, path: req.url?.split('?')[0] },
          'request refused',
        );
      },
    );
  };
}
