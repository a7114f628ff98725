import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { ROOT, runCli } from '../support/cli.js';

describe('certbound CLI help (every command, as a user types it)', () => {
  it.each(COMMANDS.map((c) => [c.path.join(' '), c] as const))(
    '`certbound %s --help` prints its options and exits 0',
    async (_name, command) => {
      for (const flag of ['--help', '-h']) {
        const r = await runCli([...command.path, flag]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`usage: ${command.usage}`);
        for (const option of Object.keys(command.options))
          expect(r.stdout).toContain(`--${option}`);
        expect(r.stderr).toBe('');
      }
      const viaHelp = await runCli(['help', ...command.path]);
      expect(viaHelp.code).toBe(0);
      expect(viaHelp.stdout).toContain(`usage: ${command.usage}`);
    },
  );

  const groups = [...new Set(COMMANDS.filter((c) => c.path.length > 1).map((c) => c.path[0]!))];
  it.each(groups)(
    '`certbound %s --help` lists every sub-command of the group and exits 0',
    async (group) => {
      for (const args of [
        [group, '--help'],
        [group, '-h'],
        ['help', group],
      ]) {
        const r = await runCli(args);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`usage: certbound ${group} <command>`);
        for (const c of COMMANDS.filter((c) => c.path[0] === group))
          expect(r.stdout).toContain(c.path.join(' '));
      }
    },
  );

  it.each([[['help']], [['help', 'help']], [['help', '--help']], [['--help']], [['-h']]])(
    '`certbound %j` prints the top-level help listing every command, exit 0',
    async (args) => {
      const r = await runCli(args);
      expect(r.code, r.stderr).toBe(0);
      for (const c of COMMANDS) expect(r.stdout).toContain(c.path.join(' '));
    },
  );

  it('`--help` after other options still prints help (nothing runs)', async () => {
    const r = await runCli(['run', '--config', '/nonexistent/certbound.yaml', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: certbound run');
  });

  it('a mistyped command suggests the closest one and exits 2', async () => {
    const r = await runCli(['cert', 'isue']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did you mean "certbound certs issue"');
    const t = await runCli(['tokn']);
    expect(t.stderr).toContain('did you mean "certbound token"');
  });

  it('a mistyped option suggests the closest one and exits 2', async () => {
    const r = await runCli(['run', '--confg', 'x.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did you mean --config?');
  });

  it('a command group alone lists its sub-commands', async () => {
    const r = await runCli(['certs']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('certs rotate-ca');
    const asked = await runCli(['certs', '--help']);
    expect(asked.code).toBe(0);
    expect(asked.stdout).toContain('certs rotate-ca');
  });

  it('`certbound help` on an unknown command says so with exit 2', async () => {
    const r = await runCli(['help', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "nope"');
  });
});

describe('config check takes the file as an argument or as --config', () => {
  const file = join(ROOT, 'examples', 'certbound.yaml');

  it.each([[['FILE']], [['--config', 'FILE']], [['-c', 'FILE']]])('%j', async (args) => {
    const r = await runCli([
      'config',
      'check',
      '--schema-only',
      ...args.map((a) => (a === 'FILE' ? file : a)),
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('valid');
  });

  it('two files are a usage error', async () => {
    const r = await runCli(['config', 'check', file, '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('expected one file');
  });
});
