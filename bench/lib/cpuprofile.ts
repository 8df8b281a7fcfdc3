// Summarizes a V8 .cpuprofile (written by `node --cpu-prof`): self time per function, per area (a
// package under node_modules, Signet's own server/ or src/ code, node internals, GC, idle), and
// "attributed" time: each sample charged to the nearest caller outside node internals and V8
// builtins, so time spent writing to sockets shows up under the library or Signet code that wrote.
// With windows.json beside the profile (written by the child's IPC helper: labelled markLoad →
// load windows), each label is summarized on its own, so start-up and set-up are left out.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface Ranked {
  name: string;
  selfMs: number;
  percentOfBusy: number;
}

export interface ProfileSummary {
  file: string;
  /** The measured windows this summary covers (markLoad label), or 'whole run'. */
  window: string;
  totalMs: number;
  busyMs: number;
  functions: Array<Ranked & { where: string }>;
  areas: Ranked[];
  attributedAreas: Ranked[];
  attributedFunctions: Ranked[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

function shortUrl(url: string): string {
  const clean = url.replace(/^file:\/\//, '');
  const modules = clean.lastIndexOf('node_modules/');
  if (modules >= 0) return clean.slice(modules + 'node_modules/'.length);
  for (const marker of ['/server/', '/src/', '/bench/']) {
    const at = clean.indexOf(marker);
    if (at >= 0) return clean.slice(at + 1);
  }
  return clean;
}

export function areaOf(frame: CallFrame): string {
  if (SPECIAL.has(frame.functionName) && !frame.url) return frame.functionName;
  const url = frame.url.replace(/^file:\/\//, '');
  if (!url) return '(native/V8 builtins)';
  if (url.startsWith('node:')) return 'node internals';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  for (const marker of ['/server/', '/src/lib/shared/']) {
    const at = url.indexOf(marker);
    if (at >= 0) {
      const rest = url.slice(at + 1);
      return `signet ${rest.split('/').slice(0, marker === '/server/' ? 2 : 3).join('/')}`;
    }
  }
  return path.basename(url);
}

const isInternal = (frame: CallFrame) => !frame.url || frame.url.startsWith('node:');

interface Window {
  label: string;
  start: number;
  end: number;
}

function loadWindows(file: string): Window[] {
  const windowsFile = path.join(path.dirname(file), 'windows.json');
  if (!existsSync(windowsFile)) return [];
  try {
    return JSON.parse(readFileSync(windowsFile, 'utf8')) as Window[];
  } catch {
    return [];
  }
}

/** One summary per window label (connect, measured, …), or of the whole run without windows. */
export function summarizeProfileWindows(file: string, top = 20): ProfileSummary[] {
  const windows = loadWindows(file);
  const labels = [...new Set(windows.map((window) => window.label))];
  if (!labels.length) return [summarizeProfile(file, top)];
  return labels.map((label) => summarizeProfile(file, top, label));
}

export function summarizeProfile(file: string, top = 20, label?: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const windows = label === undefined ? [] : loadWindows(file).filter((window) => window.label === label);
  const inWindow = (timestamp: number) => windows.length === 0 || windows.some((window) => timestamp >= window.start && timestamp <= window.end);

  const selfUs = new Map<number, number>();
  let timestamp = profile.startTime;
  for (let i = 0; i < profile.samples.length; i += 1) {
    timestamp += profile.timeDeltas[i] ?? 0;
    if (!inWindow(timestamp)) continue;
    // The time until the next sample belongs to this sample's frame.
    const delta = Math.max(0, profile.timeDeltas[i + 1] ?? 0);
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }

  /** The nearest frame (itself or a caller) that is neither a node internal nor a V8 builtin. */
  const attributedCache = new Map<number, ProfileNode>();
  const attributed = (id: number): ProfileNode => {
    const cached = attributedCache.get(id);
    if (cached) return cached;
    let node = byId.get(id)!;
    const start = node;
    while (isInternal(node.callFrame) && !SPECIAL.has(node.callFrame.functionName) && parentOf.has(node.id)) {
      node = byId.get(parentOf.get(node.id)!)!;
    }
    const found = isInternal(node.callFrame) && !SPECIAL.has(node.callFrame.functionName) ? start : node;
    attributedCache.set(id, found);
    return found;
  };

  const functions = new Map<string, { name: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  const attributedAreas = new Map<string, number>();
  const attributedFunctions = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    totalUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName}@${where}`;
    const entry = functions.get(key) ?? { name: frame.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const owner = attributed(id).callFrame;
    const ownerArea = areaOf(owner);
    attributedAreas.set(ownerArea, (attributedAreas.get(ownerArea) ?? 0) + us);
    const ownerName = `${owner.functionName || '(anonymous)'}${owner.url ? ` ${shortUrl(owner.url)}:${owner.lineNumber + 1}` : ''}`;
    attributedFunctions.set(ownerName, (attributedFunctions.get(ownerName) ?? 0) + us);
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const ms = (us: number) => Math.round(us / 100) / 10;
  const pct = (us: number) => Math.round((us / busyUs) * 1000) / 10;
  const rank = (map: Map<string, number>, count: number): Ranked[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, us]) => ({ name, selfMs: ms(us), percentOfBusy: pct(us) }));
  return {
    file,
    window: label ?? 'whole run',
    totalMs: ms(totalUs),
    busyMs: ms(busyUs),
    functions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((entry) => ({ name: entry.name, where: entry.where, selfMs: ms(entry.us), percentOfBusy: pct(entry.us) })),
    areas: rank(areas, 12),
    attributedAreas: rank(attributedAreas, 12),
    attributedFunctions: rank(attributedFunctions, top),
  };
}

export function formatProfile(summary: ProfileSummary): string {
  const row = (entry: Ranked, extra = '') => `    ${String(entry.percentOfBusy).padStart(5)}%  ${String(entry.selfMs).padStart(8)} ms  ${entry.name}${extra}`;
  return [
    `${path.basename(path.dirname(summary.file))}/${path.basename(summary.file)}: ${summary.totalMs} ms sampled in window "${summary.window}", ${summary.busyMs} ms busy (not idle)`,
    '  self time by area:',
    ...summary.areas.map((entry) => row(entry)),
    '  self time charged to the nearest caller outside node internals/V8 builtins, by area:',
    ...summary.attributedAreas.map((entry) => row(entry)),
    '  top functions by self time:',
    ...summary.functions.map((entry) => row(entry, entry.where ? `  ${entry.where}` : '')),
    '  top callers by charged self time:',
    ...summary.attributedFunctions.map((entry) => row(entry)),
  ].join('\n');
}
