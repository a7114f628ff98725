import { parseArgs } from 'node:util';
import { fapi2ViolationsOf, formatViolation } from '../../config/fapi2-profile.js';
import { loadConfigFile } from '../../config/load-config.js';
import { UsageError, type Command, type OptionSpecs } from '../command.js';

const OPTIONS = {
  config: {
    type: 'string',
    short: 'c',
    valueName: '<file>',
    description: 'the configuration file (or give it as the one argument)',
  },
  profile: {
    type: 'string',
    valueName: 'fapi2',
    description:
      'also check the file against a profile (FAPI 2.0); a file that sets `profile` is always checked',
  },
} as const satisfies OptionSpecs;

/** `certbound config check <file>` or `certbound config check --config <file> [--profile fapi2]` */
export const configCheck: Command = {
  path: ['config', 'check'],
  summary: 'validate a configuration file (and CERTBOUND_* overrides) without running',
  usage: 'certbound config check [--profile fapi2] [--config] <certbound.yaml>',
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
    if (values.profile !== undefined && values.profile !== 'fapi2')
      throw new UsageError(`unknown profile ${values.profile.slice(0, 32)} (known: fapi2)`);
    const config = await loadConfigFile(file);
    // FAPI 2.0: every violation with its section, so an auditor sees the whole list at once.
    if (values.profile === 'fapi2' || config.profile === 'fapi2') {
      const violations = fapi2ViolationsOf(config);
      if (violations.length > 0) {
        console.error(`${file}: ${violations.length} setting(s) break the FAPI 2.0 profile:`);
        for (const v of violations) console.error(`  ${formatViolation(v)}`);
        return 1;
      }
    }
    const parts = [
      config.inbound &&
        `inbound ${config.inbound.host}:${config.inbound.port} → ${config.inbound.app.url}`,
      config.outbound &&
        `outbound ${config.outbound.host}:${config.outbound.port} (${config.outbound.upstreams.length} upstream(s))`,
      config.localApi && 'local token API',
      config.admin && `admin ${config.admin.host}:${config.admin.port}`,
      (values.profile === 'fapi2' || config.profile === 'fapi2') && 'meets profile fapi2',
    ].filter((p): p is string => typeof p === 'string');
    console.log(`${file}: valid (${parts.join('; ')})`);
    return 0;
  },
};
