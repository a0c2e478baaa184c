// Task records and analysis results, shared by the engine, the faces and the webview.
// Pure types and a few pure helpers: no node, no vscode, no DOM. `null` always means "unknown".
// Field names follow the original module's PerformanceMetrics / PerformanceAnalysis in camelCase.

/** Life cycle of one monitored task. Only `running` tasks live in the monitor; the rest are history. */
export type TaskStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

export const TASK_STATUSES: readonly TaskStatus[] = ['running', 'succeeded', 'failed', 'cancelled', 'interrupted'];

/**
 * What a task's headline RAM / CPU / VRAM figure measures: its own process tree (when the task
 * was started with a root process id and the sampler could read it) or the whole device.
 */
export type FigureScope = 'processTree' | 'device';

/**
 * What a task's headline VRAM figure measures. Beside the two FigureScopes, for runs whose own
 * GPU memory the GPU tool hides (it lists no process, or only pids this machine cannot see):
 * - `helper`: the framework allocator's peak read inside the run by the Python helper
 *   (`torch.cuda.max_memory_reserved()`); a peak only, so the average is unknown;
 * - `deviceDelta`: how much the device's memory rose over the run while nothing else started;
 * - `device` then means the whole device's figure, the run's share unknown.
 * Records written before these existed hold only `processTree` and `device`, with their old meaning.
 */
export type VramScope = FigureScope | 'deviceDelta' | 'helper';

/** Every value a scope field may hold, for checking records and messages. */
export const VRAM_SCOPES: readonly VramScope[] = ['processTree', 'device', 'deviceDelta', 'helper'];

/** What a task's VRAM figure measures, in words, for every place that shows one (long and short forms). */
export const VRAM_SCOPE_LABELS: Readonly<Record<VramScope, { long: string; short: string }>> = {
  processTree: { long: 'its processes', short: 'own' },
  helper: { long: 'helper allocator peak', short: 'allocator' },
  deviceDelta: { long: "the device's rise during the run", short: 'device rise' },
  device: { long: 'whole device', short: 'device' },
};

/**
 * A task's VRAM figure with what it measures: `20.0 GB (the device's rise during the run)`.
 * Unknown is `unknown` (each surface's own mark: `N/A`, `n/a`, `—`), never 0, still naming the scope
 * when one is known. `format` renders a known MiB value.
 */
export function taskVramText(mb: number | null | undefined, scope: VramScope | null | undefined, format: (mb: number) => string, unknown = '—', form: 'long' | 'short' = 'long'): string {
  const value = typeof mb === 'number' && Number.isFinite(mb) ? format(mb) : unknown;
  return scope ? `${value} (${VRAM_SCOPE_LABELS[scope][form]})` : value;
}

/** One generation task (or any monitored run). Times are epoch milliseconds. */
export interface PerformanceMetrics {
  taskId: string;
  modelType: string;
  /** As given by the caller (`720p`, `1280x720`, `HD`, ...). */
  resolution: string;
  /** Normalised class (`720p`, `1080p`, ...), or null when the string was not recognised. */
  resolutionClass: string | null;
  steps: number;
  status: TaskStatus;

  /** Epoch ms. */
  startTime: number;
  /** Epoch ms; null while running. For an interrupted task, the last moment it was known alive. */
  endTime: number | null;
  /** Wall time from start to end; null while running and for interrupted tasks. */
  generationTimeSeconds: number | null;
  modelLoadTimeSeconds: number | null;

  /** Headline figures: the process tree's where known (see the *Scope fields), else the device's. */
  peakVramUsageMb: number | null;
  averageVramUsageMb: number | null;
  peakRamUsageMb: number | null;
  /** Process tree: percent of one core summed over the tree. Device: percent of all cores. */
  averageCpuUsagePercent: number | null;
  vramScope: VramScope | null;
  ramScope: FigureScope | null;
  cpuScope: FigureScope | null;

  /** GPUs the task ran on (tool indices); every GPU seen when it could not be attributed. */
  gpuIndices: number[];
  /** Total VRAM of the GPUs in `gpuIndices`. */
  vramTotalMb: number | null;
  ramTotalMb: number | null;
  /** Kernel-busy share of the task's GPUs, time-weighted (never VRAM %). */
  averageGpuUtilizationPercent: number | null;
  peakGpuUtilizationPercent: number | null;

  /** Device-wide figures over the task's lifetime, kept beside the process-tree ones. */
  devicePeakVramUsageMb: number | null;
  deviceAverageVramUsageMb: number | null;
  devicePeakRamUsageMb: number | null;
  deviceAverageRamUsageMb: number | null;
  deviceAverageCpuUsagePercent: number | null;
  peakTemperatureCelsius: number | null;

  /** The task's own process tree (null when no root pid or never readable). */
  processTreePeakRamUsageMb: number | null;
  processTreeAverageRamUsageMb: number | null;
  processTreeAverageCpuUsagePercent: number | null;
  /** The tree's share of GPU memory, where the GPU tool attributes memory to processes. */
  processTreePeakVramUsageMb: number | null;
  processTreeAverageVramUsageMb: number | null;

  rootPid: number | null;
  /** Samples that contributed to the figures (start and end samples included). */
  sampleCount: number;

  optimizationsApplied: string[];
  quantizationUsed: string | null;
  offloadUsed: boolean;

  success: boolean;
  errorCategory: string | null;

  // Progress and phases, where the run reports them (its output's progress bars, the Python
  // helper). Optional: records written before they existed have none.
  /** Steps done of the progress bar seen last; null when the run showed none. */
  stepsCompleted?: number | null;
  /** That bar's total (may differ from `steps`, e.g. a checkpoint-loading bar), or null. */
  stepsTotal?: number | null;
  /** Steps per second as the bar reports it, or null. */
  stepsPerSecond?: number | null;
  /** Epoch ms of the last progress reading, or null. */
  progressUpdatedAt?: number | null;
  /** True when that bar shows only a percentage (`Sampling:  40%|███`): done of 100 percent, not steps. Absent: counted steps. */
  progressIsPercent?: boolean;
  /** Named phases of the run in order (model_load, warmup, denoise, decode, save, ...). */
  phases?: TaskPhase[];
  /**
   * True for a run found already going when the extension activated (after a reload, or typed
   * before activation) and followed from then on: its start is the process's own, its figures
   * cover only the time it was followed. Absent (records before it, and every other task): false.
   */
  adopted?: boolean;
  /** The run's compact timeline (see CompactTimeline); absent in records written before it existed. */
  timeline?: CompactTimeline | null;
  /** The git commit of the repository the run's working directory is in; null when unknown or no git. */
  gitCommit?: GitCommit | null;
  /** What the history predicted for this configuration when the run started; null when it could not. */
  prediction?: RunPrediction | null;
}

/**
 * A task's timeline kept compactly: parallel columns, one entry per kept point, oldest first.
 * The whole run decimated (neighbouring points merged: utilisation and CPU averaged, memory at its
 * peak) plus every sample of its last 60 s, so a failed run's last minute is there at full rate.
 * Values are rounded (MB and percent whole, cores to 0.01, seconds to 0.1) to keep a record small.
 */
export interface CompactTimeline {
  /** Seconds since the task's start. */
  offsetSeconds: number[];
  /** Mean kernel-busy share of the task's GPUs. */
  gpuUtilizationPercent: (number | null)[];
  /** Device VRAM in use on the task's GPUs (all processes). */
  deviceVramMb: (number | null)[];
  /** The task's own process tree's GPU memory, where the GPU tool attributes memory to processes. */
  ownVramMb: (number | null)[];
  /** The process tree's CPU in cores (1 = one core busy); null without a readable tree. */
  cpuCores: (number | null)[];
  /** The process tree's RSS, else the machine's RAM in use (the task's `ramScope`). */
  ramMb: (number | null)[];
  /**
   * Share of the point's samples (0 to 100) in which a thermal or power clock event reason held the
   * task's GPUs below their clocks. Absent where no GPU reported its reasons (and in older records).
   */
  throttledPercent?: (number | null)[];
  /** The thermal and power clock event reasons seen in the point, OR-ed (see CLOCK_REASON_BITS). */
  throttleReasons?: (number | null)[];
}

/** Columns a timeline may lack: older records and GPUs that do not report them. */
export const OPTIONAL_TIMELINE_COLUMNS = ['throttledPercent', 'throttleReasons'] as const satisfies readonly (keyof CompactTimeline)[];

export const TIMELINE_COLUMNS = ['gpuUtilizationPercent', 'deviceVramMb', 'ownVramMb', 'cpuCores', 'ramMb'] as const satisfies readonly (keyof CompactTimeline)[];

/** Most points a compact timeline holds (whole run plus last minute). */
export const MAX_TIMELINE_POINTS = 200;

/** Short hash, branch (null when detached) and whether tracked files had changes. */
export interface GitCommit {
  hash: string;
  branch: string | null;
  dirty: boolean;
}

/** A forecast from comparable earlier runs, made when the run started. */
export interface RunPrediction {
  /** Predicted peak VRAM of the run's own process (MB), or null when no fit was possible. */
  peakVramMb: number | null;
  /** Median generation time of the same configuration's successful runs, or null. */
  generationTimeSeconds: number | null;
  /** Memory of the GPU the comparable runs used (MB), or null. */
  gpuMemoryMb: number | null;
  /** True when `peakVramMb` exceeds `gpuMemoryMb`. */
  exceedsGpuMemory: boolean;
  /** How many earlier runs the forecast rests on. */
  basedOnTaskCount: number;
}

/** One phase of a run; `endTime` null while it lasts. Epoch ms. */
export interface TaskPhase {
  name: string;
  startTime: number;
  endTime: number | null;
}

/** Fields a caller may change on a running task through `updateTaskMetrics`. */
export interface TaskMetricsUpdate {
  modelType?: string;
  resolution?: string;
  steps?: number;
  modelLoadTimeSeconds?: number | null;
  optimizationsApplied?: string[];
  quantizationUsed?: string | null;
  offloadUsed?: boolean;
  rootPid?: number | null;
  stepsCompleted?: number | null;
  stepsTotal?: number | null;
  stepsPerSecond?: number | null;
  /** The bar shows only a percentage: stepsCompleted is percent points of stepsTotal 100. */
  progressIsPercent?: boolean;
}

export type Severity = 'info' | 'warning' | 'critical';
export type Confidence = 'low' | 'medium' | 'high';

/** Why a flag was raised: the measured value, the threshold it crossed and how many tasks it rests on. */
export interface Evidence {
  /** What was measured, e.g. `mean peak VRAM of the task's GPUs`. */
  metric: string;
  measuredValue: number;
  threshold: number;
  /** `%`, `s`, or `ratio`. */
  unit: string;
  /** `>`: flagged when above the threshold; `<`: flagged when below. */
  comparison: '>' | '<';
  taskCount: number;
}

export type BottleneckKind = 'vram' | 'ram' | 'cpu' | 'modelLoad';

export interface Bottleneck {
  kind: BottleneckKind;
  severity: Severity;
  confidence: Confidence;
  summary: string;
  evidence: Evidence;
}

/** The original's bottleneck_analysis, plus `findings` with evidence. */
export interface BottleneckAnalysis {
  vramBottleneck: boolean;
  ramBottleneck: boolean;
  cpuBottleneck: boolean;
  modelLoadBottleneck: boolean;
  /** Measured value of each flagged bottleneck (the original's `details`). */
  details: {
    vramUsagePercent?: number;
    ramUsagePercent?: number;
    cpuUsagePercent?: number;
    avgModelLoadTimeSeconds?: number;
  };
  findings: Bottleneck[];
}

export type RecommendationCategory = BottleneckKind | 'generationTime' | 'reliability';

export interface Recommendation {
  /** Stable id such as `vram.quantize`, so faces can key and dedupe. */
  id: string;
  category: RecommendationCategory;
  text: string;
  severity: Severity;
  confidence: Confidence;
  evidence: Evidence;
}

/** Figures for one model type or one resolution class. */
export interface BreakdownEntry {
  key: string;
  taskCount: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  interrupted: number;
  /** succeeded / (succeeded + failed + interrupted); null when none of those. */
  successRate: number | null;
  averageGenerationTimeSeconds: number | null;
  maxGenerationTimeSeconds: number | null;
  /** Resolution breakdown only: the configured target for this class, else null. */
  targetSeconds: number | null;
}

/** About ten equal-count buckets of tasks sorted by start; null where a bucket has no value. */
export interface PerformanceTrends {
  bucketStartTimes: number[];
  bucketTaskCounts: number[];
  generationTimeSeconds: (number | null)[];
  successRate: (number | null)[];
  peakVramUsageMb: (number | null)[];
  averageCpuUsagePercent: (number | null)[];
}

export interface StatusCounts {
  succeeded: number;
  failed: number;
  cancelled: number;
  interrupted: number;
}

export interface EfficiencyFactors {
  successRate: number | null;
  timeEfficiency: number | null;
  vramEfficiency: number | null;
}

export interface PerformanceAnalysis {
  /** Epoch ms the analysis was computed at, and the start of its window. */
  generatedAt: number;
  windowStart: number;
  timeWindowHours: number;
  /** Completed tasks started inside the window (cancelled included). */
  taskCount: number;
  statusCounts: StatusCounts;
  /** Mean generation time of successful tasks; null when there is none. */
  averageGenerationTimeSeconds: number | null;
  p50GenerationTimeSeconds: number | null;
  p95GenerationTimeSeconds: number | null;
  /** succeeded / (succeeded + failed + interrupted): a cancel is the user's choice, not a failure. */
  successRate: number | null;
  /** 0..1 geometric mean of `efficiencyFactors`; null with no finished task. */
  resourceEfficiency: number | null;
  efficiencyFactors: EfficiencyFactors;
  bottleneckAnalysis: BottleneckAnalysis;
  /** Plain strings, kept for compatibility; same order as `recommendations`. */
  optimizationRecommendations: string[];
  /** Ranked, most severe first, each with its evidence. */
  recommendations: Recommendation[];
  performanceTrends: PerformanceTrends;
  byModelType: BreakdownEntry[];
  byResolution: BreakdownEntry[];
  /** Failed and interrupted tasks per error category (`unknown` when none was given). */
  failuresByErrorCategory: Record<string, number>;
  /** Diagnoses from each run's timeline and from comparable runs, best first, at most MAX_FINDINGS. */
  findings: Finding[];
}

export type FindingKind =
  | 'gpuStarved'
  | 'gpuIdle'
  | 'oomRisk'
  | 'failureCluster'
  | 'regression'
  | 'loadDominated'
  | 'throttled'
  | 'vramPressure'
  | 'ramPressure'
  | 'cpuPressure'
  | 'slowModelLoad';

export const FINDING_KINDS: readonly FindingKind[] = [
  'gpuStarved', 'gpuIdle', 'oomRisk', 'failureCluster', 'regression', 'loadDominated', 'throttled',
  'vramPressure', 'ramPressure', 'cpuPressure', 'slowModelLoad',
];

/** Never more than this many findings at once: a handful a person reads, not a list they skim. */
export const MAX_FINDINGS = 5;
/** A finding lists at most this many of the tasks it rests on. */
export const MAX_FINDING_TASK_IDS = 20;

/** One measured number behind a finding, e.g. `GPU utilisation while the CPU was busy` 12 %. */
export interface FindingEvidence {
  label: string;
  value: number;
  /** `%`, `s`, `MB`, `cores`, `runs`, `ratio`. */
  unit: string;
}

/** A diagnosis a person can act on: what, how sure, the numbers, the runs, the next step. */
export interface Finding {
  kind: FindingKind;
  severity: Severity;
  confidence: Confidence;
  /** One sentence naming the configuration and the number. */
  summary: string;
  evidence: FindingEvidence[];
  /** Ids of the tasks it rests on (at most MAX_FINDING_TASK_IDS). */
  taskIds: string[];
  /** How many tasks it rests on (may exceed taskIds.length). */
  taskCount: number;
  /** The one concrete thing to try next. */
  nextStep: string;
  /** What would make the finding go away. */
  resolvedWhen: string;
  /** Seconds of run time (or of failed runs) it would save over the window; the ranking key. */
  expectedGainSeconds: number;
}

/**
 * The steps a task's progress counts to: its current progress bar's total, else its declared
 * `steps` when positive; null when neither is known. The status bar and the dashboard both use it.
 */
export function progressStepsTotal(task: Pick<PerformanceMetrics, 'steps' | 'stepsTotal'>): number | null {
  return task.stepsTotal ?? (task.steps > 0 ? task.steps : null);
}

/** Share of `progressStepsTotal` done, in percent (at most 100); null when the task reports no progress. */
export function progressStepsPercent(task: Pick<PerformanceMetrics, 'steps' | 'stepsTotal' | 'stepsCompleted'>): number | null {
  const done = task.stepsCompleted;
  const total = progressStepsTotal(task);
  return done !== null && done !== undefined && total !== null && total > 0 ? Math.min(100, (done / total) * 100) : null;
}

/** How a field of a task record is stored and checked. */
export type MetricsFieldKind =
  | 'text'
  | 'nullableText'
  | 'number'
  | 'nullableNumber'
  /** Came later than schema 1's first records: absent in old ones, number or null when present. */
  | 'optionalNumber'
  | 'boolean'
  /** Came later: absent in older records, true or false when present. */
  | 'optionalBoolean'
  | 'status'
  | 'scope'
  | 'numberList'
  | 'textList'
  | 'phases'
  /** Objects that came later (timeline, git commit, prediction): parsed by parseStructuredField. */
  | 'structured';

/**
 * Every field of PerformanceMetrics with its kind, in the order exports list them. The CSV columns,
 * the history file's parser and the monitor's update rules are derived from this one list, so a new
 * field cannot be forgotten in one of them (`satisfies` makes a missing or unknown key a type error).
 */
export const METRICS_FIELDS = {
  taskId: 'text',
  modelType: 'text',
  resolution: 'text',
  resolutionClass: 'nullableText',
  steps: 'number',
  status: 'status',
  success: 'boolean',
  errorCategory: 'nullableText',
  startTime: 'number',
  endTime: 'nullableNumber',
  generationTimeSeconds: 'nullableNumber',
  modelLoadTimeSeconds: 'nullableNumber',
  peakVramUsageMb: 'nullableNumber',
  averageVramUsageMb: 'nullableNumber',
  peakRamUsageMb: 'nullableNumber',
  averageCpuUsagePercent: 'nullableNumber',
  vramScope: 'scope',
  ramScope: 'scope',
  cpuScope: 'scope',
  gpuIndices: 'numberList',
  vramTotalMb: 'nullableNumber',
  ramTotalMb: 'nullableNumber',
  averageGpuUtilizationPercent: 'nullableNumber',
  peakGpuUtilizationPercent: 'nullableNumber',
  devicePeakVramUsageMb: 'nullableNumber',
  deviceAverageVramUsageMb: 'nullableNumber',
  devicePeakRamUsageMb: 'nullableNumber',
  deviceAverageRamUsageMb: 'nullableNumber',
  deviceAverageCpuUsagePercent: 'nullableNumber',
  peakTemperatureCelsius: 'nullableNumber',
  processTreePeakRamUsageMb: 'nullableNumber',
  processTreeAverageRamUsageMb: 'nullableNumber',
  processTreeAverageCpuUsagePercent: 'nullableNumber',
  processTreePeakVramUsageMb: 'nullableNumber',
  processTreeAverageVramUsageMb: 'nullableNumber',
  rootPid: 'nullableNumber',
  sampleCount: 'number',
  optimizationsApplied: 'textList',
  quantizationUsed: 'nullableText',
  offloadUsed: 'boolean',
  stepsCompleted: 'optionalNumber',
  stepsTotal: 'optionalNumber',
  stepsPerSecond: 'optionalNumber',
  progressUpdatedAt: 'optionalNumber',
  progressIsPercent: 'optionalBoolean',
  phases: 'phases',
  adopted: 'optionalBoolean',
  timeline: 'structured',
  gitCommit: 'structured',
  prediction: 'structured',
} as const satisfies { [K in keyof Required<PerformanceMetrics>]: MetricsFieldKind };

export type MetricsField = keyof typeof METRICS_FIELDS;

/** Every field name, in export order. */
export const METRICS_FIELD_NAMES = Object.keys(METRICS_FIELDS) as MetricsField[];

/** The fields of one kind, in export order. */
export function metricsFieldsOfKind<K extends MetricsFieldKind>(kind: K): { [F in MetricsField]: (typeof METRICS_FIELDS)[F] extends K ? F : never }[MetricsField][] {
  return METRICS_FIELD_NAMES.filter((f) => METRICS_FIELDS[f] === kind) as never;
}
