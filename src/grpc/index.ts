/**
 * `certbound/grpc`: the library for grpc-js services — bound-token server and client
 * interceptors over the one inbound pipeline, credentials that follow an X509Source
 * rotation, and a client whose channels are pinned to one certificate each.
 */
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
export {
  rotatingClient,
  type RotatingClient,
  type RotatingClientOptions,
} from './rotating-client.js';
export { grpcStatusOf, errorCodeOfDetails, type GrpcStatus } from './grpc-status.js';
export { DEFAULT_IDENTITY_PREFIX, identityEntriesOf } from './identity-metadata.js';
export { GrpcCode } from '../errors.js';
