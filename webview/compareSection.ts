// "Compare two runs": the history table's Compare ticks pick two tasks; the host sends both with
// their kept timelines, drawn here from a common start (solid VRAM, dashed GPU utilisation), and
// a table of what differs: configuration, commit, time, peaks and phases.
import type { PerformanceMetrics } from '../src/shared/metrics';
import { h, replace } from './dom';
import { renderHistoryTable } from './historySection';
import { el } from './layout';
import { charts } from './liveCharts';
import { page, send } from './page';
import { alignedSeries, compareRows } from './runViewModel';

const key = (r: { taskId: string; startTime: number }): string => `${r.taskId}\u0000${r.startTime}`;

export function isCompared(r: { taskId: string; startTime: number }): boolean {
  return page.compare.some((c) => key(c) === key(r));
}

/** Ticks or unticks a task; with two ticked the host is asked for both (a third replaces the oldest). */
export function toggleCompare(r: { taskId: string; startTime: number }): void {
  page.compare = isCompared(r) ? page.compare.filter((c) => key(c) !== key(r)) : [...page.compare, { taskId: r.taskId, startTime: r.startTime }].slice(-2);
  const [a, b] = page.compare;
  if (a && b) {
    el.compare.classList.remove('hidden');
    replace(el.compareInfo, h('p', { class: 'muted' }, 'Loading both runs…'));
    send({ type: 'compareTasks', tasks: [a, b] });
  } else {
    el.compare.classList.add('hidden');
  }
}

export function renderComparison(tasks: [PerformanceMetrics | null, PerformanceMetrics | null]): void {
  const [a, b] = tasks;
  const [ra, rb] = page.compare;
  // An answer for a pair no longer ticked is stale.
  if (!ra || !rb || !a || !b || key(a) !== key(ra) || key(b) !== key(rb)) {
    if (ra && rb && (!a || !b)) replace(el.compareInfo, h('p', { class: 'muted' }, 'One of these tasks is no longer in the history.'));
    return;
  }
  el.compare.classList.remove('hidden');
  const close = h('button', { class: 'link', on: { click: () => { page.compare = []; el.compare.classList.add('hidden'); if (page.state) renderHistoryTable(page.state.analysis); } } }, 'Close');
  replace(el.compareInfo,
    h('div', { class: 'detail-head' }, h('h3', { id: 'compare-title' }, 'Compare ', h('span', { class: 'task-id' }, a.taskId), ' (A) with ', h('span', { class: 'task-id' }, b.taskId), ' (B)'), close));
  const origin = Math.min(a.startTime, b.startTime);
  const length = (t: PerformanceMetrics): number => (t.timeline?.offsetSeconds[t.timeline.offsetSeconds.length - 1] ?? 0) * 1000;
  const c = charts.compare;
  c.setSeries([
    { label: 'A: GPU memory', colour: 0, axis: 'y1' },
    { label: 'B: GPU memory', colour: 1, axis: 'y1' },
    { label: 'A: GPU utilisation', colour: 0, dashed: true },
    { label: 'B: GPU utilisation', colour: 1, dashed: true },
  ]);
  c.setXRange(origin, origin + Math.max(1000, length(a), length(b)));
  c.setData(0, alignedSeries(a, origin, 'vram'));
  c.setData(1, alignedSeries(b, origin, 'vram'));
  c.setData(2, alignedSeries(a, origin, 'gpu'));
  c.setData(3, alignedSeries(b, origin, 'gpu'));
  c.update();
  const rows = compareRows(a, b);
  replace(el.compareTable,
    h('div', { class: 'table-wrap' }, h('table', { class: 'data compare-table', attrs: { 'aria-labelledby': 'compare-title' } },
      h('thead', null, h('tr', null,
        h('th', { attrs: { scope: 'col' } }, ''),
        h('th', { attrs: { scope: 'col' } }, 'A'),
        h('th', { attrs: { scope: 'col' } }, 'B'),
        h('th', { class: 'num', attrs: { scope: 'col' } }, 'B − A'))),
      h('tbody', null, ...rows.map((r) => h('tr', { class: r.differs ? 'differs' : '' },
        h('th', { class: 'text', attrs: { scope: 'row' } }, r.label),
        h('td', { class: 'text' }, r.a),
        h('td', { class: 'text' }, r.b),
        h('td', { class: 'num' }, r.delta)))))),
    h('p', { class: 'muted small' }, `${rows.filter((r) => r.differs).length} of ${rows.length} figures differ (highlighted). The chart starts both runs at the same point (times on its axis are those of the earlier run).`));
}
