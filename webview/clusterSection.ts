// The dashboard's Cluster section (shown once `modelPerf.cluster.prometheusUrl` is set): one row
// per node Prometheus knows, sortable, busiest first, stale nodes marked and last; each row has
// its GPUs as small bars and its last 15 minutes of mean GPU utilisation as a sparkline, and
// opens to a table of its GPUs and its running tasks. A failed poll is one message above the
// last good rows. Node, GPU and task names come from other machines: they go in as text only
// (dom.ts), and bars and lines are SVG attributes (the CSP allows no inline style).
import '../media/cluster.css';
import type { ClusterNodeRow, ClusterPanelState, RecentTasks } from '../src/shared/clusterMessages';
import { h, replace, setText } from './dom';
import { hostNow, send } from './page';
import { formatRelative, formatSeconds, STATUS_LABELS } from './viewModel';
import {
  clusterStatusLine, DEFAULT_CLUSTER_SORT, formatAge, formatGibOf, formatRatioPercent, nextSort, nodeGpuMemory, sortNodes, sparklinePoints,
  type ClusterSort, type ClusterSortKey,
} from './clusterModel';

const SVG = 'http://www.w3.org/2000/svg';
const SPARK_W = 120;
const SPARK_H = 28;
const BAR_W = 6;
const BAR_GAP = 2;
const BAR_H = 18;

const COLUMNS: { key: ClusterSortKey | null; label: string; num: boolean }[] = [
  { key: 'name', label: 'Node', num: false },
  { key: 'gpus', label: 'GPUs busy', num: false },
  { key: 'utilization', label: 'GPU util', num: true },
  { key: 'memory', label: 'GPU memory', num: true },
  { key: null, label: 'CPU', num: true },
  { key: null, label: 'RAM', num: true },
  { key: 'tasks', label: 'Tasks', num: true },
  { key: null, label: 'Last 15 min', num: false },
];

const el = {
  section: h('section', { class: 'card hidden', id: 'cluster', attrs: { 'aria-labelledby': 'cluster-title' } }),
  status: h('p', { class: 'muted small', id: 'cluster-status', attrs: { 'aria-live': 'polite' } }),
  error: h('div', { class: 'notice notice-error hidden', id: 'cluster-error', role: 'status' }),
  table: h('div', { class: 'table-wrap' }),
};

let sort: ClusterSort = DEFAULT_CLUSTER_SORT;
let last: ClusterPanelState | null = null;
/** Nodes opened to their GPU table (by instance). */
const open = new Set<string>();
/** Recent tasks asked of a node's serve (by instance): loading, its answer, or why not. */
const recent = new Map<string, { loading: true } | { loading: false; recent: RecentTasks | null; error: string | null }>();

/** The section's element, built once; main.ts places it. */
export function clusterSectionElement(): HTMLElement {
  if (!el.section.firstChild) {
    const refresh = h('button', { class: 'link', id: 'cluster-refresh', title: 'Ask Prometheus now', on: { click: () => send({ type: 'clusterRefresh' }) } }, 'Refresh');
    replace(el.section, h('div', { class: 'cluster-head' }, h('h2', { id: 'cluster-title' }, 'Cluster'), refresh), el.status, el.error, el.table);
  }
  return el.section;
}

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** One bar per GPU, its height the GPU's utilisation; a title says the figures in words. */
function gpuBars(n: ClusterNodeRow): Element {
  const width = Math.max(BAR_W, n.gpus.length * (BAR_W + BAR_GAP) - BAR_GAP);
  const box = svg('svg', { class: 'gpu-bars', width, height: BAR_H, viewBox: `0 0 ${width} ${BAR_H}`, role: 'img', 'aria-label': `${n.gpus.length} GPUs` });
  n.gpus.forEach((g, i) => {
    const x = i * (BAR_W + BAR_GAP);
    const u = g.utilizationRatio === null ? 0 : Math.min(1, Math.max(0, g.utilizationRatio));
    const title = svg('title', {});
    title.textContent = `GPU ${g.gpu}${g.name ? ` ${g.name}` : ''}: ${formatRatioPercent(g.utilizationRatio)}, ${formatGibOf(g.memoryUsedBytes, g.memoryTotalBytes)}`;
    const back = svg('rect', { class: 'bar-back', x, y: 0, width: BAR_W, height: BAR_H });
    const fill = svg('rect', { class: g.utilizationRatio === null ? 'bar-unknown' : 'bar-fill', x, y: BAR_H - u * BAR_H, width: BAR_W, height: u * BAR_H });
    const group = svg('g', {});
    group.append(title, back, fill);
    box.appendChild(group);
  });
  return box;
}

function sparkline(n: ClusterNodeRow, rangeSeconds: number): Element | string {
  const points = sparklinePoints(n.history, rangeSeconds, SPARK_W, SPARK_H);
  if (!points) return h('span', { class: 'muted small' }, 'no history');
  const box = svg('svg', { class: 'spark', width: SPARK_W, height: SPARK_H, viewBox: `0 0 ${SPARK_W} ${SPARK_H}`, role: 'img', 'aria-label': `Mean GPU utilisation over the last ${Math.round(rangeSeconds / 60)} minutes, now ${formatRatioPercent(n.history.at(-1)?.[1] ?? null)}` });
  // The newest point as a dot: a node watched for a minute still shows where it stands.
  const [lastX, lastY] = (points.split(' ').at(-1) as string).split(',').map(Number) as [number, number];
  box.append(
    svg('rect', { class: 'spark-back', x: 0, y: 0, width: SPARK_W, height: SPARK_H }),
    svg('polyline', { class: 'spark-line', points }),
    svg('circle', { class: 'spark-dot', cx: Math.min(lastX, SPARK_W - 2), cy: Math.min(Math.max(lastY, 2), SPARK_H - 2), r: 2 }),
  );
  return box;
}

function nodeCell(n: ClusterNodeRow): HTMLElement {
  const sources = n.sources.join(' + ');
  const where = [n.name !== n.instance ? n.instance : null, n.job === sources ? null : n.job, sources].filter((s) => s).join(' · ');
  return h('td', { class: 'text node-name' },
    h('strong', null, n.name),
    n.stale ? h('span', { class: 'badge sev-warning stale', title: n.staleReason ?? 'stale' }, 'stale') : null,
    h('div', { class: 'muted small' }, where),
    n.stale ? h('div', { class: 'muted small' }, `${n.staleReason ?? ''}; last scrape ${formatAge(n.lastScrapeAgeSeconds)}`) : null);
}

function detailRow(n: ClusterNodeRow): HTMLElement {
  const gpuRows = n.gpus.map((g) => h('tr', null,
    h('td', null, g.gpu), h('td', { class: 'text' }, g.name ?? 'N/A'),
    h('td', { class: 'num' }, formatRatioPercent(g.utilizationRatio)),
    h('td', { class: 'num' }, formatGibOf(g.memoryUsedBytes, g.memoryTotalBytes)),
    h('td', { class: 'num' }, g.temperatureCelsius === null ? 'N/A' : `${Math.round(g.temperatureCelsius)} °C`),
    h('td', { class: 'num' }, g.powerWatts === null ? 'N/A' : `${Math.round(g.powerWatts)} W`)));
  const gpus = n.gpus.length === 0
    ? h('p', { class: 'muted small' }, 'No GPU reported.')
    : h('table', { class: 'data cluster-gpus', attrs: { 'aria-label': `GPUs of ${n.name}` } },
      h('thead', null, h('tr', null, ...['GPU', 'Name', 'Util', 'Memory', 'Temp', 'Power'].map((t, i) => h('th', { class: i >= 2 ? 'num' : '', attrs: { scope: 'col' } }, t)))),
      h('tbody', null, ...gpuRows));
  const tasks = n.tasksRunning === null
    ? h('p', { class: 'muted small' }, 'This node runs no model-perf serve: its tasks are not known.')
    : n.tasks.length === 0
      ? h('p', { class: 'muted small' }, 'No task running.')
      : h('ul', { class: 'cluster-tasks' }, ...n.tasks.map((t) => h('li', null, h('span', { class: 'task-id' }, t.taskId), ` (${t.modelType || 'unknown model'})`, t.progressRatio !== null ? ` · ${formatRatioPercent(t.progressRatio)}` : '')));
  return h('tr', { class: 'cluster-detail' }, h('td', { attrs: { colspan: String(COLUMNS.length) } }, gpus, tasks, n.sources.includes('model-perf') ? recentTasksBlock(n) : null));
}

/** A model-perf node's finished tasks, asked of its serve on a click and shown here. */
function recentTasksBlock(n: ClusterNodeRow): HTMLElement {
  const entry = recent.get(n.instance);
  const ask = h('button', {
    class: 'link cluster-recent-button',
    on: { click: (e) => {
      e.stopPropagation();
      recent.set(n.instance, { loading: true });
      if (last) renderTable(last);
      send({ type: 'clusterTasks', instance: n.instance });
    } },
  }, entry ? 'Reload recent tasks' : 'Show recent tasks');
  let body: HTMLElement | null = null;
  if (entry?.loading) body = h('p', { class: 'muted small' }, 'Asking the node…');
  else if (entry && entry.error !== null) body = h('p', { class: 'muted small cluster-recent-error' }, entry.error);
  else if (entry?.recent) {
    const now = hostNow();
    body = entry.recent.tasks.length === 0
      ? h('p', { class: 'muted small' }, `${entry.recent.node} has no finished task in the last 7 days.`)
      : h('table', { class: 'data cluster-recent', attrs: { 'aria-label': `Recent tasks of ${n.name}` } },
        h('thead', null, h('tr', null, ...['Started', 'Task', 'Model type', 'Resolution', 'Outcome', 'Time'].map((t) => h('th', { attrs: { scope: 'col' }, class: t === 'Time' ? 'num' : '' }, t)))),
        h('tbody', null, ...entry.recent.tasks.map((t) => h('tr', null,
          h('td', null, formatRelative(t.startTime, now)),
          h('td', { class: 'text task-id' }, t.taskId),
          h('td', { class: 'text' }, t.modelType),
          h('td', { class: 'text' }, t.resolution),
          h('td', null, h('span', { class: `outcome st-${t.status}` }, STATUS_LABELS[t.status]), t.errorCategory ? h('div', { class: 'muted small' }, t.errorCategory) : null),
          h('td', { class: 'num' }, formatSeconds(t.generationTimeSeconds))))));
  }
  return h('div', { class: 'cluster-recent' }, h('p', null, ask), body);
}

/** A node's recent tasks arrived (or why they could not be read). */
export function renderClusterTasks(instance: string, answer: RecentTasks | null, error: string | null): void {
  recent.set(instance, { loading: false, recent: answer, error });
  if (last) renderTable(last);
}

function renderTable(state: ClusterPanelState): void {
  if (state.nodes.length === 0) {
    replace(el.table, state.status === 'ok' ? h('p', { class: 'muted' }, 'Prometheus knows no node with these metrics.') : null);
    return;
  }
  const head = COLUMNS.map((c) => {
    if (c.key === null) return h('th', { class: c.num ? 'num' : '', attrs: { scope: 'col' } }, c.label);
    const key = c.key;
    const active = sort.key === key;
    return h('th', { class: c.num ? 'num' : '', attrs: { scope: 'col', 'aria-sort': active ? (sort.descending ? 'descending' : 'ascending') : 'none' } },
      h('button', { class: 'sort', on: { click: () => { sort = nextSort(sort, key); renderTable(state); } } }, c.label, active ? (sort.descending ? ' ▼' : ' ▲') : ''));
  });
  const rows: HTMLElement[] = [];
  for (const n of sortNodes(state.nodes, sort)) {
    const mem = nodeGpuMemory(n);
    const isOpen = open.has(n.instance);
    const toggle = () => {
      if (isOpen) open.delete(n.instance);
      else open.add(n.instance);
      renderTable(state);
    };
    rows.push(h('tr', {
      class: `row node${n.stale ? ' stale' : ''}${isOpen ? ' open' : ''}`,
      attrs: { tabindex: '0', 'aria-expanded': String(isOpen), 'data-instance': n.instance },
      on: { click: toggle, keydown: (e) => { if ((e as KeyboardEvent).key === 'Enter' || (e as KeyboardEvent).key === ' ') { e.preventDefault(); toggle(); } } },
    },
    nodeCell(n),
    h('td', { class: 'gpus' }, gpuBars(n), h('span', { class: 'gpu-count' }, `${n.gpusBusy}/${n.gpus.length}`)),
    h('td', { class: 'num util' }, formatRatioPercent(n.meanGpuUtilizationRatio)),
    h('td', { class: 'num mem' }, formatGibOf(mem.used, mem.total)),
    h('td', { class: 'num' }, formatRatioPercent(n.cpuUtilizationRatio)),
    h('td', { class: 'num' }, n.memoryTotalBytes === null ? 'N/A' : formatGibOf(n.memoryUsedBytes, n.memoryTotalBytes)),
    h('td', { class: 'num tasks' }, n.tasksRunning === null ? '–' : String(n.tasksRunning)),
    h('td', { class: 'history' }, sparkline(n, state.historySeconds))));
    if (isOpen) rows.push(detailRow(n));
  }
  replace(el.table, h('table', { class: 'data cluster', attrs: { 'aria-label': 'Cluster nodes' } }, h('thead', null, h('tr', null, ...head)), h('tbody', null, ...rows)));
}

/** Draws the section for the host's latest cluster state. */
export function renderCluster(state: ClusterPanelState): void {
  last = state;
  clusterSectionElement();
  el.section.classList.toggle('hidden', !state.configured);
  if (!state.configured) return;
  setText(el.status, clusterStatusLine(state, hostNow()));
  if (state.error) {
    const retry = state.error.retryInSeconds > 0 ? ` Next try in ${state.error.retryInSeconds} s.` : '';
    replace(el.error, h('span', null, `${state.error.message}${retry}`));
    el.error.classList.remove('hidden');
  } else {
    el.error.classList.add('hidden');
  }
  renderTable(state);
}

/** The "updated N s ago" line, kept current between polls. */
export function tickCluster(): void {
  if (last?.configured) setText(el.status, clusterStatusLine(last, hostNow()));
}
