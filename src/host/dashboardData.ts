// Turns what the engine holds (snapshots, roll-ups, task records) into the dashboard protocol's
// payloads: columns for the charts, rows for the history table, a task's own timeline. Pure (no
// `vscode`), so plain-node tests cover it; figures are selected and reshaped here, not computed.
import { resolutionKey } from '../core/engine/resolution';
import type { Clock, TimerHandle } from '../core/ports';
import type { MinuteRollup } from '../core/engine/snapshotRing';
import type { PerformanceMetrics, TaskPhase } from '../shared/metrics';
import {
  HISTORY_PAGE_ROWS, LIVE_RANGE_MS, MAX_HISTORY_OFFSET, MAX_PHASE_NAME_LENGTH, MAX_TASK_PHASES, PROTOCOL_VERSION,
  type ActiveTaskInfo, type AnalysisView, type AnalysisWindowHours, type DashboardState, type HistoryFilter, type HistoryPage, type HistoryRow,
  type LiveRange, type LiveSeries, type SeriesGpu, type TaskDetail, type TaskRef, type TaskTimeline, type ToWebview,
} from '../shared/protocol';
import { taskGpuUtilizationPercent, taskVramUsedMb, usedPercent, type GpuReading, type SystemPerformanceSnapshot } from '../shared/snapshot';
import type { DashboardDataSource } from './dashboardPanel';

const MINUTE_MS = 60_000;

/** Columns of full-rate snapshots, one GPU entry per device index seen. */
export function seriesFromSnapshots(range: LiveRange, snapshots: readonly SystemPerformanceSnapshot[]): LiveSeries {
  const gpuOrder: number[] = [];
  const names = new Map<number, GpuReading>();
  for (const s of snapshots) {
    for (const g of s.gpus) {
      if (!names.has(g.index)) gpuOrder.push(g.index);
      names.set(g.index, g);
    }
  }
  gpuOrder.sort((a, b) => a - b);
  const gpus: SeriesGpu[] = gpuOrder.map((index) => {
    const g = names.get(index) as GpuReading;
    return { index, name: g.name, vramTotalMb: g.vramTotalMb, utilizationPercent: [], vramUsedPercent: [] };
  });
  const series: LiveSeries = { range, resolution: 'sample', timestamps: [], cpuUsagePercent: [], ramUsageMb: [], ramTotalMb: null, gpus };
  for (const s of snapshots) {
    series.timestamps.push(s.timestamp);
    series.cpuUsagePercent.push(s.cpuUsagePercent);
    series.ramUsageMb.push(s.ramUsageMb);
    if (s.ramTotalMb !== null) series.ramTotalMb = s.ramTotalMb;
    for (const col of gpus) {
      const g = s.gpus.find((x) => x.index === col.index);
      col.utilizationPercent.push(g ? g.utilizationPercent : null);
      col.vramUsedPercent.push(g ? g.vramUsedPercent : null);
    }
  }
  return series;
}

/**
 * Columns of per-minute roll-ups (means); GPUs are one "all GPUs" entry, as the roll-ups keep them,
 * its VRAM share of the newest known total (usedPercent, the readings' own definition).
 */
export function seriesFromRollups(range: LiveRange, rollups: readonly MinuteRollup[], ramTotalMb: number | null): LiveSeries {
  const anyGpu = rollups.some((r) => r.averageGpuUsagePercent !== null || r.averageVramUsageMb !== null);
  const vramTotal = [...rollups].reverse().find((r) => r.vramTotalMb !== null)?.vramTotalMb ?? null;
  const gpus: SeriesGpu[] = anyGpu
    ? [{ index: -1, name: 'All GPUs', vramTotalMb: vramTotal, utilizationPercent: rollups.map((r) => r.averageGpuUsagePercent), vramUsedPercent: rollups.map((r) => usedPercent(r.averageVramUsageMb, vramTotal)) }]
    : [];
  return {
    range,
    resolution: 'minute',
    timestamps: rollups.map((r) => r.minuteStart),
    cpuUsagePercent: rollups.map((r) => r.averageCpuUsagePercent),
    ramUsageMb: rollups.map((r) => r.averageRamUsageMb),
    ramTotalMb,
    gpus,
  };
}

export function buildSeries(source: DashboardDataSource, range: LiveRange, now: number): LiveSeries {
  const since = now - LIVE_RANGE_MS[range];
  if (range === '24h') return seriesFromRollups(range, source.minuteRollups(since), source.latestSnapshot()?.ramTotalMb ?? null);
  return seriesFromSnapshots(range, source.recentSnapshots(since));
}

export function activeTaskInfo(task: PerformanceMetrics, latest: SystemPerformanceSnapshot | null, progressPercent: number | null, elsewherePid: number | null = null): ActiveTaskInfo {
  const info: ActiveTaskInfo = { task, progressPercent, currentVramMb: latest ? taskVramUsedMb(latest.gpus, task.gpuIndices) : null };
  if (elsewherePid !== null) info.elsewherePid = elsewherePid;
  return info;
}

export function historyRow(t: PerformanceMetrics): HistoryRow {
  return {
    taskId: t.taskId, startTime: t.startTime, endTime: t.endTime, modelType: t.modelType, resolution: t.resolution,
    resolutionClass: t.resolutionClass, status: t.status, generationTimeSeconds: t.generationTimeSeconds,
    peakVramUsageMb: t.peakVramUsageMb, vramScope: t.vramScope, vramTotalMb: t.vramTotalMb, averageGpuUtilizationPercent: t.averageGpuUtilizationPercent,
    averageCpuUsagePercent: t.averageCpuUsagePercent, errorCategory: t.errorCategory,
  };
}

/** No filter: every task of the window. */
export const NO_HISTORY_FILTER: HistoryFilter = { modelType: null, resolution: null, status: null };

/** The filter as a predicate, or null when it accepts everything (so a page need not read the window). */
function historyMatcher(f: HistoryFilter): ((t: PerformanceMetrics) => boolean) | null {
  if (f.modelType === null && f.resolution === null && f.status === null) return null;
  return (t) => (f.modelType === null || t.modelType === f.modelType)
    && (f.resolution === null || resolutionKey(t.resolution, t.resolutionClass) === f.resolution)
    && (f.status === null || t.status === f.status);
}

/**
 * One page of the window's tasks, newest first by start (equal starts in the order held), from
 * the source's kept window where it has one; else from a copy of the window (sorted here).
 */
export function buildHistoryPage(source: DashboardDataSource, windowHours: AnalysisWindowHours, offsetIn: number, filter: HistoryFilter): HistoryPage {
  const match = historyMatcher(filter);
  let offset = Math.min(Math.max(0, Math.floor(offsetIn)), MAX_HISTORY_OFFSET);
  const read = (from: number): { tasks: readonly PerformanceMetrics[]; total: number; totalRows: number } => {
    if (source.historyPage) {
      const page = source.historyPage(windowHours, from, HISTORY_PAGE_ROWS, match);
      return { ...page, totalRows: match === null ? page.total : source.historyPage(windowHours, 0, 0, null).total };
    }
    const all = source.history(windowHours);
    const matching = (match === null ? all : all.filter(match)).map((t, i) => ({ t, i })).sort((x, y) => y.t.startTime - x.t.startTime || y.i - x.i);
    return { tasks: matching.slice(from, from + HISTORY_PAGE_ROWS).map((x) => x.t), total: matching.length, totalRows: all.length };
  };
  let got = read(offset);
  // Past the end (tasks left the window, or a filter matches fewer): the last page instead.
  if (offset > 0 && offset >= got.total) {
    offset = Math.max(0, Math.floor((got.total - 1) / HISTORY_PAGE_ROWS) * HISTORY_PAGE_ROWS);
    got = read(offset);
  }
  return { rows: got.tasks.map(historyRow), totalRows: got.totalRows, matching: got.total, offset, filter };
}

/**
 * The machine's samples while a task ran: full rate when the ring still holds its start, else
 * per-minute roll-ups, else nothing (older than what the engine keeps).
 */
export function taskTimeline(task: PerformanceMetrics, snapshots: readonly SystemPerformanceSnapshot[], rollups: readonly MinuteRollup[]): TaskTimeline {
  const end = task.endTime ?? Number.POSITIVE_INFINITY;
  const oldest = snapshots[0]?.timestamp;
  if (oldest !== undefined && oldest <= task.startTime) {
    const inTask = snapshots.filter((s) => s.timestamp >= task.startTime && s.timestamp <= end);
    return {
      resolution: 'sample',
      timestamps: inTask.map((s) => s.timestamp),
      vramUsedMb: inTask.map((s) => taskVramUsedMb(s.gpus, task.gpuIndices)),
      gpuUtilizationPercent: inTask.map((s) => taskGpuUtilizationPercent(s.gpus, task.gpuIndices)),
      cpuUsagePercent: inTask.map((s) => s.cpuUsagePercent),
    };
  }
  const firstMinute = Math.floor(task.startTime / MINUTE_MS) * MINUTE_MS;
  const minutes = rollups.filter((r) => r.minuteStart >= firstMinute && r.minuteStart <= end);
  if (minutes.length === 0) return { resolution: 'none', timestamps: [], vramUsedMb: [], gpuUtilizationPercent: [], cpuUsagePercent: [] };
  return {
    resolution: 'minute',
    timestamps: minutes.map((r) => r.minuteStart),
    vramUsedMb: minutes.map((r) => r.averageVramUsageMb),
    gpuUtilizationPercent: minutes.map((r) => r.averageGpuUsagePercent),
    cpuUsagePercent: minutes.map((r) => r.averageCpuUsagePercent),
  };
}

/**
 * Phases within what the protocol carries: the first MAX_TASK_PHASES with finite times, names cut
 * to MAX_PHASE_NAME_LENGTH. A history file may hold more (or longer) than the engine records, and
 * the webview would reject the whole detail rather than show part of it.
 */
export function protocolPhases(phases: readonly TaskPhase[]): TaskPhase[] {
  const cut = (name: string): string => {
    if (name.length <= MAX_PHASE_NAME_LENGTH) return name;
    // Cut in UTF-16 units (what the protocol counts) without splitting a surrogate pair.
    const head = name.slice(0, MAX_PHASE_NAME_LENGTH - 1).replace(/[\uD800-\uDBFF]$/, '');
    return `${head}…`;
  };
  return phases
    .filter((p) => Number.isFinite(p.startTime) && (p.endTime === null || Number.isFinite(p.endTime)))
    .slice(0, MAX_TASK_PHASES)
    .map((p) => ({ name: cut(p.name), startTime: p.startTime, endTime: p.endTime }));
}

/**
 * One task of the history (or running), its phases bounded for the protocol; null when gone. The
 * table's window is searched in place first (no copy of the history), then every kept task.
 */
function findTask(source: DashboardDataSource, taskId: string, startTime: number, windowHours?: AnalysisWindowHours): PerformanceMetrics | null {
  const same = (t: PerformanceMetrics): boolean => t.taskId === taskId && t.startTime === startTime;
  const inWindow = windowHours !== undefined ? source.historyPage?.(windowHours, 0, 1, same).tasks[0] : undefined;
  const found = inWindow ?? source.history(null).find(same)
    ?? source.activeTasks().find(same);
  if (!found) return null;
  return found.phases ? { ...found, phases: protocolPhases(found.phases) } : found;
}

/** The two tasks picked for comparison, each with its own compact timeline. */
export function buildComparison(source: DashboardDataSource, refs: readonly [TaskRef, TaskRef], windowHours?: AnalysisWindowHours): [PerformanceMetrics | null, PerformanceMetrics | null] {
  return [findTask(source, refs[0].taskId, refs[0].startTime, windowHours), findTask(source, refs[1].taskId, refs[1].startTime, windowHours)];
}

export function buildTaskDetail(source: DashboardDataSource, taskId: string, startTime: number, windowHours?: AnalysisWindowHours): TaskDetail | null {
  const task = findTask(source, taskId, startTime, windowHours);
  if (!task) return null;
  const firstMinute = Math.floor(task.startTime / MINUTE_MS) * MINUTE_MS;
  return { task, timeline: taskTimeline(task, source.recentSnapshots(task.startTime - 1), source.minuteRollups(firstMinute)) };
}

export function buildActiveTasks(source: DashboardDataSource): ActiveTaskInfo[] {
  const latest = source.latestSnapshot();
  return source.activeTasks().map((t) => activeTaskInfo(t, latest, source.taskProgressPercent?.(t.taskId) ?? null, source.elsewhereOwner?.(t) ?? null));
}

/** Where the history table is: its first row and filter. */
export interface HistoryPosition {
  offset: number;
  filter: HistoryFilter;
}

/**
 * The analysis of a window and the history page shown. `live`: from the kept aggregates where the
 * source has them (a task end), else the full analysis (opening, a new window, the coalesced refresh).
 */
export function buildAnalysisView(source: DashboardDataSource, windowHours: AnalysisWindowHours, at: HistoryPosition = { offset: 0, filter: NO_HISTORY_FILTER }, live = false): { analysis: AnalysisView; totalTaskCount: number } {
  const analysis = live && source.liveAnalysis ? source.liveAnalysis(windowHours) : source.analysis(windowHours);
  return {
    analysis: { windowHours, analysis, ...buildHistoryPage(source, windowHours, at.offset, at.filter) },
    totalTaskCount: source.historyCount(),
  };
}

export function buildState(source: DashboardDataSource, range: LiveRange, windowHours: AnalysisWindowHours, at?: HistoryPosition): DashboardState {
  const now = source.now();
  const { analysis, totalTaskCount } = buildAnalysisView(source, windowHours, at);
  return {
    now,
    range,
    windowHours,
    thresholds: source.thresholds(),
    gpuAvailability: source.gpuAvailability(),
    monitoring: source.isMonitoring(),
    latest: source.latestSnapshot(),
    series: buildSeries(source, range, now),
    activeTasks: buildActiveTasks(source),
    analysis,
    totalTaskCount,
  };
}

export function stateMessage(state: DashboardState): ToWebview {
  return { type: 'state', version: PROTOCOL_VERSION, state };
}

/**
 * The dashboard's full analysis after task ends, coalesced: a request waits out `intervalMs` since
 * the last full one, and requests meanwhile join it, so at most one runs per interval. The panel
 * requests only while it is shown, and disposes it with itself.
 */
export class CoalescedRefresh {
  private timer: TimerHandle | null = null;
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly clock: Clock, private readonly intervalMs: number, private readonly run: () => void) {}

  /** A full analysis was just posted some other way (a full state, a new window). */
  ran(): void {
    this.lastAt = this.clock.now();
  }

  request(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastAt + this.intervalMs - this.clock.now());
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.lastAt = this.clock.now();
      this.run();
    }, wait);
  }

  dispose(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
