export { thumbprintOf, derOf, type CertificateInput } from './thumbprint.js';
export { checkBinding } from './check-binding.js';
export { checkJktBinding, jktOf } from './check-jkt-binding.js';
export { constantTimeEqual } from './constant-time-equal.js';
export {
  peerIdentityOf,
  spiffeIdOf,
  spiffeIdOfSubjectAltName,
  isPeerIdentity,
  type PeerIdentity,
} from './peer-identity.js';
export { checkClientLeaf } from './check-client-leaf.js';
export { verifiedPeerDerOf, type VerifiedPeerSocket } from './peer-certificate.js';
export { onPeerRefusal, PEER_REFUSED_CHANNEL, type PeerRefusal } from './peer-refusal-channel.js';
