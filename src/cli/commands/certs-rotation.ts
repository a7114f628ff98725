import { parseDuration } from '../../duration.js';
// The dev CA (and @peculiar/x509 with it) loads only when a certs command runs, not for
// `certbound run`.
const devCa = () => import('../../devca/dev-ca-rotation.js');
import { UsageError, type Command, type OptionSpecs, parseOptions } from '../command.js';
import { DIR_OPTION } from '../common-options.js';

const ROTATE_OPTIONS = {
  dir: DIR_OPTION,
  name: { type: 'string', valueName: '<name>', description: 'the workload to re-issue (required)' },
  ttl: {
    type: 'string',
    valueName: '<duration>',
    description: 'lifetime of the new certificate (default: that of the old one)',
  },
} as const satisfies OptionSpecs;

const ROTATE_CA_OPTIONS = {
  dir: DIR_OPTION,
  ttl: { type: 'string', valueName: '<duration>', description: 'lifetime of the new CA' },
  'bundle-only': {
    type: 'boolean',
    default: false,
    description: 'only add the new CA to the bundles; re-issue nothing',
  },
} as const satisfies OptionSpecs;

const DIR_OPTIONS = { dir: DIR_OPTION } as const satisfies OptionSpecs;

function humanDuration(ms: number): string {
  if (ms <= 0) return 'EXPIRED';
  const d = Math.floor(ms / 86_400_000);
  const h = Math.floor((ms % 86_400_000) / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  return d > 0 ? `${d}d${h}h` : h > 0 ? `${h}h${m}m` : `${m}m${Math.floor((ms % 60_000) / 1000)}s`;
}

/** `certbound certs rotate --name orders [--ttl 24h] [--dir certs]` */
export const certsRotate: Command = {
  path: ['certs', 'rotate'],
  summary: 're-issue a workload certificate in place (new key, same SPIFFE ID)',
  usage: 'certbound certs rotate --name <name> [--ttl <duration>] [--dir certs]',
  options: ROTATE_OPTIONS,
  async run(args) {
    const values = parseOptions(args, ROTATE_OPTIONS);
    if (values.name === undefined) throw new UsageError('--name is required');
    const r = await (
      await devCa()
    ).rotateWorkload(values.dir, values.name, {
      ...(values.ttl !== undefined ? { ttlMs: parseDuration(values.ttl) } : {}),
    });
    console.log(
      `rotated ${values.name}${r.spiffeId !== undefined ? ` (${r.spiffeId})` : ''}: x5t#S256 ${r.previousThumbprint} -> ${r.thumbprint}, serial ${r.serialNumber}, expires ${r.notAfter.toISOString()}`,
    );
    return 0;
  },
};

/** `certbound certs rotate-ca [--ttl 365d] [--dir certs]` */
export const certsRotateCa: Command = {
  path: ['certs', 'rotate-ca'],
  summary: 'new CA; bundles hold old+new; every workload re-issued under the new CA',
  usage: 'certbound certs rotate-ca [--ttl <duration>] [--bundle-only] [--dir certs]',
  options: ROTATE_CA_OPTIONS,
  async run(args) {
    const values = parseOptions(args, ROTATE_CA_OPTIONS);
    const r = await (
      await devCa()
    ).rotateCa(values.dir, {
      bundleOnly: values['bundle-only'],
      ...(values.ttl !== undefined ? { ttlMs: parseDuration(values.ttl) } : {}),
    });
    console.log(`new CA x5t#S256 ${r.caThumbprint}; bundles now hold the previous and the new CA`);
    for (const w of r.workloads) console.log(`  re-issued ${w.name}: x5t#S256 ${w.thumbprint}`);
    if (values['bundle-only'])
      console.log(
        `no certificate re-issued: run "certbound certs rotate --dir ${values.dir} --name <name>" for each workload`,
      );
    console.log(
      `when every workload has picked up its new certificate, run "certbound certs retire-ca --dir ${values.dir}"`,
    );
    return 0;
  },
};

/** `certbound certs retire-ca [--dir certs]` */
export const certsRetireCa: Command = {
  path: ['certs', 'retire-ca'],
  summary: 'remove the previous CA from every bundle',
  usage: 'certbound certs retire-ca [--dir certs]',
  options: DIR_OPTIONS,
  async run(args) {
    const values = parseOptions(args, DIR_OPTIONS);
    const r = await (await devCa()).retireCa(values.dir);
    console.log(
      `retired CA x5t#S256 ${r.removed.join(', ')}; bundles now hold ${r.bundleSize} CA(s)`,
    );
    return 0;
  },
};

/** `certbound certs status [--dir certs]` */
export const certsStatus: Command = {
  path: ['certs', 'status'],
  summary: 'subject, SPIFFE ID, thumbprint, issuer and expiry of each certificate',
  usage: 'certbound certs status [--dir certs]',
  options: DIR_OPTIONS,
  async run(args) {
    const values = parseOptions(args, DIR_OPTIONS);
    for (const row of await (await devCa()).certsStatusOf(values.dir)) {
      console.log(
        [
          row.name,
          `  subject    ${row.subject}`,
          `  spiffe id  ${row.spiffeId ?? '-'}`,
          `  x5t#S256   ${row.thumbprint}`,
          `  issuer     ${row.issuer}`,
          `  expires    ${row.notAfter.toISOString()} (in ${humanDuration(row.expiresInMs)})`,
        ].join('\n'),
      );
    }
    return 0;
  },
};
