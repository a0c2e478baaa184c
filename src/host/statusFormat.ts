// Turns the engine's latest snapshot into the status bar's text, accessible label and tooltip
// Markdown. Pure (no `vscode` import) so plain-node unit tests cover every case; figures are
// formatted here, never computed.
import type { GpuAvailability, GpuReading, SystemPerformanceSnapshot } from '../shared/snapshot';

export interface StatusBarView {
  /** Text with codicons, e.g. `$(pulse) GPU 87% · 21.4/24.0 GB`. */
  text: string;
  /** What a screen reader says: words, no icons or symbols. */
  accessibleLabel: string;
  /** Markdown for the tooltip. */
  tooltipMarkdown: string;
  /** `warning` or `error` when a figure crosses its threshold, else null. */
  severity: 'warning' | 'error' | null;
}

export interface StatusThresholds {
  vramPercent: number;
  ramPercent: number;
  temperatureCelsius: number;
}

export const defaultStatusThresholds: StatusThresholds = { vramPercent: 90, ramPercent: 85, temperatureCelsius: 85 };

const UNKNOWN = 'N/A';

export function formatPercent(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? UNKNOWN : `${Math.round(value)}%`;
}

/** MiB to GB with one decimal, as `21.4`; unknown stays `N/A`. */
export function formatGb(mb: number | null | undefined): string {
  return mb === null || mb === undefined || !Number.isFinite(mb) ? UNKNOWN : (mb / 1024).toFixed(1);
}

function ratioPercent(used: number | null, total: number | null): number | null {
  return used !== null && total !== null && total > 0 ? (used / total) * 100 : null;
}

function ramPercent(s: SystemPerformanceSnapshot): number | null {
  return ratioPercent(s.ramUsageMb, s.ramTotalMb);
}

/** The GPU the status bar shows: the busiest by utilisation, else by VRAM use. */
export function pickGpu(gpus: readonly GpuReading[]): GpuReading | undefined {
  let best: GpuReading | undefined;
  for (const g of gpus) {
    if (!best) { best = g; continue; }
    const a = g.utilizationPercent ?? -1;
    const b = best.utilizationPercent ?? -1;
    if (a > b || (a === b && (ratioPercent(g.vramUsedMb, g.vramTotalMb) ?? -1) > (ratioPercent(best.vramUsedMb, best.vramTotalMb) ?? -1))) best = g;
  }
  return best;
}

/** Escapes text for Markdown so names from tools or users cannot inject links or HTML. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>&~]/g, (c) => `\\${c}`);
}

function severityOf(s: SystemPerformanceSnapshot, t: StatusThresholds): StatusBarView['severity'] {
  let level: StatusBarView['severity'] = null;
  const bump = (value: number | null, limit: number) => {
    if (value === null) return;
    if (value >= Math.min(100, limit + (100 - limit) / 2) ) level = 'error';
    else if (value >= limit && level !== 'error') level = 'warning';
  };
  for (const g of s.gpus) {
    bump(ratioPercent(g.vramUsedMb, g.vramTotalMb), t.vramPercent);
    if (g.temperatureCelsius !== null) {
      if (g.temperatureCelsius >= t.temperatureCelsius + 5) level = 'error';
      else if (g.temperatureCelsius >= t.temperatureCelsius && level !== 'error') level = 'warning';
    }
  }
  bump(ramPercent(s), t.ramPercent);
  return level;
}

export interface StatusContext {
  gpu: GpuAvailability | null;
  activeTaskCount: number;
  /** Epoch ms, for "last sample … s ago". */
  now: number;
  thresholds?: StatusThresholds;
}

export function formatStatusBar(s: SystemPerformanceSnapshot | null, ctx: StatusContext): StatusBarView {
  if (!s) {
    return {
      text: '$(pulse) Model Perf',
      accessibleLabel: 'Model Performance Monitor: waiting for the first sample',
      tooltipMarkdown: 'Waiting for the first sample…',
      severity: null,
    };
  }
  const gpu = pickGpu(s.gpus);
  let text: string;
  let label: string;
  if (gpu) {
    const more = s.gpus.length > 1 ? ` (+${s.gpus.length - 1})` : '';
    text = `$(pulse) GPU ${formatPercent(gpu.utilizationPercent)} · ${formatGb(gpu.vramUsedMb)}/${formatGb(gpu.vramTotalMb)} GB${more}`;
    label = `GPU ${gpu.index} utilisation ${formatPercent(gpu.utilizationPercent)}, VRAM ${formatGb(gpu.vramUsedMb)} of ${formatGb(gpu.vramTotalMb)} gigabytes${s.gpus.length > 1 ? `, ${s.gpus.length} GPUs` : ''}`;
  } else {
    text = `$(pulse) CPU ${formatPercent(s.cpuUsagePercent)} · RAM ${formatGb(s.ramUsageMb)}/${formatGb(s.ramTotalMb)} GB`;
    label = `CPU ${formatPercent(s.cpuUsagePercent)}, RAM ${formatGb(s.ramUsageMb)} of ${formatGb(s.ramTotalMb)} gigabytes`;
  }
  if (ctx.activeTaskCount > 0) {
    text += ` · $(run) ${ctx.activeTaskCount}`;
    label += `, ${ctx.activeTaskCount} active task${ctx.activeTaskCount === 1 ? '' : 's'}`;
  }
  return {
    text,
    accessibleLabel: label.replace(/%/g, ' percent'),
    tooltipMarkdown: formatTooltip(s, ctx),
    severity: severityOf(s, ctx.thresholds ?? defaultStatusThresholds),
  };
}

export function formatTooltip(s: SystemPerformanceSnapshot, ctx: StatusContext): string {
  const lines: string[] = ['**Model Performance Monitor**', ''];
  if (s.gpus.length > 0) {
    lines.push('| GPU | Util | VRAM | Temp | Power |', '|---|---:|---:|---:|---:|');
    for (const g of s.gpus) {
      const temp = g.temperatureCelsius === null ? UNKNOWN : `${Math.round(g.temperatureCelsius)} °C`;
      const power = g.powerDrawWatts === null ? UNKNOWN : `${Math.round(g.powerDrawWatts)} W`;
      lines.push(`| ${g.index}: ${escapeMarkdown(g.name)} | ${formatPercent(g.utilizationPercent)} | ${formatGb(g.vramUsedMb)}/${formatGb(g.vramTotalMb)} GB | ${temp} | ${power} |`);
    }
    lines.push('');
  } else if (ctx.gpu && !ctx.gpu.available) {
    lines.push(`No GPU figures: ${escapeMarkdown(ctx.gpu.reason ?? 'no GPU found')}`, '');
  }
  lines.push(
    `CPU ${formatPercent(s.cpuUsagePercent)} · RAM ${formatGb(s.ramUsageMb)}/${formatGb(s.ramTotalMb)} GB (${formatPercent(ramPercent(s))}) · Disk ${formatPercent(s.diskUsagePercent)}`,
    '',
    `Active tasks: ${ctx.activeTaskCount} · last sample ${Math.max(0, Math.round((ctx.now - s.timestamp) / 1000))} s ago`,
    '',
    '[Show current status](command:modelPerf.showCurrentStatus) · [Show log](command:modelPerf.showLog)',
  );
  return lines.join('\n');
}
