// The selected task's detail: its figures, its timeline chart with phase bands, and its phases table.
import type { TaskDetail } from '../src/shared/protocol';
import { h, replace, setText } from './dom';
import { renderHistoryTable } from './historySection';
import { renderPostMortem } from './postMortem';
import { keptTimeline } from './runViewModel';
import { charts } from './liveCharts';
import { el, fact } from './layout';
import { hostNow, page } from './page';
import { decimate, formatCount, formatDateTime, formatMb, formatPercent, formatSeconds, formatTaskVram, NA, phaseBands, phaseRows, STATUS_LABELS, type PhaseRow } from './viewModel';

export function renderDetail(taskId: string, startTime: number, detail: TaskDetail | null): void {
  if (!page.selected || page.selected.taskId !== taskId || page.selected.startTime !== startTime) return;
  el.detail.classList.remove('hidden');
  if (!detail) {
    replace(el.detailInfo, h('p', { class: 'muted' }, 'This task is no longer in the history.'));
    setText(el.detailNote, '');
    renderPhases([]);
    renderPostMortem(null);
    return;
  }
  const t = detail.task;
  const tl = detail.timeline;
  const close = h('button', { class: 'link', on: { click: () => { page.selected = null; el.detail.classList.add('hidden'); if (page.state) renderHistoryTable(page.state.analysis); } } }, 'Close');
  // The machine's samples of an old run are gone; the task's own kept timeline still draws it.
  const kept = tl.resolution === 'none' ? keptTimeline(t) : null;
  const note = kept
    ? "From the task's own kept timeline: the whole run in at most 128 points, its last minute at full rate."
    : tl.resolution === 'none'
    ? 'No samples of this period are kept any more (the engine keeps about an hour at full rate and a week of per-minute means).'
    : tl.resolution === 'minute' ? 'Per-minute means of the machine while the task ran.' : 'Every sample of the machine while the task ran.';
  replace(el.detailInfo,
    h('div', { class: 'detail-head' }, h('h3', null, 'Task ', h('span', { class: 'task-id' }, t.taskId)), close),
    h('p', { class: 'muted small' }, `${t.modelType} · ${t.resolution} · ${formatCount(t.steps, 'step')} · ${STATUS_LABELS[t.status]}${t.errorCategory ? ` (${t.errorCategory})` : ''} · started ${formatDateTime(t.startTime)}`),
    h('dl', { class: 'facts wide' },
      fact('Generation time', formatSeconds(t.generationTimeSeconds)),
      fact('Model load', formatSeconds(t.modelLoadTimeSeconds)),
      fact('Peak VRAM', formatTaskVram(t.peakVramUsageMb, t.vramScope, 'long', t.vramTotalMb)),
      fact('Mean VRAM', formatTaskVram(t.averageVramUsageMb, t.vramScope)),
      fact('Mean / peak GPU', `${formatPercent(t.averageGpuUtilizationPercent)} / ${formatPercent(t.peakGpuUtilizationPercent)}`),
      fact('Mean CPU', `${formatPercent(t.averageCpuUsagePercent)}${t.cpuScope === 'processTree' ? ' (its processes, % of one core)' : ''}`),
      fact('Peak RAM', formatMb(t.peakRamUsageMb)),
      fact('GPUs', t.gpuIndices.length ? t.gpuIndices.join(', ') : NA),
      fact('Samples', String(t.sampleCount))));
  setText(el.detailNote, note);
  const xMin = t.startTime;
  const xMax = t.endTime ?? hostNow();
  charts.detail.setSeries([{ label: 'VRAM', colour: 3, axis: 'y1' }, { label: 'GPU utilisation', colour: 0 }, { label: kept ? 'CPU (its processes, % of one core)' : 'CPU', colour: 1, dashed: true }]);
  charts.detail.setXRange(xMin, xMax);
  const w = charts.detail.plotWidth;
  charts.detail.setData(0, decimate(kept?.xs ?? tl.timestamps, kept?.vramMb ?? tl.vramUsedMb, xMin, xMax, w));
  charts.detail.setData(1, decimate(kept?.xs ?? tl.timestamps, kept?.gpuPercent ?? tl.gpuUtilizationPercent, xMin, xMax, w));
  charts.detail.setData(2, decimate(kept?.xs ?? tl.timestamps, kept?.cpuPercent ?? tl.cpuUsagePercent, xMin, xMax, w));
  charts.detail.setPhases(phaseBands(t.phases, xMin, xMax));
  charts.detail.update();
  renderPhases(phaseRows(t.phases, t.startTime, t.endTime));
  renderPostMortem(t);
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
