// The dashboard's Cluster section as it travels host -> webview: every node Prometheus knows (the
// core's ClusterView, reshaped to bounded, cleaned strings), the poll's state and its last error,
// and a small utilisation history per node. Pure (no node, vscode or DOM): the webview bundles it,
// and protocol.ts files its message under `cluster`. Node, GPU and task names come from other
// machines: the host cleans them (safeText) and the checkers below bound them again.
import { arr, bool, int, nullable, num, obj, oneOf, str, type Check } from './guard';

/** Longest name of a node, GPU, job or task kept. */
export const MAX_CLUSTER_NAME = 200;
/** Most nodes, GPUs per node, tasks per node and history points per node sent. */
export const MAX_CLUSTER_NODES = 1000;
export const MAX_CLUSTER_GPUS = 64;
export const MAX_CLUSTER_TASKS = 64;
export const MAX_CLUSTER_POINTS = 240;

/** One GPU of a node, as the core's cluster view assembles it (src/core/cluster/clusterView.ts). */
export interface ClusterGpu {
  /** The exporter's GPU index (`gpu` label). */
  gpu: string;
  uuid: string | null;
  name: string | null;
  utilizationRatio: number | null;
  memoryUsedBytes: number | null;
  memoryTotalBytes: number | null;
  temperatureCelsius: number | null;
  powerWatts: number | null;
}

export interface ClusterTask {
  taskId: string;
  modelType: string;
  startTimeSeconds: number | null;
  progressRatio: number | null;
}

/** A node: one scrape target (`instance`) with our or DCGM's metrics. */
export interface ClusterNode {
  /** DCGM's Hostname where it has one, else the instance. */
  name: string;
  instance: string;
  job: string | null;
  /** Which exporter the figures come from. */
  sources: ('model-perf' | 'dcgm')[];
  stale: boolean;
  /** Why it is stale, in words; null when fresh. */
  staleReason: string | null;
  /** Seconds since the last scrape of its target; null when not scraped lately. */
  lastScrapeAgeSeconds: number | null;
  /** Seconds between its target's scrapes, from the last ones; null when too few. */
  scrapeIntervalSeconds: number | null;
  gpus: ClusterGpu[];
  gpusBusy: number;
  /** Mean over GPUs that report one; null when none does. */
  meanGpuUtilizationRatio: number | null;
  cpuUtilizationRatio: number | null;
  memoryUsedBytes: number | null;
  memoryTotalBytes: number | null;
  /** model-perf nodes only; null for DCGM-only nodes (they do not know tasks). */
  tasksRunning: number | null;
  tasks: ClusterTask[];
  version: string | null;
}

/** A node as the Cluster section takes it: names cleaned by the host, with its small history. */
export interface ClusterNodeRow extends ClusterNode {
  /** Mean GPU utilisation (0..1) of the last minutes, oldest first: [seconds since the epoch, ratio]. */
  history: [number, number][];
}

export type ClusterErrorKind = 'url' | 'network' | 'timeout' | 'auth' | 'notPrometheus' | 'query' | 'noMetrics' | 'internal';

export interface ClusterPanelState {
  /** False: no `modelPerf.cluster.prometheusUrl`; the section shows a one-line hint. */
  configured: boolean;
  /** The server, credentials left out; null when not configured. */
  url: string | null;
  /** `loading` before the first answer; `ok` or `error` after each poll. */
  status: 'off' | 'loading' | 'ok' | 'error';
  /** The last poll's failure, one message; the nodes of the last good poll stay shown below it. */
  error: { kind: ClusterErrorKind; message: string; retryInSeconds: number } | null;
  /** Host clock (epoch ms) of the last good poll. */
  updatedAtMs: number | null;
  summary: { nodes: number; staleNodes: number; gpus: number; gpusBusy: number } | null;
  nodes: ClusterNodeRow[];
  /** The range the histories cover, in seconds. */
  historySeconds: number;
}

export const CLUSTER_OFF: ClusterPanelState = { configured: false, url: null, status: 'off', error: null, updatedAtMs: null, summary: null, nodes: [], historySeconds: 0 };

const nnum = nullable(num);
const name = str(MAX_CLUSTER_NAME);
const nname = nullable(name);

const gpuRow = obj<ClusterGpu>({
  gpu: name, uuid: nname, name: nname, utilizationRatio: nnum, memoryUsedBytes: nnum, memoryTotalBytes: nnum, temperatureCelsius: nnum, powerWatts: nnum,
});

const taskRow = obj<ClusterTask>({ taskId: name, modelType: name, startTimeSeconds: nnum, progressRatio: nnum });

const point: Check<[number, number]> = (v, p) => {
  const pair = arr(num, 2)(v, p);
  if (pair.length !== 2) throw new Error(`${p}: a [time, value] pair`);
  return [pair[0] as number, pair[1] as number];
};

const nodeRow = obj<ClusterNodeRow>({
  name, instance: name, job: nname, sources: arr(oneOf(['model-perf', 'dcgm'] as const), 2), stale: bool, staleReason: nullable(str(500)),
  lastScrapeAgeSeconds: nnum, scrapeIntervalSeconds: nnum, version: nullable(str(64)), gpus: arr(gpuRow, MAX_CLUSTER_GPUS), gpusBusy: int, meanGpuUtilizationRatio: nnum,
  cpuUtilizationRatio: nnum, memoryUsedBytes: nnum, memoryTotalBytes: nnum, tasksRunning: nnum,
  tasks: arr(taskRow, MAX_CLUSTER_TASKS), history: arr(point, MAX_CLUSTER_POINTS),
});

export const checkClusterPanelState = obj<ClusterPanelState>({
  configured: bool,
  url: nullable(str(2000)),
  status: oneOf(['off', 'loading', 'ok', 'error'] as const),
  error: nullable(obj<NonNullable<ClusterPanelState['error']>>({
    kind: oneOf(['url', 'network', 'timeout', 'auth', 'notPrometheus', 'query', 'noMetrics', 'internal'] as const),
    message: str(2000),
    retryInSeconds: num,
  })),
  updatedAtMs: nnum,
  summary: nullable(obj<NonNullable<ClusterPanelState['summary']>>({ nodes: int, staleNodes: int, gpus: int, gpusBusy: int })),
  nodes: arr(nodeRow, MAX_CLUSTER_NODES),
  historySeconds: num,
});

// ---------------------------------------------------------------------------------------------
// A node's recent tasks: `model-perf serve` answers GET /tasks/recent with RecentTasks (JSON), and
// the Cluster section shows them under the node. The same checker reads the node's answer in the
// host and the message in the webview.

/** Most tasks a node sends (and `?limit=` asks for). */
export const MAX_RECENT_TASKS = 100;

export interface RecentTask {
  taskId: string;
  modelType: string;
  resolution: string;
  status: 'succeeded' | 'failed' | 'cancelled' | 'interrupted';
  startTime: number;
  endTime: number | null;
  generationTimeSeconds: number | null;
  peakVramUsageMb: number | null;
  errorCategory: string | null;
}

export interface RecentTasks {
  /** The node's host name, as it calls itself. */
  node: string;
  version: string;
  /** Newest first. */
  tasks: RecentTask[];
}

const recentTask = obj<RecentTask>({
  taskId: name, modelType: name, resolution: name, status: oneOf(['succeeded', 'failed', 'cancelled', 'interrupted'] as const),
  startTime: num, endTime: nnum, generationTimeSeconds: nnum, peakVramUsageMb: nnum, errorCategory: nname,
});

export const checkRecentTasks = obj<RecentTasks>({ node: name, version: str(64), tasks: arr(recentTask, MAX_RECENT_TASKS) });
