// Export of task history: JSON with the original's top-level keys plus schema version and machine
// inventory, or CSV of the tasks. Always written through a temporary file and a rename, so a crash
// or a full disk never leaves half a file; a failure names the path and the reason. The text is
// produced and written a task at a time: the whole document is never one string in memory (at
// 100 000 tasks that string and its copies peaked at 1.5 GB).
import { METRICS_FIELD_NAMES, type PerformanceAnalysis, type PerformanceMetrics } from '../../shared/metrics';
import { WriteFileError, writeFileAtomic } from '../util/atomicWrite';
import { HISTORY_SCHEMA_VERSION } from './historyStore';

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

/** The CSV a row at a time: the header, then one CRLF-terminated line per task. */
export function* csvChunks(tasks: readonly PerformanceMetrics[]): Generator<string> {
  yield `${CSV_COLUMNS.join(',')}\r\n`;
  for (const t of tasks) yield `${CSV_COLUMNS.map((c) => csvCell(t[c])).join(',')}\r\n`;
}

export function toCsv(tasks: readonly PerformanceMetrics[]): string {
  return [...csvChunks(tasks)].join('');
}

/** Indents every line but the first, as JSON.stringify does for a value nested one level deeper. */
function nest(text: string, indent: string): string {
  // JSON text has no raw newline inside strings (they are escaped), so every newline is layout.
  return text.replace(/\n/g, `\n${indent}`);
}

/**
 * `JSON.stringify(document, null, 2) + "\n"`, character for character, in pieces: each top-level
 * value but the task list in one piece, then one piece per task. Keys whose value JSON cannot
 * represent (undefined, functions) are left out and such list entries become null, as JSON.stringify does.
 */
export function* jsonChunks(document: ExportDocument): Generator<string> {
  let first = true;
  yield '{';
  for (const [key, value] of Object.entries(document)) {
    const head = `${first ? '' : ','}\n  ${JSON.stringify(key)}: `;
    if (key === 'metrics' && Array.isArray(value)) {
      first = false;
      if (value.length === 0) {
        yield `${head}[]`;
        continue;
      }
      yield `${head}[`;
      for (let i = 0; i < value.length; i++) {
        const item = JSON.stringify(value[i], null, 2) ?? 'null';
        yield `${i === 0 ? '' : ','}\n    ${nest(item, '    ')}`;
      }
      yield '\n  ]';
      continue;
    }
    const text = JSON.stringify(value, null, 2) as string | undefined;
    if (text === undefined) continue;
    first = false;
    yield `${head}${nest(text, '  ')}`;
  }
  yield first ? '}\n' : '\n}\n';
}

export function formatFromPath(filePath: string): ExportFormat {
  return /\.csv$/i.test(filePath) ? 'csv' : 'json';
}

/** Writes the export atomically; throws ExportError naming the path and why. */
export async function writeExport(filePath: string, format: ExportFormat, document: ExportDocument): Promise<ExportResult> {
  if (typeof filePath !== 'string' || filePath.trim() === '') throw new ExportError(String(filePath), 'Export failed: no file path was given');
  if (format !== 'json' && format !== 'csv') throw new ExportError(filePath, `Export failed: format must be "json" or "csv" (got ${JSON.stringify(format)})`);
  try {
    await writeFileAtomic(filePath, format === 'json' ? jsonChunks(document) : csvChunks(document.metrics));
  } catch (err) {
    const reason = err instanceof WriteFileError ? err.reason : String(err);
    throw new ExportError(filePath, `Export failed: cannot write "${filePath}": ${reason}`, err);
  }
  return { path: filePath, format, metricsCount: document.metrics.length };
}
