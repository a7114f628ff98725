/**
 * `certbound/http`: the verifying reverse proxy, the outbound token proxy, node:http /
 * Express / Connect middleware and a Fastify plugin, all answering refusals with one
 * RFC 6750 error response.
 */
export { authorizationValuesOf, bearerTokenOf } from '../verify/bearer-token.js';
export {
  bearerErrorResponseOf,
  writeBearerError,
  type BearerErrorResponse,
  type BearerErrorOptions,
} from './bearer-error-response.js';
export { connectionPeerErrorOf, connectionPeerOf, type AnyRequest } from './connection-peer.js';
export {
  verifyHttpRequest,
  httpRequestTargetOf,
  tokenInQuery,
  type HttpVerifyOptions,
} from './verify-http-request.js';
export { compilePolicies, type RoutePolicy } from '../verify/policy.js';
export {
  policyPathOf,
  requestTargetOf,
  normalisePath,
  type RequestTarget,
  type RequestTargetOptions,
} from '../verify/request-path.js';
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
  appRequestHeaders,
  relayResponseHeaders,
  CERT_FORWARDING_HEADERS,
  type AppHeaderOptions,
} from './forward-headers.js';
export {
  createInboundProxy,
  type InboundProxy,
  type InboundProxyOptions,
  type InboundGrpcHandler,
  type AnyResponse,
} from './inbound-proxy.js';
export {
  startInboundListener,
  type InboundListener,
  type InboundListenerOptions,
  type InboundLimits,
} from './inbound-listener.js';
export {
  startOutboundListener,
  type OutboundListener,
  type OutboundListenerOptions,
  type OutboundUpstream,
} from './outbound-proxy.js';
export { startAdminServer, type AdminServer, type AdminServerOptions } from './admin-server.js';
export { writeGrpcError as writeGrpcTrailersOnly } from './grpc-trailers-only.js';
