// The "Now" and "Active tasks" sections and the empty state: the status line, the live tiles, the
// GPU note, each running task's figures and progress.
import type { ActiveTaskInfo } from '../src/shared/protocol';
import { usedPercent, type GpuAvailability } from '../src/shared/snapshot';
import { h, replace, setText } from './dom';
import { el, fact, gpuCards, tile } from './layout';
import { hostNow, page } from './page';
import { formatCount, formatElapsed, formatMb, formatMbOf, formatPercent, formatRelative, formatTaskVram, isKnown, RANGE_LABELS } from './viewModel';

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

export function renderStatus(): void {
  if (!page.state) return;
  const gpu = page.state.gpuAvailability;
  const parts = [page.state.monitoring ? 'Monitoring' : 'Monitoring is stopped', gpu.available ? `GPU figures from ${gpu.provider}` : 'No GPU figures'];
  if (page.state.latest) parts.push(`last sample ${formatRelative(page.state.latest.timestamp, hostNow())}`);
  setText(el.status, parts.join(' · '));
}

export function renderNow(): void {
  if (!page.state) return;
  const s = page.state.latest;
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
  renderGpuAvailability(page.state.gpuAvailability);
  const minute = page.state.series.resolution === 'minute';
  setText(el.seriesNote, minute
    ? 'Last 24 hours as per-minute means (one point per minute); gaps are minutes with no sample.'
    : `Last ${RANGE_LABELS[page.state.series.range]}, one point per sample; gaps are samples where a figure was unknown.`);
}

export function renderGpuAvailability(a: GpuAvailability): void {
  const noGpu = !a.available && (page.state?.series.gpus.length ?? 0) === 0;
  for (const c of gpuCards) c.classList.toggle('hidden', noGpu);
  el.gpuNote.classList.toggle('hidden', !noGpu);
  setText(el.gpuNote, noGpu ? `No GPU figures: ${(a.reason ?? 'no GPU was found').replace(/[.\s]+$/, '')}.` : '');
}

export function renderActive(tasks: ActiveTaskInfo[]): void {
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
      h('div', { class: 'active-head' }, h('strong', { class: 'task-id' }, t.taskId), h('span', { class: 'muted' }, ` ${[t.modelType, t.resolution, formatCount(t.steps, 'step')].filter((p) => p !== '').join(' · ')}`),
        isKnown(a.elsewherePid) ? h('span', { class: 'muted small elsewhere' }, ` · outside this window (model-perf run or another window, pid ${a.elsewherePid})`) : null),
      h('dl', { class: 'facts' },
        fact('Elapsed', formatElapsed(t.startTime, now)),
        fact('VRAM now', isKnown(a.currentVramMb) ? `${formatMb(a.currentVramMb)} (device)` : formatMb(a.currentVramMb)),
        fact('Peak VRAM', formatTaskVram(t.peakVramUsageMb, t.vramScope)),
        fact('Mean GPU', formatPercent(t.averageGpuUtilizationPercent))),
      progress);
  }));
}

export function renderEmpty(): void {
  if (!page.state) return;
  const isNew = page.state.totalTaskCount === 0 && page.state.activeTasks.length === 0;
  el.empty.classList.toggle('hidden', !isNew);
  el.analysisSection.classList.toggle('hidden', isNew);
}
