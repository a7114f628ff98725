import { certificateOfDer, singleValueOf } from './forwarded-chain.js';
import type { ForwardedHeaderFormat } from './header-format.js';
import { strictBase64 } from './pem-certificates.js';

/** Default header of the `haproxy` format (`http-request set-header x-ssl-client-der %[ssl_c_der,base64]`). */
export const HAPROXY_DEFAULT_HEADER = 'x-ssl-client-der';

/**
 * HAProxy `%[ssl_c_der,base64]`: the DER of the client certificate, standard base64, in one
 * header (`header`, default {@link HAPROXY_DEFAULT_HEADER}). The RFC 9440 spelling
 * `:%[ssl_c_der,base64]:` is the `rfc9440` format instead.
 */
export function base64DerFormat(header: string = HAPROXY_DEFAULT_HEADER): ForwardedHeaderFormat {
  return {
    headerNames: [header],
    parse([values = []]) {
      const der = strictBase64(singleValueOf(values, header).trim(), header);
      return { leaf: certificateOfDer(der, header), chain: [] };
    },
  };
}
