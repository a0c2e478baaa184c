// Pure view models for a failed run's last minute and for two runs side by side, from each task's
// own compact timeline (PerformanceMetrics.timeline: the whole run decimated plus its last minute
// at full rate). No DOM: unit tests call these directly.
import type { CompactTimeline, PerformanceMetrics, TaskPhase } from '../src/shared/metrics';
import { formatDateTime, formatMb, formatPercent, formatSeconds, isKnown, NA, STATUS_LABELS, type Point } from './viewModel';

/** A post-mortem looks at this much before the end. */
const LAST_MINUTE_S = 60;

export function isFailed(t: PerformanceMetrics): boolean {
  return t.status === 'failed' || t.status === 'interrupted';
}

/** The timeline's points of the last minute, as epoch-ms x values; empty without a timeline. */
export function lastMinute(t: PerformanceMetrics): { xs: number[]; columns: Pick<CompactTimeline, 'deviceVramMb' | 'ownVramMb' | 'gpuUtilizationPercent' | 'cpuCores'> } {
  const tl = t.timeline;
  const empty = { xs: [], columns: { deviceVramMb: [], ownVramMb: [], gpuUtilizationPercent: [], cpuCores: [] } };
  if (!tl || tl.offsetSeconds.length === 0) return empty;
  const end = tl.offsetSeconds[tl.offsetSeconds.length - 1] as number;
  const from = tl.offsetSeconds.findIndex((o) => o >= end - LAST_MINUTE_S);
  const pick = <T>(col: readonly T[]): T[] => col.slice(from);
  return {
    xs: pick(tl.offsetSeconds).map((o) => t.startTime + o * 1000),
    columns: { deviceVramMb: pick(tl.deviceVramMb), ownVramMb: pick(tl.ownVramMb), gpuUtilizationPercent: pick(tl.gpuUtilizationPercent), cpuCores: pick(tl.cpuCores) },
  };
}

const known = (values: readonly (number | null)[]): number[] => values.filter((v): v is number => v !== null && Number.isFinite(v));
const lastKnown = (values: readonly (number | null)[]): number | null => {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i] as number;
  return null;
};

/** The phases running at an instant (open ones still running). */
function phasesAt(phases: readonly TaskPhase[] | undefined, at: number): string[] {
  return (phases ?? []).filter((p) => p.startTime <= at && (p.endTime === null || p.endTime >= at)).map((p) => p.name);
}

/** What a person reads first about a failed run's end: label, value, and why it matters. */
export function postMortemFacts(t: PerformanceMetrics): { label: string; value: string }[] {
  const { xs, columns } = lastMinute(t);
  if (xs.length === 0) return [];
  const endAt = xs[xs.length - 1] as number;
  const vramEnd = lastKnown(columns.deviceVramMb);
  const total = t.vramTotalMb;
  const own = known(columns.ownVramMb);
  const util = known(columns.gpuUtilizationPercent);
  const cores = known(columns.cpuCores);
  const running = phasesAt(t.phases, t.endTime ?? endAt);
  const out = [
    { label: 'Ended', value: `${STATUS_LABELS[t.status]}${t.errorCategory ? ` (${t.errorCategory})` : ''}` },
    { label: 'Ended at', value: formatDateTime(t.endTime ?? endAt) },
    { label: 'GPU memory at the end', value: vramEnd === null ? NA : `${formatMb(vramEnd)}${isKnown(total) && total > 0 ? ` of ${formatMb(total)} (${formatPercent((vramEnd / total) * 100)})` : ''}` },
    { label: 'Peak in the last minute', value: known(columns.deviceVramMb).length ? formatMb(Math.max(...known(columns.deviceVramMb))) : NA },
    { label: "The run's own GPU memory, peak", value: own.length ? formatMb(Math.max(...own)) : NA },
    { label: 'GPU utilisation, mean', value: util.length ? formatPercent(util.reduce((a, b) => a + b, 0) / util.length) : NA },
    { label: "The run's CPU, mean", value: cores.length ? `${(cores.reduce((a, b) => a + b, 0) / cores.length).toFixed(2)} cores` : NA },
    { label: 'Phase at the end', value: running.length ? running.join(', ') : 'none reported' },
    { label: 'Samples in the last minute', value: String(xs.length) },
  ];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Comparison

/** One compared figure: both runs' values as shown, whether they differ, and B against A for numbers. */
export interface CompareRow {
  label: string;
  a: string;
  b: string;
  differs: boolean;
  /** `+12.0 s (+9%)`, for numbers known on both sides; empty otherwise. */
  delta: string;
}

function numberRow(label: string, a: number | null | undefined, b: number | null | undefined, format: (v: number | null | undefined) => string, unitDelta: (d: number) => string): CompareRow {
  const both = isKnown(a) && isKnown(b);
  const d = both ? (b as number) - (a as number) : 0;
  const rel = both && (a as number) !== 0 ? ` (${d >= 0 ? '+' : ''}${Math.round((d / (a as number)) * 100)}%)` : '';
  return { label, a: format(a), b: format(b), differs: format(a) !== format(b), delta: both && format(a) !== format(b) ? `${d >= 0 ? '+' : '−'}${unitDelta(Math.abs(d))}${rel}` : '' };
}

function textRow(label: string, a: string, b: string): CompareRow {
  return { label, a, b, differs: a !== b, delta: '' };
}

function commitText(t: PerformanceMetrics): string {
  const c = t.gitCommit;
  if (!c) return NA;
  return `${c.hash}${c.branch ? ` (${c.branch})` : ''}${c.dirty ? ', uncommitted changes' : ''}`;
}

function settingsText(t: PerformanceMetrics): string {
  const parts = [...t.optimizationsApplied];
  if (t.quantizationUsed) parts.push(`quantized ${t.quantizationUsed}`);
  if (t.offloadUsed) parts.push('offload');
  return parts.length ? parts.join(', ') : 'none';
}

/** Seconds per phase name (a name repeated is summed); open phases count to the run's end. */
function phaseSeconds(t: PerformanceMetrics): Map<string, number> {
  const out = new Map<string, number>();
  const end = t.endTime;
  for (const p of t.phases ?? []) {
    const stop = p.endTime ?? end;
    if (stop === null) continue;
    out.set(p.name, (out.get(p.name) ?? 0) + Math.max(0, (stop - p.startTime) / 1000));
  }
  return out;
}

/** The rows of the comparison table: configuration, commit, time, peaks, then each phase. */
export function compareRows(a: PerformanceMetrics, b: PerformanceMetrics): CompareRow[] {
  const secs = (d: number) => formatSeconds(d);
  const rows: CompareRow[] = [
    // Which runs they are: always different, never highlighted.
    { ...textRow('Task', a.taskId, b.taskId), differs: false },
    { ...textRow('Started', formatDateTime(a.startTime), formatDateTime(b.startTime)), differs: false },
    textRow('Outcome', `${STATUS_LABELS[a.status]}${a.errorCategory ? ` (${a.errorCategory})` : ''}`, `${STATUS_LABELS[b.status]}${b.errorCategory ? ` (${b.errorCategory})` : ''}`),
    textRow('Model type', a.modelType, b.modelType),
    textRow('Resolution', a.resolution, b.resolution),
    numberRow('Steps', a.steps, b.steps, (v) => (isKnown(v) ? String(v) : NA), (d) => String(d)),
    textRow('Optimisations', settingsText(a), settingsText(b)),
    textRow('Git commit', commitText(a), commitText(b)),
    textRow('GPUs', a.gpuIndices.length ? a.gpuIndices.join(', ') : NA, b.gpuIndices.length ? b.gpuIndices.join(', ') : NA),
    numberRow('Time', a.generationTimeSeconds, b.generationTimeSeconds, formatSeconds, secs),
    numberRow('Model load', a.modelLoadTimeSeconds, b.modelLoadTimeSeconds, formatSeconds, secs),
    numberRow('Peak VRAM', a.peakVramUsageMb, b.peakVramUsageMb, formatMb, (d) => formatMb(d)),
    numberRow('Mean GPU utilisation', a.averageGpuUtilizationPercent, b.averageGpuUtilizationPercent, formatPercent, (d) => `${Math.round(d)} points`),
    numberRow('Peak RAM', a.peakRamUsageMb, b.peakRamUsageMb, formatMb, (d) => formatMb(d)),
  ];
  const pa = phaseSeconds(a);
  const pb = phaseSeconds(b);
  for (const name of [...new Set([...pa.keys(), ...pb.keys()])]) rows.push(numberRow(`Phase ${name}`, pa.get(name) ?? null, pb.get(name) ?? null, formatSeconds, secs));
  return rows;
}

/** A run's series from its start, shifted onto `origin` so two runs share one axis (x in ms from origin). */
export function alignedSeries(t: PerformanceMetrics, origin: number, column: 'vram' | 'gpu'): Point[] {
  const tl = t.timeline;
  if (!tl) return [];
  // The run's own memory where the GPU tool attributes it, else the device's.
  const values = column === 'gpu' ? tl.gpuUtilizationPercent : known(tl.ownVramMb).length > 0 ? tl.ownVramMb : tl.deviceVramMb;
  return tl.offsetSeconds.map((o, i) => ({ x: origin + o * 1000, y: values[i] ?? null }));
}

/**
 * A finished task's chart from its own kept timeline, for when the machine's samples of its period
 * are gone (older than the snapshot ring): x in epoch ms, CPU as % of one core.
 */
export function keptTimeline(t: PerformanceMetrics): { xs: number[]; vramMb: (number | null)[]; gpuPercent: (number | null)[]; cpuPercent: (number | null)[] } | null {
  const tl = t.timeline;
  if (!tl || tl.offsetSeconds.length === 0) return null;
  return {
    xs: tl.offsetSeconds.map((o) => t.startTime + o * 1000),
    vramMb: tl.deviceVramMb,
    gpuPercent: tl.gpuUtilizationPercent,
    cpuPercent: tl.cpuCores.map((c) => (c === null ? null : c * 100)),
  };
}
