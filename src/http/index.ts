/**
 * `certbound/http`: RFC 6750 error responses for bound-token verification.
 * The proxy and middleware land here as they are built.
 */
export { bearerTokenOf } from '../verify/bearer-token.js';
