/** `--dir`: the development CA directory, shared by every `certs` command. */
export const DIR_OPTION = {
  type: 'string',
  default: 'certs',
  valueName: '<dir>',
  description: 'the development CA directory',
} as const;

/** `-c, --config`: the configuration file, shared by `run` and `token`. */
export const CONFIG_OPTION = {
  type: 'string',
  short: 'c',
  default: 'certbound.yaml',
  valueName: '<file>',
  description: 'the configuration file (YAML or JSON; CERTBOUND_* variables override it)',
} as const;
