// The "Show Current Status" document: the latest snapshot as a readable Markdown report with the
// raw figures beside it. Pure (no `vscode` import).
import type { SystemPerformanceSnapshot } from '../shared/snapshot';
import { formatGb, formatPercent } from './statusFormat';

/** The report is read as plain text: only a table cell's pipes need escaping. */
function cell(text: string): string {
  return text.replace(/[|\r\n]/g, (c) => (c === '|' ? '\\|' : ' '));
}

export interface StatusReportInput {
  snapshot: SystemPerformanceSnapshot | null;
  activeTasks: number;
  gpuReason: string | null;
  monitoring: boolean;
}

function num(value: number | null, unit: string, digits = 1): string {
  return value === null || !Number.isFinite(value) ? 'N/A' : `${value.toFixed(digits)} ${unit}`;
}

export function formatStatusReport(input: StatusReportInput): string {
  const { snapshot: s } = input;
  const out: string[] = ['# Model Performance Monitor: current status', ''];
  if (!s) {
    out.push(input.monitoring ? 'No sample has been taken yet; the first arrives within one interval.' : 'Monitoring is stopped: run "Model Perf: Start Monitoring".');
    return out.join('\n') + '\n';
  }
  out.push(
    `Sampled at ${new Date(s.timestamp).toISOString()}; monitoring ${input.monitoring ? 'on' : 'off'}; active tasks: ${input.activeTasks}.`,
    '',
    '## Machine',
    '',
    `- CPU: ${formatPercent(s.cpuUsagePercent)}`,
    `- RAM: ${formatGb(s.ramUsageMb)} / ${formatGb(s.ramTotalMb)} GB used, ${formatGb(s.ramAvailableMb)} GB available`,
    `- Disk: ${formatPercent(s.diskUsagePercent)} used`,
    '',
    '## GPUs',
    '',
  );
  if (s.gpus.length === 0) {
    out.push(input.gpuReason ?? 'No GPU found.');
  } else {
    out.push('| # | Name | Util | Mem util | VRAM used / total | Temp | Power | SM clock | P-state |', '|---|---|---:|---:|---:|---:|---:|---:|---|');
    for (const g of s.gpus) {
      out.push(`| ${g.index} | ${cell(g.name)}${g.mig ? ' (MIG)' : ''} | ${formatPercent(g.utilizationPercent)} | ${formatPercent(g.memoryUtilizationPercent)} | ${num(g.vramUsedMb, 'MiB', 0)} / ${num(g.vramTotalMb, 'MiB', 0)} | ${num(g.temperatureCelsius, '°C', 0)} | ${num(g.powerDrawWatts, 'W')} / ${num(g.powerLimitWatts, 'W')} | ${num(g.smClockMhz, 'MHz', 0)} | ${cell(g.performanceState ?? 'N/A')} |`);
    }
  }
  out.push('', '## Raw snapshot', '', '```json', JSON.stringify(s, null, 2), '```', '');
  return out.join('\n');
}
