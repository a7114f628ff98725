import type { IncomingMessage } from 'node:http';
import { bearerErrorResponseOf } from './bearer-error-response.js';
import { CertboundError } from '../errors.js';
import { compilePolicies } from '../verify/policy.js';
import type {} from 'fastify';
import type { Principal } from '../verify/principal.js';
import { adoptInteractionId } from './adopt-interaction-id.js';
import { INTERACTION_ID_HEADER } from '../observability/interaction-id.js';
import { attachPrincipal, bearerOptionsOf, type CertboundHttpOptions } from './middleware.js';
import { httpRequestTargetOf, verifyHttpRequest } from './verify-http-request.js';

// Types `request.certbound` for Fastify users (`app.register(certboundFastify, …)`). Only a
// type: fastify stays an optional peer dependency and is never imported at run time.
declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller, set by the certbound plugin's `onRequest` hook. */
    certbound?: Principal;
  }
}

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
 * For Fastify's `rewriteUrl` server option: the normalised origin-form target, so that
 * Fastify routes the path the policy judges (`fastify({ rewriteUrl: certboundRewriteUrl })`).
 * A target that cannot be normalised is returned unchanged; the plugin then refuses it.
 */
export function certboundRewriteUrl(req: IncomingMessage): string {
  try {
    const target = httpRequestTargetOf(req);
    return target.path + target.query;
  } catch {
    return req.url ?? '/';
  }
}

/**
 * Fastify plugin: an `onRequest` hook that verifies every request exactly like
 * {@link certboundMiddleware} (same target normalisation, policy matching and refusals)
 * and sets `request.certbound` (also `principalOf(request.raw)`). Registered without
 * encapsulation, so it guards every route of the instance.
 *
 * Fastify has routed the request before `onRequest` runs, so the URL cannot be rewritten
 * here: a target whose shape normalisation changes (dot segments, `//`, absolute-form) is
 * refused with `ERR_PATH_UNSAFE`, since the route Fastify chose is not the path the policy
 * would judge. Set `rewriteUrl: certboundRewriteUrl` on the server to accept such targets
 * in normalised form instead.
 *
 * @example app.register(certboundFastify, { verifier, policies })
 * @throws TypeError at once when a policy prefix cannot be normalised
 */
export const certboundFastify = Object.assign(
  (fastify: FastifyLike, options: CertboundHttpOptions, done: (err?: Error) => void): void => {
    if (options.policies !== undefined) compilePolicies(options.policies);
    fastify.decorateRequest('certbound', undefined);
    const bearer = bearerOptionsOf(options);
    fastify.addHook('onRequest', async (request, reply) => {
      // FAPI 2.0 Implementation Advice §2.2.1: on the reply whatever it is, and for the routes.
      const interactionId = adoptInteractionId(request.raw, undefined, options.logger);
      reply.headers({ [INTERACTION_ID_HEADER]: interactionId });
      try {
        const target = httpRequestTargetOf(request.raw);
        if (target.reshaped)
          throw new CertboundError(
            'ERR_PATH_UNSAFE',
            'The request path has dot segments, repeated slashes or absolute-form, which Fastify routed as sent (see certboundRewriteUrl).',
          );
        const principal = await verifyHttpRequest(request.raw, options, target);
        attachPrincipal(request.raw, principal);
        request.certbound = principal;
      } catch (err) {
        const response = bearerErrorResponseOf(err, bearer);
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
