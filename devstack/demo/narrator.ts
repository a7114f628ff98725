/** Writes the demo's narration: one line per step (✔/✘), indented details, a summary table. */
export class Narrator {
  readonly #write: (text: string) => void;
  readonly #color: boolean;

  constructor(write: (text: string) => void = (t) => void process.stdout.write(t)) {
    this.#write = write;
    this.#color = process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
  }

  #paint(code: number, text: string): string {
    return this.#color ? `\u001b[${code}m${text}\u001b[0m` : text;
  }

  /** A plain line. */
  line(text = ''): void {
    this.#write(`${text}\n`);
  }

  /** A section heading. */
  heading(text: string): void {
    this.#write(`\n${this.#paint(1, text)}\n`);
  }

  /** `✔ <id>. <text>` or `✘ <id>. <text>`. */
  step(id: string, ok: boolean, text: string): void {
    const mark = ok ? this.#paint(32, '✔') : this.#paint(31, '✘');
    this.#write(`${mark} ${id}. ${text}\n`);
  }

  /** An indented detail line under a step. */
  detail(text: string): void {
    this.#write(`     ${this.#paint(2, '│')} ${text}\n`);
  }

  /** Two columns, left-aligned labels and right-aligned values. */
  table(title: string, rows: ReadonlyArray<readonly [string, string]>): void {
    const w1 = Math.max(title.length, ...rows.map(([k]) => k.length));
    const w2 = Math.max(5, ...rows.map(([, v]) => v.length));
    const rule = `  +-${'-'.repeat(w1)}-+-${'-'.repeat(w2)}-+`;
    this.#write(`${rule}\n  | ${title.padEnd(w1)} | ${''.padStart(w2)} |\n${rule}\n`);
    for (const [k, v] of rows) this.#write(`  | ${k.padEnd(w1)} | ${v.padStart(w2)} |\n`);
    this.#write(`${rule}\n`);
  }
}
