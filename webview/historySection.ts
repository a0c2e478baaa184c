// The history table: filters, sorting, paging, and choosing a task for its detail.
import { VRAM_SCOPE_LABELS, type TaskStatus } from '../src/shared/metrics';
import { HISTORY_PAGE_ROWS, type AnalysisView } from '../src/shared/protocol';
import { isCompared, toggleCompare } from './compareSection';
import { h, replace, setText } from './dom';
import { el, select } from './layout';
import { hostNow, page, send } from './page';
import {
  formatCount, formatDateTime, formatMb, formatPercent, formatRelative, formatSeconds, formatWindow, queryRows,
  STATUS_LABELS, type SortKey,
} from './viewModel';

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

/** Asks the host for the page from `offset` with the page's filter (the host filters and pages the window). */
function askPage(offset: number): void {
  const q = page.query;
  send({ type: 'historyPage', offset, filter: { modelType: q.modelType, resolution: q.resolution, status: q.status } });
}

export function renderHistory(view: AnalysisView): void {
  // The filters offer what the window holds (the analysis's breakdowns), whichever page is shown.
  const a = view.analysis;
  const models = a.byModelType.map((g) => g.key).sort();
  const resolutions = a.byResolution.map((g) => g.key).sort();
  const statuses = (Object.keys(a.statusCounts) as (keyof typeof a.statusCounts)[]).filter((k) => a.statusCounts[k] > 0);
  page.query = { ...page.query, modelType: view.filter.modelType, resolution: view.filter.resolution, status: view.filter.status };
  const choose = (patch: Partial<typeof page.query>) => {
    page.query = { ...page.query, ...patch };
    askPage(0);
  };
  replace(el.historyFilters,
    filterSelect('Model type', 'filter-model', withCurrent(models, page.query.modelType), page.query.modelType, (v) => v, (v) => choose({ modelType: v })),
    filterSelect('Resolution', 'filter-resolution', withCurrent(resolutions, page.query.resolution), page.query.resolution, (v) => v, (v) => choose({ resolution: v })),
    filterSelect('Outcome', 'filter-outcome', withCurrent(statuses, page.query.status), page.query.status, (v) => STATUS_LABELS[v as TaskStatus] ?? v, (v) => choose({ status: v as TaskStatus | null })));
  renderHistoryTable(view);
}

/** The filter in force stays offered even when no task of the window has it any more. */
function withCurrent(values: string[], current: string | null): string[] {
  return current !== null && !values.includes(current) ? [...values, current] : values;
}

export function renderHistoryTable(view: AnalysisView): void {
  // The host sent one page, newest first; a column sort orders the page shown.
  const rows = queryRows(view.rows, { ...page.query, modelType: null, resolution: null, status: null });
  const now = hostNow();
  const filtered = view.filter.modelType !== null || view.filter.resolution !== null || view.filter.status !== null;
  const first = view.offset + 1;
  const last = view.offset + view.rows.length;
  const of = filtered ? `${formatCount(view.matching, 'matching task')} (${view.totalRows} in the window)` : formatCount(view.totalRows, 'task');
  setText(el.historyCount, view.totalRows === 0
    ? `No finished task in the last ${formatWindow(view.windowHours)}.`
    : view.rows.length === 0 ? `No task matches these filters (${view.totalRows} in the window).` : `Tasks ${first}–${last} of ${of}, newest first.`);
  if (view.rows.length === 0) {
    replace(el.historyTable);
    return;
  }
  const headCells = SORT_COLUMNS.map((c) => {
    const active = page.query.sortKey === c.key;
    const button = h('button', {
      class: 'sort', attrs: { title: 'Sorts the rows of this page' }, on: { click: () => {
        page.query = { ...page.query, sortKey: c.key, descending: active ? !page.query.descending : c.key === 'startTime' || c.num };
        renderHistoryTable(view);
      } },
    }, c.label, active ? (page.query.descending ? ' ▼' : ' ▲') : '');
    return h('th', { class: c.num ? 'num' : '', attrs: { scope: 'col', 'aria-sort': active ? (page.query.descending ? 'descending' : 'ascending') : 'none' } }, button);
  });
  headCells.push(h('th', { class: 'compare-col', attrs: { scope: 'col', title: 'Tick two tasks to compare them' } }, 'Compare'));
  const body = rows.map((r) => {
    const isSel = page.selected !== null && page.selected.taskId === r.taskId && page.selected.startTime === r.startTime;
    const choose = () => selectTask(r.taskId, r.startTime);
    const tick = h('input', {
      attrs: { type: 'checkbox', 'aria-label': `Compare task ${r.taskId}` },
      on: {
        click: (e) => e.stopPropagation(),
        keydown: (e) => e.stopPropagation(),
        change: () => { toggleCompare(r); if (page.state) renderHistoryTable(page.state.analysis); },
      },
    }) as HTMLInputElement;
    tick.checked = isCompared(r);
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
    // A figure other than the run's own processes' names its scope (the tree's own is the usual case).
    h('td', { class: 'num', attrs: r.vramScope ? { title: VRAM_SCOPE_LABELS[r.vramScope].long } : {} }, formatMb(r.peakVramUsageMb),
      r.vramScope && r.vramScope !== 'processTree' ? h('div', { class: 'muted small' }, VRAM_SCOPE_LABELS[r.vramScope].short) : null),
    h('td', { class: 'num' }, formatPercent(r.averageGpuUtilizationPercent)),
    h('td', { class: 'compare-col' }, tick));
  });
  const size = HISTORY_PAGE_ROWS;
  const pager = view.matching > view.rows.length || view.offset > 0
    ? h('nav', { class: 'pager', attrs: { 'aria-label': 'History pages' } },
      pageButton('Newest', 'page-first', view.offset > 0, () => askPage(0)),
      pageButton('Newer', 'page-previous', view.offset > 0, () => askPage(Math.max(0, view.offset - size))),
      pageButton('Older', 'page-next', last < view.matching, () => askPage(view.offset + size)))
    : null;
  replace(el.historyTable,
    h('table', { class: 'data history', attrs: { 'aria-label': 'Finished tasks' } }, h('thead', null, h('tr', null, ...headCells)), h('tbody', null, ...body)),
    pager);
}

function pageButton(label: string, id: string, enabled: boolean, go: () => void): HTMLElement {
  const attrs: Record<string, string> = { id, type: 'button' };
  if (!enabled) attrs.disabled = '';
  return h('button', { class: 'link', attrs, on: { click: go } }, label);
}

function selectTask(taskId: string, startTime: number): void {
  page.selected = { taskId, startTime };
  if (page.state) renderHistoryTable(page.state.analysis);
  el.detail.classList.remove('hidden');
  replace(el.detailInfo, h('p', { class: 'muted' }, 'Loading the task…'));
  send({ type: 'selectTask', taskId, startTime });
}
