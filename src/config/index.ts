export {
  configSchema,
  type CertboundConfig,
  type CertboundConfigInput,
  type InboundPolicyConfig,
  type UpstreamConfig,
} from './schema.js';
export {
  loadConfigFile,
  parseConfig,
  parseConfigText,
  problemsOf,
  formatProblems,
  type ConfigProblem,
} from './load-config.js';
export { applyEnvOverrides, ENV_OVERRIDES } from './env-overrides.js';
export { CONFIG_EXAMPLES } from './examples.js';
