/**
 * `certbound/grpc`: bound-token interceptors for grpc-js, credentials that follow an
 * X509Source, the local token API, and the sidecar's gRPC forwarders.
 */
export { GrpcCode, ERROR_TABLE } from '../errors.js';
export {
  boundTokenServerInterceptor,
  grpcPrincipalOf,
  type BoundTokenServerInterceptorOptions,
  type GrpcMethodPolicy,
} from './server-interceptor.js';
export { boundTokenClientInterceptor } from './client-interceptor.js';
export {
  serverCredentialsFrom,
  channelCredentialsFrom,
  channelCredentialsOf,
  type ChannelCredentialsOptions,
} from './credentials.js';
export { X509CertificateProvider } from './certificate-provider.js';
export { grpcStatusOf, errorCodeOfDetails, type GrpcStatus } from './grpc-status.js';
export { DEFAULT_IDENTITY_PREFIX, identityEntriesOf } from './identity-metadata.js';
export {
  startLocalApi,
  identityUpdateOf,
  type LocalApi,
  type LocalApiOptions,
} from './local-api.js';
export { createHealthService, type HealthService } from './health-service.js';
export {
  certboundProtos,
  PROTO_DIR,
  type CertboundProtos,
  type GetTokenRequest,
  type GetTokenResponse,
  type IdentityUpdate,
  type ServingStatus,
  type EchoRequest,
  type EchoResponse,
} from './protos.js';
export {
  createGrpcForwarder,
  type GrpcForwarder,
  type GrpcForwarderOptions,
} from './grpc-forwarder.js';
export {
  createGrpcOutboundForwarder,
  type GrpcOutboundForwarder,
  type GrpcOutboundForwarderOptions,
  type GrpcUpstream,
} from './grpc-outbound-forwarder.js';
export { writeGrpcError } from './write-grpc-error.js';
export {
  rotatingClient,
  type RotatingClient,
  type RotatingClientOptions,
} from './rotating-client.js';
export {
  startGrpcOutboundListener,
  type GrpcOutboundListener,
  type GrpcOutboundListenerOptions,
  type NamedGrpcUpstream,
} from './grpc-outbound-listener.js';
