export {
  createDevCa,
  loadDevCa,
  createCsr,
  issueCertificate,
  type DevCa,
  type IssueOptions,
  type IssuedCertificate,
  type KeyType,
} from './dev-ca.js';
export { initCaDir, readCaDir, issueWorkload, caDirPaths, workloadPaths } from './dev-ca-store.js';
export { writeFileAtomic } from './atomic-write.js';
export { toPem, splitPemCertificates, parsePemCertificates } from './pem.js';
export type { WorkloadIdentity, IdentityMaterial } from './workload-identity.js';
export type { X509Source } from './x509-source.js';
export { X509SourceBase } from './x509-source-base.js';
export { StaticX509Source } from './static-x509-source.js';
export { checkIdentity, type CheckIdentityOptions } from './check-identity.js';
