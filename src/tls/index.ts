export {
  followSecureContext,
  tlsOptionsOf,
  type FollowSecureContextOptions,
  type SecureContextTarget,
  type TlsContextSettings,
} from './follow-secure-context.js';
export { ConnectionsPerIdentity, type ConnectionFactory } from './connections-per-identity.js';
export { undiciAgentsPerIdentity, type UndiciAgentOptions } from './undici-agents.js';
export { httpsAgentsPerIdentity, type HttpsAgentOptions } from './https-agents.js';
