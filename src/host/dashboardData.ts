// Turns what the engine holds (snapshots, roll-ups, task records) into the dashboard protocol's
// payloads: columns for the charts, rows for the history table, a task's own timeline. Pure (no
// `vscode`), so plain-node tests cover it; figures are selected and reshaped here, not computed.
import type { MinuteRollup } from '../core/engine/snapshotRing';
import type { PerformanceMetrics, TaskPhase } from '../shared/metrics';
import {
  LIVE_RANGE_MS, MAX_HISTORY_ROWS, MAX_PHASE_NAME_LENGTH, MAX_TASK_PHASES, PROTOCOL_VERSION,
  type ActiveTaskInfo, type AnalysisView, type AnalysisWindowHours, type DashboardState, type HistoryRow,
  type LiveRange, type LiveSeries, type SeriesGpu, type TaskDetail, type TaskTimeline, type ToWebview,
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

/**
 * The newest `limit` rows by start, newest first; among equal starts, in the order given (as a
 * stable sort of the whole list would give). Only the candidates are sorted: the limit-th newest
 * start is found on a typed array of the starts, so a window of 100 000 tasks costs a numeric sort,
 * not a sort of its objects.
 */
export function historyRows(tasks: readonly PerformanceMetrics[], limit = MAX_HISTORY_ROWS): HistoryRow[] {
  if (limit <= 0 || tasks.length === 0) return [];
  let candidates: readonly PerformanceMetrics[] = tasks;
  if (tasks.length > limit) {
    const starts = Float64Array.from(tasks, (t) => t.startTime).sort();
    const floor = starts[starts.length - limit] as number;
    // NaN starts sort last in a typed array and never pass the filter (nor did they lead a stable sort).
    candidates = tasks.filter((t) => t.startTime >= floor);
  }
  return [...candidates].sort((a, b) => b.startTime - a.startTime).slice(0, limit).map(historyRow);
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

export function buildTaskDetail(source: DashboardDataSource, taskId: string, startTime: number): TaskDetail | null {
  const found = source.history(null).find((t) => t.taskId === taskId && t.startTime === startTime)
    ?? source.activeTasks().find((t) => t.taskId === taskId && t.startTime === startTime);
  if (!found) return null;
  const task = found.phases ? { ...found, phases: protocolPhases(found.phases) } : found;
  const firstMinute = Math.floor(task.startTime / MINUTE_MS) * MINUTE_MS;
  return { task, timeline: taskTimeline(task, source.recentSnapshots(task.startTime - 1), source.minuteRollups(firstMinute)) };
}

export function buildActiveTasks(source: DashboardDataSource): ActiveTaskInfo[] {
  const latest = source.latestSnapshot();
  return source.activeTasks().map((t) => activeTaskInfo(t, latest, source.taskProgressPercent?.(t.taskId) ?? null, source.elsewhereOwner?.(t) ?? null));
}

export function buildAnalysisView(source: DashboardDataSource, windowHours: AnalysisWindowHours): { analysis: AnalysisView; totalTaskCount: number } {
  // The held tasks themselves where the source lends them (rows are made from them, never kept).
  const tasks = source.historyView?.(windowHours) ?? source.history(windowHours);
  return {
    analysis: { windowHours, analysis: source.analysis(windowHours), rows: historyRows(tasks), totalRows: tasks.length },
    totalTaskCount: source.historyCount(),
  };
}

export function buildState(source: DashboardDataSource, range: LiveRange, windowHours: AnalysisWindowHours): DashboardState {
  const now = source.now();
  const { analysis, totalTaskCount } = buildAnalysisView(source, windowHours);
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
