// Prints the self-time summary of .cpuprofile files (per measured window when windows.json is beside them) (e.g. those `npm run bench -- --profile` writes).
// Usage: node --import tsx bench/profile.ts FILE.cpuprofile [...] [--top N]
import { formatProfile, summarizeProfileWindows } from './lib/cpuprofile.js';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
if (!args.length) {
  console.error('usage: node --import tsx bench/profile.ts FILE.cpuprofile [...] [--top N]');
  process.exit(2);
}
for (const file of args) for (const summary of summarizeProfileWindows(file, top)) console.log(`${formatProfile(summary)}\n`);
