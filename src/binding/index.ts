export { thumbprintOf, derOf, type CertificateInput } from './thumbprint.js';
export { checkBinding } from './check-binding.js';
export { constantTimeEqual } from './constant-time-equal.js';
export { peerIdentityOf, spiffeIdOf, isPeerIdentity, type PeerIdentity } from './peer-identity.js';
