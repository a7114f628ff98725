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
  summary: 'run the sidecar (inbound verifying proxy, outbound token proxy, admin); SIGHUP reloads',
  usage: 'certbound run --config <certbound.yaml>',
  options: OPTIONS,
  async run(args) {
    const values = parseOptions(args, OPTIONS);
    // SIGHUP's default action kills the process: from here on it asks for a reload, and one
    // that arrives during start-up is applied once the sidecar runs.
    let hangups = 0;
    let onHangup = (): void => {
      hangups++;
    };
    const hangup = (): void => onHangup();
    process.on('SIGHUP', hangup);
    try {
      // Validated before anything else: a bad file never opens a port.
      const config = await loadConfigFile(values.config);
      const logger = createLogger({ level: config.logLevel });
      const sidecar = await startSidecar(config, { logger });
      onHangup = () => {
        logger.info({ signal: 'SIGHUP', config: values.config }, 'reloading the configuration');
        void sidecar.reload(() => loadConfigFile(values.config));
      };
      if (hangups > 0) onHangup();
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      logger.info({ signal }, 'shutting down');
      await sidecar.close();
      return 0;
    } finally {
      process.off('SIGHUP', hangup);
    }
  },
};
