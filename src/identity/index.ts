export { createCsr, type CsrAndKey } from './create-csr.js';
export type { CsrSigner, SigningRequest, SignedCertificate } from './csr-signer.js';
export type { KeyType } from './key-pair.js';
export { writeFileAtomic } from './atomic-write.js';
export { toPem, splitPemCertificates, parsePemCertificates } from './pem.js';
export type { WorkloadIdentity, IdentityMaterial } from './workload-identity.js';
export type { X509Source } from './x509-source.js';
export { X509SourceBase } from './x509-source-base.js';
export { StaticX509Source } from './static-x509-source.js';
export { checkIdentity, type CheckIdentityOptions } from './check-identity.js';
export { FileX509Source, type FileX509SourceOptions } from './file-x509-source.js';
export {
  SelfRenewingX509Source,
  type SelfRenewingX509SourceOptions,
} from './self-renewing-x509-source.js';
export { watchIdentityStats, type IdentityStats } from './identity-stats.js';
