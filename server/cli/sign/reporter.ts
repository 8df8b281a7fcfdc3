// What `signet sign` tells the person or CI log watching it: one line per step on stderr, and an
// upload progress bar on a terminal (plain lines at each quarter when stderr is not a terminal, so
// CI logs stay readable).
import { formatBytes } from '../../../src/lib/shared/bytes.js';

export interface Reporter {
  step(line: string): void;
  uploadProgress(fileName: string, total: number): { update(sent: number): void; done(): void };
}

const BAR_WIDTH = 24;
const REDRAW_MS = 100;
const QUARTER_LINES_FROM = 1024 * 1024;

export function createReporter(stream: NodeJS.WriteStream = process.stderr): Reporter {
  const tty = stream.isTTY === true;
  let barShown = false;
  const clearBar = () => {
    if (!barShown) return;
    stream.write('\r\x1b[2K');
    barShown = false;
  };
  return {
    step(line) {
      clearBar();
      stream.write(`${line}\n`);
    },
    uploadProgress(fileName, total) {
      let lastDraw = 0;
      let lastQuarter = -1;
      const draw = (sent: number) => {
        const fraction = total === 0 ? 1 : Math.min(1, sent / total);
        if (tty) {
          const filled = Math.round(fraction * BAR_WIDTH);
          stream.write(`\r\x1b[2Kuploading ${fileName} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${Math.floor(fraction * 100)}% ${formatBytes(sent)} of ${formatBytes(total)}`);
          barShown = true;
          return;
        }
        // Small files need no progress lines in a log; large ones get one per quarter.
        const quarter = Math.floor(fraction * 4);
        if (total < QUARTER_LINES_FROM || quarter === lastQuarter || quarter === 4) return;
        lastQuarter = quarter;
        stream.write(`uploading ${fileName}: ${quarter * 25}% of ${formatBytes(total)}\n`);
      };
      draw(0);
      return {
        update(sent) {
          const now = Date.now();
          if (tty && now - lastDraw < REDRAW_MS) return;
          lastDraw = now;
          draw(sent);
        },
        done() {
          clearBar();
          stream.write(`uploaded ${fileName} (${formatBytes(total)})\n`);
        },
      };
    },
  };
}
