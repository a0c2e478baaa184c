// The node's figures as a Prometheus exposition: the text format 0.0.4 that every Prometheus reads,
// or OpenMetrics 1.0 when the scraper asks for it. Written by hand (no client library): the
// exposition is a few dozen families rendered from the latest snapshot, and a library's registry
// would add a dependency and a second copy of state for no gain. Pure: no node, no I/O.
//
// Naming follows Prometheus' rules: base units (bytes, seconds, ratios 0..1, celsius, watts,
// hertz), `_total` on counters, HELP and TYPE for every family. Label values that come from users
// (model types, task ids) are escaped (backslash, quote, newline), cleaned of other controls and
// cut short, and the number of distinct label sets is bounded, so a user typing a fresh model type
// per run cannot grow the exposition (or the scraper's database) without limit.
import type { PerformanceMetrics, TaskStatus } from '../../shared/metrics';
import { CLOCK_REASON_BITS, type ClockReason, type GpuAvailability, type SystemPerformanceSnapshot } from '../../shared/snapshot';

export type ExpositionFormat = 'prometheus' | 'openmetrics';

const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Every family starts with this, so our series never collide with another exporter's. */
const METRIC_PREFIX = 'model_perf_';

/** A label value is cut to this many characters (UTF-16 units, ellipsis included). */
export const MAX_LABEL_VALUE_CHARS = 64;
/** Distinct (status, model type, resolution class) series of the task counter; the rest add to `other`. */
export const MAX_TASK_COUNTER_SERIES = 100;
/** Running tasks shown one by one; the count gauge still counts them all. */
export const MAX_RUNNING_TASK_SERIES = 50;
/** What label values beyond the bounds are folded into. */
const OVERFLOW_LABEL = 'other';

/** Upper bounds (seconds) of the generation-time histogram: a second to two hours. */
export const GENERATION_TIME_BUCKETS_SECONDS: readonly number[] = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

const MIB = 1024 * 1024;

/** Finished tasks folded into counters and a histogram, once per history change (not per scrape). */
export interface TaskTotals {
  /** Finished tasks by status, model type and resolution class, bounded to MAX_TASK_COUNTER_SERIES. */
  counters: { status: TaskStatus; modelType: string; resolutionClass: string; count: number }[];
  /** Cumulative counts per bucket of GENERATION_TIME_BUCKETS_SECONDS, then +Inf. */
  generationBuckets: number[];
  generationCount: number;
  generationSumSeconds: number;
}

/** A task running on this node, as the exposition shows it. */
export interface RunningTaskView {
  taskId: string;
  modelType: string;
  /** Epoch ms. */
  startTime: number;
  stepsCompleted: number | null;
  stepsTotal: number | null;
}

export interface NodeExpositionInput {
  /** The latest sample; null before the first one. */
  snapshot: SystemPerformanceSnapshot | null;
  gpuAvailability: GpuAvailability;
  totals: TaskTotals;
  running: readonly RunningTaskView[];
  /** model-perf's version, shown in the build info. */
  version: string;
}

// ---------------------------------------------------------------------------------------------
// Text helpers

/** A label value cleaned for the exposition: controls other than newline replaced, cut, well-formed UTF-16. */
export function boundedLabelValue(value: string, maxChars = MAX_LABEL_VALUE_CHARS): string {
  let text = value.length > maxChars * 2 ? value.slice(0, maxChars * 2) : value;
  // Lone surrogates cannot be written as UTF-8: replace them before anything is cut or escaped.
  text = text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  // Controls are legal in label values but make the exposition unreadable in a terminal or a log.
  text = text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, '\ufffd');
  if (text.length <= maxChars) return text;
  let end = maxChars - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}\u2026`;
}

/** Escapes a label value for both formats: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

/** Escapes HELP text: backslash and newline (0.0.4); OpenMetrics also escapes the double quote. */
function escapeHelp(text: string, format: ExpositionFormat): string {
  return text.replace(format === 'openmetrics' ? /[\\"\n]/g : /[\\\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

/** A sample value: Go's ParseFloat reads these, and so does the OpenMetrics parser. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** A histogram bound in canonical form (`1.0`, `0.5`, `+Inf`), as OpenMetrics asks for `le`. */
function formatBound(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

type Labels = readonly (readonly [string, string])[];

function labelText(labels: Labels): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

// ---------------------------------------------------------------------------------------------
// Families

type FamilyType = 'gauge' | 'counter' | 'histogram';

/** Writes one family at a time; a family without samples is left out whole (no orphan HELP). */
class ExpositionWriter {
  private readonly out: string[] = [];
  constructor(private readonly format: ExpositionFormat) {}

  /**
   * `name` is the sample name (`model_perf_tasks_total` for a counter). OpenMetrics names the
   * counter family without `_total`.
   */
  family(name: string, type: FamilyType, help: string, samples: readonly (readonly [Labels, number | null])[]): void {
    const present = samples.filter((s): s is readonly [Labels, number] => s[1] !== null && Number.isFinite(s[1]));
    if (present.length === 0) return;
    this.header(name, type, help);
    for (const [labels, value] of present) this.out.push(`${name}${labelText(labels)} ${formatValue(value)}\n`);
  }

  histogram(name: string, help: string, bounds: readonly number[], cumulative: readonly number[], count: number, sum: number): void {
    this.header(name, 'histogram', help);
    bounds.forEach((b, i) => this.out.push(`${name}_bucket{le="${formatBound(b)}"} ${cumulative[i] ?? count}\n`));
    this.out.push(`${name}_bucket{le="+Inf"} ${count}\n`);
    this.out.push(`${name}_sum ${formatValue(sum)}\n`);
    this.out.push(`${name}_count ${count}\n`);
  }

  private header(name: string, type: FamilyType, help: string): void {
    const familyName = this.format === 'openmetrics' && type === 'counter' ? name.replace(/_total$/, '') : name;
    this.out.push(`# HELP ${familyName} ${escapeHelp(help, this.format)}\n# TYPE ${familyName} ${type}\n`);
  }

  text(): string {
    if (this.format === 'openmetrics') this.out.push('# EOF\n');
    return this.out.join('');
  }
}

/** `P0`..`P15` as 0..15; null for anything else. */
export function performanceStateNumber(state: string | null): number | null {
  const m = /^P(\d{1,2})$/.exec(state ?? '');
  const n = m ? Number(m[1]) : Number.NaN;
  return n >= 0 && n <= 15 ? n : null;
}

const ratio = (percent: number | null): number | null => (percent === null ? null : percent / 100);
const bytes = (mib: number | null): number | null => (mib === null ? null : mib * MIB);

/** The exposition of one node. Everything it reads is already in memory: a scrape never waits on sampling. */
export function renderExposition(input: NodeExpositionInput, format: ExpositionFormat): string {
  const w = new ExpositionWriter(format);
  const p = METRIC_PREFIX;
  const s = input.snapshot;
  w.family(`${p}build_info`, 'gauge', 'model-perf version of this exporter (always 1).', [[[['version', boundedLabelValue(input.version)]], 1]]);
  w.family(`${p}gpu_monitoring_available`, 'gauge', 'Whether GPU figures are available on this node (1) or not (0).', [
    [[['provider', input.gpuAvailability.provider]], input.gpuAvailability.available ? 1 : 0],
  ]);
  if (s) {
    w.family(`${p}last_sample_timestamp_seconds`, 'gauge', 'When the figures below were sampled, in seconds since the epoch.', [[[], s.timestamp / 1000]]);
    w.family(`${p}cpu_utilization_ratio`, 'gauge', 'Share of all CPU cores busy over the last sample period (0 to 1).', [[[], ratio(s.cpuUsagePercent)]]);
    w.family(`${p}memory_used_bytes`, 'gauge', 'RAM in use on the node.', [[[], bytes(s.ramUsageMb)]]);
    w.family(`${p}memory_available_bytes`, 'gauge', 'RAM available for new allocations on the node.', [[[], bytes(s.ramAvailableMb)]]);
    w.family(`${p}memory_total_bytes`, 'gauge', 'RAM installed on the node.', [[[], bytes(s.ramTotalMb)]]);
    w.family(`${p}disk_used_ratio`, 'gauge', "Share of the monitored file system's space in use (0 to 1).", [[[], ratio(s.diskUsagePercent)]]);
    const gpus = s.gpus.map((g) => ({ g, labels: [['gpu', String(g.index)], ['uuid', boundedLabelValue(g.uuid ?? '')], ['name', boundedLabelValue(g.name)]] as Labels }));
    const per = (pick: (g: (typeof gpus)[number]['g']) => number | null) => gpus.map(({ g, labels }) => [labels, pick(g)] as const);
    // The performance state changes with load: a gauge of its own, not a label (no series churn).
    w.family(`${p}gpu_info`, 'gauge', 'One series per GPU (always 1), with its MIG mode.', gpus.map(({ g, labels }) => [[...labels, ['mig', g.mig ? 'true' : 'false']] as Labels, 1] as const));
    w.family(`${p}gpu_performance_state`, 'gauge', 'GPU performance state: 0 (P0, most performance) to 15 (P15, least).', per((g) => performanceStateNumber(g.performanceState)));
    w.family(`${p}gpu_utilization_ratio`, 'gauge', 'Share of the last sample period in which a kernel ran on the GPU (0 to 1).', per((g) => ratio(g.utilizationPercent)));
    w.family(`${p}gpu_memory_utilization_ratio`, 'gauge', "Share of the last sample period in which the GPU's memory controller was busy (0 to 1).", per((g) => ratio(g.memoryUtilizationPercent)));
    w.family(`${p}gpu_memory_used_bytes`, 'gauge', 'GPU memory in use (all processes).', per((g) => bytes(g.vramUsedMb)));
    w.family(`${p}gpu_memory_total_bytes`, 'gauge', 'GPU memory installed.', per((g) => bytes(g.vramTotalMb)));
    w.family(`${p}gpu_temperature_celsius`, 'gauge', 'GPU core temperature.', per((g) => g.temperatureCelsius));
    w.family(`${p}gpu_power_watts`, 'gauge', 'GPU power draw.', per((g) => g.powerDrawWatts));
    w.family(`${p}gpu_power_limit_watts`, 'gauge', 'GPU power limit.', per((g) => g.powerLimitWatts));
    w.family(`${p}gpu_sm_clock_hertz`, 'gauge', 'GPU streaming-multiprocessor clock.', per((g) => (g.smClockMhz === null ? null : g.smClockMhz * 1e6)));
    w.family(`${p}gpu_sm_clock_max_hertz`, 'gauge', 'Maximum GPU streaming-multiprocessor clock.', per((g) => (g.smClockMaxMhz === null ? null : g.smClockMaxMhz * 1e6)));
    // One series per GPU and thermal or power reason (a fixed set of five): 1 while it holds the clocks down.
    w.family(
      `${p}gpu_clock_throttle_active`,
      'gauge',
      'Whether a thermal or power clock event reason holds the GPU below its clocks now (1) or not (0), by NVIDIA reason name.',
      gpus.flatMap(({ g, labels }) => (Object.keys(CLOCK_REASON_BITS) as ClockReason[]).map((r) => [[...labels, ['reason', r]] as Labels, g.clockEventReasons === null ? null : (g.clockEventReasons & CLOCK_REASON_BITS[r]) !== 0 ? 1 : 0] as const)),
    );
  }
  const t = input.totals;
  w.family(
    `${p}tasks_total`,
    'counter',
    'Finished tasks in the node history, by status, model type and resolution class (drops when old tasks leave the history).',
    t.counters.map((c) => [[['status', c.status], ['model_type', c.modelType], ['resolution_class', c.resolutionClass]], c.count] as const),
  );
  w.histogram(`${p}task_generation_seconds`, 'Wall time of finished tasks from start to end.', GENERATION_TIME_BUCKETS_SECONDS, t.generationBuckets, t.generationCount, t.generationSumSeconds);
  w.family(`${p}tasks_running`, 'gauge', 'Tasks running on the node now.', [[[], input.running.length]]);
  // Two long ids may cut to the same label value: the first keeps the series (no duplicate series).
  const seen = new Set<string>();
  const shown: { r: RunningTaskView; labels: Labels }[] = [];
  for (const r of input.running) {
    if (shown.length >= MAX_RUNNING_TASK_SERIES) break;
    const taskId = boundedLabelValue(r.taskId);
    if (seen.has(taskId)) continue;
    seen.add(taskId);
    shown.push({ r, labels: [['task_id', taskId], ['model_type', boundedLabelValue(r.modelType)]] });
  }
  w.family(`${p}task_start_timestamp_seconds`, 'gauge', 'When each running task started, in seconds since the epoch.', shown.map(({ r, labels }) => [labels, r.startTime / 1000] as const));
  w.family(
    `${p}task_progress_ratio`,
    'gauge',
    "Each running task's progress (steps done over its total, 0 to 1), where it reports one.",
    shown.map(({ r, labels }) => [labels, r.stepsCompleted !== null && r.stepsTotal !== null && r.stepsTotal > 0 ? Math.min(1, Math.max(0, r.stepsCompleted / r.stepsTotal)) : null] as const),
  );
  return w.text();
}

// ---------------------------------------------------------------------------------------------
// Task totals

const FINISHED: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled', 'interrupted'];

/** Folds finished tasks into bounded counters and the generation-time histogram. */
export function taskTotals(tasks: readonly PerformanceMetrics[]): TaskTotals {
  const byKey = new Map<string, { status: TaskStatus; modelType: string; resolutionClass: string; count: number }>();
  const bucketCounts = new Array<number>(GENERATION_TIME_BUCKETS_SECONDS.length).fill(0);
  let generationCount = 0;
  let generationSumSeconds = 0;
  for (const task of tasks) {
    if (!FINISHED.includes(task.status)) continue;
    const modelType = boundedLabelValue(task.modelType);
    const resolutionClass = boundedLabelValue(task.resolutionClass ?? 'unknown');
    const key = `${task.status}\u0000${modelType}\u0000${resolutionClass}`;
    const entry = byKey.get(key) ?? { status: task.status, modelType, resolutionClass, count: 0 };
    entry.count++;
    byKey.set(key, entry);
    const seconds = task.generationTimeSeconds;
    if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0) {
      generationCount++;
      generationSumSeconds += seconds;
      const i = GENERATION_TIME_BUCKETS_SECONDS.findIndex((b) => seconds <= b);
      if (i >= 0) bucketCounts[i] = (bucketCounts[i] ?? 0) + 1;
    }
  }
  // The busiest label sets keep their own series; the rest are summed per status under `other`,
  // so the bound holds whatever users type as model types.
  const sorted = [...byKey.values()].sort((a, b) => b.count - a.count || a.modelType.localeCompare(b.modelType) || a.resolutionClass.localeCompare(b.resolutionClass) || a.status.localeCompare(b.status));
  const keep = sorted.slice(0, MAX_TASK_COUNTER_SERIES - FINISHED.length);
  const overflow = new Map<TaskStatus, number>();
  for (const e of sorted.slice(keep.length)) overflow.set(e.status, (overflow.get(e.status) ?? 0) + e.count);
  const counters = [...keep];
  for (const status of FINISHED) {
    const count = overflow.get(status);
    if (!count) continue;
    // A user may have typed `other` as a model type: one series, not two with the same labels.
    const same = counters.find((c) => c.status === status && c.modelType === OVERFLOW_LABEL && c.resolutionClass === OVERFLOW_LABEL);
    if (same) same.count += count;
    else counters.push({ status, modelType: OVERFLOW_LABEL, resolutionClass: OVERFLOW_LABEL, count });
  }
  let running = 0;
  const generationBuckets = bucketCounts.map((c) => (running += c));
  return { counters, generationBuckets, generationCount, generationSumSeconds };
}

// ---------------------------------------------------------------------------------------------
// Content negotiation

/** OpenMetrics when the Accept header names it (Prometheus asks for it first); the text format otherwise. */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'prometheus';
  for (const part of accept.slice(0, 1024).split(',')) {
    const [type, ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    if (type !== 'application/openmetrics-text') continue;
    const q = params.find((x) => x.startsWith('q='));
    if (q !== undefined && !(Number(q.slice(2)) > 0)) continue;
    return 'openmetrics';
  }
  return 'prometheus';
}

export function contentType(format: ExpositionFormat): string {
  return format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}
