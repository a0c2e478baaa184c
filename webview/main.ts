// The dashboard's browser code: announces `ready`, validates every message from the host, and
// draws what the engine found. It imports only src/shared; the page is built with createElement
// and textContent (never innerHTML), and charts are built once and updated in place.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '../media/dashboard.css';
import type { PerformanceAnalysis, TaskStatus } from '../src/shared/metrics';
import {
  ANALYSIS_WINDOWS, LIVE_RANGE_MS, LIVE_RANGES, parsePersistedViewState, parseToWebview, PROTOCOL_VERSION,
  type ActiveTaskInfo, type AnalysisView, type AnalysisWindowHours, type DashboardState, type FromWebview,
  type LiveRange, type LiveSeries, type TaskDetail, type ToWebview,
} from '../src/shared/protocol';
import { usedPercent, type GpuAvailability, type SystemPerformanceSnapshot } from '../src/shared/snapshot';
import { LineChart, readTheme, type ChartTheme, type SeriesSpec } from './charts';
import { h, replace, setText } from './dom';
import {
  DEFAULT_QUERY, distinctValues, efficiencyExplanation, formatCount, formatDateTime, formatElapsed, formatEvidence,
  formatMb, formatMbOf, formatPercent, formatRatio, formatRelative, formatSeconds, formatWindow, isKnown, NA,
  phaseBands, phaseRows, queryRows, RANGE_LABELS, rowResolution, SEVERITY_LABELS, STATUS_LABELS, decimate,
  type HistoryQuery, type PhaseRow, type SortKey,
} from './viewModel';

interface VsCodeApi {
  postMessage(msg: FromWebview): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const persisted = parsePersistedViewState(vscode.getState());

/** How many history rows are drawn before "Show more". */
const PAGE_ROWS = 100;

// ---------------------------------------------------------------------------------------------
// State

let state: DashboardState | null = null;
/** Host clock minus ours, so elapsed times use the host's notion of now. */
let clockOffsetMs = 0;
let range: LiveRange = persisted.range;
let windowHours: AnalysisWindowHours = persisted.windowHours;
let query: HistoryQuery = { ...DEFAULT_QUERY };
let shownRows = PAGE_ROWS;
let selected: { taskId: string; startTime: number } | null = null;
let theme: ChartTheme = readTheme();

function send(msg: FromWebview): void {
  vscode.postMessage(msg);
}

function hostNow(): number {
  return Date.now() + clockOffsetMs;
}

function persist(): void {
  vscode.setState({ range, windowHours });
}

// ---------------------------------------------------------------------------------------------
// Skeleton: built once; sections fill their containers.

function select<T extends string | number>(label: string, id: string, options: { value: T; text: string }[], current: T, onChange: (v: string) => void): HTMLElement {
  const sel = document.createElement('vscode-single-select');
  sel.id = id;
  sel.setAttribute('aria-label', label);
  for (const o of options) {
    const opt = document.createElement('vscode-option');
    opt.setAttribute('value', String(o.value));
    opt.textContent = o.text;
    if (o.value === current) opt.setAttribute('selected', '');
    sel.appendChild(opt);
  }
  sel.addEventListener('change', () => onChange(sel.value));
  return h('label', { class: 'control' }, h('span', { class: 'control-label' }, label), sel);
}

const el = {
  status: h('p', { class: 'status-line muted', attrs: { 'aria-live': 'polite' } }),
  notice: h('div', { class: 'notice hidden', role: 'status' }),
  nowTiles: h('div', { class: 'tiles' }),
  gpuNote: h('p', { class: 'muted hidden' }),
  seriesNote: h('p', { class: 'muted small' }),
  active: h('div', { class: 'active-list' }),
  empty: h('section', { class: 'card empty hidden', id: 'empty-state', attrs: { 'aria-labelledby': 'empty-title' } }),
  analysisSection: h('div', { class: 'analysis-sections' }),
  analysisTitle: h('h2', { id: 'analysis-title' }, 'Analysis'),
  kpis: h('div', { class: 'tiles kpis' }),
  efficiencyLine: h('p', { class: 'muted small', id: 'efficiency-explanation' }),
  breakdowns: h('div', { class: 'grid-2' }),
  bottlenecks: h('div', { class: 'finding-list' }),
  recommendations: h('ol', { class: 'recommendations' }),
  trendNote: h('p', { class: 'muted small' }),
  historyFilters: h('div', { class: 'filters' }),
  historyCount: h('p', { class: 'muted small', attrs: { 'aria-live': 'polite' } }),
  historyTable: h('div', { class: 'table-wrap' }),
  detail: h('div', { class: 'detail hidden', id: 'task-detail' }),
  detailInfo: h('div'),
  detailNote: h('p', { class: 'muted small' }),
  /** The selected task's phases; hidden (and empty) for a task that reported none. */
  phases: h('div', { class: 'phases hidden', id: 'task-phases' }),
};

function chartCard(title: string, canvas: HTMLCanvasElement): HTMLElement {
  return h('figure', { class: 'chart-card' }, h('figcaption', null, title), h('div', { class: 'chart-box' }, canvas));
}

const canvases = {
  gpu: document.createElement('canvas'),
  vram: document.createElement('canvas'),
  cpuRam: document.createElement('canvas'),
  trendTime: document.createElement('canvas'),
  trendSuccess: document.createElement('canvas'),
  trendVram: document.createElement('canvas'),
  trendCpu: document.createElement('canvas'),
  detail: document.createElement('canvas'),
};

const gpuCards = [chartCard('GPU utilisation', canvases.gpu), chartCard('VRAM (% of each GPU)', canvases.vram)];

function buildSkeleton(root: HTMLElement): void {
  const rangeSelect = select('Range', 'range-select', LIVE_RANGES.map((r) => ({ value: r, text: RANGE_LABELS[r] })), range, (v) => {
    if (!(LIVE_RANGES as readonly string[]).includes(v) || v === range) return;
    range = v as LiveRange;
    persist();
    send({ type: 'setRange', range });
  });
  const windowSelect = select('Analysis window', 'window-select', ANALYSIS_WINDOWS.map((w) => ({ value: w, text: formatWindow(w) })), windowHours, (v) => {
    const w = Number(v) as AnalysisWindowHours;
    if (!ANALYSIS_WINDOWS.includes(w) || w === windowHours) return;
    windowHours = w;
    persist();
    send({ type: 'setWindow', windowHours });
  });
  const exportButton = document.createElement('vscode-button');
  exportButton.id = 'export-button';
  exportButton.textContent = 'Export…';
  exportButton.setAttribute('secondary', '');
  exportButton.title = 'Export the tasks and analysis of the window to JSON or CSV';
  exportButton.addEventListener('click', () => send({ type: 'export' }));

  replace(
    root,
    h('header', { class: 'top' },
      h('div', { class: 'title' }, h('h1', null, 'Model Performance'), el.status),
      h('div', { class: 'controls' }, rangeSelect, windowSelect, exportButton)),
    el.notice,
    h('section', { class: 'card', id: 'now', attrs: { 'aria-labelledby': 'now-title' } },
      h('h2', { id: 'now-title' }, 'Now'),
      el.nowTiles,
      el.gpuNote,
      h('div', { class: 'chart-grid' }, ...gpuCards, chartCard('CPU and RAM (% of total)', canvases.cpuRam)),
      el.seriesNote),
    h('section', { class: 'card', id: 'active', attrs: { 'aria-labelledby': 'active-title' } }, h('h2', { id: 'active-title' }, 'Active tasks'), el.active),
    el.empty,
    el.analysisSection,
  );
  replace(
    el.analysisSection,
    h('section', { class: 'card', id: 'analysis', attrs: { 'aria-labelledby': 'analysis-title' } }, el.analysisTitle, el.kpis, el.efficiencyLine, el.breakdowns),
    h('section', { class: 'card', id: 'bottlenecks', attrs: { 'aria-labelledby': 'bottlenecks-title' } },
      h('h2', { id: 'bottlenecks-title' }, 'Bottlenecks'), el.bottlenecks,
      h('h3', null, 'Recommendations'), el.recommendations),
    h('section', { class: 'card', id: 'trends', attrs: { 'aria-labelledby': 'trends-title' } },
      h('h2', { id: 'trends-title' }, 'Trends'), el.trendNote,
      h('div', { class: 'chart-grid' },
        chartCard('Generation time', canvases.trendTime), chartCard('Success rate', canvases.trendSuccess),
        chartCard('Peak VRAM', canvases.trendVram), chartCard('CPU', canvases.trendCpu))),
    h('section', { class: 'card', id: 'history', attrs: { 'aria-labelledby': 'history-title' } },
      h('h2', { id: 'history-title' }, 'History'), el.historyFilters, el.historyCount, el.historyTable, el.detail),
  );
  replace(el.detail, el.detailInfo, chartCard('VRAM, GPU and CPU during the task', canvases.detail), el.detailNote, el.phases);
  buildEmptyState();
}

function buildEmptyState(): void {
  const startButton = document.createElement('vscode-button');
  startButton.textContent = 'Start Task…';
  startButton.addEventListener('click', () => send({ type: 'startTask' }));
  replace(
    el.empty,
    h('h2', { id: 'empty-title' }, 'No tasks recorded yet'),
    h('p', null, 'The charts above already show this machine. To see how your model runs perform, record a first task in one of these ways:'),
    h('ol', { class: 'steps' },
      h('li', null, 'From the Command Palette: ', h('strong', null, 'Model Perf: Start Task…'), ' before your run, then ', h('strong', null, 'Model Perf: Complete Task…'), ' when it ends.'),
      h('li', null, 'From a terminal, wrap the run with the CLI: ', h('code', null, 'model-perf run -- python generate.py'), ' records it as a task and keeps its exit status.'),
      h('li', null, 'Or run your script in the integrated terminal: once terminal tracking is on, each run is recorded as a task by itself.')),
    h('p', null, startButton),
  );
}

// ---------------------------------------------------------------------------------------------
// Charts

function percentAxis(): { min: number; max: number; format: (v: number) => string } {
  return { min: 0, max: 100, format: (v) => `${v}%` };
}

function makeCharts() {
  return {
  gpu: new LineChart(canvases.gpu, { y: percentAxis(), valueText: (_i, y) => formatPercent(y), ariaLabel: 'GPU utilisation over time, per GPU' }, theme),
  vram: new LineChart(canvases.vram, { y: percentAxis(), valueText: (i, y) => vramTooltip(i, y), ariaLabel: 'VRAM used over time, percent of each GPU' }, theme),
  cpuRam: new LineChart(canvases.cpuRam, {
    y: percentAxis(),
    valueText: (i, y) => (i === 0 ? formatPercent(y) : `${formatPercent(y)} (${formatMb(ramTotal() === null ? null : ((ramTotal() as number) * y) / 100)})`),
    ariaLabel: 'CPU use and RAM used over time, percent',
  }, theme),
  trendTime: new LineChart(canvases.trendTime, { y: { min: 0, format: (v) => formatSeconds(v) }, valueText: (_i, y) => formatSeconds(y), showPoints: true, ariaLabel: 'Mean generation time per bucket of tasks' }, theme),
  trendSuccess: new LineChart(canvases.trendSuccess, { y: percentAxis(), valueText: (_i, y) => formatPercent(y, 1), showPoints: true, ariaLabel: 'Success rate per bucket of tasks' }, theme),
  trendVram: new LineChart(canvases.trendVram, { y: { min: 0, format: (v) => formatMb(v) }, valueText: (_i, y) => formatMb(y), showPoints: true, ariaLabel: 'Mean peak VRAM per bucket of tasks' }, theme),
  trendCpu: new LineChart(canvases.trendCpu, { y: { min: 0, format: (v) => `${v}%` }, valueText: (_i, y) => formatPercent(y), showPoints: true, ariaLabel: 'Mean CPU use per bucket of tasks' }, theme),
  detail: new LineChart(canvases.detail, {
    y: percentAxis(), y1: { min: 0, format: (v) => formatMb(v) },
    valueText: (i, y) => (i === 0 ? formatMb(y) : formatPercent(y)), ariaLabel: 'The selected task’s VRAM, GPU and CPU over its run, with its phases',
    phaseBands: true,
  }, theme),
  };
}

/** Built after the skeleton, so every canvas is in the page when its chart is made. */
const charts = {} as ReturnType<typeof makeCharts>;

function ramTotal(): number | null {
  return state?.series.ramTotalMb ?? state?.latest?.ramTotalMb ?? null;
}

function vramTooltip(i: number, y: number): string {
  const g = state?.series.gpus[i];
  return g && isKnown(g.vramTotalMb) ? `${formatPercent(y)} (${formatMb((g.vramTotalMb * y) / 100)} of ${formatMb(g.vramTotalMb)})` : formatPercent(y);
}

function gpuLabel(g: { index: number; name: string; vramTotalMb: number | null }): string {
  return g.index < 0 ? g.name : `GPU ${g.index} · ${g.name}`;
}

/** Redraws the three live charts from the columns held; the only work a live tick does. */
function drawLiveCharts(): void {
  if (!state) return;
  const s = state.series;
  const last = s.timestamps[s.timestamps.length - 1];
  const xMax = Math.max(last ?? 0, state.now);
  const xMin = xMax - LIVE_RANGE_MS[s.range];
  trimSeries(s, xMin);
  const t = state.thresholds;
  const gpuSpecs: SeriesSpec[] = s.gpus.map((g, i) => ({ label: gpuLabel(g), colour: i }));
  charts.gpu.setSeries(gpuSpecs);
  charts.vram.setSeries(s.gpus.map((g, i) => ({ label: `${gpuLabel(g)} (${formatMb(g.vramTotalMb)})`, colour: i })));
  charts.cpuRam.setSeries([{ label: 'CPU (all cores)', colour: 0 }, { label: `RAM (${formatMb(s.ramTotalMb)} total)`, colour: 2 }]);
  charts.vram.setThresholds([{ value: t.vramPercent, label: `VRAM threshold ${t.vramPercent}%` }]);
  charts.cpuRam.setThresholds([{ value: t.cpuPercent, label: `CPU threshold ${t.cpuPercent}%` }, { value: t.ramPercent, label: `RAM threshold ${t.ramPercent}%`, align: 'left' }]);
  const all = [charts.gpu, charts.vram, charts.cpuRam];
  for (const c of all) c.setXRange(xMin, xMax);
  s.gpus.forEach((g, i) => {
    charts.gpu.setData(i, decimate(s.timestamps, g.utilizationPercent, xMin, xMax, charts.gpu.plotWidth));
    charts.vram.setData(i, decimate(s.timestamps, g.vramUsedPercent, xMin, xMax, charts.vram.plotWidth));
  });
  charts.cpuRam.setData(0, decimate(s.timestamps, s.cpuUsagePercent, xMin, xMax, charts.cpuRam.plotWidth));
  const ram = s.ramTotalMb;
  charts.cpuRam.setData(1, decimate(s.timestamps, s.ramUsageMb, xMin, xMax, charts.cpuRam.plotWidth, (mb) => usedPercent(mb, ram) ?? Number.NaN));
  for (const c of all) c.update();
}

/** Drops rows older than the window (keeping one, so the line reaches the left edge). */
function trimSeries(s: LiveSeries, xMin: number): void {
  let drop = 0;
  while (drop + 1 < s.timestamps.length && (s.timestamps[drop + 1] as number) < xMin) drop++;
  if (drop === 0) return;
  s.timestamps.splice(0, drop);
  s.cpuUsagePercent.splice(0, drop);
  s.ramUsageMb.splice(0, drop);
  for (const g of s.gpus) {
    g.utilizationPercent.splice(0, drop);
    g.vramUsedPercent.splice(0, drop);
  }
}

/** Appends one snapshot to full-rate columns (a GPU seen for the first time gets a column of gaps). */
function appendSnapshot(s: LiveSeries, snap: SystemPerformanceSnapshot): void {
  if (s.resolution !== 'sample') return;
  const last = s.timestamps[s.timestamps.length - 1];
  if (last !== undefined && snap.timestamp <= last) return;
  const n = s.timestamps.length;
  for (const g of snap.gpus) {
    if (!s.gpus.some((c) => c.index === g.index)) {
      s.gpus.push({ index: g.index, name: g.name, vramTotalMb: g.vramTotalMb, utilizationPercent: new Array<number | null>(n).fill(null), vramUsedPercent: new Array<number | null>(n).fill(null) });
      s.gpus.sort((a, b) => a.index - b.index);
    }
  }
  s.timestamps.push(snap.timestamp);
  s.cpuUsagePercent.push(snap.cpuUsagePercent);
  s.ramUsageMb.push(snap.ramUsageMb);
  if (snap.ramTotalMb !== null) s.ramTotalMb = snap.ramTotalMb;
  for (const col of s.gpus) {
    const g = snap.gpus.find((x) => x.index === col.index);
    col.utilizationPercent.push(g ? g.utilizationPercent : null);
    col.vramUsedPercent.push(g ? g.vramUsedPercent : null);
    if (g && g.vramTotalMb !== null) col.vramTotalMb = g.vramTotalMb;
  }
}

// ---------------------------------------------------------------------------------------------
// Sections

function tile(label: string, value: string, sub: string | null = null, id?: string): HTMLElement {
  return h('div', { class: 'tile', ...(id ? { id } : {}) }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), sub ? h('div', { class: 'tile-sub muted' }, sub) : null);
}

interface TileText {
  key: string;
  label: string;
  value: string;
  sub: string;
}

/** Live tiles are kept and only their text is changed on a tick (a new set of GPUs rebuilds them). */
function updateTiles(container: HTMLElement, tiles: TileText[]): void {
  const keys = tiles.map((t) => t.key).join('\u0000');
  if (container.dataset.keys !== keys) {
    container.dataset.keys = keys;
    replace(container, ...tiles.map((t) => tile(t.label, t.value, t.sub, t.key)));
    return;
  }
  tiles.forEach((t, i) => {
    const node = container.children[i];
    if (!node) return;
    setText(node.children[0] as Node, t.label);
    setText(node.children[1] as Node, t.value);
    setText(node.children[2] as Node, t.sub);
  });
}

function renderStatus(): void {
  if (!state) return;
  const gpu = state.gpuAvailability;
  const parts = [state.monitoring ? 'Monitoring' : 'Monitoring is stopped', gpu.available ? `GPU figures from ${gpu.provider}` : 'No GPU figures'];
  if (state.latest) parts.push(`last sample ${formatRelative(state.latest.timestamp, hostNow())}`);
  setText(el.status, parts.join(' · '));
}

function renderNow(): void {
  if (!state) return;
  const s = state.latest;
  const tiles: TileText[] = [];
  for (const g of s?.gpus ?? []) {
    tiles.push({
      key: `tile-gpu-${g.index}`, label: `GPU ${g.index} · ${g.name}`, value: formatPercent(g.utilizationPercent),
      sub: `VRAM ${formatMbOf(g.vramUsedMb, g.vramTotalMb)} (${formatPercent(g.vramUsedPercent)})${isKnown(g.temperatureCelsius) ? ` · ${Math.round(g.temperatureCelsius)} °C` : ''}`,
    });
  }
  tiles.push({ key: 'tile-cpu', label: 'CPU', value: formatPercent(s?.cpuUsagePercent ?? null), sub: 'all cores' });
  tiles.push({ key: 'tile-ram', label: 'RAM', value: formatMbOf(s?.ramUsageMb ?? null, s?.ramTotalMb ?? null), sub: `${formatPercent(usedPercent(s?.ramUsageMb, s?.ramTotalMb))} used` });
  updateTiles(el.nowTiles, tiles);
  renderGpuAvailability(state.gpuAvailability);
  const minute = state.series.resolution === 'minute';
  setText(el.seriesNote, minute
    ? 'Last 24 hours as per-minute means (one point per minute); gaps are minutes with no sample.'
    : `Last ${RANGE_LABELS[state.series.range]}, one point per sample; gaps are samples where a figure was unknown.`);
}

function renderGpuAvailability(a: GpuAvailability): void {
  const noGpu = !a.available && (state?.series.gpus.length ?? 0) === 0;
  for (const c of gpuCards) c.classList.toggle('hidden', noGpu);
  el.gpuNote.classList.toggle('hidden', !noGpu);
  setText(el.gpuNote, noGpu ? `No GPU figures: ${(a.reason ?? 'no GPU was found').replace(/[.\s]+$/, '')}.` : '');
}

function renderActive(tasks: ActiveTaskInfo[]): void {
  if (tasks.length === 0) {
    replace(el.active, h('p', { class: 'muted' }, 'No task is running.'));
    return;
  }
  const now = hostNow();
  replace(el.active, ...tasks.map((a) => {
    const t = a.task;
    const progress = isKnown(a.progressPercent)
      ? (() => {
          const bar = document.createElement('vscode-progress-bar');
          bar.value = Math.max(0, Math.min(100, a.progressPercent));
          bar.max = 100;
          bar.ariaLabel = `Progress of ${t.taskId}`;
          return h('div', { class: 'progress' }, bar, h('span', { class: 'muted small' }, formatPercent(a.progressPercent)));
        })()
      : h('span', { class: 'muted small' }, 'progress unknown');
    return h('div', { class: 'active-task' },
      h('div', { class: 'active-head' }, h('strong', { class: 'task-id' }, t.taskId), h('span', { class: 'muted' }, ` ${t.modelType} · ${t.resolution} · ${formatCount(t.steps, 'step')}`)),
      h('dl', { class: 'facts' },
        fact('Elapsed', formatElapsed(t.startTime, now)),
        fact('VRAM now', formatMb(a.currentVramMb)),
        fact('Peak VRAM', formatMb(t.peakVramUsageMb)),
        fact('Mean GPU', formatPercent(t.averageGpuUtilizationPercent))),
      progress);
  }));
}

function fact(label: string, value: string): DocumentFragment {
  const f = document.createDocumentFragment();
  f.append(h('dt', null, label), h('dd', null, value));
  return f;
}

function renderEmpty(): void {
  if (!state) return;
  const isNew = state.totalTaskCount === 0 && state.activeTasks.length === 0;
  el.empty.classList.toggle('hidden', !isNew);
  el.analysisSection.classList.toggle('hidden', isNew);
}

function renderAnalysis(view: AnalysisView): void {
  const a = view.analysis;
  setText(el.analysisTitle, `Analysis · last ${formatWindow(view.windowHours)}`);
  const c = a.statusCounts;
  replace(el.kpis,
    tile('Success rate', formatRatio(a.successRate), 'succeeded ÷ finished (cancelled excluded)', 'kpi-success'),
    tile('Average time', formatSeconds(a.averageGenerationTimeSeconds), 'successful tasks', 'kpi-average'),
    tile('p95 time', formatSeconds(a.p95GenerationTimeSeconds), `median ${formatSeconds(a.p50GenerationTimeSeconds)}`, 'kpi-p95'),
    tile('Efficiency', formatRatio(a.resourceEfficiency), 'see below', 'kpi-efficiency'),
    tile('Tasks', String(a.taskCount), `${c.succeeded} succeeded · ${c.failed} failed · ${c.cancelled} cancelled · ${c.interrupted} interrupted`, 'kpi-tasks'));
  setText(el.efficiencyLine, `Efficiency: ${efficiencyExplanation(a, state?.thresholds.efficiencyBaselineSeconds ?? 300)}`);
  replace(el.breakdowns, breakdownTable('By model type', a.byModelType, false), breakdownTable('By resolution', a.byResolution, true));
  renderFindings(a);
  renderTrends(a);
  renderHistory(view);
}

function breakdownTable(title: string, entries: PerformanceAnalysis['byModelType'], withTarget: boolean): HTMLElement {
  if (entries.length === 0) return h('div', null, h('h3', null, title), h('p', { class: 'muted' }, 'No finished task in this window.'));
  const head = ['Name', 'Tasks', 'Success', 'Average', 'Max', ...(withTarget ? ['Target'] : [])];
  return h('div', null, h('h3', null, title), h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
    h('thead', null, h('tr', null, ...head.map((x, i) => h('th', { attrs: { scope: 'col' }, class: i > 0 ? 'num' : '' }, x)))),
    h('tbody', null, ...entries.map((e) => h('tr', null,
      h('th', { attrs: { scope: 'row' }, class: 'text' }, e.key),
      h('td', { class: 'num' }, String(e.taskCount)),
      h('td', { class: 'num' }, formatRatio(e.successRate)),
      h('td', { class: 'num' }, formatSeconds(e.averageGenerationTimeSeconds)),
      h('td', { class: 'num' }, formatSeconds(e.maxGenerationTimeSeconds)),
      withTarget ? h('td', { class: 'num' }, formatSeconds(e.targetSeconds)) : null)))))); 
}

function severityBadge(severity: 'info' | 'warning' | 'critical'): HTMLElement {
  return h('span', { class: `badge sev-${severity}` }, SEVERITY_LABELS[severity]);
}

function renderFindings(a: PerformanceAnalysis): void {
  const findings = a.bottleneckAnalysis.findings;
  if (findings.length === 0) {
    replace(el.bottlenecks, h('p', { class: 'muted' }, a.taskCount === 0 ? 'Nothing to judge yet: no finished task in this window.' : 'No bottleneck found in this window.'));
  } else {
    replace(el.bottlenecks, ...findings.map((f) => h('div', { class: `finding sev-border-${f.severity}` },
      h('div', null, severityBadge(f.severity), ' ', h('strong', null, f.summary)),
      h('div', { class: 'muted small' }, `Evidence: ${formatEvidence(f.evidence)} · ${f.confidence} confidence`))));
  }
  if (a.recommendations.length === 0) {
    replace(el.recommendations, h('li', { class: 'muted none' }, 'No recommendation for this window.'));
  } else {
    replace(el.recommendations, ...a.recommendations.map((r) => h('li', null,
      h('div', null, severityBadge(r.severity), ' ', r.text),
      h('div', { class: 'muted small' }, `Why: ${formatEvidence(r.evidence)} · ${r.confidence} confidence`))));
  }
}

function renderTrends(a: PerformanceAnalysis): void {
  const t = a.performanceTrends;
  const xs = t.bucketStartTimes;
  const xMin = a.windowStart;
  const xMax = a.generatedAt;
  const put = (chart: LineChart, label: string, ys: (number | null)[], colour: number, map?: (y: number) => number) => {
    chart.setSeries([{ label, colour }]);
    chart.setXRange(xMin, xMax);
    chart.setData(0, decimate(xs, ys, xMin, xMax, 1000, map));
    chart.update();
  };
  const th = state?.thresholds;
  charts.trendSuccess.setThresholds(th ? [{ value: th.minSuccessRate * 100, label: `${formatRatio(th.minSuccessRate, 0)} target` }] : []);
  charts.trendCpu.setThresholds(th ? [{ value: th.cpuPercent, label: `${th.cpuPercent}% threshold` }] : []);
  put(charts.trendTime, 'Mean generation time', t.generationTimeSeconds, 0);
  put(charts.trendSuccess, 'Success rate', t.successRate, 2, (y) => y * 100);
  put(charts.trendVram, 'Mean peak VRAM', t.peakVramUsageMb, 3);
  put(charts.trendCpu, 'Mean CPU', t.averageCpuUsagePercent, 1);
  setText(el.trendNote, xs.length === 0
    ? 'Trends appear once tasks have finished in this window.'
    : `${formatCount(xs.length, 'point')}, each the mean of a bucket of about ${Math.max(1, Math.round(a.taskCount / Math.max(1, xs.length)))} consecutive tasks.`);
}

// ----- History

const SORT_COLUMNS: { key: SortKey; label: string; num: boolean }[] = [
  { key: 'startTime', label: 'Started', num: false },
  { key: 'modelType', label: 'Model type', num: false },
  { key: 'resolution', label: 'Resolution', num: false },
  { key: 'status', label: 'Outcome', num: false },
  { key: 'generationTimeSeconds', label: 'Time', num: true },
  { key: 'peakVramUsageMb', label: 'Peak VRAM', num: true },
  { key: 'averageGpuUtilizationPercent', label: 'Mean GPU', num: true },
];

function filterSelect(label: string, id: string, values: string[], current: string | null, labels: (v: string) => string, onChange: (v: string | null) => void): HTMLElement {
  const options = [{ value: '', text: 'All' }, ...values.map((v) => ({ value: v, text: labels(v) }))];
  return select(label, id, options, current ?? '', (v) => onChange(v === '' ? null : v));
}

function renderHistory(view: AnalysisView): void {
  const rows = view.rows;
  const models = distinctValues(rows, (r) => r.modelType);
  const resolutions = distinctValues(rows, rowResolution);
  const statuses = distinctValues(rows, (r) => r.status);
  // A filter on a value no longer present would hide everything: drop it.
  if (query.modelType !== null && !models.includes(query.modelType)) query = { ...query, modelType: null };
  if (query.resolution !== null && !resolutions.includes(query.resolution)) query = { ...query, resolution: null };
  if (query.status !== null && !statuses.includes(query.status)) query = { ...query, status: null };
  replace(el.historyFilters,
    filterSelect('Model type', 'filter-model', models, query.modelType, (v) => v, (v) => { query = { ...query, modelType: v }; shownRows = PAGE_ROWS; renderHistoryTable(view); }),
    filterSelect('Resolution', 'filter-resolution', resolutions, query.resolution, (v) => v, (v) => { query = { ...query, resolution: v }; shownRows = PAGE_ROWS; renderHistoryTable(view); }),
    filterSelect('Outcome', 'filter-outcome', statuses, query.status, (v) => STATUS_LABELS[v as TaskStatus] ?? v, (v) => { query = { ...query, status: v as TaskStatus | null }; shownRows = PAGE_ROWS; renderHistoryTable(view); }));
  renderHistoryTable(view);
}

function renderHistoryTable(view: AnalysisView): void {
  const rows = queryRows(view.rows, query);
  const now = hostNow();
  const cut = view.totalRows > view.rows.length ? ` (the newest ${view.rows.length} of ${view.totalRows} are listed)` : '';
  setText(el.historyCount, view.rows.length === 0 ? `No finished task in the last ${formatWindow(view.windowHours)}.` : `${formatCount(rows.length, 'task')} shown${cut}.`);
  if (view.rows.length === 0) {
    replace(el.historyTable);
    return;
  }
  const headCells = SORT_COLUMNS.map((c) => {
    const active = query.sortKey === c.key;
    const button = h('button', {
      class: 'sort', on: { click: () => {
        query = { ...query, sortKey: c.key, descending: active ? !query.descending : c.key === 'startTime' || c.num };
        renderHistoryTable(view);
      } },
    }, c.label, active ? (query.descending ? ' ▼' : ' ▲') : '');
    return h('th', { class: c.num ? 'num' : '', attrs: { scope: 'col', 'aria-sort': active ? (query.descending ? 'descending' : 'ascending') : 'none' } }, button);
  });
  const body = rows.slice(0, shownRows).map((r) => {
    const isSel = selected !== null && selected.taskId === r.taskId && selected.startTime === r.startTime;
    const choose = () => selectTask(r.taskId, r.startTime);
    return h('tr', {
      class: `row${isSel ? ' selected' : ''}`,
      attrs: { tabindex: '0', 'aria-selected': String(isSel) },
      on: { click: choose, keydown: (e) => { if ((e as KeyboardEvent).key === 'Enter' || (e as KeyboardEvent).key === ' ') { e.preventDefault(); choose(); } } },
    },
    h('td', { title: formatDateTime(r.startTime) }, formatRelative(r.startTime, now), h('div', { class: 'muted small task-id' }, r.taskId)),
    h('td', { class: 'text' }, r.modelType),
    h('td', { class: 'text' }, r.resolution),
    h('td', null, h('span', { class: `outcome st-${r.status}` }, STATUS_LABELS[r.status]), r.errorCategory ? h('div', { class: 'muted small' }, r.errorCategory) : null),
    h('td', { class: 'num' }, formatSeconds(r.generationTimeSeconds)),
    h('td', { class: 'num' }, formatMb(r.peakVramUsageMb)),
    h('td', { class: 'num' }, formatPercent(r.averageGpuUtilizationPercent)));
  });
  const more = rows.length > shownRows
    ? h('button', { class: 'link', on: { click: () => { shownRows += PAGE_ROWS; renderHistoryTable(view); } } }, `Show ${Math.min(PAGE_ROWS, rows.length - shownRows)} more`)
    : null;
  replace(el.historyTable,
    h('table', { class: 'data history', attrs: { 'aria-label': 'Finished tasks' } }, h('thead', null, h('tr', null, ...headCells)), h('tbody', null, ...body)),
    rows.length === 0 ? h('p', { class: 'muted' }, 'No task matches these filters.') : null,
    more);
}

function selectTask(taskId: string, startTime: number): void {
  selected = { taskId, startTime };
  if (state) renderHistoryTable(state.analysis);
  el.detail.classList.remove('hidden');
  replace(el.detailInfo, h('p', { class: 'muted' }, 'Loading the task…'));
  send({ type: 'selectTask', taskId, startTime });
}

function renderDetail(taskId: string, startTime: number, detail: TaskDetail | null): void {
  if (!selected || selected.taskId !== taskId || selected.startTime !== startTime) return;
  el.detail.classList.remove('hidden');
  if (!detail) {
    replace(el.detailInfo, h('p', { class: 'muted' }, 'This task is no longer in the history.'));
    setText(el.detailNote, '');
    renderPhases([]);
    return;
  }
  const t = detail.task;
  const tl = detail.timeline;
  const close = h('button', { class: 'link', on: { click: () => { selected = null; el.detail.classList.add('hidden'); if (state) renderHistoryTable(state.analysis); } } }, 'Close');
  const note = tl.resolution === 'none'
    ? 'No samples of this period are kept any more (the engine keeps about an hour at full rate and a week of per-minute means).'
    : tl.resolution === 'minute' ? 'Per-minute means of the machine while the task ran.' : 'Every sample of the machine while the task ran.';
  replace(el.detailInfo,
    h('div', { class: 'detail-head' }, h('h3', null, 'Task ', h('span', { class: 'task-id' }, t.taskId)), close),
    h('p', { class: 'muted small' }, `${t.modelType} · ${t.resolution} · ${formatCount(t.steps, 'step')} · ${STATUS_LABELS[t.status]}${t.errorCategory ? ` (${t.errorCategory})` : ''} · started ${formatDateTime(t.startTime)}`),
    h('dl', { class: 'facts wide' },
      fact('Generation time', formatSeconds(t.generationTimeSeconds)),
      fact('Model load', formatSeconds(t.modelLoadTimeSeconds)),
      fact('Peak VRAM', formatMbOf(t.peakVramUsageMb, t.vramTotalMb)),
      fact('Mean VRAM', formatMb(t.averageVramUsageMb)),
      fact('Mean / peak GPU', `${formatPercent(t.averageGpuUtilizationPercent)} / ${formatPercent(t.peakGpuUtilizationPercent)}`),
      fact('Mean CPU', `${formatPercent(t.averageCpuUsagePercent)}${t.cpuScope === 'processTree' ? ' (its processes, % of one core)' : ''}`),
      fact('Peak RAM', formatMb(t.peakRamUsageMb)),
      fact('GPUs', t.gpuIndices.length ? t.gpuIndices.join(', ') : NA),
      fact('Samples', String(t.sampleCount))));
  setText(el.detailNote, note);
  const xMin = t.startTime;
  const xMax = t.endTime ?? hostNow();
  charts.detail.setSeries([{ label: 'VRAM', colour: 3, axis: 'y1' }, { label: 'GPU utilisation', colour: 0 }, { label: 'CPU', colour: 1, dashed: true }]);
  charts.detail.setXRange(xMin, xMax);
  const w = charts.detail.plotWidth;
  charts.detail.setData(0, decimate(tl.timestamps, tl.vramUsedMb, xMin, xMax, w));
  charts.detail.setData(1, decimate(tl.timestamps, tl.gpuUtilizationPercent, xMin, xMax, w));
  charts.detail.setData(2, decimate(tl.timestamps, tl.cpuUsagePercent, xMin, xMax, w));
  charts.detail.setPhases(phaseBands(t.phases, xMin, xMax));
  charts.detail.update();
  renderPhases(phaseRows(t.phases, t.startTime, t.endTime));
}

/** The Phases table under the task's chart; nothing at all for a task without phases. */
function renderPhases(rows: PhaseRow[]): void {
  el.phases.classList.toggle('hidden', rows.length === 0);
  if (rows.length === 0) {
    replace(el.phases);
    charts.detail.setPhases([]);
    return;
  }
  replace(el.phases,
    h('h4', { id: 'phases-title' }, 'Phases'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data phases-table', attrs: { 'aria-labelledby': 'phases-title' } },
      h('thead', null, h('tr', null,
        h('th', { attrs: { scope: 'col' } }, 'Phase'),
        h('th', { class: 'num', attrs: { scope: 'col' } }, 'Start'),
        h('th', { class: 'num', attrs: { scope: 'col' } }, 'Duration'))),
      h('tbody', null, ...rows.map((r) => h('tr', null,
        h('th', { class: 'text', attrs: { scope: 'row' } }, r.name),
        h('td', { class: 'num' }, r.offset),
        h('td', { class: `num${r.running ? ' running' : ''}` }, r.duration)))))));
}

function showNotice(level: 'info' | 'warning' | 'error', text: string): void {
  el.notice.className = `notice notice-${level}`;
  replace(el.notice, h('span', null, text), h('button', { class: 'link', on: { click: () => el.notice.classList.add('hidden') } }, 'Dismiss'));
}

// ---------------------------------------------------------------------------------------------
// Messages

function applyState(next: DashboardState): void {
  state = next;
  clockOffsetMs = next.now - Date.now();
  range = next.range;
  windowHours = next.windowHours;
  persist();
  syncSelect('range-select', range);
  syncSelect('window-select', String(windowHours));
  renderStatus();
  renderNow();
  drawLiveCharts();
  renderActive(next.activeTasks);
  renderEmpty();
  renderAnalysis(next.analysis);
  if (selected) send({ type: 'selectTask', taskId: selected.taskId, startTime: selected.startTime });
}

function syncSelect(id: string, value: string): void {
  const sel = document.getElementById(id) as (HTMLElement & { value: string }) | null;
  if (sel && sel.value !== value) sel.value = value;
}

function handle(msg: ToWebview): void {
  switch (msg.type) {
    case 'state':
      applyState(msg.state);
      return;
    case 'snapshot':
      if (!state) return;
      state.latest = msg.snapshot;
      state.now = Math.max(state.now, msg.snapshot.timestamp);
      clockOffsetMs = state.now - Date.now();
      state.activeTasks = msg.activeTasks;
      appendSnapshot(state.series, msg.snapshot);
      renderStatus();
      renderNow();
      drawLiveCharts();
      renderActive(msg.activeTasks);
      return;
    case 'series':
      if (!state) return;
      state.series = msg.series;
      range = msg.series.range;
      renderNow();
      drawLiveCharts();
      return;
    case 'analysis':
      if (!state) return;
      state.analysis = msg.analysis;
      state.totalTaskCount = msg.totalTaskCount;
      renderEmpty();
      renderAnalysis(msg.analysis);
      return;
    case 'activeTasks':
      if (!state) return;
      state.activeTasks = msg.activeTasks;
      renderActive(msg.activeTasks);
      renderEmpty();
      return;
    case 'gpuAvailability':
      if (!state) return;
      state.gpuAvailability = msg.availability;
      renderStatus();
      renderGpuAvailability(msg.availability);
      return;
    case 'taskDetail':
      renderDetail(msg.taskId, msg.startTime, msg.detail);
      return;
    case 'notice':
      showNotice(msg.level, msg.text);
      return;
  }
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const parsed = parseToWebview(event.data);
  if (!parsed.ok) {
    send({ type: 'webviewError', message: `rejected a message from the host: ${parsed.error}`.slice(0, 2000) });
    return;
  }
  try {
    handle(parsed.msg);
  } catch (err) {
    send({ type: 'webviewError', message: `handling "${parsed.msg.type}" failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 2000) });
  }
});

// Theme changes: VS Code swaps the body's class and the CSS variables; re-read them into the charts.
new MutationObserver(() => {
  theme = readTheme();
  for (const c of Object.values(charts)) c.applyTheme(theme);
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

const root = document.getElementById('app') ?? document.body.appendChild(document.createElement('main'));
root.classList.remove('loading');
buildSkeleton(root);
Object.assign(charts, makeCharts());
for (const c of Object.values(charts)) {
  c.canvas.parentElement?.appendChild(c.emptyNote);
  c.canvas.closest('figure')?.appendChild(c.legend);
}
send({ type: 'ready', version: PROTOCOL_VERSION, range, windowHours });
