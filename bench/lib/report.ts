// The results: one row per figure (its value beside the baseline measured in the same run, the
// ratio, the goal and whether it is met), printed as a table and written as JSON.
import { mkdirSync, readFileSync, writeFileSync, existsSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round } from './stats.js';

export interface Goal {
  op: '>=' | '<=';
  value: number;
}

export interface FigureRow {
  /** The key in latest.json's `figures`. */
  key: string;
  /** What was measured, with its scale (e.g. "fan-out p99, 1,000 viewers"). */
  label: string;
  value: number;
  unit: string;
  baseline?: number;
  /** What the baseline is, when the row has one. */
  baselineLabel?: string;
  /** value / baseline, for rows whose figure is not itself a ratio. */
  ratio?: number;
  goal?: Goal;
}

export interface ScenarioOutcome {
  rows: FigureRow[];
  details: Record<string, unknown>;
  /** Diagnostics printed after the table (e.g. heap growth by kind of object). */
  reports?: string[];
}

export function meets(value: number, goal: Goal): boolean {
  if (!Number.isFinite(value)) return false;
  return goal.op === '>=' ? value >= goal.value : value <= goal.value;
}

export const ratio = (value: number, baseline: number) => (baseline > 0 && Number.isFinite(baseline) ? value / baseline : Number.NaN);

function show(value: number | undefined, unit = ''): string {
  if (value === undefined) return '—';
  if (!Number.isFinite(value)) return 'n/a';
  const rounded = round(value);
  const text = Math.abs(rounded) >= 1000 ? rounded.toLocaleString('en-US') : String(rounded);
  return unit ? `${text} ${unit}` : text;
}

export function formatTable(rows: FigureRow[], previous: Record<string, number> | null): string {
  const header = ['figure', 'measured', 'value', 'baseline (same run)', 'ratio', 'goal', 'pass', ...(previous ? ['previous run'] : [])];
  const lines = rows.map((row) => [
    row.key,
    row.label,
    show(row.value, row.unit),
    row.baseline === undefined ? '—' : `${show(row.baseline, row.unit)}${row.baselineLabel ? ` (${row.baselineLabel})` : ''}`,
    show(row.ratio),
    row.goal ? `${row.goal.op} ${row.goal.value}` : '—',
    row.goal ? (meets(row.value, row.goal) ? 'PASS' : 'FAIL') : '',
    ...(previous ? [show(previous[row.key])] : []),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  return [format(header), widths.map((width) => '-'.repeat(width)).join('  '), ...lines.map(format)].join('\n');
}

export interface ResultFile {
  date: string;
  node: string;
  quick: boolean;
  machine: { cpus: number; cpuModel: string; totalMemoryMB: number; platform: string; loadAverage: number[] };
  settings: Record<string, unknown>;
  durationSeconds: number;
  scenarios: Record<string, unknown>;
  figures: Record<string, number>;
  baselines: Record<string, number>;
  goals: Record<string, Goal & { met: boolean }>;
  errors: Record<string, string>;
}

export function buildResult(
  quick: boolean,
  startedAt: Date,
  scenarios: Record<string, unknown>,
  rows: FigureRow[],
  errors: Record<string, string>,
  settings: Record<string, unknown> = {},
): ResultFile {
  const figures: Record<string, number> = {};
  const baselines: Record<string, number> = {};
  const goals: ResultFile['goals'] = {};
  for (const row of rows) {
    figures[row.key] = round(row.value);
    if (row.baseline !== undefined) baselines[row.key] = round(row.baseline);
    if (row.goal) goals[row.key] = { ...row.goal, met: meets(row.value, row.goal) };
  }
  return {
    date: startedAt.toISOString(),
    node: process.version,
    quick,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      totalMemoryMB: Math.round(os.totalmem() / 1024 / 1024),
      platform: `${os.platform()} ${os.release()}`,
      loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
    },
    settings,
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    scenarios,
    figures,
    baselines,
    goals,
    errors,
  };
}

/** The figures of the last run of the same kind (quick or full), to show beside this one. */
export function previousFigures(resultsDir: string, quick: boolean): Record<string, number> | null {
  const latest = path.join(resultsDir, quick ? 'latest-quick.json' : 'latest-full.json');
  if (!existsSync(latest)) return null;
  try {
    return (JSON.parse(readFileSync(latest, 'utf8')) as ResultFile).figures;
  } catch {
    return null;
  }
}

/** Writes latest.json, latest-{quick,full}.json and a timestamped copy; returns the paths. */
export function writeResult(resultsDir: string, result: ResultFile): string[] {
  mkdirSync(resultsDir, { recursive: true });
  const stamp = result.date.replace(/[:.]/g, '-');
  const stamped = path.join(resultsDir, `${stamp}${result.quick ? '-quick' : ''}.json`);
  const latest = path.join(resultsDir, 'latest.json');
  const latestOfKind = path.join(resultsDir, result.quick ? 'latest-quick.json' : 'latest-full.json');
  writeFileSync(stamped, `${JSON.stringify(result, null, 2)}\n`);
  copyFileSync(stamped, latest);
  copyFileSync(stamped, latestOfKind);
  return [latest, stamped];
}

/** A run of some scenarios only (--only): written to partial.json, leaving latest.json alone. */
export function writePartial(resultsDir: string, result: ResultFile): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, 'partial.json');
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
