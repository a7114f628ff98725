import { parseArgs } from 'node:util';
import { loadConfigFile } from '../../config/load-config.js';
import { UsageError, type Command, type OptionSpecs } from '../command.js';

const OPTIONS = {
  config: {
    type: 'string',
    short: 'c',
    valueName: '<file>',
    description: 'the configuration file (or give it as the one argument)',
  },
} as const satisfies OptionSpecs;

/** `certbound config check <file>` or `certbound config check --config <file>` */
export const configCheck: Command = {
  path: ['config', 'check'],
  summary: 'validate a configuration file (and CERTBOUND_* overrides) without running',
  usage: 'certbound config check [--config] <certbound.yaml>',
  options: OPTIONS,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    const files = [...(values.config !== undefined ? [values.config] : []), ...positionals];
    const file = files[0];
    if (file === undefined || files.length !== 1) throw new UsageError('expected one file');
    const config = await loadConfigFile(file);
    const parts = [
      config.inbound &&
        `inbound ${config.inbound.host}:${config.inbound.port} → ${config.inbound.app.url}`,
      config.outbound &&
        `outbound ${config.outbound.host}:${config.outbound.port} (${config.outbound.upstreams.length} upstream(s))`,
      config.localApi && 'local token API',
      config.admin && `admin ${config.admin.host}:${config.admin.port}`,
    ].filter((p): p is string => typeof p === 'string');
    console.log(`${file}: valid (${parts.join('; ')})`);
    return 0;
  },
};
