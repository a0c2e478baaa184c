// Validation of what commands receive as arguments (from keybindings, other extensions, tests)
// and of what people type into the quick inputs. Pure: no `vscode` import.
import type { ExportFormat } from '../core/history/exporter';
import type { StartTaskOptions } from '../core/engine/taskArguments';

export interface StartArgs {
  taskId: string;
  modelType: string;
  resolution: string;
  steps: number;
  options: StartTaskOptions;
}

export interface CompleteArgs {
  success: boolean;
  errorCategory: string | null;
}

export interface ExportArgs {
  path: string;
  windowHours: number;
  format: ExportFormat;
}

const MAX_TEXT = 128;

export class ArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArgumentError';
  }
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ArgumentError(`${what} takes an object as its argument (got ${JSON.stringify(value)?.slice(0, 60) ?? String(value)})`);
  return value as Record<string, unknown>;
}

function text(value: unknown, name: string, opts: { required: boolean; fallback?: string; maxLength?: number }): string {
  const max = opts.maxLength ?? MAX_TEXT;
  if (value === undefined || value === null || value === '') {
    if (opts.required) throw new ArgumentError(`"${name}" is required`);
    return opts.fallback ?? '';
  }
  if (typeof value !== 'string') throw new ArgumentError(`"${name}" must be a text (got ${typeof value})`);
  const v = value.trim();
  if (v.length > max) throw new ArgumentError(`"${name}" must be at most ${max} characters (got ${v.length})`);
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new ArgumentError(`"${name}" must not contain control characters`);
  return v;
}

/** Null when the id is acceptable, else why not (the input box shows it). */
export function validateTaskId(value: string, activeIds: readonly string[] = []): string | null {
  const v = value.trim();
  if (!v) return 'A task id is required';
  if (v.length > MAX_TEXT) return `At most ${MAX_TEXT} characters`;
  if (/[\u0000-\u001f\u007f]/.test(v)) return 'No control characters';
  if (activeIds.includes(v)) return `A task named "${v}" is already running`;
  return null;
}

export function parseStartArgs(value: unknown): StartArgs {
  const o = record(value, 'Start Task');
  const taskId = text(o.taskId, 'taskId', { required: false, fallback: `task-${Date.now()}` });
  const modelType = text(o.modelType, 'modelType', { required: false, fallback: 'unknown' });
  const resolution = text(o.resolution, 'resolution', { required: false, fallback: '' });
  const steps = o.steps ?? 0;
  if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 0 || steps > 1e9) throw new ArgumentError(`"steps" must be a whole number from 0 to 1000000000 (got ${JSON.stringify(steps)})`);
  const options: StartTaskOptions = {};
  if (o.rootPid !== undefined && o.rootPid !== null) {
    if (typeof o.rootPid !== 'number' || !Number.isInteger(o.rootPid) || o.rootPid <= 0) throw new ArgumentError(`"rootPid" must be a process id (a positive whole number), got ${JSON.stringify(o.rootPid)}`);
    options.rootPid = o.rootPid;
  }
  if (o.optimizations !== undefined) {
    if (!Array.isArray(o.optimizations) || o.optimizations.length > 64) throw new ArgumentError('"optimizations" must be a list of at most 64 texts');
    options.optimizations = o.optimizations.map((x, i) => text(x, `optimizations[${i}]`, { required: true }));
  }
  if (o.quantization !== undefined && o.quantization !== null) options.quantization = text(o.quantization, 'quantization', { required: true });
  if (o.offload !== undefined) {
    if (typeof o.offload !== 'boolean') throw new ArgumentError('"offload" must be true or false');
    options.offload = o.offload;
  }
  return { taskId, modelType, resolution, steps, options };
}

export function parseTaskIdArg(value: unknown): string {
  if (typeof value === 'string') return text(value, 'taskId', { required: true });
  return text(record(value, 'this command').taskId, 'taskId', { required: true });
}

export function parseCompleteArgs(value: unknown): CompleteArgs {
  const o = record(value, 'Complete Task');
  const success = o.success ?? true;
  if (typeof success !== 'boolean') throw new ArgumentError(`"success" must be true or false (got ${JSON.stringify(success)})`);
  const errorCategory = o.errorCategory === undefined || o.errorCategory === null ? null : text(o.errorCategory, 'errorCategory', { required: true });
  return { success, errorCategory };
}

export function parseExportArgs(value: unknown): ExportArgs {
  const o = record(value, 'Export Metrics');
  const path = text(o.path, 'path', { required: true, maxLength: 4096 });
  const windowHours = o.windowHours ?? 24;
  if (typeof windowHours !== 'number' || !Number.isFinite(windowHours) || windowHours <= 0) throw new ArgumentError(`"windowHours" must be a number greater than 0 (got ${JSON.stringify(windowHours)})`);
  const format = o.format ?? (path.toLowerCase().endsWith('.csv') ? 'csv' : 'json');
  if (format !== 'json' && format !== 'csv') throw new ArgumentError(`"format" must be "json" or "csv" (got ${JSON.stringify(format)})`);
  return { path, windowHours, format };
}
