// One record of an import, from a parsed JSON object or a CSV row's cells, to a task: field names
// (this product's camelCase, or the original Python module's snake_case with its times in seconds
// or ISO text) mapped to task fields, the shape checked by the history's own parser (parseRecord)
// and the values checked for plausibility. Also the one way input is quoted in a message.
import { METRICS_FIELD_NAMES, type MetricsField, type PerformanceMetrics } from '../../shared/metrics';
import { hasControlCharacters } from '../../shared/text';
import { normalizeResolution } from '../engine/resolution';
import { HISTORY_SCHEMA_VERSION, parseRecord } from './records';
import { DAY_MS } from './segments';

/** The largest record (one task's JSON object or CSV row) read; larger ones are rejected unread. */
export const MAX_RECORD_CHARS = 1024 * 1024;

/** Nothing this product measured started before this (2000-01-01). */
const EARLIEST_TIME_MS = Date.UTC(2000, 0, 1);
/** Another machine's clock may run ahead of ours a little; a day ahead is a wrong clock or a forgery. */
const CLOCK_SKEW_MS = DAY_MS;

/** Whose field names the records use. */
export type ImportKeyStyle = 'model-perf' | 'original';

// ---------------------------------------------------------------------------------------------
// Text that reaches a terminal

const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Input quoted in a message: control and direction characters escaped, length bounded. */
export function safeText(text: string, maxChars = 200): string {
  const cut = text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
  return cut.replace(UNSAFE_CHARS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// ---------------------------------------------------------------------------------------------
// Field names

/** Keys that would reach an object's prototype if ever used to index one: a record holding them is rejected. */
export const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const FIELD_SET = new Set<string>(METRICS_FIELD_NAMES);

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The original module's snake_case names (and ours in snake_case) to our field names. */
const SNAKE_FIELDS = new Map<string, MetricsField>([...METRICS_FIELD_NAMES.map((f) => [snakeCase(f), f] as const), ['generation_time', 'generationTimeSeconds'], ['model_load_time', 'modelLoadTimeSeconds']]);

/** The task field a CSV column holds, by either style of name; null for a column that is no task field. */
export function columnField(name: string): MetricsField | null {
  return FIELD_SET.has(name) ? (name as MetricsField) : (SNAKE_FIELDS.get(name) ?? null);
}

// ---------------------------------------------------------------------------------------------
// Plausibility: parseRecord checks types; this checks that the values can be true.

const TEXT_LIMITS: ReadonlyMap<MetricsField, number> = new Map<MetricsField, number>([
  ['taskId', 512],
  ['modelType', 256],
  ['resolution', 64],
  ['resolutionClass', 32],
  ['errorCategory', 256],
  ['quantizationUsed', 256],
]);
const MAX_LIST_ITEMS = 256;
const MAX_LIST_ITEM_CHARS = 256;
const MAX_MB = 1e9; // a petabyte
const MAX_SECONDS = 366 * 86_400; // a task longer than a year is a wrong clock
const MAX_COUNT = 1e9;

/** Inclusive bounds of the nullable number fields; fields not listed need only be finite and >= 0. */
const NUMBER_BOUNDS: ReadonlyMap<MetricsField, readonly [number, number]> = new Map<MetricsField, readonly [number, number]>([
  ['generationTimeSeconds', [0, MAX_SECONDS]],
  ['modelLoadTimeSeconds', [0, MAX_SECONDS]],
  ['averageGpuUtilizationPercent', [0, 100]],
  ['peakGpuUtilizationPercent', [0, 100]],
  ['deviceAverageCpuUsagePercent', [0, 100]],
  // Process-tree CPU is percent of one core summed over the tree: up to 100 per core.
  ['averageCpuUsagePercent', [0, 100 * 4096]],
  ['processTreeAverageCpuUsagePercent', [0, 100 * 4096]],
  ['peakTemperatureCelsius', [-100, 250]],
  ['rootPid', [1, 2 ** 32]],
  ['stepsCompleted', [0, MAX_COUNT]],
  ['stepsTotal', [0, MAX_COUNT]],
  ['stepsPerSecond', [0, 1e6]],
]);
const WHOLE_NUMBER_FIELDS = new Set<MetricsField>(['steps', 'sampleCount', 'rootPid', 'stepsCompleted', 'stepsTotal']);
const TIME_FIELDS = new Set<MetricsField>(['startTime', 'endTime', 'progressUpdatedAt']);

function checkText(field: string, value: string, maxChars: number): string | null {
  if (value.length > maxChars) return `field "${field}" is longer than ${maxChars} characters`;
  if (hasControlCharacters(value)) return `field "${field}" contains control characters`;
  return null;
}

/** Why `task` cannot be a real record, or null when it can. */
export function implausibility(task: PerformanceMetrics, nowMs: number): string | null {
  if (task.taskId.trim() === '') return 'field "taskId" is empty';
  for (const [field, max] of TEXT_LIMITS) {
    const v = task[field];
    if (typeof v === 'string') {
      const why = checkText(field, v, max);
      if (why) return why;
    }
  }
  for (const [field, list] of [
    ['optimizationsApplied', task.optimizationsApplied],
    ['gpuIndices', task.gpuIndices],
  ] as const) {
    if (list.length > MAX_LIST_ITEMS) return `field "${field}" has more than ${MAX_LIST_ITEMS} entries`;
  }
  for (const o of task.optimizationsApplied) {
    const why = checkText('optimizationsApplied', o, MAX_LIST_ITEM_CHARS);
    if (why) return why;
  }
  if (!task.gpuIndices.every((i) => Number.isInteger(i) && i >= 0 && i < 1024)) return 'field "gpuIndices" must hold whole numbers from 0 to 1023';
  const latest = nowMs + CLOCK_SKEW_MS;
  for (const field of METRICS_FIELD_NAMES) {
    const v = task[field];
    if (typeof v !== 'number') continue;
    if (!Number.isFinite(v)) return `field "${field}" must be a finite number`;
    if (WHOLE_NUMBER_FIELDS.has(field) && !Number.isInteger(v)) return `field "${field}" must be a whole number`;
    if (TIME_FIELDS.has(field)) {
      if (v < EARLIEST_TIME_MS || v > latest) return `field "${field}" is not a plausible time (${new Date(Math.min(Math.max(v, -8.64e15), 8.64e15)).toISOString()} is before 2000 or more than a day ahead of this machine's clock)`;
      continue;
    }
    const [min, max] = NUMBER_BOUNDS.get(field) ?? [0, field === 'steps' || field === 'sampleCount' ? MAX_COUNT : MAX_MB];
    if (v < min || v > max) return `field "${field}" must be between ${min} and ${max} (got ${v})`;
  }
  if (task.endTime !== null && task.endTime < task.startTime) return 'field "endTime" is before "startTime"';
  if (task.success !== (task.status === 'succeeded')) return `fields "success" (${task.success}) and "status" (${task.status}) disagree`;
  for (const p of task.phases ?? []) {
    const why = checkText('phases', p.name, 128);
    if (why) return why;
    if (p.startTime < 0 || (p.endTime !== null && p.endTime < p.startTime)) return 'field "phases" holds a phase that ends before it starts';
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// One record, from a parsed JSON object or a CSV row, to a task

type Conversion = { ok: true; task: PerformanceMetrics; style: ImportKeyStyle; ignored: string[] } | { ok: false; reason: string };

/** Epoch ms from the original's time: Python's time.time() seconds, or an ISO 8601 string. */
function originalTime(value: unknown): unknown {
  if (typeof value === 'number') {
    // 1e11 s is the year 5138 and 1e11 ms is 1973: a larger number is already milliseconds.
    return Math.abs(value) < 1e11 ? value * 1000 : value;
  }
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/.test(value)) {
    const ms = Date.parse(value.replace(' ', 'T').replace(/(\.\d{3})\d+/, '$1'));
    return Number.isFinite(ms) ? ms : value;
  }
  return value;
}

/** The task a record's value describes, checked, or why it cannot be one. */
export function toTask(value: unknown, nowMs: number): Conversion {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not a JSON object' };
  const source = value as Record<string, unknown>;
  const keys = Object.keys(source);
  const style: ImportKeyStyle | null = Object.hasOwn(source, 'taskId') ? 'model-perf' : Object.hasOwn(source, 'task_id') ? 'original' : null;
  if (style === null) return { ok: false, reason: 'has neither "taskId" nor "task_id": not a task record' };
  // Built from own keys only, under task field names only: a hostile key never reaches a prototype.
  const record: Record<string, unknown> = {};
  const ignored: string[] = [];
  for (const key of keys) {
    if (PROTOTYPE_KEYS.has(key)) return { ok: false, reason: `holds the key ${JSON.stringify(key)}, which no task record has` };
    const field = style === 'model-perf' ? (FIELD_SET.has(key) ? key : undefined) : SNAKE_FIELDS.get(key);
    if (field === undefined) {
      if (key !== 'schemaVersion') ignored.push(key);
      continue;
    }
    record[field] = source[key];
  }
  if (style === 'original') {
    for (const f of TIME_FIELDS) if (Object.hasOwn(record, f)) record[f] = originalTime(record[f]);
    // The original has no status: it is success or failure.
    if (!Object.hasOwn(record, 'status') && typeof record.success === 'boolean') record.status = record.success ? 'succeeded' : 'failed';
  }
  if (!Object.hasOwn(record, 'resolutionClass') && typeof record.resolution === 'string') {
    const cls = normalizeResolution(record.resolution);
    record.resolutionClass = cls !== null && /^\d{2,5}p$/.test(cls) ? cls : null;
  }
  record.schemaVersion = Object.hasOwn(source, 'schemaVersion') ? source.schemaVersion : HISTORY_SCHEMA_VERSION;
  const parsed = parseRecord(record);
  if (parsed.kind === 'bad') return { ok: false, reason: parsed.reason };
  if (parsed.kind === 'newerSchema') return { ok: false, reason: `written by a newer version of model-perf (record schema ${parsed.version})` };
  const why = implausibility(parsed.task, nowMs);
  if (why) return { ok: false, reason: why };
  return { ok: true, task: parsed.task, style, ignored };
}
