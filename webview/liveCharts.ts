// The page's charts, made once after the skeleton, and the live ones' drawing: the columns held are
// trimmed to the range, a new snapshot is appended, and a tick only updates data in place.
import { LIVE_RANGE_MS, type LiveSeries } from '../src/shared/protocol';
import type { SystemPerformanceSnapshot } from '../src/shared/snapshot';
import { LineChart, type SeriesSpec } from './charts';
import { lowerBound } from './columnExtremes';
import { LiveLineChart } from './lineCanvas';
import { canvases } from './layout';
import { page } from './page';
import { formatMb, formatPercent, formatSeconds, isKnown } from './viewModel';

function percentAxis(): { min: number; max: number; format: (v: number) => string; yMax: number; yFormat: (v: number) => string } {
  const format = (v: number): string => `${v}%`;
  return { min: 0, max: 100, format, yMax: 100, yFormat: format };
}

export function makeCharts() {
  return {
  // The three live charts are drawn straight onto their canvases (lineCanvas.ts): they redraw every second.
  gpu: new LiveLineChart(canvases.gpu, { ...percentAxis(), valueText: (_i, y) => formatPercent(y), ariaLabel: 'GPU utilisation over time, per GPU' }, page.theme),
  vram: new LiveLineChart(canvases.vram, { ...percentAxis(), valueText: (i, y) => vramTooltip(i, y), ariaLabel: 'VRAM used over time, percent of each GPU' }, page.theme),
  cpuRam: new LiveLineChart(canvases.cpuRam, {
    ...percentAxis(),
    valueText: (i, y) => (i === 0 ? formatPercent(y) : `${formatPercent(y)} (${formatMb(ramTotal() === null ? null : ((ramTotal() as number) * y) / 100)})`),
    ariaLabel: 'CPU use and RAM used over time, percent',
  }, page.theme),
  trendTime: new LineChart(canvases.trendTime, { y: { min: 0, format: (v) => formatSeconds(v) }, valueText: (_i, y) => formatSeconds(y), showPoints: true, ariaLabel: 'Mean generation time per bucket of tasks' }, page.theme),
  trendSuccess: new LineChart(canvases.trendSuccess, { y: percentAxis(), valueText: (_i, y) => formatPercent(y, 1), showPoints: true, ariaLabel: 'Success rate per bucket of tasks' }, page.theme),
  trendVram: new LineChart(canvases.trendVram, { y: { min: 0, format: (v) => formatMb(v) }, valueText: (_i, y) => formatMb(y), showPoints: true, ariaLabel: 'Mean peak VRAM per bucket of tasks' }, page.theme),
  trendCpu: new LineChart(canvases.trendCpu, { y: { min: 0, format: (v) => `${v}%` }, valueText: (_i, y) => formatPercent(y), showPoints: true, ariaLabel: 'Mean CPU use per bucket of tasks' }, page.theme),
  detail: new LineChart(canvases.detail, {
    y: percentAxis(), y1: { min: 0, format: (v) => formatMb(v) },
    valueText: (i, y) => (i === 0 ? formatMb(y) : formatPercent(y)), ariaLabel: 'The selected task’s VRAM, GPU and CPU over its run, with its phases',
    phaseBands: true,
  }, page.theme),
  postMortem: new LineChart(canvases.postMortem, {
    y: percentAxis(), y1: { min: 0, format: (v) => formatMb(v) },
    valueText: (i, y) => (i < 2 ? formatMb(y) : formatPercent(y)), ariaLabel: 'The failed task’s last minute: VRAM, GPU utilisation and CPU, with its phases',
    phaseBands: true,
  }, page.theme),
  compare: new LineChart(canvases.compare, {
    y: percentAxis(), y1: { min: 0, format: (v) => formatMb(v) },
    valueText: (i, y) => (i < 2 ? formatMb(y) : formatPercent(y)), ariaLabel: 'Two tasks’ VRAM and GPU utilisation, aligned at their starts',
  }, page.theme),
  };
}

/** Built after the skeleton, so every canvas is in the page when its chart is made. */
export const charts = {} as ReturnType<typeof makeCharts>;

function ramTotal(): number | null {
  return page.state?.series.ramTotalMb ?? page.state?.latest?.ramTotalMb ?? null;
}

function vramTooltip(i: number, y: number): string {
  const g = page.state?.series.gpus[i];
  return g && isKnown(g.vramTotalMb) ? `${formatPercent(y)} (${formatMb((g.vramTotalMb * y) / 100)} of ${formatMb(g.vramTotalMb)})` : formatPercent(y);
}

function gpuLabel(g: { index: number; name: string; vramTotalMb: number | null }): string {
  return g.index < 0 ? g.name : `GPU ${g.index} · ${g.name}`;
}

/** Redraws the three live charts from the columns held; the only work a live tick does. */
export function drawLiveCharts(): void {
  if (!page.state) return;
  const s = page.state.series;
  const last = s.timestamps[s.timestamps.length - 1];
  const xMax = Math.max(last ?? 0, page.state.now);
  const xMin = xMax - LIVE_RANGE_MS[s.range];
  trimSeries(s, xMin);
  const t = page.state.thresholds;
  const gpuSpecs: SeriesSpec[] = s.gpus.map((g, i) => ({ label: gpuLabel(g), colour: i }));
  charts.gpu.setSeries(gpuSpecs);
  charts.vram.setSeries(s.gpus.map((g, i) => ({ label: `${gpuLabel(g)} (${formatMb(g.vramTotalMb)})`, colour: i })));
  charts.cpuRam.setSeries([{ label: 'CPU (all cores)', colour: 0 }, { label: `RAM (${formatMb(s.ramTotalMb)} total)`, colour: 2 }]);
  charts.vram.setThresholds([{ value: t.vramPercent, label: `VRAM threshold ${t.vramPercent}%` }]);
  charts.cpuRam.setThresholds([{ value: t.cpuPercent, label: `CPU threshold ${t.cpuPercent}%` }, { value: t.ramPercent, label: `RAM threshold ${t.ramPercent}%`, align: 'left' }]);
  const ram = s.ramTotalMb;
  charts.gpu.setData(s.timestamps, s.gpus.map((g) => ({ values: g.utilizationPercent })), xMin, xMax);
  charts.vram.setData(s.timestamps, s.gpus.map((g) => ({ values: g.vramUsedPercent })), xMin, xMax);
  charts.cpuRam.setData(s.timestamps, [{ values: s.cpuUsagePercent }, { values: s.ramUsageMb, scale: isKnown(ram) && ram > 0 ? 100 / ram : Number.NaN }], xMin, xMax);
}

/** Rows older than the window are dropped in batches of at least this many (or an eighth of the rows held). */
const TRIM_BATCH = 64;

/**
 * Drops rows older than the window (keeping one, so the line reaches the left edge), in batches:
 * a splice moves every row held, so dropping the one row a tick leaves would cost the hour held.
 * The charts skip the few older rows kept meanwhile.
 */
function trimSeries(s: LiveSeries, xMin: number): void {
  const drop = lowerBound(s.timestamps, xMin) - 1;
  if (drop < Math.max(TRIM_BATCH, s.timestamps.length >> 3)) return;
  s.timestamps.splice(0, drop);
  s.cpuUsagePercent.splice(0, drop);
  s.ramUsageMb.splice(0, drop);
  for (const g of s.gpus) {
    g.utilizationPercent.splice(0, drop);
    g.vramUsedPercent.splice(0, drop);
  }
}

/** Appends one snapshot to full-rate columns (a GPU seen for the first time gets a column of gaps). */
export function appendSnapshot(s: LiveSeries, snap: SystemPerformanceSnapshot): void {
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
