import { parseArgs } from 'node:util';
import { loadConfigFile } from '../../config/load-config.js';
import { createLogger } from '../../observability/logger.js';
import { startSidecar } from '../../sidecar/start-sidecar.js';
import type { Command, OptionSpecs } from '../command.js';

const OPTIONS = {
  config: {
    type: 'string',
    short: 'c',
    default: 'certbound.yaml',
    valueName: '<file>',
    description: 'the configuration file (YAML or JSON; CERTBOUND_* variables override it)',
  },
} as const satisfies OptionSpecs;

/** `certbound run --config certbound.yaml` */
export const run: Command = {
  path: ['run'],
  summary: 'run the sidecar (inbound verifying proxy, outbound token proxy, admin)',
  usage: 'certbound run --config <certbound.yaml>',
  options: OPTIONS,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: OPTIONS,
      strict: true,
    });
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
