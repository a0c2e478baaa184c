// The record format of the history: one JSON object per line, stamped with a schema version.
// Parsing is strict (every input from disk is hostile until checked) and works on raw bytes, so a
// line that is not valid UTF-8 is reported and its bytes kept, never rewritten as U+FFFD.
import { METRICS_FIELDS, TASK_STATUSES, VRAM_SCOPES, metricsFieldsOfKind, type MetricsFieldKind, type PerformanceMetrics, type TaskPhase, type TaskStatus } from '../../shared/metrics';
import { parseStructuredField } from '../../shared/structuredFields';

export const HISTORY_SCHEMA_VERSION = 1;

/** A line or marker that was skipped, and why. `line` is 1-based; null for markers. */
export interface StoreWarning {
  file: string;
  line: number | null;
  reason: string;
}

export class HistoryStoreError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'HistoryStoreError';
  }
}

/**
 * An append that failed, whose record was kept in the spool folder instead: the next start or
 * the next successful append moves it into the history. `spoolFile` says where it waits.
 */
export class HistorySpooledError extends HistoryStoreError {
  constructor(
    message: string,
    readonly spoolFile: string,
    readonly reason: string,
    cause: unknown,
  ) {
    super(message, cause);
    this.name = 'HistorySpooledError';
  }
}

export type Parsed = { kind: 'task'; task: PerformanceMetrics } | { kind: 'newerSchema'; version: number } | { kind: 'bad'; reason: string };

const NULLABLE_NUMBER_FIELDS = metricsFieldsOfKind('nullableNumber');
const NULLABLE_TEXT_FIELDS = metricsFieldsOfKind('nullableText');
const SCOPE_FIELDS = metricsFieldsOfKind('scope');
const OPTIONAL_NUMBER_FIELDS = metricsFieldsOfKind('optionalNumber');
const OPTIONAL_BOOLEAN_FIELDS = metricsFieldsOfKind('optionalBoolean');
const STRUCTURED_FIELDS = metricsFieldsOfKind('structured');

// Every VRAM scope (RAM and CPU use the first two only); old records hold only the first two.
const SCOPES: readonly string[] = VRAM_SCOPES;

function isPhase(p: unknown): p is TaskPhase {
  if (typeof p !== 'object' || p === null) return false;
  const o = p as Record<string, unknown>;
  return typeof o.name === 'string' && typeof o.startTime === 'number' && Number.isFinite(o.startTime) && (o.endTime === null || o.endTime === undefined || (typeof o.endTime === 'number' && Number.isFinite(o.endTime)));
}

/**
 * The fields that came after schema 1's first records (progress, phases, timeline, git commit,
 * prediction), copied onto `task` when present; the reason when one is malformed.
 */
function readLaterFields(r: Record<string, unknown>, task: Record<string, unknown>): string | null {
  // Progress and phases came later: a record without them loads without them (optional fields).
  for (const key of OPTIONAL_NUMBER_FIELDS) {
    if (!(key in r)) continue;
    const v = r[key] ?? null;
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) return `field "${key}" must be a number or null`;
    task[key] = v;
  }
  for (const key of OPTIONAL_BOOLEAN_FIELDS) {
    if (!(key in r) || r[key] === undefined) continue;
    if (typeof r[key] !== 'boolean') return `field "${key}" must be true or false`;
    task[key] = r[key];
  }
  if ('phases' in r) {
    const phases = r.phases ?? [];
    if (!Array.isArray(phases) || phases.length > 1000 || !phases.every(isPhase)) return 'field "phases" must be a list of {name, startTime, endTime}';
    task.phases = phases.map((p: TaskPhase) => ({ name: p.name, startTime: p.startTime, endTime: p.endTime ?? null }));
  }
  // Timeline, git commit and prediction came later still; a malformed one is left out, the task kept.
  for (const key of STRUCTURED_FIELDS) {
    const v = key in r ? parseStructuredField(key, r[key]) : undefined;
    if (v !== undefined) task[key] = v;
  }
  return null;
}

/**
 * Checks one record's shape; absent optional fields become null so older v1 writers still load.
 * Most records are this product's own and sound: they take the fast path (parseSoundRecord); the
 * rest are checked here one field at a time, for the reason.
 */
export function parseRecord(value: unknown): Parsed {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const task = parseSoundRecord(value as Record<string, unknown>);
    if (task !== null) return { kind: 'task', task };
  }
  return parseRecordWithReason(value);
}

const FIELD_KINDS = new Map<string, MetricsFieldKind>(Object.entries(METRICS_FIELDS));
/**
 * What a parsed task starts as: its nullable fields (numbers, scopes, texts, in METRICS_FIELDS
 * order), null. Written out as a literal so that every task has fast properties: an object given
 * a dozen keys one by one by name in a variable becomes a dictionary, slower to read and about
 * twice the memory. A unit test checks that it lists exactly those fields.
 */
export function blankTask(): Record<string, unknown> {
  return {
    endTime: null,
    generationTimeSeconds: null,
    modelLoadTimeSeconds: null,
    peakVramUsageMb: null,
    averageVramUsageMb: null,
    peakRamUsageMb: null,
    averageCpuUsagePercent: null,
    vramTotalMb: null,
    ramTotalMb: null,
    averageGpuUtilizationPercent: null,
    peakGpuUtilizationPercent: null,
    devicePeakVramUsageMb: null,
    deviceAverageVramUsageMb: null,
    devicePeakRamUsageMb: null,
    deviceAverageRamUsageMb: null,
    deviceAverageCpuUsagePercent: null,
    peakTemperatureCelsius: null,
    processTreePeakRamUsageMb: null,
    processTreeAverageRamUsageMb: null,
    processTreeAverageCpuUsagePercent: null,
    processTreePeakVramUsageMb: null,
    processTreeAverageVramUsageMb: null,
    rootPid: null,
    vramScope: null,
    ramScope: null,
    cpuScope: null,
    resolutionClass: null,
    errorCategory: null,
    quantizationUsed: null,
  };
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * The fast path: one pass over the record's own keys (no lookup of every known field by name),
 * giving exactly what parseRecordWithReason gives, or null when anything is off (then the slow
 * path says why). About half the cost of the field-by-field check on the records this product
 * writes.
 */
function parseSoundRecord(r: Record<string, unknown>): PerformanceMetrics | null {
  const { schemaVersion, taskId, modelType, resolution, steps, startTime, status, success } = r;
  if (schemaVersion !== HISTORY_SCHEMA_VERSION) return null;
  if (typeof taskId !== 'string' || typeof modelType !== 'string' || typeof resolution !== 'string') return null;
  if (!isFiniteNumber(steps) || !isFiniteNumber(startTime)) return null;
  if (status !== 'succeeded' && status !== 'failed' && status !== 'cancelled' && status !== 'interrupted') return null;
  if (typeof success !== 'boolean') return null;
  const task = blankTask();
  let later = false;
  for (const key in r) {
    if (!Object.prototype.hasOwnProperty.call(r, key)) continue;
    const v = r[key];
    switch (FIELD_KINDS.get(key)) {
      case 'nullableNumber':
        if (v === null || v === undefined) break;
        if (!isFiniteNumber(v)) return null;
        task[key] = v;
        break;
      case 'scope':
        if (v === null || v === undefined) break;
        if (!SCOPES.includes(v as string)) return null;
        task[key] = v;
        break;
      case 'nullableText':
        if (v === null || v === undefined) break;
        if (typeof v !== 'string') return null;
        task[key] = v;
        break;
      case 'optionalNumber':
      case 'optionalBoolean':
      case 'phases':
      case 'structured':
        later = true;
        break;
      default:
        break;
    }
  }
  const gpuIndices = r.gpuIndices ?? [];
  if (!Array.isArray(gpuIndices)) return null;
  for (const i of gpuIndices) if (typeof i !== 'number') return null;
  const optimizations = r.optimizationsApplied ?? [];
  if (!Array.isArray(optimizations)) return null;
  for (const o of optimizations) if (typeof o !== 'string') return null;
  const sampleCount = r.sampleCount ?? 0;
  const offloadUsed = r.offloadUsed ?? false;
  if (typeof sampleCount !== 'number' || typeof offloadUsed !== 'boolean') return null;
  if (later && readLaterFields(r, task) !== null) return null;
  task.taskId = taskId;
  task.modelType = modelType;
  task.resolution = resolution;
  task.steps = steps;
  task.startTime = startTime;
  task.status = status;
  task.success = success;
  task.gpuIndices = gpuIndices;
  task.optimizationsApplied = optimizations;
  task.sampleCount = sampleCount;
  task.offloadUsed = offloadUsed;
  return task as unknown as PerformanceMetrics;
}

/** The field-by-field check, which says what is wrong (exported for the test that holds the fast path to it). */
export function parseRecordWithReason(value: unknown): Parsed {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'bad', reason: 'not a JSON object' };
  const r = value as Record<string, unknown>;
  const version = r.schemaVersion;
  if (version === undefined) return { kind: 'bad', reason: 'no schemaVersion' };
  if (typeof version !== 'number' || !Number.isInteger(version)) return { kind: 'bad', reason: `unknown schema version ${JSON.stringify(version)}` };
  if (version > HISTORY_SCHEMA_VERSION) return { kind: 'newerSchema', version };
  if (version !== HISTORY_SCHEMA_VERSION) return { kind: 'bad', reason: `unknown schema version ${version}` };
  for (const key of ['taskId', 'modelType', 'resolution'] as const) {
    if (typeof r[key] !== 'string') return { kind: 'bad', reason: `field "${key}" must be a string` };
  }
  for (const key of ['steps', 'startTime'] as const) {
    if (typeof r[key] !== 'number' || !Number.isFinite(r[key])) return { kind: 'bad', reason: `field "${key}" must be a number` };
  }
  if (typeof r.status !== 'string' || !TASK_STATUSES.includes(r.status as TaskStatus) || r.status === 'running') {
    return { kind: 'bad', reason: `field "status" must be one of succeeded, failed, cancelled, interrupted` };
  }
  if (typeof r.success !== 'boolean') return { kind: 'bad', reason: 'field "success" must be true or false' };
  const task = blankTask();
  for (const key of NULLABLE_NUMBER_FIELDS) {
    const v = r[key] ?? null;
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) return { kind: 'bad', reason: `field "${key}" must be a number or null` };
    task[key] = v;
  }
  for (const key of SCOPE_FIELDS) {
    const v = r[key] ?? null;
    if (v !== null && !SCOPES.includes(v as string)) return { kind: 'bad', reason: `field "${key}" must be ${SCOPES.join(', ')} or null` };
    task[key] = v;
  }
  for (const key of NULLABLE_TEXT_FIELDS) {
    const v = r[key] ?? null;
    if (v !== null && typeof v !== 'string') return { kind: 'bad', reason: `field "${key}" must be a string or null` };
    task[key] = v;
  }
  const gpuIndices = r.gpuIndices ?? [];
  if (!Array.isArray(gpuIndices) || !gpuIndices.every((i) => typeof i === 'number')) return { kind: 'bad', reason: 'field "gpuIndices" must be a list of numbers' };
  const optimizations = r.optimizationsApplied ?? [];
  if (!Array.isArray(optimizations) || !optimizations.every((o) => typeof o === 'string')) return { kind: 'bad', reason: 'field "optimizationsApplied" must be a list of strings' };
  const sampleCount = r.sampleCount ?? 0;
  if (typeof sampleCount !== 'number') return { kind: 'bad', reason: 'field "sampleCount" must be a number' };
  const offloadUsed = r.offloadUsed ?? false;
  if (typeof offloadUsed !== 'boolean') return { kind: 'bad', reason: 'field "offloadUsed" must be true or false' };
  const laterBad = readLaterFields(r, task);
  if (laterBad !== null) return { kind: 'bad', reason: laterBad };
  // Assigned onto the same object, not spread into a new one: this runs once per record read.
  task.taskId = r.taskId;
  task.modelType = r.modelType;
  task.resolution = r.resolution;
  task.steps = r.steps;
  task.startTime = r.startTime;
  task.status = r.status;
  task.success = r.success;
  task.gpuIndices = gpuIndices;
  task.optimizationsApplied = optimizations;
  task.sampleCount = sampleCount;
  task.offloadUsed = offloadUsed;
  return { kind: 'task', task: task as unknown as PerformanceMetrics };
}

/** One line of the history, newline included. */
export function serializeRecord(task: PerformanceMetrics): string {
  return `${JSON.stringify({ schemaVersion: HISTORY_SCHEMA_VERSION, ...task })}\n`;
}

/** Identity of a record: the same task id started at the same time is the same task. */
export function recordKey(task: Pick<PerformanceMetrics, 'taskId' | 'startTime'>): string {
  return `${task.taskId}\u0000${task.startTime}`;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BOM = [0xef, 0xbb, 0xbf];

/**
 * Parses one line's bytes (without its newline). A UTF-8 byte-order mark at the start is
 * tolerated (editors add one); bytes that are not UTF-8 make the line unreadable.
 */
export function parseLineBytes(bytes: Uint8Array): Parsed | null {
  let start = 0;
  if (bytes.length >= 3 && bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2]) start = 3;
  let text: string;
  try {
    text = UTF8.decode(start === 0 ? bytes : bytes.subarray(start));
  } catch {
    return { kind: 'bad', reason: 'not valid UTF-8 text' };
  }
  if (text.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'bad', reason: 'not valid JSON (corrupt line)' };
  }
  return parseRecord(value);
}
