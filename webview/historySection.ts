// The history table: filters, sorting, paging, and choosing a task for its detail.
import { VRAM_SCOPE_LABELS, type TaskStatus } from '../src/shared/metrics';
import type { AnalysisView } from '../src/shared/protocol';
import { h, replace, setText } from './dom';
import { el, select } from './layout';
import { hostNow, page, PAGE_ROWS, send } from './page';
import {
  distinctValues, formatCount, formatDateTime, formatMb, formatPercent, formatRelative, formatSeconds, formatWindow, queryRows,
  rowResolution, STATUS_LABELS, type SortKey,
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

export function renderHistory(view: AnalysisView): void {
  const rows = view.rows;
  const models = distinctValues(rows, (r) => r.modelType);
  const resolutions = distinctValues(rows, rowResolution);
  const statuses = distinctValues(rows, (r) => r.status);
  // A filter on a value no longer present would hide everything: drop it.
  if (page.query.modelType !== null && !models.includes(page.query.modelType)) page.query = { ...page.query, modelType: null };
  if (page.query.resolution !== null && !resolutions.includes(page.query.resolution)) page.query = { ...page.query, resolution: null };
  if (page.query.status !== null && !statuses.includes(page.query.status)) page.query = { ...page.query, status: null };
  replace(el.historyFilters,
    filterSelect('Model type', 'filter-model', models, page.query.modelType, (v) => v, (v) => { page.query = { ...page.query, modelType: v }; page.shownRows = PAGE_ROWS; renderHistoryTable(view); }),
    filterSelect('Resolution', 'filter-resolution', resolutions, page.query.resolution, (v) => v, (v) => { page.query = { ...page.query, resolution: v }; page.shownRows = PAGE_ROWS; renderHistoryTable(view); }),
    filterSelect('Outcome', 'filter-outcome', statuses, page.query.status, (v) => STATUS_LABELS[v as TaskStatus] ?? v, (v) => { page.query = { ...page.query, status: v as TaskStatus | null }; page.shownRows = PAGE_ROWS; renderHistoryTable(view); }));
  renderHistoryTable(view);
}

export function renderHistoryTable(view: AnalysisView): void {
  const rows = queryRows(view.rows, page.query);
  const now = hostNow();
  const cut = view.totalRows > view.rows.length ? ` (the newest ${view.rows.length} of ${view.totalRows} are listed)` : '';
  setText(el.historyCount, view.rows.length === 0 ? `No finished task in the last ${formatWindow(view.windowHours)}.` : `${formatCount(rows.length, 'task')} shown${cut}.`);
  if (view.rows.length === 0) {
    replace(el.historyTable);
    return;
  }
  const headCells = SORT_COLUMNS.map((c) => {
    const active = page.query.sortKey === c.key;
    const button = h('button', {
      class: 'sort', on: { click: () => {
        page.query = { ...page.query, sortKey: c.key, descending: active ? !page.query.descending : c.key === 'startTime' || c.num };
        renderHistoryTable(view);
      } },
    }, c.label, active ? (page.query.descending ? ' ▼' : ' ▲') : '');
    return h('th', { class: c.num ? 'num' : '', attrs: { scope: 'col', 'aria-sort': active ? (page.query.descending ? 'descending' : 'ascending') : 'none' } }, button);
  });
  const body = rows.slice(0, page.shownRows).map((r) => {
    const isSel = page.selected !== null && page.selected.taskId === r.taskId && page.selected.startTime === r.startTime;
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
    // A figure other than the run's own processes' names its scope (the tree's own is the usual case).
    h('td', { class: 'num', attrs: r.vramScope ? { title: VRAM_SCOPE_LABELS[r.vramScope].long } : {} }, formatMb(r.peakVramUsageMb),
      r.vramScope && r.vramScope !== 'processTree' ? h('div', { class: 'muted small' }, VRAM_SCOPE_LABELS[r.vramScope].short) : null),
    h('td', { class: 'num' }, formatPercent(r.averageGpuUtilizationPercent)));
  });
  const more = rows.length > page.shownRows
    ? h('button', { class: 'link', on: { click: () => { page.shownRows += PAGE_ROWS; renderHistoryTable(view); } } }, `Show ${Math.min(PAGE_ROWS, rows.length - page.shownRows)} more`)
    : null;
  replace(el.historyTable,
    h('table', { class: 'data history', attrs: { 'aria-label': 'Finished tasks' } }, h('thead', null, h('tr', null, ...headCells)), h('tbody', null, ...body)),
    rows.length === 0 ? h('p', { class: 'muted' }, 'No task matches these filters.') : null,
    more);
}

function selectTask(taskId: string, startTime: number): void {
  page.selected = { taskId, startTime };
  if (page.state) renderHistoryTable(page.state.analysis);
  el.detail.classList.remove('hidden');
  replace(el.detailInfo, h('p', { class: 'muted' }, 'Loading the task…'));
  send({ type: 'selectTask', taskId, startTime });
}
