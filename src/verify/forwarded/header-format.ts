import type { ForwardedChain } from './forwarded-chain.js';

/** One way a proxy writes the client certificate into request headers. */
export interface ForwardedHeaderFormat {
  /** Lower-case names of the headers it reads, in the order `parse` receives their values. */
  readonly headerNames: readonly string[];
  /**
   * Decodes the certificates; `values[i]` holds every value of `headerNames[i]` (at least
   * one header is present).
   *
   * @throws CertboundError `ERR_FORWARDED_CERT_MALFORMED`
   */
  parse(values: ReadonlyArray<readonly string[]>): ForwardedChain;
}
