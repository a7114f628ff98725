const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/**
 * Parses a duration such as `500ms`, `30s`, `5m`, `24h`, `7d` (or a number of milliseconds)
 * into milliseconds.
 *
 * @throws TypeError on anything else, naming the accepted forms.
 */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new TypeError(`invalid duration ${value}`);
    return value;
  }
  const match = DURATION.exec(value.trim());
  if (!match?.[1] || !match[2]) {
    throw new TypeError(`invalid duration "${value}": use e.g. 500ms, 30s, 5m, 24h or 7d`);
  }
  return Math.round(Number(match[1]) * (UNITS[match[2]] ?? 0));
}
