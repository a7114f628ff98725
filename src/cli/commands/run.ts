import { loadConfigFile } from '../../config/load-config.js';
import { createLogger } from '../../observability/logger.js';
import { startSidecar } from '../../sidecar/start-sidecar.js';
import { parseOptions, type Command, type OptionSpecs } from '../command.js';
import { CONFIG_OPTION } from '../common-options.js';

const OPTIONS = {
  config: CONFIG_OPTION,
} as const satisfies OptionSpecs;

/** `certbound run --config certbound.yaml` */
export const run: Command = {
  path: ['run'],
  summary: 'run the sidecar (inbound verifying proxy, outbound token proxy, admin)',
  usage: 'certbound run --config <certbound.yaml>',
  options: OPTIONS,
  async run(args) {
    const values = parseOptions(args, OPTIONS);
    // Validated before anything else: a bad file never opens a port.
    const config = await loadConfigFile(values.config);
    const logger = createLogger({ level: config.logLevel });
    const sidecar = await startSidecar(config, { logger });
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    logger.info({ signal }, 'shutting down');
    await sidecar.close();
    return 0;
  },
};
