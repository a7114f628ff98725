/**
 * `certbound/http`: the library for HTTP services that terminate mTLS themselves —
 * node:http / Express / Connect middleware and a Fastify plugin over the one inbound
 * pipeline, answering refusals with RFC 6750 error responses. (The sidecar's proxies are
 * not part of it: run `certbound run`.)
 */
export {
  certboundMiddleware,
  principalOf,
  attachPrincipal,
  type CertboundHttpOptions,
  type CertboundRequest,
} from './middleware.js';
export {
  certboundFastify,
  certboundRewriteUrl,
  type FastifyLike,
  type FastifyRequestLike,
  type FastifyReplyLike,
} from './fastify-plugin.js';
export {
  verifyHttpRequest,
  inboundRequestOf,
  httpRequestTargetOf,
  type HttpVerifyOptions,
} from './verify-http-request.js';
export {
  bearerErrorResponseOf,
  writeBearerError,
  type BearerErrorResponse,
  type BearerErrorOptions,
} from './bearer-error-response.js';
export { connectionPeerOf, type AnyRequest } from './connection-peer.js';
export {
  protectedResourceMetadataOf,
  metadataAnswerOf,
  isMetadataRequest,
  resourceMetadataUrlOf,
  PROTECTED_RESOURCE_METADATA_PATH,
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataOptions,
  type MetadataAnswer,
} from './protected-resource-metadata.js';
export { adoptInteractionId, type InteractionIdResponse } from './adopt-interaction-id.js';
export {
  INTERACTION_ID_HEADER,
  interactionIdOf,
  type InteractionId,
} from '../observability/interaction-id.js';
export type { RoutePolicy } from '../verify/policy.js';
export type { RequestTarget } from '../verify/request-path.js';
