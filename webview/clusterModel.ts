// The Cluster section's pure part: the order of the nodes (busiest first by default, stale ones
// always last), the figures as text, the status line, and the small history as SVG points.
// No DOM, so plain-node tests cover it.
import type { ClusterNodeRow, ClusterPanelState } from '../src/shared/clusterMessages';

export type ClusterSortKey = 'name' | 'gpus' | 'utilization' | 'memory' | 'tasks';

export interface ClusterSort {
  key: ClusterSortKey;
  descending: boolean;
}

/** Busiest first: mean GPU utilisation, highest first. */
export const DEFAULT_CLUSTER_SORT: ClusterSort = { key: 'utilization', descending: true };

const GIB = 1024 ** 3;

/** Memory used over every GPU of the node, and their total (null when no GPU reports it). */
export function nodeGpuMemory(n: ClusterNodeRow): { used: number | null; total: number | null } {
  let used: number | null = null;
  let total: number | null = null;
  for (const g of n.gpus) {
    if (g.memoryUsedBytes !== null) used = (used ?? 0) + g.memoryUsedBytes;
    if (g.memoryTotalBytes !== null) total = (total ?? 0) + g.memoryTotalBytes;
  }
  return { used, total };
}

function sortValue(n: ClusterNodeRow, key: ClusterSortKey): number | string | null {
  switch (key) {
    case 'name': return n.name.toLowerCase();
    case 'gpus': return n.gpus.length === 0 ? null : n.gpusBusy / n.gpus.length;
    case 'utilization': return n.meanGpuUtilizationRatio;
    case 'memory': {
      const m = nodeGpuMemory(n);
      return m.used === null || !m.total ? null : m.used / m.total;
    }
    case 'tasks': return n.tasksRunning;
  }
}

/**
 * The nodes in the order shown: stale nodes after fresh ones whatever the key, unknown values
 * after known ones, then the name (so equal rows keep one order from poll to poll).
 */
export function sortNodes(nodes: readonly ClusterNodeRow[], sort: ClusterSort): ClusterNodeRow[] {
  const dir = sort.descending ? -1 : 1;
  return [...nodes].sort((a, b) => {
    if (a.stale !== b.stale) return a.stale ? 1 : -1;
    const va = sortValue(a, sort.key);
    const vb = sortValue(b, sort.key);
    if (va !== vb) {
      if (va === null) return 1;
      if (vb === null) return -1;
      const c = typeof va === 'string' && typeof vb === 'string' ? va.localeCompare(vb, 'en', { numeric: true }) : (va as number) - (vb as number);
      if (c !== 0) return c * dir;
    }
    return a.name.localeCompare(b.name, 'en', { numeric: true }) || a.instance.localeCompare(b.instance, 'en', { numeric: true });
  });
}

/** A click on a column: the same column flips, another starts at its natural order (numbers: highest first). */
export function nextSort(current: ClusterSort, key: ClusterSortKey): ClusterSort {
  if (current.key === key) return { key, descending: !current.descending };
  return { key, descending: key !== 'name' };
}

export function formatRatioPercent(r: number | null): string {
  return r === null ? 'N/A' : `${Math.round(r * 100)}%`;
}

/** `29.3/40.0 GiB`, `N/A` when unknown. */
export function formatGibOf(used: number | null, total: number | null): string {
  if (used === null && total === null) return 'N/A';
  const g = (b: number | null) => (b === null ? '?' : (b / GIB).toFixed(1));
  return `${g(used)}/${g(total)} GiB`;
}

export function formatAge(seconds: number | null): string {
  if (seconds === null) return 'never lately';
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** `3 nodes · 10/12 GPUs busy · 1 stale`. */
function clusterSummaryLine(state: ClusterPanelState): string {
  const s = state.summary;
  if (!s) return '';
  return `${s.nodes} node${s.nodes === 1 ? '' : 's'} · ${s.gpusBusy}/${s.gpus} GPUs busy${s.staleNodes ? ` · ${s.staleNodes} stale` : ''}`;
}

/** The section's one line under its title: what is shown, from where, and how fresh. */
export function clusterStatusLine(state: ClusterPanelState, nowMs: number): string {
  if (!state.configured) return 'Set modelPerf.cluster.prometheusUrl to the Prometheus that scrapes your GPU nodes to see every node here.';
  const from = `Prometheus ${state.url ?? ''}`;
  if (state.status === 'loading' || (state.status === 'off' && state.summary === null)) return `Reading ${from}…`;
  const age = state.updatedAtMs === null ? '' : ` · updated ${formatAge(Math.max(0, (nowMs - state.updatedAtMs) / 1000))}`;
  return `${clusterSummaryLine(state) || 'No nodes yet'} · ${from}${age}`;
}

/**
 * The history as an SVG polyline's points in a `width` × `height` box: time on x over
 * [end − rangeSeconds, end], utilisation 0..1 on y (top is 100 %). Empty below two points.
 */
export function sparklinePoints(points: readonly [number, number][], rangeSeconds: number, width: number, height: number): string {
  if (points.length < 2 || rangeSeconds <= 0) return '';
  const end = (points.at(-1) as [number, number])[0];
  const start = end - rangeSeconds;
  const out: string[] = [];
  for (const [t, v] of points) {
    if (t < start) continue;
    const x = ((t - start) / rangeSeconds) * width;
    const y = height - Math.min(1, Math.max(0, v)) * height;
    out.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  }
  return out.length < 2 ? '' : out.join(' ');
}
