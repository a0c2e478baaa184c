// The page's skeleton, built once: the header controls, each section's containers and canvases,
// the empty state, and the small DOM pieces the sections share (tiles, facts, badges, selects).
import { ANALYSIS_WINDOWS, LIVE_RANGES, type AnalysisWindowHours, type LiveRange } from '../src/shared/protocol';
import { h, replace } from './dom';
import { page, persist, send } from './page';
import { formatWindow, RANGE_LABELS, SEVERITY_LABELS } from './viewModel';

export function select<T extends string | number>(label: string, id: string, options: { value: T; text: string }[], current: T, onChange: (v: string) => void): HTMLElement {
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

export const el = {
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
  findings: h('div', { class: 'finding-list', id: 'findings-list' }),
  /** The Findings card: first on the page, above every chart; hidden with the analysis for a new user. */
  findingsCard: h('section', { class: 'card', id: 'findings', attrs: { 'aria-labelledby': 'findings-title' } }),
  recommendations: h('ol', { class: 'recommendations' }),
  trendNote: h('p', { class: 'muted small' }),
  historyFilters: h('div', { class: 'filters' }),
  historyCount: h('p', { class: 'muted small', id: 'history-count', attrs: { 'aria-live': 'polite' } }),
  historyTable: h('div', { class: 'table-wrap' }),
  detail: h('div', { class: 'detail hidden', id: 'task-detail' }),
  detailInfo: h('div'),
  detailNote: h('p', { class: 'muted small' }),
  /** The selected task's phases; hidden (and empty) for a task that reported none. */
  phases: h('div', { class: 'phases hidden', id: 'task-phases' }),
  /** A failed task's last minute (postMortem.ts); hidden for any other task. */
  postMortem: h('div', { class: 'postmortem hidden', id: 'task-postmortem' }),
  postMortemInfo: h('div'),
  /** Two tasks picked in the history table, side by side (compareSection.ts). */
  compare: h('div', { class: 'compare hidden', id: 'task-compare' }),
  compareInfo: h('div'),
  compareTable: h('div'),
};

function chartCard(title: string, canvas: HTMLCanvasElement): HTMLElement {
  return h('figure', { class: 'chart-card' }, h('figcaption', null, title), h('div', { class: 'chart-box' }, canvas));
}

export const canvases = {
  gpu: document.createElement('canvas'),
  vram: document.createElement('canvas'),
  cpuRam: document.createElement('canvas'),
  trendTime: document.createElement('canvas'),
  trendSuccess: document.createElement('canvas'),
  trendVram: document.createElement('canvas'),
  trendCpu: document.createElement('canvas'),
  detail: document.createElement('canvas'),
  postMortem: document.createElement('canvas'),
  compare: document.createElement('canvas'),
};

export const gpuCards = [chartCard('GPU utilisation', canvases.gpu), chartCard('VRAM (% of each GPU)', canvases.vram)];

export function buildSkeleton(root: HTMLElement): void {
  const rangeSelect = select('Range', 'range-select', LIVE_RANGES.map((r) => ({ value: r, text: RANGE_LABELS[r] })), page.range, (v) => {
    if (!(LIVE_RANGES as readonly string[]).includes(v) || v === page.range) return;
    page.range = v as LiveRange;
    persist();
    send({ type: 'setRange', range: page.range });
  });
  const windowSelect = select('Analysis window', 'window-select', ANALYSIS_WINDOWS.map((w) => ({ value: w, text: formatWindow(w) })), page.windowHours, (v) => {
    const w = Number(v) as AnalysisWindowHours;
    if (!ANALYSIS_WINDOWS.includes(w) || w === page.windowHours) return;
    page.windowHours = w;
    persist();
    send({ type: 'setWindow', windowHours: page.windowHours });
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
    // Findings lead: what to fix next, above the live charts and every chart and table of the analysis.
    el.findingsCard,
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
      h('h2', { id: 'history-title' }, 'History'), el.historyFilters, el.historyCount, el.historyTable, el.compare, el.detail),
  );
  replace(el.findingsCard, h('h2', { id: 'findings-title' }, 'Findings'), el.findings);
  replace(el.detail, el.detailInfo, chartCard('VRAM, GPU and CPU during the task', canvases.detail), el.detailNote, el.phases, el.postMortem);
  replace(el.postMortem, el.postMortemInfo, chartCard('The last minute before it ended', canvases.postMortem));
  replace(el.compare, el.compareInfo, chartCard('Both runs from their start (solid: VRAM, dashed: GPU utilisation)', canvases.compare), el.compareTable);
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

export function tile(label: string, value: string, sub: string | null = null, id?: string): HTMLElement {
  return h('div', { class: 'tile', ...(id ? { id } : {}) }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), sub ? h('div', { class: 'tile-sub muted' }, sub) : null);
}

export function fact(label: string, value: string): DocumentFragment {
  const f = document.createDocumentFragment();
  f.append(h('dt', null, label), h('dd', null, value));
  return f;
}

export function severityBadge(severity: 'info' | 'warning' | 'critical'): HTMLElement {
  return h('span', { class: `badge sev-${severity}` }, SEVERITY_LABELS[severity]);
}
