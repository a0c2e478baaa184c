// Turns the engine's latest snapshot into the status bar's text, accessible label and tooltip
// Markdown. Pure (no `vscode` import) so plain-node unit tests cover every case; figures are
// formatted here, never computed.
import { progressStepsTotal, taskVramText, type PerformanceMetrics, type RunPrediction } from '../shared/metrics';
import { clockReasons, usedPercent, type GpuAvailability, type GpuReading, type SystemPerformanceSnapshot } from '../shared/snapshot';

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

interface StatusThresholds {
  vramPercent: number;
  ramPercent: number;
  temperatureCelsius: number;
}

const defaultStatusThresholds: StatusThresholds = { vramPercent: 90, ramPercent: 85, temperatureCelsius: 85 };

const UNKNOWN = 'N/A';

export function formatPercent(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? UNKNOWN : `${Math.round(value)}%`;
}

/** MiB to GB with one decimal, as `21.4`; unknown stays `N/A`. */
export function formatGb(mb: number | null | undefined): string {
  return mb === null || mb === undefined || !Number.isFinite(mb) ? UNKNOWN : (mb / 1024).toFixed(1);
}

/** A task's peak VRAM in GB with what it measures: `20.0 GB (the device's rise during the run)`; unknown is `N/A`, never 0. */
export function formatTaskVramGb(t: Pick<PerformanceMetrics, 'peakVramUsageMb' | 'vramScope'>): string {
  return taskVramText(t.peakVramUsageMb, t.vramScope, (mb) => `${formatGb(mb)} GB`, UNKNOWN);
}

function ramPercent(s: SystemPerformanceSnapshot): number | null {
  return usedPercent(s.ramUsageMb, s.ramTotalMb);
}

/**
 * The GPU the status bar shows: a configured index; with `auto`, the first GPU the active task
 * uses; else the busiest by utilisation, then by VRAM share.
 */
export function pickGpu(gpus: readonly GpuReading[], selection: 'auto' | 'busiest' | number = 'busiest', taskGpuIndices: readonly number[] = []): GpuReading | undefined {
  if (typeof selection === 'number') {
    const chosen = gpus.find((g) => g.index === selection);
    if (chosen) return chosen;
  } else if (selection === 'auto' && taskGpuIndices.length > 0) {
    const used = gpus.filter((g) => taskGpuIndices.includes(g.index));
    if (used.length > 0) return pickGpu(used, 'busiest');
  }
  let best: GpuReading | undefined;
  for (const g of gpus) {
    if (!best) { best = g; continue; }
    const a = g.utilizationPercent ?? -1;
    const b = best.utilizationPercent ?? -1;
    if (a > b || (a === b && (g.vramUsedPercent ?? -1) > (best.vramUsedPercent ?? -1))) best = g;
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
    // Half-way from the threshold to 100 % is an error: 90 % warns, 95 % is red.
    if (value >= limit + (100 - limit) / 2) level = 'error';
    else if (value >= limit && level !== 'error') level = 'warning';
  };
  for (const g of s.gpus) {
    bump(g.vramUsedPercent, t.vramPercent);
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
  activeTasks: readonly PerformanceMetrics[];
  /** Epoch ms, for "last sample … s ago" and elapsed times. */
  now: number;
  thresholds?: StatusThresholds;
  format?: 'standard' | 'compact' | 'detailed';
  gpuSelection?: 'auto' | 'busiest' | number;
  /** False when monitoring is stopped. */
  monitoring?: boolean;
  /** The pid of the process running an active task outside this window (`model-perf run`); absent or null: this window's. */
  elsewhereOwner?: (task: PerformanceMetrics) => number | null;
}

/** `1:05`, `12:00`, `1:02:03`. */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** A task id for the status bar: no codicon syntax, no control characters, at most 24 characters. */
export function shortTaskName(taskId: string): string {
  const clean = taskId.replace(/[\u0000-\u001f\u007f$]/g, '').trim();
  if (clean.length <= 24) return clean;
  // Tracked runs are named `script.py@14:05:03`: keep the time, shorten the script's name.
  const at = clean.lastIndexOf('@');
  const suffix = at > 0 ? clean.slice(at) : '';
  if (suffix.length >= 2 && suffix.length <= 12) return `${clean.slice(0, 23 - suffix.length)}…${suffix}`;
  return `${clean.slice(0, 23)}…`;
}

/**
 * A running task's progress as its run reports it: `12/50 ETA 0:14` (ETA from the reported rate),
 * or null when it reports none. The total is the current bar's, else the task's steps (progressStepsTotal).
 */
export function taskProgressText(task: PerformanceMetrics): { text: string; label: string } | null {
  const done = task.stepsCompleted;
  if (done === null || done === undefined) return null;
  const total = progressStepsTotal(task);
  if (total === null) return { text: `${done}`, label: `${done} steps done` };
  const rate = task.stepsPerSecond;
  const left = Math.max(0, total - done);
  const eta = rate !== null && rate !== undefined && rate > 0 && Number.isFinite(rate) ? formatElapsed((left / rate) * 1000) : null;
  const etaText = eta !== null && left > 0 ? ` ETA ${eta}` : '';
  const etaLabel = eta !== null && left > 0 ? `, about ${eta} left` : '';
  // A percent-only bar has no count: `33 %`, never `33/100`.
  if (task.progressIsPercent === true) return { text: `${done} %${etaText}`, label: `${done} percent done${etaLabel}` };
  return { text: `${done}/${total}${etaText}`, label: `step ${done} of ${total}${etaLabel}` };
}

/** The machine part of the item: the chosen GPU's figures, else CPU and RAM. */
function machineText(s: SystemPerformanceSnapshot, gpu: GpuReading | undefined, format: NonNullable<StatusContext['format']>): { text: string; label: string } {
  if (!gpu) {
    return {
      text: format === 'compact'
        ? `$(pulse) CPU ${formatPercent(s.cpuUsagePercent)} · RAM ${formatPercent(ramPercent(s))}`
        : `$(pulse) CPU ${formatPercent(s.cpuUsagePercent)} · RAM ${formatGb(s.ramUsageMb)}/${formatGb(s.ramTotalMb)} GB`,
      label: `CPU ${formatPercent(s.cpuUsagePercent)}, RAM ${formatGb(s.ramUsageMb)} of ${formatGb(s.ramTotalMb)} gigabytes`,
    };
  }
  const more = s.gpus.length > 1 ? ` (+${s.gpus.length - 1})` : '';
  let text: string;
  if (format === 'compact') {
    text = `$(pulse) ${formatPercent(gpu.utilizationPercent)} · ${formatPercent(gpu.vramUsedPercent)}${more}`;
  } else {
    text = `$(pulse) GPU ${formatPercent(gpu.utilizationPercent)} · ${formatGb(gpu.vramUsedMb)}/${formatGb(gpu.vramTotalMb)} GB${more}`;
    if (format === 'detailed') {
      text += ` · ${gpu.temperatureCelsius === null ? 'N/A' : `${Math.round(gpu.temperatureCelsius)}°C`} · ${gpu.powerDrawWatts === null ? 'N/A' : `${Math.round(gpu.powerDrawWatts)} W`}`;
    }
  }
  const label = `GPU ${gpu.index} utilisation ${formatPercent(gpu.utilizationPercent)}, VRAM ${formatGb(gpu.vramUsedMb)} of ${formatGb(gpu.vramTotalMb)} gigabytes${s.gpus.length > 1 ? `, ${s.gpus.length} GPUs` : ''}`;
  return { text, label };
}

/** The first active task's part of the item: name, elapsed time, progress, and how many more run. */
function taskText(tasks: readonly PerformanceMetrics[], now: number): { text: string; label: string } {
  const task = tasks[0];
  if (!task) return { text: '', label: '' };
  const more = tasks.length > 1 ? ` +${tasks.length - 1}` : '';
  const elapsed = formatElapsed(now - task.startTime);
  const progress = taskProgressText(task);
  return {
    text: ` · $(run) ${shortTaskName(task.taskId)} ${elapsed}${progress ? ` · ${progress.text}` : ''}${more}`,
    label: `, task ${shortTaskName(task.taskId)} running for ${elapsed}${progress ? `, ${progress.label}` : ''}${tasks.length > 1 ? `, ${tasks.length} active tasks` : ''}`,
  };
}

export function formatStatusBar(s: SystemPerformanceSnapshot | null, ctx: StatusContext): StatusBarView {
  if (ctx.monitoring === false) {
    return {
      text: '$(debug-pause) Model Perf',
      accessibleLabel: 'Model Performance Monitor: monitoring is stopped',
      tooltipMarkdown: 'Monitoring is stopped. [Start monitoring](command:modelPerf.startMonitoring)',
      severity: null,
    };
  }
  if (!s) {
    return {
      text: '$(pulse) Model Perf',
      accessibleLabel: 'Model Performance Monitor: waiting for the first sample',
      tooltipMarkdown: 'Waiting for the first sample…',
      severity: null,
    };
  }
  const gpu = pickGpu(s.gpus, ctx.gpuSelection ?? 'auto', ctx.activeTasks[0]?.gpuIndices ?? []);
  const machine = machineText(s, gpu, ctx.format ?? 'standard');
  const task = taskText(ctx.activeTasks, ctx.now);
  return {
    text: machine.text + task.text,
    accessibleLabel: (machine.label + task.label).replace(/%/g, ' percent'),
    tooltipMarkdown: formatTooltip(s, ctx),
    severity: severityOf(s, ctx.thresholds ?? defaultStatusThresholds),
  };
}

/** What the history predicted for a running task: `peak 34.2 GB · 2:10`, or a dash. */
export function predictionText(p: RunPrediction | null): string {
  if (!p || (p.peakVramMb === null && p.generationTimeSeconds === null)) return '–';
  const parts: string[] = [];
  if (p.peakVramMb !== null) parts.push(`peak ${formatGb(p.peakVramMb)} GB${p.exceedsGpuMemory ? ' (does not fit)' : ''}`);
  if (p.generationTimeSeconds !== null) parts.push(formatElapsed(p.generationTimeSeconds * 1000));
  return parts.join(' · ');
}

/**
 * The sentence for a run predicted not to fit its GPU, with the evidence; null when it is predicted
 * to fit or nothing is predicted. The notification and the tooltip say the same.
 */
function predictionWarning(t: PerformanceMetrics): string | null {
  const p = t.prediction;
  if (!p || !p.exceedsGpuMemory || p.peakVramMb === null || p.gpuMemoryMb === null) return null;
  return `${t.taskId} (${t.modelType} at ${t.resolution}) is predicted to need ${formatGb(p.peakVramMb)} GB of GPU memory at its peak, more than the ${formatGb(p.gpuMemoryMb)} GB GPU it is compared with (fitted on ${p.basedOnTaskCount} earlier run${p.basedOnTaskCount === 1 ? '' : 's'} of ${t.modelType}).`;
}

/**
 * The running tasks predicted not to fit that have not been warned about yet (`warned` holds
 * `taskId@startTime` keys and is updated); each run is warned about once.
 */
export function tasksToWarn(active: readonly PerformanceMetrics[], warned: Set<string>): { task: PerformanceMetrics; message: string }[] {
  const out: { task: PerformanceMetrics; message: string }[] = [];
  for (const t of active) {
    const key = `${t.taskId}@${t.startTime}`;
    const message = predictionWarning(t);
    if (message === null || warned.has(key)) continue;
    warned.add(key);
    out.push({ task: t, message });
  }
  // Forget runs that ended: the set stays as small as the active list.
  const live = new Set(active.map((t) => `${t.taskId}@${t.startTime}`));
  for (const k of warned) if (!live.has(k)) warned.delete(k);
  return out;
}

/** Why a GPU runs below its clocks now (thermal or power reasons), with its SM clock; null when nothing holds it. */
function throttleText(g: GpuReading): string | null {
  const reasons = clockReasons(g.clockEventReasons);
  if (reasons.length === 0) return null;
  const clock = g.smClockMhz !== null && g.smClockMaxMhz !== null ? ` (SM ${Math.round(g.smClockMhz)} of ${Math.round(g.smClockMaxMhz)} MHz)` : '';
  return `held below its clocks: ${reasons.join(', ')}${clock}`;
}

function formatTooltip(s: SystemPerformanceSnapshot, ctx: StatusContext): string {
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
  if (ctx.gpu?.note) lines.push(`$(warning) ${escapeMarkdown(ctx.gpu.note)}`, '');
  lines.push(
    `CPU ${formatPercent(s.cpuUsagePercent)} · RAM ${formatGb(s.ramUsageMb)}/${formatGb(s.ramTotalMb)} GB (${formatPercent(ramPercent(s))}) · Disk ${formatPercent(s.diskUsagePercent)}`,
    '',
  );
  for (const g of s.gpus) {
    const held = throttleText(g);
    if (held) lines.push(`$(flame) GPU ${g.index} ${held}`, '');
  }
  if (ctx.activeTasks.length > 0) {
    lines.push('', '| Task | Model | Elapsed | Progress | Peak VRAM | Predicted |', '|---|---|---:|---:|---:|---|');
    for (const t of ctx.activeTasks) {
      const owner = ctx.elsewhereOwner?.(t) ?? null;
      const from = owner === null ? '' : ` ${escapeMarkdown(`(outside this window: model-perf run or another window, pid ${owner})`)}`;
      lines.push(`| ${escapeMarkdown(t.taskId)}${from} | ${escapeMarkdown(t.modelType)} | ${formatElapsed(ctx.now - t.startTime)} | ${escapeMarkdown(taskProgressText(t)?.text ?? UNKNOWN)} | ${escapeMarkdown(formatTaskVramGb(t))} | ${predictionText(t.prediction ?? null)} |`);
    }
    for (const t of ctx.activeTasks) {
      const warning = predictionWarning(t);
      if (warning) lines.push('', `$(warning) ${escapeMarkdown(warning)}`);
    }
  }
  lines.push(
    '',
    `Active tasks: ${ctx.activeTasks.length} · last sample ${Math.max(0, Math.round((ctx.now - s.timestamp) / 1000))} s ago`,
    '',
    '[Dashboard](command:modelPerf.openDashboard) · [Export](command:modelPerf.exportMetrics) · [Current status](command:modelPerf.showCurrentStatus) · [Log](command:modelPerf.showLog)',
  );
  return lines.join('\n');
}
