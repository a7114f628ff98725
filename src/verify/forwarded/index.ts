export {
  createForwardedCertificates,
  type ForwardedCertFormat,
  type ForwardedCertificateOptions,
  type CachedForwardedCertificates,
  type UntrustedForwarding,
} from './forwarded-certificates.js';
export type { TrustedHopsOptions } from './trusted-hops.js';
export { NGINX_DEFAULT_HEADER } from './escaped-pem-header.js';
export { HAPROXY_DEFAULT_HEADER } from './base64-der-header.js';
export { parseXfcc, type XfccElement } from './xfcc-header.js';
