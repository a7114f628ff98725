export { writeGrpcError, writeGrpcStatus } from '../grpc-trailers-only.js';
