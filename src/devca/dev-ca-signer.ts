import { readFile } from 'node:fs/promises';
import type { CsrSigner } from '../identity/csr-signer.js';
import { caDirPaths, readCaDir } from './dev-ca-store.js';
import { issueCertificate, type DevCa } from './dev-ca.js';

/**
 * A {@link CsrSigner} backed by the development CA: an in-process {@link DevCa} (its
 * certificate is the bundle), or a CA directory re-read on every call so that
 * `certs rotate-ca` / `retire-ca` are followed (its `bundle.pem` is the bundle).
 */
export function devCaSigner(ca: DevCa | { readonly caDir: string }): CsrSigner {
  return async (request) => {
    const signer = 'caDir' in ca ? await readCaDir(ca.caDir) : ca;
    const bundlePem =
      'caDir' in ca ? await readFile(caDirPaths(ca.caDir).bundle, 'utf8') : ca.certPem;
    const issued = await issueCertificate(signer, {
      name: request.name,
      csrPem: request.csrPem,
      ttlMs: request.ttlMs,
      notBefore: request.notBefore,
      ...(request.spiffeId !== undefined ? { spiffeId: request.spiffeId } : {}),
    });
    return { certPem: issued.certPem, bundlePem };
  };
}
