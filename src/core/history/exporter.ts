// Export of task history: JSON with the original's top-level keys plus schema version and machine
// inventory, or CSV of the tasks. Always written through a temporary file and a rename, so a crash
// or a full disk never leaves half a file; a failure names the path and the reason.
import { METRICS_FIELD_NAMES, type PerformanceAnalysis, type PerformanceMetrics } from '../../shared/metrics';
import { HISTORY_SCHEMA_VERSION, WriteFileError, writeFileAtomic } from './historyStore';

export type ExportFormat = 'json' | 'csv';

export const EXPORT_SCHEMA_VERSION = 1;

/** What the numbers were measured on, so an export read elsewhere says which machine it describes. */
export interface MachineInventory {
  hostname: string;
  platform: string;
  arch: string;
  osRelease: string;
  cpuModel: string | null;
  cpuCount: number;
  ramTotalMb: number;
  gpuProvider: string;
  gpuAvailable: boolean;
  gpus: { index: number; uuid: string | null; name: string; vramTotalMb: number | null }[];
}

/** The JSON document: the original's keys (snake_case, as it wrote them) plus ours. */
export interface ExportDocument {
  schema_version: number;
  history_schema_version: number;
  export_timestamp: string;
  time_window_hours: number;
  metrics_count: number;
  machine: MachineInventory;
  performance_analysis: PerformanceAnalysis;
  metrics: PerformanceMetrics[];
}

export interface ExportResult {
  path: string;
  format: ExportFormat;
  metricsCount: number;
}

export class ExportError extends Error {
  constructor(
    readonly path: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'ExportError';
  }
}

export function buildExportDocument(tasks: PerformanceMetrics[], analysis: PerformanceAnalysis, timeWindowHours: number, nowMs: number, machine: MachineInventory): ExportDocument {
  return {
    schema_version: EXPORT_SCHEMA_VERSION,
    history_schema_version: HISTORY_SCHEMA_VERSION,
    export_timestamp: new Date(nowMs).toISOString(),
    time_window_hours: timeWindowHours,
    metrics_count: tasks.length,
    machine,
    performance_analysis: analysis,
    metrics: tasks,
  };
}

/** Column order of the CSV: every field of PerformanceMetrics, in the shared field list's order. */
export const CSV_COLUMNS: readonly (keyof PerformanceMetrics)[] = METRICS_FIELD_NAMES;

/**
 * One CSV cell. Text that a spreadsheet would run as a formula (= + - @, tab, CR) is prefixed with
 * a quote (OWASP's advice); numbers are left alone so negative values stay numbers. Null is empty.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text: string;
  if (typeof value === 'number') text = Number.isFinite(value) ? String(value) : '';
  else if (typeof value === 'boolean') text = value ? 'true' : 'false';
  else if (typeof value === 'object' && !Array.isArray(value)) text = guardFormula(JSON.stringify(value));
  else if (Array.isArray(value)) text = guardFormula(value.map((v) => (isPhaseCell(v) ? phaseCell(v) : String(v))).join(';'));
  else text = guardFormula(String(value));
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function isPhaseCell(v: unknown): v is { name: string; startTime: number; endTime: number | null } {
  return typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string' && typeof (v as { startTime?: unknown }).startTime === 'number';
}

/** A phase in a CSV cell: `denoise@1767225600000-1767225612000` (epoch ms; open end left empty). */
function phaseCell(p: { name: string; startTime: number; endTime: number | null }): string {
  return `${p.name}@${p.startTime}-${p.endTime ?? ''}`;
}

function guardFormula(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

export function toCsv(tasks: readonly PerformanceMetrics[]): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const t of tasks) rows.push(CSV_COLUMNS.map((c) => csvCell(t[c])).join(','));
  return `${rows.join('\r\n')}\r\n`;
}

export function formatFromPath(filePath: string): ExportFormat {
  return /\.csv$/i.test(filePath) ? 'csv' : 'json';
}

/** Writes the export atomically; throws ExportError naming the path and why. */
export async function writeExport(filePath: string, format: ExportFormat, document: ExportDocument): Promise<ExportResult> {
  if (typeof filePath !== 'string' || filePath.trim() === '') throw new ExportError(String(filePath), 'Export failed: no file path was given');
  if (format !== 'json' && format !== 'csv') throw new ExportError(filePath, `Export failed: format must be "json" or "csv" (got ${JSON.stringify(format)})`);
  const text = format === 'json' ? `${JSON.stringify(document, null, 2)}\n` : toCsv(document.metrics);
  try {
    await writeFileAtomic(filePath, text);
  } catch (err) {
    const reason = err instanceof WriteFileError ? err.reason : String(err);
    throw new ExportError(filePath, `Export failed: cannot write "${filePath}": ${reason}`, err);
  }
  return { path: filePath, format, metricsCount: document.metrics.length };
}
