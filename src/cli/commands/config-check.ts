import { loadConfigFile } from '../../config/load-config.js';
import { UsageError, type Command } from '../command.js';

/** `certbound config check <file>` */
export const configCheck: Command = {
  path: ['config', 'check'],
  summary: 'validate a configuration file (and CERTBOUND_* overrides) without running',
  usage: 'certbound config check <certbound.yaml>',
  async run(args) {
    const file = args.find((a) => !a.startsWith('-'));
    if (file === undefined || args.length !== 1) throw new UsageError('expected one file');
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
