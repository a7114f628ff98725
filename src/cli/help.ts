import type { Command } from './command.js';

/** The top-level help (or a group's, `group` given): every command with its summary. */
export function helpOf(commands: readonly Command[], group?: string): string {
  const row = (left: string, right: string): string => `  ${left.padEnd(22)} ${right}`;
  return [
    `usage: certbound ${group !== undefined ? `${group} ` : ''}<command> [options]`,
    '',
    'commands:',
    ...commands.map((c) => row(c.path.join(' '), c.summary)),
    '',
    row('help <command>', 'the options of one command (same as <command> --help)'),
    row('--version', 'print the version'),
  ].join('\n');
}

/** `certbound <command> --help`: usage, summary and every option with its default. */
export function commandHelpOf(command: Command): string {
  const rows: [string, string][] = Object.entries(command.options).map(([name, spec]) => {
    const flag = `${spec.short !== undefined ? `-${spec.short}, ` : '    '}--${name}`;
    const value = spec.type === 'string' ? ` ${spec.valueName ?? '<value>'}` : '';
    const fallback =
      spec.default !== undefined && spec.type === 'string' ? ` (default: ${spec.default})` : '';
    return [`${flag}${value}`, `${spec.description}${fallback}`];
  });
  rows.push(['-h, --help', 'print this help and exit']);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    `usage: ${command.usage}`,
    '',
    command.summary,
    '',
    'options:',
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`),
  ].join('\n');
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(
        above + 1,
        (row[j - 1] as number) + 1,
        diagonal + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

/** The closest of `candidates` to `typed`, if one is close enough to suggest. */
export function closestOf(typed: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; score: number } | undefined;
  for (const name of candidates) {
    const score = distance(typed, name);
    if (best === undefined || score < best.score) best = { name, score };
  }
  return best !== undefined && best.score <= Math.max(2, Math.floor(best.name.length / 3))
    ? best.name
    : undefined;
}

/** The closest command to mistyped words, if one is close enough to suggest. */
export function suggestionFor(
  words: readonly string[],
  commands: readonly Command[],
): string | undefined {
  let best: { name: string; score: number } | undefined;
  for (const c of commands) {
    const name = c.path.join(' ');
    const score = distance(words.slice(0, c.path.length).join(' '), name);
    if (best === undefined || score < best.score) best = { name, score };
  }
  return best !== undefined && best.score <= Math.max(2, Math.floor(best.name.length / 3))
    ? best.name
    : undefined;
}
