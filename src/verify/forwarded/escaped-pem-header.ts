import {
  certificateOfDer,
  malformedHeader,
  MAX_FORWARDED_CERTIFICATES,
  singleValueOf,
} from './forwarded-chain.js';
import type { ForwardedHeaderFormat } from './header-format.js';
import { percentDecoded, strictPemCertificates } from './pem-certificates.js';

/** Default header of the `nginx` format (`proxy_set_header ssl-client-cert $ssl_client_escaped_cert;`). */
export const NGINX_DEFAULT_HEADER = 'ssl-client-cert';

/**
 * nginx `$ssl_client_escaped_cert`: the client certificate as URL-encoded PEM, in one header
 * (`header`, default {@link NGINX_DEFAULT_HEADER}). Exactly one certificate, one value.
 */
export function escapedPemFormat(header: string = NGINX_DEFAULT_HEADER): ForwardedHeaderFormat {
  return {
    headerNames: [header],
    parse([values = []]) {
      const pem = percentDecoded(singleValueOf(values, header), header);
      const ders = strictPemCertificates(pem, header, MAX_FORWARDED_CERTIFICATES);
      if (ders.length !== 1) throw malformedHeader(header, 'it carries more than one certificate');
      return { leaf: certificateOfDer(ders[0] as Uint8Array, header), chain: [] };
    },
  };
}
