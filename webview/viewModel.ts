// The dashboard's view model: pure formatting and table logic, no DOM, so plain-node unit tests
// cover it. Figures come from the engine; this file only turns them into text and rows.
// `null` is unknown and reads "N/A", never 0.
import { taskVramText, type Evidence, type FindingEvidence, type PerformanceAnalysis, type Severity, type TaskPhase, type TaskStatus, type VramScope } from '../src/shared/metrics';
import type { AnalysisWindowHours, HistoryRow, LiveRange } from '../src/shared/protocol';

export const NA = 'N/A';

export function isKnown(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** `42%`; a value already in percent. */
export function formatPercent(v: number | null | undefined, digits = 0): string {
  return isKnown(v) ? `${v.toFixed(digits)}%` : NA;
}

/** A 0..1 ratio as a percent with one decimal: `0.8333` -> `83.3%`. */
export function formatRatio(v: number | null | undefined, digits = 1): string {
  return isKnown(v) ? `${(v * 100).toFixed(digits)}%` : NA;
}

/** MiB as `812 MB` below 1 GiB, else `18.2 GB` (1024-based, as the status bar). */
export function formatMb(mb: number | null | undefined): string {
  if (!isKnown(mb)) return NA;
  return Math.abs(mb) < 1024 ? `${Math.round(mb)} MB` : `${(mb / 1024).toFixed(1)} GB`;
}

/** A task's VRAM with what it measures: `18.2 GB (the device's rise during the run)`, `N/A` when unknown, never 0. */
export function formatTaskVram(mb: number | null | undefined, scope: VramScope | null | undefined, form: 'long' | 'short' = 'long', totalMb: number | null = null): string {
  return taskVramText(mb, scope, (v) => formatMbOf(v, totalMb), NA, form);
}

/** `18.2 / 24.0 GB`; either side may be unknown. */
export function formatMbOf(used: number | null | undefined, total: number | null | undefined): string {
  if (!isKnown(total)) return formatMb(used);
  const u = isKnown(used) ? (used / 1024).toFixed(1) : NA;
  return `${u} / ${(total / 1024).toFixed(1)} GB`;
}

const pad2 = (n: number): string => String(Math.floor(n)).padStart(2, '0');

/** Seconds as `4.2 s`, `42 s`, `3 min 05 s`, `1 h 02 min`, `2 d 03 h`. */
export function formatSeconds(s: number | null | undefined): string {
  if (!isKnown(s) || s < 0) return NA;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const total = Math.round(s);
  if (total < 3600) return `${Math.floor(total / 60)} min ${pad2(total % 60)} s`;
  if (total < 86_400) return `${Math.floor(total / 3600)} h ${pad2((total % 3600) / 60)} min`;
  return `${Math.floor(total / 86_400)} d ${pad2((total % 86_400) / 3600)} h`;
}

/** Elapsed time of a running task, from its start to `now` (whole seconds). */
export function formatElapsed(startMs: number, nowMs: number): string {
  return formatSeconds(Math.max(0, Math.floor((nowMs - startMs) / 1000)));
}

/** `2026-01-01 13:05` in the viewer's time zone. */
export function formatDateTime(ms: number | null | undefined): string {
  if (!isKnown(ms)) return NA;
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** `just now`, `5 min ago`, `3 h ago`, `2 d ago`, then the date. */
export function formatRelative(ms: number | null | undefined, nowMs: number): string {
  if (!isKnown(ms)) return NA;
  const diff = nowMs - ms;
  if (diff < 45_000) return 'just now';
  if (diff < 3_600_000) return `${Math.max(1, Math.round(diff / 60_000))} min ago`;
  if (diff < 86_400_000) return `${Math.round(diff / 3_600_000)} h ago`;
  if (diff < 7 * 86_400_000) return `${Math.round(diff / 86_400_000)} d ago`;
  return formatDateTime(ms).slice(0, 10);
}

/** An axis tick: `13:05:20` for spans up to 10 minutes (`13:05` on a whole minute), `13:05` up to a day, `Jan 3` beyond. */
export function formatTick(ms: number, spanMs: number): string {
  const d = new Date(ms);
  if (spanMs <= 600_000 && d.getSeconds() !== 0) return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  if (spanMs <= 86_400_000 * 1.01) return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  return `${MONTHS[d.getMonth()]} ${d.getDate()}`;
}

const TICK_STEPS_MS = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800].map((s) => s * 1000);

/**
 * Round-time ticks for a time axis from `min` to `max` (epoch ms): the smallest step from a fixed
 * ladder (10 s … 7 d) that gives at most `maxTicks`, aligned to the viewer's local clock.
 */
export function timeTicks(min: number, max: number, maxTicks = 6, tzOffsetMinutes = new Date(min).getTimezoneOffset()): number[] {
  if (!(max > min) || maxTicks < 1) return [];
  const span = max - min;
  const step = TICK_STEPS_MS.find((s) => span / s <= maxTicks) ?? Math.ceil(span / maxTicks / 86_400_000) * 86_400_000;
  const shift = -tzOffsetMinutes * 60_000;
  const out: number[] = [];
  for (let t = Math.ceil((min + shift) / step) * step - shift; t <= max; t += step) out.push(t);
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function formatWindow(hours: AnalysisWindowHours | number): string {
  return hours % 24 === 0 && hours >= 48 ? `${hours / 24} d` : `${hours} h`;
}

export const RANGE_LABELS: Readonly<Record<LiveRange, string>> = { '5m': '5 min', '1h': '1 hour', '24h': '24 hours' };

export const STATUS_LABELS: Readonly<Record<TaskStatus, string>> = {
  running: 'Running', succeeded: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled', interrupted: 'Interrupted',
};

export const SEVERITY_LABELS: Readonly<Record<Severity, string>> = { info: 'Info', warning: 'Warning', critical: 'Critical' };

export function formatCount(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A measured value in the evidence's unit. */
export function formatEvidenceValue(value: number, unit: string): string {
  if (unit === '%') return formatPercent(value, 1);
  if (unit === 's') return formatSeconds(value);
  if (unit === 'ratio') return formatRatio(value);
  return `${Number.isInteger(value) ? value : value.toFixed(2)} ${unit}`;
}

/** One number behind a finding: `predicted peak VRAM 92,944 MB`. */
export function formatFindingEvidence(e: FindingEvidence): string {
  const value = e.unit === 'MB' || e.unit === 'runs' || e.unit === 'px' ? `${Math.round(e.value).toLocaleString('en-US')} ${e.unit}` : e.unit === 'cores' ? `${e.value.toFixed(2)} cores` : formatEvidenceValue(e.value, e.unit);
  return `${e.label} ${value}`;
}

/** `mean peak VRAM: 93.0% > 90.0% threshold · 12 tasks`. */
export function formatEvidence(e: Evidence): string {
  const word = e.comparison === '>' ? 'above' : 'below';
  return `${e.metric}: ${formatEvidenceValue(e.measuredValue, e.unit)}, ${word} the ${formatEvidenceValue(e.threshold, e.unit)} threshold · ${formatCount(e.taskCount, 'task')}`;
}

/** One line saying how the efficiency figure is made, with this window's factors. */
export function efficiencyExplanation(a: PerformanceAnalysis, baselineSeconds: number): string {
  if (a.resourceEfficiency === null) return 'Efficiency appears once a task has finished in this window.';
  const f = a.efficiencyFactors;
  if (a.resourceEfficiency === 0 && (f.successRate === 0 || a.statusCounts.succeeded === 0)) {
    return 'Efficiency is 0% because no task in this window succeeded.';
  }
  const parts = [`success rate ${formatRatio(f.successRate)}`];
  if (isKnown(f.timeEfficiency)) parts.push(`speed ${formatRatio(f.timeEfficiency)} (${formatSeconds(baselineSeconds)} baseline ÷ mean time, at most 100%)`);
  if (isKnown(f.vramEfficiency)) parts.push(`VRAM headroom ${formatRatio(f.vramEfficiency)} (1 − mean peak VRAM share)`);
  const list = parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
  return parts.length === 1 ? `Equal to the ${list}; speed and VRAM were not measured.` : `Geometric mean of ${list}.`;
}

// ---------------------------------------------------------------------------------------------
// History table

export type SortKey = 'startTime' | 'modelType' | 'resolution' | 'status' | 'generationTimeSeconds' | 'peakVramUsageMb' | 'averageGpuUtilizationPercent';

export interface HistoryQuery {
  sortKey: SortKey;
  descending: boolean;
  /** null: any. */
  modelType: string | null;
  resolution: string | null;
  status: TaskStatus | null;
}

export const DEFAULT_QUERY: HistoryQuery = { sortKey: 'startTime', descending: true, modelType: null, resolution: null, status: null };

/** The resolution a row is grouped by: its class when recognised, else the raw string. */
export function rowResolution(r: HistoryRow): string {
  return r.resolutionClass ?? r.resolution;
}

function sortValue(r: HistoryRow, key: SortKey): string | number | null {
  if (key === 'resolution') return rowResolution(r);
  const v = r[key];
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}

/** Filters and sorts rows; unknown values sort last in either direction, ties keep newest first. */
export function queryRows(rows: readonly HistoryRow[], q: HistoryQuery): HistoryRow[] {
  const out = rows.filter(
    (r) => (q.modelType === null || r.modelType === q.modelType) && (q.resolution === null || rowResolution(r) === q.resolution) && (q.status === null || r.status === q.status),
  );
  const dir = q.descending ? -1 : 1;
  out.sort((a, b) => {
    const va = sortValue(a, q.sortKey);
    const vb = sortValue(b, q.sortKey);
    if (va === null || vb === null) {
      if (va !== vb) return va === null ? 1 : -1;
    } else if (va !== vb) {
      const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
      if (c !== 0) return c * dir;
    }
    return b.startTime - a.startTime;
  });
  return out;
}

/** Distinct values for a filter menu, sorted. */
export function distinctValues(rows: readonly HistoryRow[], pick: (r: HistoryRow) => string): string[] {
  return [...new Set(rows.map(pick))].sort((a, b) => a.localeCompare(b));
}

// ---------------------------------------------------------------------------------------------
// Task phases (model_load, denoise, decode, ...): the detail's table and its chart's bands

/** An offset from the task's start: `+0:04`, `+12:30`, `+1:02:03` (whole seconds, never negative). */
export function formatOffset(ms: number | null | undefined): string {
  if (!isKnown(ms)) return NA;
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = pad2(total % 60);
  return h > 0 ? `+${h}:${pad2(m)}:${sec}` : `+${m}:${sec}`;
}

export interface PhaseRow {
  name: string;
  /** `+0:04` from the task's start. */
  offset: string;
  /** `12.4 s`, `running` (open phase of a running task) or `no end recorded`. */
  duration: string;
  running: boolean;
}

/** Phases in start order (ties keep the recorded order); the engine records them in order, a file may not. */
export function sortedPhases(phases: readonly TaskPhase[] | undefined): TaskPhase[] {
  return (phases ?? [])
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => isKnown(p.startTime))
    .sort((a, b) => a.p.startTime - b.p.startTime || a.i - b.i)
    .map(({ p }) => p);
}

/** The Phases table's rows. Names stay as given: the DOM puts them in with textContent. */
export function phaseRows(phases: readonly TaskPhase[] | undefined, taskStart: number, taskEnd: number | null): PhaseRow[] {
  return sortedPhases(phases).map((p) => {
    const open = !isKnown(p.endTime);
    const running = open && taskEnd === null;
    return {
      name: p.name,
      offset: formatOffset(p.startTime - taskStart),
      duration: open ? (running ? 'running' : 'no end recorded') : formatSeconds(Math.max(0, ((p.endTime as number) - p.startTime) / 1000)),
      running,
    };
  });
}

export interface PhaseBand {
  name: string;
  /** Clamped to the chart's x range; an open phase reaches its right edge. */
  start: number;
  end: number;
  /** Label row from the top (0 first): overlapping phases get different rows so labels do not cover each other. */
  lane: number;
  /** Index among the phases (for alternating colours). */
  index: number;
}

/** Bands for the phases that fall in [xMin, xMax], each in the first label row free at its start. */
export function phaseBands(phases: readonly TaskPhase[] | undefined, xMin: number, xMax: number): PhaseBand[] {
  if (!(xMax > xMin)) return [];
  const laneEnds: number[] = [];
  const out: PhaseBand[] = [];
  sortedPhases(phases).forEach((p, index) => {
    const start = Math.max(xMin, p.startTime);
    const end = Math.min(xMax, isKnown(p.endTime) ? Math.max(p.endTime, p.startTime) : xMax);
    if (start > xMax || end < xMin) return;
    let lane = laneEnds.findIndex((e) => e <= start);
    if (lane < 0) lane = laneEnds.push(end) - 1;
    else laneEnds[lane] = end;
    out.push({ name: p.name, start, end, lane, index });
  });
  return out;
}

/** How many label rows the bands need. */
export function phaseLanes(bands: readonly PhaseBand[]): number {
  return bands.reduce((n, b) => Math.max(n, b.lane + 1), 0);
}

/**
 * The label that fits `maxWidth` pixels: the name, else the name cut with an ellipsis, else
 * nothing (a band too thin for even one letter and the ellipsis). `measure` is the canvas's.
 */
export function fitLabel(name: string, maxWidth: number, measure: (s: string) => number): string {
  if (measure(name) <= maxWidth) return name;
  const chars = Array.from(name);
  let lo = 0;
  let hi = chars.length - 1;
  // Longest prefix that fits with the ellipsis (binary search: measureText is not free).
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(`${chars.slice(0, mid).join('')}…`) <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return lo === 0 ? '' : `${chars.slice(0, lo).join('')}…`;
}

// ---------------------------------------------------------------------------------------------
// Charts

export interface Point {
  x: number;
  y: number | null;
}

/**
 * Min-max decimation that keeps gaps: each of `buckets` columns of a run of known values keeps
 * its lowest and highest point (in time order); a null ends a run and is kept as one gap point.
 * With no more points than `buckets * 2`, every point is kept. xs must be ascending.
 */
export function decimate(xs: readonly number[], ys: readonly (number | null)[], xMin: number, xMax: number, buckets: number, map: (y: number) => number = identity): Point[] {
  const n = Math.min(xs.length, ys.length);
  const out: Point[] = [];
  let start = 0;
  while (start < n && (xs[start] as number) < xMin) start++;
  // Keep one point before the window so the line enters from the left edge.
  if (start > 0) start--;
  if (n - start <= buckets * 2 || buckets < 1 || xMax <= xMin) {
    for (let i = start; i < n; i++) {
      const y = ys[i] as number | null;
      out.push({ x: xs[i] as number, y: y === null || !Number.isFinite(y) ? null : map(y) });
    }
    return out;
  }
  const scale = buckets / (xMax - xMin);
  let col = Number.NaN;
  let lo = -1;
  let hi = -1;
  let loY = 0;
  let hiY = 0;
  const push = (i: number) => out.push({ x: xs[i] as number, y: map(ys[i] as number) });
  const flush = () => {
    if (lo < 0) return;
    if (lo === hi) push(lo);
    else if (lo < hi) {
      push(lo);
      push(hi);
    } else {
      push(hi);
      push(lo);
    }
    lo = hi = -1;
  };
  for (let i = start; i < n; i++) {
    const y = ys[i];
    if (y === null || y === undefined || !Number.isFinite(y)) {
      flush();
      if (out.length === 0 || out[out.length - 1]?.y !== null) out.push({ x: xs[i] as number, y: null });
      col = Number.NaN;
      continue;
    }
    const c = Math.floor(((xs[i] as number) - xMin) * scale);
    if (c !== col) {
      flush();
      col = c;
      lo = hi = i;
      loY = hiY = y;
    } else if (y < loY) {
      lo = i;
      loY = y;
    } else if (y > hiY) {
      hi = i;
      hiY = y;
    }
  }
  flush();
  return out;
}

function identity(y: number): number {
  return y;
}
