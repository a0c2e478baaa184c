// Every node a Prometheus knows, from model-perf's own metrics (model-perf serve) and NVIDIA DCGM
// exporter's: the PromQL asked, and the pure assembly of the answers into one view per node.
// A node is a scrape target (`instance`), shown by DCGM's `Hostname` label where it has one. It is
// stale when its target is down (`up == 0`), was not scraped for two intervals, or was not scraped
// at all lately (only its last values from the look-back window remain).
import type { ClusterGpu, ClusterNode, ClusterTask } from '../../shared/clusterMessages';
import type { InstantSample, Labels, RangeSeries } from './prometheusApi';

export type { ClusterNode };

/** How far back the last known values of a node are looked for. */
const LOOKBACK = '1h';
/** The window of `up` samples read for each target's last scrape and its interval. */
const UP_WINDOW = '5m';
/** A GPU at or above this utilisation counts as busy in the summary. */
const BUSY_UTILIZATION_RATIO = 0.1;
const MIB = 1024 * 1024;

/** The instant queries asked, by the name their answers are filed under. */
export const CLUSTER_QUERIES = {
  // Ours (model-perf serve), in base units already.
  gpuUtil: `last_over_time(model_perf_gpu_utilization_ratio[${LOOKBACK}])`,
  gpuMemUsed: `last_over_time(model_perf_gpu_memory_used_bytes[${LOOKBACK}])`,
  gpuMemTotal: `last_over_time(model_perf_gpu_memory_total_bytes[${LOOKBACK}])`,
  gpuTemp: `last_over_time(model_perf_gpu_temperature_celsius[${LOOKBACK}])`,
  gpuPower: `last_over_time(model_perf_gpu_power_watts[${LOOKBACK}])`,
  gpuInfo: `last_over_time(model_perf_gpu_info[${LOOKBACK}])`,
  cpu: `last_over_time(model_perf_cpu_utilization_ratio[${LOOKBACK}])`,
  memUsed: `last_over_time(model_perf_memory_used_bytes[${LOOKBACK}])`,
  memTotal: `last_over_time(model_perf_memory_total_bytes[${LOOKBACK}])`,
  build: `last_over_time(model_perf_build_info[${LOOKBACK}])`,
  // Running tasks as of now only: a task that ended must not linger for the look-back window.
  tasksRunning: 'model_perf_tasks_running',
  taskStart: 'model_perf_task_start_timestamp_seconds',
  taskProgress: 'model_perf_task_progress_ratio',
  // DCGM exporter: utilisation in percent, frame buffer in MiB.
  dcgmUtil: `last_over_time(DCGM_FI_DEV_GPU_UTIL[${LOOKBACK}])`,
  dcgmFbUsed: `last_over_time(DCGM_FI_DEV_FB_USED[${LOOKBACK}])`,
  dcgmFbFree: `last_over_time(DCGM_FI_DEV_FB_FREE[${LOOKBACK}])`,
  dcgmTemp: `last_over_time(DCGM_FI_DEV_GPU_TEMP[${LOOKBACK}])`,
  dcgmPower: `last_over_time(DCGM_FI_DEV_POWER_USAGE[${LOOKBACK}])`,
} as const;

export type ClusterQueryName = keyof typeof CLUSTER_QUERIES;

/** Raw `up` samples of every target (a range selector: real scrape times, not evaluation times). */
export const UP_QUERY = `up[${UP_WINDOW}]`;

export type ClusterAnswers = Record<ClusterQueryName, InstantSample[]>;

export interface ClusterView {
  /** Seconds since the epoch of the evaluation. */
  evaluatedAt: number;
  nodes: ClusterNode[];
  summary: { nodes: number; staleNodes: number; gpus: number; gpusBusy: number };
}

interface TargetScrapes {
  lastValue: number;
  lastAt: number;
  intervalSeconds: number | null;
}

/** Per instance: the last `up` value and time, and the median gap between its last scrapes. */
export function scrapesByInstance(up: readonly RangeSeries[]): Map<string, TargetScrapes> {
  const out = new Map<string, TargetScrapes>();
  for (const s of up) {
    const instance = s.labels.instance;
    const last = s.points.at(-1);
    if (!instance || !last) continue;
    const recent = s.points.slice(-11);
    const gaps = recent.slice(1).map((p, i) => p.timestampSeconds - (recent[i] as { timestampSeconds: number }).timestampSeconds).sort((a, b) => a - b);
    // Whole milliseconds: timestamps are floats of seconds, and 1.0039999 s says nothing more than 1.004 s.
    const intervalSeconds = gaps.length > 0 ? Math.round((gaps[Math.floor(gaps.length / 2)] as number) * 1000) / 1000 : null;
    const seen = out.get(instance);
    // An instance scraped by two jobs: the latest scrape speaks for it.
    if (!seen || last.timestampSeconds > seen.lastAt) out.set(instance, { lastValue: last.value, lastAt: last.timestampSeconds, intervalSeconds });
  }
  return out;
}

const finite = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);

function emptyNode(instance: string): ClusterNode {
  return { name: instance, instance, job: null, sources: [], stale: false, staleReason: null, lastScrapeAgeSeconds: null, scrapeIntervalSeconds: null, gpus: [], gpusBusy: 0, meanGpuUtilizationRatio: null, cpuUtilizationRatio: null, memoryUsedBytes: null, memoryTotalBytes: null, tasksRunning: null, tasks: [], version: null };
}

/** Assembles the view from the answers; `nowSeconds` is the evaluation time the queries used. */
export function buildClusterView(answers: ClusterAnswers, up: readonly RangeSeries[], nowSeconds: number): ClusterView {
  const nodes = new Map<string, ClusterNode>();
  const gpusOf = new Map<string, Map<string, ClusterGpu>>();
  const nodeFor = (labels: Labels, source: 'model-perf' | 'dcgm'): ClusterNode | null => {
    const instance = labels.instance;
    if (!instance) return null;
    let node = nodes.get(instance);
    if (!node) {
      node = emptyNode(instance);
      nodes.set(instance, node);
      gpusOf.set(instance, new Map());
    }
    if (!node.sources.includes(source)) node.sources.push(source);
    node.job ??= labels.job ?? null;
    if (source === 'dcgm' && labels.Hostname) node.name = labels.Hostname;
    return node;
  };
  const gpuFor = (labels: Labels, source: 'model-perf' | 'dcgm'): ClusterGpu | null => {
    const node = nodeFor(labels, source);
    if (!node || labels.gpu === undefined) return null;
    const gpus = gpusOf.get(node.instance) as Map<string, ClusterGpu>;
    let gpu = gpus.get(labels.gpu);
    if (!gpu) {
      gpu = { gpu: labels.gpu, uuid: null, name: null, utilizationRatio: null, memoryUsedBytes: null, memoryTotalBytes: null, temperatureCelsius: null, powerWatts: null };
      gpus.set(labels.gpu, gpu);
    }
    gpu.uuid ??= (source === 'dcgm' ? labels.UUID : labels.uuid) || null;
    gpu.name ??= (source === 'dcgm' ? labels.modelName : labels.name) || null;
    return gpu;
  };
  const eachGpu = (name: ClusterQueryName, source: 'model-perf' | 'dcgm', set: (gpu: ClusterGpu, value: number | null) => void) => {
    for (const s of answers[name]) {
      const gpu = gpuFor(s.labels, source);
      if (gpu) set(gpu, finite(s.value));
    }
  };
  const eachNode = (name: ClusterQueryName, set: (node: ClusterNode, value: number | null, labels: Labels) => void) => {
    for (const s of answers[name]) {
      const node = nodeFor(s.labels, 'model-perf');
      if (node) set(node, finite(s.value), s.labels);
    }
  };

  eachGpu('gpuInfo', 'model-perf', () => undefined);
  eachGpu('gpuUtil', 'model-perf', (g, v) => (g.utilizationRatio = v));
  eachGpu('gpuMemUsed', 'model-perf', (g, v) => (g.memoryUsedBytes = v));
  eachGpu('gpuMemTotal', 'model-perf', (g, v) => (g.memoryTotalBytes = v));
  eachGpu('gpuTemp', 'model-perf', (g, v) => (g.temperatureCelsius = v));
  eachGpu('gpuPower', 'model-perf', (g, v) => (g.powerWatts = v));
  eachNode('build', (n, _v, labels) => (n.version = labels.version ?? null));
  eachNode('cpu', (n, v) => (n.cpuUtilizationRatio = v));
  eachNode('memUsed', (n, v) => (n.memoryUsedBytes = v));
  eachNode('memTotal', (n, v) => (n.memoryTotalBytes = v));
  eachNode('tasksRunning', (n, v) => (n.tasksRunning = v));
  const tasksOf = new Map<string, Map<string, ClusterTask>>();
  const taskFor = (node: ClusterNode, labels: Labels): ClusterTask | null => {
    if (!labels.task_id) return null;
    const tasks = tasksOf.get(node.instance) ?? new Map<string, ClusterTask>();
    tasksOf.set(node.instance, tasks);
    let task = tasks.get(labels.task_id);
    if (!task) {
      task = { taskId: labels.task_id, modelType: labels.model_type ?? '', startTimeSeconds: null, progressRatio: null };
      tasks.set(labels.task_id, task);
    }
    return task;
  };
  eachNode('taskStart', (n, v, labels) => {
    const t = taskFor(n, labels);
    if (t) t.startTimeSeconds = v;
  });
  eachNode('taskProgress', (n, v, labels) => {
    const t = taskFor(n, labels);
    if (t) t.progressRatio = v;
  });
  eachGpu('dcgmUtil', 'dcgm', (g, v) => (g.utilizationRatio = v === null ? null : v / 100));
  eachGpu('dcgmFbUsed', 'dcgm', (g, v) => (g.memoryUsedBytes = v === null ? null : v * MIB));
  eachGpu('dcgmTemp', 'dcgm', (g, v) => (g.temperatureCelsius = v));
  eachGpu('dcgmPower', 'dcgm', (g, v) => (g.powerWatts = v));
  // DCGM has used and free; the total is their sum (the driver's reserved part aside).
  for (const s of answers.dcgmFbFree) {
    const gpu = gpuFor(s.labels, 'dcgm');
    const free = finite(s.value);
    if (gpu && free !== null && gpu.memoryUsedBytes !== null) gpu.memoryTotalBytes = gpu.memoryUsedBytes + free * MIB;
  }

  const scrapes = scrapesByInstance(up);
  for (const node of nodes.values()) {
    const gpus = [...(gpusOf.get(node.instance) as Map<string, ClusterGpu>).values()].sort((a, b) => a.gpu.localeCompare(b.gpu, 'en', { numeric: true }));
    node.gpus = gpus;
    const utils = gpus.map((g) => g.utilizationRatio).filter((v): v is number => v !== null);
    node.meanGpuUtilizationRatio = utils.length ? utils.reduce((a, b) => a + b, 0) / utils.length : null;
    node.gpusBusy = utils.filter((u) => u >= BUSY_UTILIZATION_RATIO).length;
    node.tasks = [...(tasksOf.get(node.instance)?.values() ?? [])].sort((a, b) => (a.startTimeSeconds ?? 0) - (b.startTimeSeconds ?? 0));
    if (node.sources.includes('model-perf') && node.tasksRunning === null) node.tasksRunning = node.tasks.length;
    const scrape = scrapes.get(node.instance);
    if (!scrape) {
      node.stale = true;
      node.staleReason = `not scraped in the last ${UP_WINDOW} (its last values are shown)`;
      continue;
    }
    node.lastScrapeAgeSeconds = Math.max(0, nowSeconds - scrape.lastAt);
    node.scrapeIntervalSeconds = scrape.intervalSeconds;
    if (scrape.lastValue === 0) {
      node.stale = true;
      node.staleReason = 'its target is down (up == 0)';
    } else if (scrape.intervalSeconds !== null && node.lastScrapeAgeSeconds > 2 * scrape.intervalSeconds) {
      node.stale = true;
      node.staleReason = `no scrape for ${Math.round(node.lastScrapeAgeSeconds)} s (every ${scrape.intervalSeconds} s before)`;
    }
    if (node.stale) {
      // A down node runs nothing we can see: its last task series are gone with it.
      node.tasks = [];
    }
  }
  // Busiest first, stale nodes last, then by name.
  const sorted = [...nodes.values()].sort((a, b) => Number(a.stale) - Number(b.stale) || (b.meanGpuUtilizationRatio ?? -1) - (a.meanGpuUtilizationRatio ?? -1) || a.name.localeCompare(b.name));
  return {
    evaluatedAt: nowSeconds,
    nodes: sorted,
    summary: { nodes: sorted.length, staleNodes: sorted.filter((n) => n.stale).length, gpus: sorted.reduce((a, n) => a + n.gpus.length, 0), gpusBusy: sorted.filter((n) => !n.stale).reduce((a, n) => a + n.gpusBusy, 0) },
  };
}
