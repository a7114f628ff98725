import type { IncomingMessage } from 'node:http';
import { bearerErrorResponseOf } from './bearer-error-response.js';
import { attachPrincipal, type CertboundHttpOptions } from './middleware.js';
import { verifyHttpRequest } from './verify-http-request.js';

/** The parts of a Fastify instance the plugin uses (no runtime dependency on fastify). */
export interface FastifyLike {
  decorateRequest(name: string, value: unknown): unknown;
  addHook(
    name: 'onRequest',
    hook: (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown>,
  ): unknown;
}

/** The parts of a Fastify request the plugin uses. */
export interface FastifyRequestLike {
  readonly raw: IncomingMessage;
  certbound?: unknown;
}

/** The parts of a Fastify reply the plugin uses. */
export interface FastifyReplyLike {
  code(status: number): FastifyReplyLike;
  headers(values: Record<string, string>): FastifyReplyLike;
  send(payload: string): FastifyReplyLike;
}

/**
 * Fastify plugin: an `onRequest` hook that verifies every request exactly like
 * {@link certboundMiddleware} and sets `request.certbound` (also `principalOf(request.raw)`).
 * Registered without encapsulation, so it guards every route of the instance.
 *
 * @example app.register(certboundFastify, { verifier, policies })
 */
export const certboundFastify = Object.assign(
  (fastify: FastifyLike, options: CertboundHttpOptions, done: (err?: Error) => void): void => {
    fastify.decorateRequest('certbound', undefined);
    fastify.addHook('onRequest', async (request, reply) => {
      try {
        const principal = await verifyHttpRequest(request.raw, options);
        attachPrincipal(request.raw, principal);
        request.certbound = principal;
      } catch (err) {
        const response = bearerErrorResponseOf(
          err,
          options.realm !== undefined ? { realm: options.realm } : {},
        );
        const { 'content-length': _length, ...headers } = response.headers;
        options.logger?.debug({ code: response.code }, 'request refused');
        return reply.code(response.status).headers(headers).send(response.body);
      }
      return undefined;
    });
    done();
  },
  {
    // fastify-plugin's convention: apply to the parent scope (no encapsulation).
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'certbound',
  },
);
