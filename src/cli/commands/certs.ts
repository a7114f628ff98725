import { parseDuration } from '../../duration.js';
// The dev CA (and @peculiar/x509 with it) loads only when a certs command runs, not for
// `certbound run`.
const devCa = () => import('../../devca/dev-ca-store.js');
import { thumbprintOf } from '../../binding/thumbprint.js';
import { UsageError, type Command, type OptionSpecs, parseOptions } from '../command.js';
import { DIR_OPTION } from '../common-options.js';

const INIT_OPTIONS = {
  dir: DIR_OPTION,
  force: { type: 'boolean', default: false, description: 'replace an existing CA' },
  ttl: {
    type: 'string',
    valueName: '<duration>',
    description: 'lifetime of the CA certificate (default 365d)',
  },
} as const satisfies OptionSpecs;

const ISSUE_OPTIONS = {
  dir: DIR_OPTION,
  name: {
    type: 'string',
    valueName: '<name>',
    description: 'workload name; files go to <dir>/<name>/ (required)',
  },
  'spiffe-id': {
    type: 'string',
    valueName: 'spiffe://…',
    description: 'SPIFFE ID written as the URI SAN',
  },
  ttl: { type: 'string', default: '24h', valueName: '<duration>', description: 'lifetime' },
  'key-type': {
    type: 'string',
    default: 'P-256',
    valueName: 'P-256|Ed25519',
    description: 'key algorithm',
  },
} as const satisfies OptionSpecs;

/** `certbound certs init [--dir certs] [--force]` */
export const certsInit: Command = {
  path: ['certs', 'init'],
  summary: 'create the development CA (kept if it exists)',
  usage: 'certbound certs init [--dir certs] [--force] [--ttl 365d]',
  options: INIT_OPTIONS,
  async run(args) {
    const values = parseOptions(args, INIT_OPTIONS);
    const { ca, created } = await (
      await devCa()
    ).initCaDir(values.dir, {
      force: values.force,
      ...(values.ttl !== undefined ? { ttlMs: parseDuration(values.ttl) } : {}),
    });
    console.log(
      `${created ? 'created' : 'kept existing'} CA ${ca.cert.subject} in ${values.dir}/ca (valid until ${ca.cert.notAfter.toISOString()})`,
    );
    return 0;
  },
};

/** `certbound certs issue --name orders --spiffe-id spiffe://… [--ttl 24h] [--dir certs]` */
export const certsIssue: Command = {
  path: ['certs', 'issue'],
  summary: 'issue (or re-issue) a workload certificate from the development CA',
  usage:
    'certbound certs issue --name <name> [--spiffe-id spiffe://…] [--ttl 24h] [--key-type P-256|Ed25519] [--dir certs]',
  options: ISSUE_OPTIONS,
  async run(args) {
    const values = parseOptions(args, ISSUE_OPTIONS);
    if (values.name === undefined) throw new UsageError('--name is required');
    const keyType = values['key-type'];
    if (keyType !== 'P-256' && keyType !== 'Ed25519')
      throw new UsageError('--key-type must be P-256 or Ed25519');
    const spiffeId = values['spiffe-id'];
    if (spiffeId !== undefined && !spiffeId.startsWith('spiffe://'))
      throw new UsageError('--spiffe-id must start with spiffe://');
    const issued = await (
      await devCa()
    ).issueWorkload(values.dir, {
      name: values.name,
      ttlMs: parseDuration(values.ttl),
      keyType,
      ...(spiffeId !== undefined ? { spiffeId } : {}),
    });
    console.log(
      `issued ${values.name}: ${issued.paths.cert} (x5t#S256 ${thumbprintOf(issued.certPem)}, serial ${issued.serialNumber}, expires ${issued.notAfter.toISOString()})`,
    );
    return 0;
  },
};
