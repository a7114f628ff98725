/**
 * `certbound/grpc`: gRPC status mapping for bound-token verification.
 * Interceptors and credentials land here as they are built.
 */
export { GrpcCode, ERROR_TABLE } from '../errors.js';
