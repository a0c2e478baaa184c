// The dashboard's message protocol: every message between the extension host and the webview is
// one of the discriminated unions below, and both sides run the matching parser on what they
// receive before touching it. Pure: no node, no vscode, no DOM (the webview bundles this file).
import {
  arr, bool, GuardError, int, nullable, num, obj, oneOf, optional, pair, parseWith, record, str, tagged, text,
  type Check, type ParseResult,
} from './guard';
import type {
  Bottleneck, BottleneckAnalysis, BreakdownEntry, CompactTimeline, EfficiencyFactors, Evidence, Finding, FindingEvidence,
  GitCommit, PerformanceAnalysis, PerformanceMetrics, PerformanceTrends, Recommendation, RunPrediction, StatusCounts, TaskPhase,
} from './metrics';
import { FINDING_KINDS, MAX_FINDING_TASK_IDS, MAX_FINDINGS, TASK_STATUSES, VRAM_SCOPES } from './metrics';
import { parseGitCommit, parsePrediction, parseTimeline } from './structuredFields';
import type { GpuAvailability, GpuReading, SystemPerformanceSnapshot } from './snapshot';
import { checkClusterPanelState, checkRecentTasks, MAX_CLUSTER_NAME, type ClusterPanelState, type RecentTasks } from './clusterMessages';

/** Bumped on any change a bundle of another version could not read. */
export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Choices the user makes

export type LiveRange = '5m' | '1h' | '24h';
export const LIVE_RANGES: readonly LiveRange[] = ['5m', '1h', '24h'];
export const LIVE_RANGE_MS: Readonly<Record<LiveRange, number>> = { '5m': 300_000, '1h': 3_600_000, '24h': 86_400_000 };

/** Analysis windows offered: 1 h, 24 h, 7 d, 30 d. */
export type AnalysisWindowHours = 1 | 24 | 168 | 720;
export const ANALYSIS_WINDOWS: readonly AnalysisWindowHours[] = [1, 24, 168, 720];

const DEFAULT_RANGE: LiveRange = '5m';
const DEFAULT_WINDOW: AnalysisWindowHours = 24;

/**
 * A task's phases as the dashboard takes them: names are the run's own strings (the engine allows
 * 64 characters, a history file may hold anything), so the host trims to these before sending.
 */
export const MAX_PHASE_NAME_LENGTH = 64;
export const MAX_TASK_PHASES = 200;

/** History rows in one page: the host sends one page at a time, the webview asks for another. */
export const HISTORY_PAGE_ROWS = 200;
/** The furthest a page may start (a window of a million tasks fits). */
export const MAX_HISTORY_OFFSET = 10_000_000;
/** Longest model type or resolution a history filter may name. */
const MAX_FILTER_LENGTH = 256;

// ---------------------------------------------------------------------------------------------
// Payloads

/** Limits the dashboard draws as threshold lines and uses in its explanations. */
export interface DashboardThresholds {
  cpuPercent: number;
  ramPercent: number;
  vramPercent: number;
  /** 0..1: the success rate below which reliability is flagged. */
  minSuccessRate: number;
  /** The time-efficiency factor is min(1, baseline / mean generation time). */
  efficiencyBaselineSeconds: number;
}

/** One GPU's columns in a LiveSeries; index -1 is "all GPUs" (per-minute roll-ups). */
export interface SeriesGpu {
  index: number;
  name: string;
  vramTotalMb: number | null;
  utilizationPercent: (number | null)[];
  /** VRAM in use, percent of the GPU's total: each reading's `vramUsedPercent` (what the chart draws). */
  vramUsedPercent: (number | null)[];
}

/**
 * Columns of the live charts, one row per timestamp (ascending). `sample`: one row per snapshot;
 * `minute`: per-minute time-weighted means, with GPUs merged into one "all GPUs" entry.
 * `null` is unknown and is drawn as a gap.
 */
export interface LiveSeries {
  range: LiveRange;
  resolution: 'sample' | 'minute';
  timestamps: number[];
  cpuUsagePercent: (number | null)[];
  ramUsageMb: (number | null)[];
  ramTotalMb: number | null;
  gpus: SeriesGpu[];
}

/** A running task as the dashboard shows it. */
export interface ActiveTaskInfo {
  task: PerformanceMetrics;
  /** 0..100 where the task reports progress, else null. */
  progressPercent: number | null;
  /** VRAM in use now on the task's GPUs (every GPU when it names none; shared taskVramUsedMb), null when unknown. */
  currentVramMb: number | null;
  /** The pid of the process that runs it when that is not this window (`model-perf run`, another window): shown, never offered to this window's commands. */
  elsewherePid?: number | null;
}

/** What the history table needs of one finished task. */
export interface HistoryRow {
  taskId: string;
  startTime: number;
  endTime: number | null;
  modelType: string;
  resolution: string;
  resolutionClass: string | null;
  status: PerformanceMetrics['status'];
  generationTimeSeconds: number | null;
  peakVramUsageMb: number | null;
  /** What peakVramUsageMb measures (absent in rows of older hosts: unnamed). */
  vramScope?: PerformanceMetrics['vramScope'];
  vramTotalMb: number | null;
  averageGpuUtilizationPercent: number | null;
  averageCpuUsagePercent: number | null;
  errorCategory: string | null;
}

/** Which finished tasks the history table lists (null: any). `resolution` is a resolution key (class, else the trimmed text). */
export interface HistoryFilter {
  modelType: string | null;
  resolution: string | null;
  status: PerformanceMetrics['status'] | null;
}

/** One page of the history table: the window's tasks matching `filter`, newest first, from `offset`. */
export interface HistoryPage {
  /** At most HISTORY_PAGE_ROWS. */
  rows: HistoryRow[];
  /** Tasks in the window. */
  totalRows: number;
  /** How many of them match the filter. */
  matching: number;
  offset: number;
  filter: HistoryFilter;
}

export interface AnalysisView extends HistoryPage {
  windowHours: AnalysisWindowHours;
  analysis: PerformanceAnalysis;
}

/** A task's own timeline: the machine's samples between its start and end. */
export interface TaskTimeline {
  resolution: 'sample' | 'minute' | 'none';
  timestamps: number[];
  /** VRAM in use on the task's GPUs (all GPUs when not attributed). */
  vramUsedMb: (number | null)[];
  gpuUtilizationPercent: (number | null)[];
  cpuUsagePercent: (number | null)[];
}

export interface TaskDetail {
  task: PerformanceMetrics;
  timeline: TaskTimeline;
}

/** Everything the dashboard shows; sent after `ready` and each time the panel becomes visible. */
export interface DashboardState {
  /** The host's clock (epoch ms) when the state was built. */
  now: number;
  range: LiveRange;
  windowHours: AnalysisWindowHours;
  thresholds: DashboardThresholds;
  gpuAvailability: GpuAvailability;
  monitoring: boolean;
  latest: SystemPerformanceSnapshot | null;
  series: LiveSeries;
  activeTasks: ActiveTaskInfo[];
  analysis: AnalysisView;
  /** Finished tasks in the whole history (0: a new user, shown the empty state). */
  totalTaskCount: number;
}

// ---------------------------------------------------------------------------------------------
// Messages

export type ToWebview =
  | { type: 'state'; version: number; state: DashboardState }
  | { type: 'snapshot'; snapshot: SystemPerformanceSnapshot; activeTasks: ActiveTaskInfo[] }
  | { type: 'series'; series: LiveSeries }
  | { type: 'analysis'; analysis: AnalysisView; totalTaskCount: number }
  | { type: 'activeTasks'; activeTasks: ActiveTaskInfo[] }
  /** The page the webview asked for (historyPage), for the window shown. */
  | { type: 'historyPage'; windowHours: AnalysisWindowHours; page: HistoryPage }
  | { type: 'gpuAvailability'; availability: GpuAvailability }
  | { type: 'taskDetail'; taskId: string; startTime: number; detail: TaskDetail | null }
  /** The two tasks picked for comparison, in the order picked; null for one no longer in the history. */
  | { type: 'comparison'; tasks: [PerformanceMetrics | null, PerformanceMetrics | null] }
  | { type: 'notice'; level: 'info' | 'warning' | 'error'; text: string }
  /** The Cluster section (modelPerf.cluster.prometheusUrl): after each poll, and with each full state. */
  | { type: 'cluster'; cluster: ClusterPanelState }
  /** A node's recent tasks (its `model-perf serve` /tasks/recent), or why they could not be read. */
  | { type: 'clusterTasks'; instance: string; recent: RecentTasks | null; error: string | null };

export type FromWebview =
  | { type: 'ready'; version: number; range: LiveRange; windowHours: AnalysisWindowHours }
  | { type: 'setRange'; range: LiveRange }
  | { type: 'setWindow'; windowHours: AnalysisWindowHours }
  | { type: 'selectTask'; taskId: string; startTime: number }
  /** Two tasks of the history table to compare (timelines overlaid, configurations side by side). */
  | { type: 'compareTasks'; tasks: [TaskRef, TaskRef] }
  /** The history table's page: the first matching task to list (newest first) and the filter. */
  | { type: 'historyPage'; offset: number; filter: HistoryFilter }
  | { type: 'export' }
  /** The empty state's button: runs "Model Perf: Start Task…". */
  | { type: 'startTask' }
  /** The webview rejected a message or hit an error; the host logs it. */
  | { type: 'webviewError'; message: string }
  /** The Cluster section's Refresh button: poll Prometheus now (ignored while a poll is in flight). */
  | { type: 'clusterRefresh' }
  /** The Cluster section asks for a node's recent tasks (a node of the current cluster state). */
  | { type: 'clusterTasks'; instance: string };

/** A task of the history: ids repeat across runs, so its start time goes with it. */
export interface TaskRef {
  taskId: string;
  startTime: number;
}

/** What the webview keeps with `setState` and the serializer hands back after a reload. */
export interface PersistedViewState {
  range: LiveRange;
  windowHours: AnalysisWindowHours;
}

// ---------------------------------------------------------------------------------------------
// Checkers (the shapes mirror the types above; tsc fails here when a type gains a field)

const nnum = nullable(num);
const nstr = nullable(text);
const nnumArr = arr(nnum);
const range = oneOf(LIVE_RANGES);
const windowHours = oneOf(ANALYSIS_WINDOWS);
const scope = nullable(oneOf(['processTree', 'device'] as const));
const vramScope = nullable(oneOf(VRAM_SCOPES));
const severity = oneOf(['info', 'warning', 'critical'] as const);
const confidence = oneOf(['low', 'medium', 'high'] as const);
const bottleneckKind = oneOf(['vram', 'ram', 'cpu', 'modelLoad'] as const);
const taskStatus = oneOf(TASK_STATUSES);

const gpuReading = obj<GpuReading>({
  index: int, uuid: nstr, name: text, utilizationPercent: nnum, memoryUtilizationPercent: nnum,
  vramUsedMb: nnum, vramTotalMb: nnum, vramUsedPercent: nnum, temperatureCelsius: nnum, powerDrawWatts: nnum,
  powerLimitWatts: nnum, smClockMhz: nnum, smClockMaxMhz: nnum, clockEventReasons: nnum, performanceState: nstr, mig: bool,
});

const snapshot = obj<SystemPerformanceSnapshot>({
  timestamp: num, cpuUsagePercent: nnum, ramUsageMb: nnum, ramAvailableMb: nnum, ramTotalMb: nnum,
  diskUsagePercent: nnum, gpuUsagePercent: nnum, vramUsageMb: nnum, vramAvailableMb: nnum,
  vramTotalMb: nnum, vramUsagePercent: nnum, temperatureCelsius: nnum, gpus: arr(gpuReading, 64),
});

const gpuAvailability = obj<GpuAvailability>({
  provider: oneOf(['nvidia', 'amd', 'apple', 'windows', 'none'] as const), available: bool, reason: nstr, note: optional(text),
});

/** A structured record field through its shared parser: malformed is an error here, not dropped. */
function structured<T>(parse: (v: unknown) => T | null | undefined, expected: string): Check<T | null | undefined> {
  return (v, p) => {
    if (v === undefined) return undefined;
    const out = parse(v);
    if (out === undefined) throw new GuardError(p, expected, v);
    return out;
  };
}

const checkPerformanceMetrics = obj<PerformanceMetrics>({
  taskId: text, modelType: text, resolution: text, resolutionClass: nstr, steps: num, status: taskStatus,
  startTime: num, endTime: nnum, generationTimeSeconds: nnum, modelLoadTimeSeconds: nnum,
  peakVramUsageMb: nnum, averageVramUsageMb: nnum, peakRamUsageMb: nnum, averageCpuUsagePercent: nnum,
  vramScope, ramScope: scope, cpuScope: scope, gpuIndices: arr(int, 64), vramTotalMb: nnum, ramTotalMb: nnum,
  averageGpuUtilizationPercent: nnum, peakGpuUtilizationPercent: nnum, devicePeakVramUsageMb: nnum,
  deviceAverageVramUsageMb: nnum, devicePeakRamUsageMb: nnum, deviceAverageRamUsageMb: nnum,
  deviceAverageCpuUsagePercent: nnum, peakTemperatureCelsius: nnum, processTreePeakRamUsageMb: nnum,
  processTreeAverageRamUsageMb: nnum, processTreeAverageCpuUsagePercent: nnum, processTreePeakVramUsageMb: nnum,
  processTreeAverageVramUsageMb: nnum, rootPid: nullable(int), sampleCount: num,
  optimizationsApplied: arr(text, 256), quantizationUsed: nstr, offloadUsed: bool, success: bool, errorCategory: nstr,
  stepsCompleted: optional(nnum), stepsTotal: optional(nnum), stepsPerSecond: optional(nnum), progressUpdatedAt: optional(nnum),
  progressIsPercent: optional(bool),
  phases: optional(arr(obj<TaskPhase>({ name: str(MAX_PHASE_NAME_LENGTH), startTime: num, endTime: nnum }), MAX_TASK_PHASES)),
  adopted: optional(bool),
  timeline: structured<CompactTimeline>(parseTimeline, 'a compact timeline (equal-length columns, at most 200 points) or null'),
  gitCommit: structured<GitCommit>(parseGitCommit, 'a git commit {hash, branch, dirty} or null'),
  prediction: structured<RunPrediction>(parsePrediction, 'a prediction {peakVramMb, generationTimeSeconds, gpuMemoryMb, exceedsGpuMemory, basedOnTaskCount} or null'),
});

const evidence = obj<Evidence>({
  metric: text, measuredValue: num, threshold: num, unit: text, comparison: oneOf(['>', '<'] as const), taskCount: num,
});

const bottleneck = obj<Bottleneck>({ kind: bottleneckKind, severity, confidence, summary: text, evidence });

const bottleneckAnalysis = obj<BottleneckAnalysis>({
  vramBottleneck: bool, ramBottleneck: bool, cpuBottleneck: bool, modelLoadBottleneck: bool,
  details: obj<BottleneckAnalysis['details']>({
    vramUsagePercent: optional(num), ramUsagePercent: optional(num), cpuUsagePercent: optional(num), avgModelLoadTimeSeconds: optional(num),
  }),
  findings: arr(bottleneck, 64),
});

const recommendation = obj<Recommendation>({
  id: text, category: oneOf(['vram', 'ram', 'cpu', 'modelLoad', 'generationTime', 'reliability'] as const),
  text, severity, confidence, evidence,
});

const breakdownEntry = obj<BreakdownEntry>({
  key: text, taskCount: num, succeeded: num, failed: num, cancelled: num, interrupted: num, successRate: nnum,
  averageGenerationTimeSeconds: nnum, maxGenerationTimeSeconds: nnum, targetSeconds: nnum,
});

const trends = obj<PerformanceTrends>({
  bucketStartTimes: arr(num), bucketTaskCounts: arr(num), generationTimeSeconds: nnumArr, successRate: nnumArr,
  peakVramUsageMb: nnumArr, averageCpuUsagePercent: nnumArr,
});

const findingEvidence = obj<FindingEvidence>({ label: str(200), value: num, unit: str(16) });

const finding = obj<Finding>({
  kind: oneOf(FINDING_KINDS), severity, confidence, summary: str(1000), evidence: arr(findingEvidence, 16),
  taskIds: arr(text, MAX_FINDING_TASK_IDS), taskCount: num, nextStep: str(1000), resolvedWhen: str(1000), expectedGainSeconds: num,
});

export const checkPerformanceAnalysis = obj<PerformanceAnalysis>({
  generatedAt: num, windowStart: num, timeWindowHours: num, taskCount: num,
  statusCounts: obj<StatusCounts>({ succeeded: num, failed: num, cancelled: num, interrupted: num }),
  averageGenerationTimeSeconds: nnum, p50GenerationTimeSeconds: nnum, p95GenerationTimeSeconds: nnum,
  successRate: nnum, resourceEfficiency: nnum,
  efficiencyFactors: obj<EfficiencyFactors>({ successRate: nnum, timeEfficiency: nnum, vramEfficiency: nnum }),
  bottleneckAnalysis, optimizationRecommendations: arr(text, 256), recommendations: arr(recommendation, 256),
  performanceTrends: trends, byModelType: arr(breakdownEntry), byResolution: arr(breakdownEntry),
  failuresByErrorCategory: record(num), findings: arr(finding, MAX_FINDINGS),
});

const thresholds = obj<DashboardThresholds>({ cpuPercent: num, ramPercent: num, vramPercent: num, minSuccessRate: num, efficiencyBaselineSeconds: num });

const seriesGpu = obj<SeriesGpu>({ index: int, name: text, vramTotalMb: nnum, utilizationPercent: nnumArr, vramUsedPercent: nnumArr });

/** Columns must all have one value per timestamp, or the charts would misalign. */
function sameLength<T>(check: Check<T>, columns: (v: T) => unknown[][], anchor: (v: T) => unknown[]): Check<T> {
  return (v, p) => {
    const out = check(v, p);
    const n = anchor(out).length;
    for (const c of columns(out)) if (c.length !== n) throw new Error(`${p || 'message'}: series columns differ in length (${c.length} vs ${n} timestamps)`);
    return out;
  };
}

const checkLiveSeries = sameLength(
  obj<LiveSeries>({
    range, resolution: oneOf(['sample', 'minute'] as const), timestamps: arr(num), cpuUsagePercent: nnumArr,
    ramUsageMb: nnumArr, ramTotalMb: nnum, gpus: arr(seriesGpu, 64),
  }),
  (s) => [s.cpuUsagePercent, s.ramUsageMb, ...s.gpus.flatMap((g) => [g.utilizationPercent, g.vramUsedPercent])],
  (s) => s.timestamps,
);

const activeTask = obj<ActiveTaskInfo>({ task: checkPerformanceMetrics, progressPercent: nnum, currentVramMb: nnum, elsewherePid: optional(nullable(int)) });

const historyRow = obj<HistoryRow>({
  taskId: text, startTime: num, endTime: nnum, modelType: text, resolution: text, resolutionClass: nstr,
  status: taskStatus, generationTimeSeconds: nnum, peakVramUsageMb: nnum, vramScope: optional(vramScope), vramTotalMb: nnum,
  averageGpuUtilizationPercent: nnum, averageCpuUsagePercent: nnum, errorCategory: nstr,
});

const offset = (v: unknown, p: string): number => {
  const n = int(v, p);
  if (n < 0 || n > MAX_HISTORY_OFFSET) throw new Error(`${p || 'message'}: an offset must be 0..${MAX_HISTORY_OFFSET} (got ${n})`);
  return n;
};
const historyFilter = obj<HistoryFilter>({
  modelType: nullable(str(MAX_FILTER_LENGTH)), resolution: nullable(str(MAX_FILTER_LENGTH)), status: nullable(taskStatus),
}, { strict: true });
const pageFields = { rows: arr(historyRow, HISTORY_PAGE_ROWS), totalRows: num, matching: num, offset, filter: historyFilter };
const historyPage = obj<HistoryPage>(pageFields);
const analysisView = obj<AnalysisView>({ windowHours, analysis: checkPerformanceAnalysis, ...pageFields });

const timeline = sameLength(
  obj<TaskTimeline>({
    resolution: oneOf(['sample', 'minute', 'none'] as const), timestamps: arr(num), vramUsedMb: nnumArr,
    gpuUtilizationPercent: nnumArr, cpuUsagePercent: nnumArr,
  }),
  (t) => [t.vramUsedMb, t.gpuUtilizationPercent, t.cpuUsagePercent],
  (t) => t.timestamps,
);

const dashboardState = obj<DashboardState>({
  now: num, range, windowHours, thresholds, gpuAvailability, monitoring: bool, latest: nullable(snapshot),
  series: checkLiveSeries, activeTasks: arr(activeTask, 1000), analysis: analysisView, totalTaskCount: num,
});

const toWebview = tagged<ToWebview>({
  state: obj({ type: oneOf(['state'] as const), version: int, state: dashboardState }),
  snapshot: obj({ type: oneOf(['snapshot'] as const), snapshot, activeTasks: arr(activeTask, 1000) }),
  series: obj({ type: oneOf(['series'] as const), series: checkLiveSeries }),
  analysis: obj({ type: oneOf(['analysis'] as const), analysis: analysisView, totalTaskCount: num }),
  activeTasks: obj({ type: oneOf(['activeTasks'] as const), activeTasks: arr(activeTask, 1000) }),
  historyPage: obj({ type: oneOf(['historyPage'] as const), windowHours, page: historyPage }),
  gpuAvailability: obj({ type: oneOf(['gpuAvailability'] as const), availability: gpuAvailability }),
  taskDetail: obj({
    type: oneOf(['taskDetail'] as const), taskId: text, startTime: num,
    detail: nullable(obj<TaskDetail>({ task: checkPerformanceMetrics, timeline })),
  }),
  comparison: obj({ type: oneOf(['comparison'] as const), tasks: pair(nullable(checkPerformanceMetrics)) }),
  notice: obj({ type: oneOf(['notice'] as const), level: oneOf(['info', 'warning', 'error'] as const), text }),
  cluster: obj({ type: oneOf(['cluster'] as const), cluster: checkClusterPanelState }),
  clusterTasks: obj({ type: oneOf(['clusterTasks'] as const), instance: str(MAX_CLUSTER_NAME), recent: nullable(checkRecentTasks), error: nullable(str(2000)) }),
});

// What the webview sends is checked strictly: exact fields, bounded strings.
const fromWebview = tagged<FromWebview>({
  ready: obj({ type: oneOf(['ready'] as const), version: int, range, windowHours }, { strict: true }),
  setRange: obj({ type: oneOf(['setRange'] as const), range }, { strict: true }),
  setWindow: obj({ type: oneOf(['setWindow'] as const), windowHours }, { strict: true }),
  selectTask: obj({ type: oneOf(['selectTask'] as const), taskId: text, startTime: num }, { strict: true }),
  compareTasks: obj({ type: oneOf(['compareTasks'] as const), tasks: pair(obj<TaskRef>({ taskId: text, startTime: num }, { strict: true })) }, { strict: true }),
  historyPage: obj({ type: oneOf(['historyPage'] as const), offset, filter: historyFilter }, { strict: true }),
  export: obj({ type: oneOf(['export'] as const) }, { strict: true }),
  startTask: obj({ type: oneOf(['startTask'] as const) }, { strict: true }),
  webviewError: obj({ type: oneOf(['webviewError'] as const), message: str(2000) }, { strict: true }),
  clusterRefresh: obj({ type: oneOf(['clusterRefresh'] as const) }, { strict: true }),
  clusterTasks: obj({ type: oneOf(['clusterTasks'] as const), instance: str(MAX_CLUSTER_NAME) }, { strict: true }),
});

const persisted = obj<PersistedViewState>({ range, windowHours });

/** Checks a message the host received from the webview. */
export function parseFromWebview(value: unknown): ParseResult<FromWebview> {
  return parseWith(fromWebview, value);
}

/** Checks a message the webview received from the host. */
export function parseToWebview(value: unknown): ParseResult<ToWebview> {
  return parseWith(toWebview, value);
}

/** Checks the view state a serializer or `getState()` handed back (anything else: the defaults). */
export function parsePersistedViewState(value: unknown): PersistedViewState {
  const r = parseWith(persisted, value);
  return r.ok ? r.msg : { range: DEFAULT_RANGE, windowHours: DEFAULT_WINDOW };
}
