// Text the CLI prints: the status block, the watch table and line, the run summary and the analysis
// report. Pure functions of the engine's figures; unknown figures print as "n/a", never as 0.
import type { CurrentSystemStatus } from '../core/engine/monitorTypes';
import { taskVramText, type Finding, type FindingEvidence, type PerformanceAnalysis, type PerformanceMetrics } from '../shared/metrics';
import { usedPercent, type GpuAvailability, type GpuReading, type SystemPerformanceSnapshot } from '../shared/snapshot';
import { safeErrorText, safeLabel, safeTaskId } from '../shared/text';

const NA = 'n/a';

/** A number with thousands separators and `digits` decimals, or n/a. */
function num(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return NA;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function pct(value: number | null | undefined, digits = 0): string {
  const n = num(value, digits);
  return n === NA ? NA : `${n} %`;
}

function mib(value: number | null | undefined): string {
  const n = num(value);
  return n === NA ? NA : `${n} MiB`;
}

function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return NA;
  if (value < 60) return `${num(value, 1)} s`;
  const total = Math.round(value);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h} h ${m} min ${s} s` : `${m} min ${s} s`;
}

/** `used / total MiB (share)`; the share is the engine's figure, shown only when known. */
function usedOfTotal(used: number | null, total: number | null, sharePercent: number | null): string {
  if (used === null && total === null) return NA;
  const share = sharePercent !== null ? ` (${pct(sharePercent)})` : '';
  return `${num(used)} / ${num(total)} MiB${share}`;
}

function localTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Lays out rows as columns; the first row is the header. Right-aligns columns listed in `right`. */
function table(rows: readonly (readonly string[])[], right: ReadonlySet<number> = new Set()): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function gpuRows(gpus: readonly GpuReading[]): string[] {
  const header = ['GPU', 'name', 'util', 'mem util', 'VRAM used / total', 'temp', 'power', 'SM clock', 'state'];
  const rows = gpus.map((g) => [
    String(g.index),
    g.name + (g.mig ? ' (MIG)' : ''),
    pct(g.utilizationPercent),
    pct(g.memoryUtilizationPercent),
    usedOfTotal(g.vramUsedMb, g.vramTotalMb, g.vramUsedPercent),
    g.temperatureCelsius === null ? NA : `${num(g.temperatureCelsius)} C`,
    g.powerDrawWatts === null ? NA : `${num(g.powerDrawWatts)}${g.powerLimitWatts === null ? '' : ` / ${num(g.powerLimitWatts)}`} W`,
    g.smClockMhz === null ? NA : `${num(g.smClockMhz)} MHz`,
    g.performanceState ?? NA,
  ]);
  return table([header, ...rows], new Set([0, 2, 3]));
}

function gpuHeadline(availability: GpuAvailability, count: number): string {
  if (!availability.available) return `GPU   none: ${availability.reason ?? 'no GPU found'}`;
  return `GPU   ${count} ${availability.provider} GPU${count === 1 ? '' : 's'}`;
}

/** The machine block shared by `status` and `watch`. */
export function machineLines(snapshot: SystemPerformanceSnapshot, availability: GpuAvailability): string[] {
  const lines = [
    `CPU   ${pct(snapshot.cpuUsagePercent, 1)}`,
    `RAM   ${usedOfTotal(snapshot.ramUsageMb, snapshot.ramTotalMb, usedPercent(snapshot.ramUsageMb, snapshot.ramTotalMb))}`,
    `Disk  ${pct(snapshot.diskUsagePercent)}`,
    gpuHeadline(availability, snapshot.gpus.length),
  ];
  if (snapshot.gpus.length > 0) lines.push(...gpuRows(snapshot.gpus).map((l) => `  ${l}`));
  return lines;
}

export function statusText(status: CurrentSystemStatus, host: string): string {
  if ('error' in status) return `${status.error}\n${gpuHeadline(status.gpuAvailability, 0)}\n`;
  return [`${host}  ${localTime(status.timestamp)}`, ...machineLines(status, status.gpuAvailability), ''].join('\n');
}

/** What `watch` draws each sample on a terminal. */
export function watchScreen(snapshot: SystemPerformanceSnapshot, availability: GpuAvailability, host: string, intervalMs: number): string {
  return [`model-perf watch  ${host}  ${localTime(snapshot.timestamp)}  every ${intervalMs / 1000} s  (Ctrl-C to quit)`, '', ...machineLines(snapshot, availability), ''].join('\n');
}

/** One line per sample, for a pipe or a log file. */
export function watchLine(snapshot: SystemPerformanceSnapshot): string {
  const parts = [
    new Date(snapshot.timestamp).toISOString(),
    `cpu=${pct(snapshot.cpuUsagePercent, 1).replace(' ', '')}`,
    `ram=${snapshot.ramUsageMb === null ? NA : Math.round(snapshot.ramUsageMb)}/${snapshot.ramTotalMb === null ? NA : Math.round(snapshot.ramTotalMb)}MiB`,
    `disk=${pct(snapshot.diskUsagePercent).replace(' ', '')}`,
  ];
  for (const g of snapshot.gpus) {
    // Plain digits (no thousands commas) so the commas separate fields.
    const plain = (v: number | null) => (v === null ? NA : String(Math.round(v)));
    parts.push(`gpu${g.index}=${plain(g.utilizationPercent)}%,${plain(g.vramUsedMb)}/${plain(g.vramTotalMb)}MiB,${plain(g.temperatureCelsius)}C`);
  }
  return parts.join(' ');
}

function scopeNote(scope: PerformanceMetrics['ramScope']): string {
  if (scope === 'processTree') return ' (its processes)';
  if (scope === 'device') return ' (whole device)';
  return '';
}

/** The short summary `run` prints to stderr when the command ends. */
export function runSummary(task: PerformanceMetrics, exitDescription: string, historyFile: string | null): string {
  const outcome = task.success ? 'succeeded' : `${task.status === 'interrupted' ? 'was interrupted' : 'failed'} (${safeErrorText(task.errorCategory ?? 'unknown')}, ${exitDescription})`;
  const cpu = task.averageCpuUsagePercent === null ? NA : task.cpuScope === 'processTree' ? `${pct(task.averageCpuUsagePercent)} of one core` : `${pct(task.averageCpuUsagePercent)} of all cores`;
  const lines = [
    `model-perf: task "${safeTaskId(task.taskId)}" ${outcome} after ${seconds(task.generationTimeSeconds)}`,
    `  peak VRAM ${taskVramText(task.peakVramUsageMb, task.vramScope, mib, NA)}` +
      ` | peak RAM ${mib(task.peakRamUsageMb)}${task.peakRamUsageMb === null ? '' : scopeNote(task.ramScope)}` +
      ` | avg CPU ${cpu} | avg GPU util ${pct(task.averageGpuUtilizationPercent)}`,
  ];
  if (historyFile) lines.push(`  recorded in ${historyFile}`);
  return `${lines.join('\n')}\n`;
}

/** One evidence number in its unit. */
function evidenceValue(e: FindingEvidence): string {
  switch (e.unit) {
    case '%':
      return pct(e.value);
    case 's':
      return seconds(e.value);
    case 'MB':
      return `${num(e.value)} MB`;
    case 'cores':
      return `${num(e.value, 2)} cores`;
    case 'ratio':
      return num(e.value, 2);
    default:
      return `${num(e.value)} ${safeLabel(e.unit)}`;
  }
}

/** The findings block that leads `analyze`: each with its evidence, next step and what ends it. */
function findingsText(findings: readonly Finding[]): string[] {
  if (findings.length === 0) return ['Findings: none (no diagnosis crossed its threshold in this window)'];
  const out = ['Findings (most worth fixing first):'];
  findings.forEach((f, i) => {
    const more = f.taskCount > f.taskIds.length ? ` and ${f.taskCount - f.taskIds.length} more` : '';
    out.push(
      `  ${i + 1}. ${f.kind} [${f.severity}, ${f.confidence} confidence] ${safeErrorText(f.summary)}`,
      `     evidence: ${f.evidence.map((e) => `${safeErrorText(e.label)} ${evidenceValue(e)}`).join('; ')}`,
      `     next step: ${safeErrorText(f.nextStep)}`,
      `     goes away when: ${safeErrorText(f.resolvedWhen)}`,
      `     runs: ${f.taskIds.map((id) => safeTaskId(id)).join(', ')}${more}`,
    );
  });
  return out;
}

/** The human-readable report of `analyze`. */
export function analysisText(a: PerformanceAnalysis): string {
  const c = a.statusCounts;
  const out: string[] = [
    `Tasks started in the last ${num(a.timeWindowHours, a.timeWindowHours % 1 === 0 ? 0 : 2)} h: ${a.taskCount} (${c.succeeded} succeeded, ${c.failed} failed, ${c.interrupted} interrupted, ${c.cancelled} cancelled)`,
  ];
  if (a.taskCount === 0) {
    out.push('Nothing to analyse yet: run a command with `model-perf run -- CMD`, or widen --window-hours.');
    return `${out.join('\n')}\n`;
  }
  out.push(...findingsText(a.findings), '');
  out.push(
    `Success rate      ${a.successRate === null ? NA : pct(a.successRate * 100)}`,
    `Generation time   mean ${seconds(a.averageGenerationTimeSeconds)}, p50 ${seconds(a.p50GenerationTimeSeconds)}, p95 ${seconds(a.p95GenerationTimeSeconds)} (successful tasks)`,
    `Efficiency        ${a.resourceEfficiency === null ? NA : num(a.resourceEfficiency, 2)} (0..1)`,
  );
  const failures = Object.entries(a.failuresByErrorCategory).sort((x, y) => y[1] - x[1]);
  if (failures.length > 0) out.push(`Failures          ${failures.map(([k, v]) => `${safeErrorText(k)} ${v}`).join(', ')}`);
  out.push('');
  const findings = a.bottleneckAnalysis.findings;
  out.push(findings.length === 0 ? 'Bottlenecks: none found' : 'Bottlenecks:');
  for (const f of findings) out.push(`  ${f.kind} [${f.severity}, ${f.confidence} confidence] ${safeErrorText(f.summary)}`);
  if (a.recommendations.length > 0) {
    out.push('', 'Recommendations:');
    a.recommendations.forEach((r, i) => out.push(`  ${i + 1}. [${r.severity}] ${safeErrorText(r.text)}`));
  }
  const breakdown = (title: string, entries: PerformanceAnalysis['byModelType'], withTarget: boolean): void => {
    if (entries.length === 0) return;
    const header = [title, 'tasks', 'success', 'mean time', 'max time', ...(withTarget ? ['target'] : [])];
    const rows = entries.map((e) => [
      safeLabel(e.key),
      String(e.taskCount),
      e.successRate === null ? NA : pct(e.successRate * 100),
      seconds(e.averageGenerationTimeSeconds),
      seconds(e.maxGenerationTimeSeconds),
      ...(withTarget ? [e.targetSeconds === null ? NA : seconds(e.targetSeconds)] : []),
    ]);
    out.push('', ...table([header, ...rows], new Set([1, 2, 3, 4, 5])));
  };
  breakdown('model type', a.byModelType, false);
  breakdown('resolution', a.byResolution, true);
  return `${out.join('\n')}\n`;
}
