// The "Now" and "Active tasks" sections and the empty state: the status line, the live tiles, the
// GPU note, each running task's figures and progress.
import type { ActiveTaskInfo } from '../src/shared/protocol';
import { clockReasons, usedPercent, type GpuAvailability } from '../src/shared/snapshot';
import { h, replace, setText } from './dom';
import { el, gpuCards, tile } from './layout';
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
      // A GPU held below its clocks for heat or power says why (NVIDIA's clock event reasons).
      sub: `VRAM ${formatMbOf(g.vramUsedMb, g.vramTotalMb)} (${formatPercent(g.vramUsedPercent)})${isKnown(g.temperatureCelsius) ? ` · ${Math.round(g.temperatureCelsius)} °C` : ''}${clockReasons(g.clockEventReasons).length ? ` · held by ${clockReasons(g.clockEventReasons).join(', ')}` : ''}`,
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

/** A running task's card, kept between ticks: a tick changes only its texts and its progress. */
interface ActiveCard {
  key: string;
  node: HTMLElement;
  update(a: ActiveTaskInfo, now: number): void;
}

let activeCards: ActiveCard[] = [];
let noTaskShown = false;

const cardKey = (a: ActiveTaskInfo): string => `${a.task.taskId}\u0000${a.task.startTime}`;

function activeCard(a: ActiveTaskInfo): ActiveCard {
  const id = h('strong', { class: 'task-id' });
  const what = h('span', { class: 'muted' });
  // A run of another process (a `model-perf run`, another window) shown here through its marker.
  const elsewhere = h('span', { class: 'muted small elsewhere' });
  const values = [h('dd'), h('dd'), h('dd'), h('dd')] as const;
  const facts = h('dl', { class: 'facts' });
  ['Elapsed', 'VRAM now', 'Peak VRAM', 'Mean GPU'].forEach((label, i) => facts.append(h('dt', null, label), values[i]));
  const bar = document.createElement('vscode-progress-bar');
  bar.max = 100;
  const barText = h('span', { class: 'muted small' });
  const known = h('div', { class: 'progress' }, bar, barText);
  const unknown = h('span', { class: 'muted small' }, 'progress unknown');
  const node = h('div', { class: 'active-task' }, h('div', { class: 'active-head' }, id, what, elsewhere), facts, known, unknown);
  return {
    key: cardKey(a),
    node,
    update(info, now) {
      const t = info.task;
      setText(id, t.taskId);
      setText(what, ` ${[t.modelType, t.resolution, formatCount(t.steps, 'step')].filter((p) => p !== '').join(' · ')}`);
      setText(elsewhere, isKnown(info.elsewherePid) ? ` · outside this window (model-perf run or another window, pid ${info.elsewherePid})` : '');
      setText(values[0], formatElapsed(t.startTime, now));
      setText(values[1], isKnown(info.currentVramMb) ? `${formatMb(info.currentVramMb)} (device)` : formatMb(info.currentVramMb));
      setText(values[2], formatTaskVram(t.peakVramUsageMb, t.vramScope));
      setText(values[3], formatPercent(t.averageGpuUtilizationPercent));
      const progress = info.progressPercent;
      const hasProgress = isKnown(progress);
      known.classList.toggle('hidden', !hasProgress);
      unknown.classList.toggle('hidden', hasProgress);
      if (hasProgress) {
        const value = Math.max(0, Math.min(100, progress));
        if (bar.value !== value) bar.value = value;
        const label = `Progress of ${t.taskId}`;
        if (bar.ariaLabel !== label) bar.ariaLabel = label;
        setText(barText, formatPercent(progress));
      }
    },
  };
}

/** The running tasks: cards are built when the set of tasks changes, and only updated on a tick. */
export function renderActive(tasks: ActiveTaskInfo[]): void {
  if (tasks.length === 0) {
    if (noTaskShown) return;
    noTaskShown = true;
    activeCards = [];
    replace(el.active, h('p', { class: 'muted' }, 'No task is running.'));
    return;
  }
  const now = hostNow();
  if (noTaskShown || tasks.length !== activeCards.length || tasks.some((a, i) => activeCards[i]?.key !== cardKey(a))) {
    noTaskShown = false;
    activeCards = tasks.map(activeCard);
    replace(el.active, ...activeCards.map((c) => c.node));
  }
  tasks.forEach((a, i) => activeCards[i]?.update(a, now));
}

export function renderEmpty(): void {
  if (!page.state) return;
  const isNew = page.state.totalTaskCount === 0 && page.state.activeTasks.length === 0;
  el.empty.classList.toggle('hidden', !isNew);
  el.analysisSection.classList.toggle('hidden', isNew);
  el.findingsCard.classList.toggle('hidden', isNew);
}
