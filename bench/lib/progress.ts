// A progress bar per scenario on stderr. On a terminal it redraws one line; otherwise (CI logs) it
// prints a line at each quarter and at each new phase, so logs stay short.

const WIDTH = 28;

export class Progress {
  private fraction = 0;
  private detail = '';
  private lastDraw = 0;
  private lastQuarter = -1;
  private lastPhase = '';
  private readonly startedAt = Date.now();
  private readonly tty = Boolean(process.stderr.isTTY);
  private finished = false;

  constructor(private readonly label: string) {
    this.draw(true);
  }

  /** Overall progress (0..1) and what is happening now. */
  update(fraction: number, detail = this.detail): void {
    this.fraction = Math.max(this.fraction, Math.min(1, fraction));
    this.detail = detail;
    this.draw(false);
  }

  /** A scenario made of weighted phases: `phase(name)` returns a setter for that phase's own 0..1. */
  phases<P extends string>(weights: Record<P, number>): (phase: P, within: number, detail?: string) => void {
    const names = Object.keys(weights) as P[];
    const total = names.reduce((sum, name) => sum + weights[name], 0);
    return (phase, within, detail) => {
      let before = 0;
      for (const name of names) {
        if (name === phase) break;
        before += weights[name];
      }
      const text = detail ? `${phase}: ${detail}` : phase;
      if (!this.tty && phase !== this.lastPhase) {
        this.lastPhase = phase;
        this.detail = text;
        this.draw(true);
      }
      this.update((before + weights[phase] * Math.min(1, Math.max(0, within))) / total, text);
    };
  }

  done(detail = 'done'): void {
    if (this.finished) return;
    this.fraction = 1;
    this.detail = detail;
    this.draw(true);
    this.finished = true;
    if (this.tty) process.stderr.write('\n');
  }

  fail(message: string): void {
    if (this.finished) return;
    this.detail = `FAILED: ${message}`;
    this.draw(true);
    this.finished = true;
    if (this.tty) process.stderr.write('\n');
  }

  private draw(force: boolean): void {
    if (this.finished) return;
    const now = Date.now();
    const filled = Math.round(this.fraction * WIDTH);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}]`;
    const percent = `${Math.round(this.fraction * 100)}`.padStart(3);
    const elapsed = `${((now - this.startedAt) / 1000).toFixed(1)}s`;
    const line = `${this.label.padEnd(24)} ${bar} ${percent}% ${elapsed.padStart(6)}  ${this.detail}`;
    if (this.tty) {
      if (!force && now - this.lastDraw < 100) return;
      this.lastDraw = now;
      const columns = process.stderr.columns || 120;
      process.stderr.write(`\r${line.slice(0, columns - 1).padEnd(columns - 1)}`);
      return;
    }
    const quarter = Math.floor(this.fraction * 4);
    if (!force && quarter === this.lastQuarter) return;
    this.lastQuarter = quarter;
    process.stderr.write(`${line}\n`);
  }
}

/** A one-off line on stderr that does not break a bar being drawn. */
export function note(message: string): void {
  process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}  ${message}\n`);
}
