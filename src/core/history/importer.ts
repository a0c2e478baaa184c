// `model-perf import`: merges an export (this product's JSON or CSV, or the original Python module's
// JSON with snake_case keys) into the history, so a user with two machines can combine them.
//
// The file is hostile until parsed. It is read as a stream (a chunk at a time, never whole), each
// record is bounded in size and depth, parsed by the history's own record parser (parseRecord) and
// then checked for plausibility (lengths, control characters, impossible numbers and times). Records
// that pass go to a spool file next to the history, not to memory; only when the whole file has been
// read, and (unless `partial`) nothing was rejected, are they appended to the history. Records
// already in the history, or twice in the file (same task id and start time), are skipped and
// counted. Every rejected record is reported with where it is and why.
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { METRICS_FIELDS, METRICS_FIELD_NAMES, type MetricsField, type PerformanceMetrics } from '../../shared/metrics';
import { normalizeResolution } from '../engine/resolution';
import { describeFsError } from '../util/errors';
import { EXPORT_SCHEMA_VERSION } from './exporter';
import { HISTORY_SCHEMA_VERSION, parseRecord, type HistoryStore } from './historyStore';

/** The largest record (one task's JSON object or CSV row) read; larger ones are rejected unread. */
export const MAX_RECORD_CHARS = 1024 * 1024;
/** Deepest nesting inside one record: a task is two levels deep (phases); 32 leaves room for nothing hostile. */
const MAX_RECORD_DEPTH = 32;
/** Top-level values other than the task list (the analysis, the machine) are skipped past this size. */
const MAX_TOP_VALUE_CHARS = 64 * 1024;
const MAX_KEY_CHARS = 1024;
const MAX_CSV_COLUMNS = 256;
/** Problems kept for the report; the rest are only counted. */
const DEFAULT_MAX_PROBLEMS = 1000;
/** Small enough that the records found in one read (at worst one per two bytes) stay few. */
const READ_CHUNK_BYTES = 64 * 1024;
const SPOOL_BATCH_BYTES = 256 * 1024;

const DAY_MS = 86_400_000;
/** Nothing this product measured started before this (2000-01-01). */
const EARLIEST_TIME_MS = Date.UTC(2000, 0, 1);
/** Another machine's clock may run ahead of ours a little; a day ahead is a wrong clock or a forgery. */
const CLOCK_SKEW_MS = DAY_MS;

type ImportFormat = 'json' | 'csv';
/** Whose field names the records use. */
type ImportKeyStyle = 'model-perf' | 'original';

export interface ImportProblem {
  /** Where: `metrics[3], line 40`, `line 12` (CSV), or `file`. */
  where: string;
  reason: string;
}

export interface ImportReport {
  file: string;
  format: ImportFormat | null;
  /** Key styles seen among the records. */
  keyStyles: ImportKeyStyle[];
  /** Records found in the file (good, duplicate and rejected). */
  records: number;
  /** Appended to the history. */
  imported: number;
  /** Skipped: already in the history, or earlier in the same file (same task id and start time). */
  duplicates: number;
  rejected: number;
  /** The first problems (rejected records and file-level errors), in file order. */
  problems: ImportProblem[];
  /** Problems beyond those kept. */
  problemsOmitted: number;
  /** Why reading stopped before the end, if it did (the records after that point were not read). */
  fileError: string | null;
  /** Field names that are no task field and were ignored (at most 20). */
  ignoredFields: string[];
  /** True when records were appended (false: the history is as it was). */
  written: boolean;
}

export interface ImportOptions {
  /** Import the good records even when others are rejected or the file is cut off. */
  partial: boolean;
  nowMs: number;
  /** Where the spool of accepted records lives while the file is read (the history's folder). */
  spoolDir: string;
  maxProblems?: number;
  /**
   * Called with every problem as it is found, the ones past `maxProblems` too, so that all of them
   * can be listed without being held; awaited (a slow terminal holds the import back, not memory).
   */
  onProblem?: (problem: ImportProblem) => void | Promise<void>;
  /** Bytes read at a time (tests use tiny ones to cut records, characters and CRLFs anywhere). */
  readChunkBytes?: number;
}

/** What the importer needs of the store. */
export type ImportTarget = Pick<HistoryStore, 'load' | 'append'>;

/** The file cannot be read at all (missing, a folder, a pipe, unreadable): nothing was imported. */
export class ImportError extends Error {
  constructor(
    readonly path: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'ImportError';
  }
}

/** Structural damage: reading stops here. */
class FileFormatError extends Error {}

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
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const FIELD_SET = new Set<string>(METRICS_FIELD_NAMES);

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The original module's snake_case names (and ours in snake_case) to our field names. */
const SNAKE_FIELDS = new Map<string, MetricsField>([...METRICS_FIELD_NAMES.map((f) => [snakeCase(f), f] as const), ['generation_time', 'generationTimeSeconds'], ['model_load_time', 'modelLoadTimeSeconds']]);

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

function hasUnsafeChars(text: string): boolean {
  UNSAFE_CHARS.lastIndex = 0;
  const found = UNSAFE_CHARS.test(text);
  UNSAFE_CHARS.lastIndex = 0;
  return found;
}

function checkText(field: string, value: string, maxChars: number): string | null {
  if (value.length > maxChars) return `field "${field}" is longer than ${maxChars} characters`;
  if (hasUnsafeChars(value)) return `field "${field}" contains control characters`;
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

function toTask(value: unknown, nowMs: number): Conversion {
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

// ---------------------------------------------------------------------------------------------
// JSON: a streaming scanner that cuts the task list into one text per record

interface RawRecord {
  text: string | null;
  /** Why the text was not kept (too large, too deep). */
  refused: string | null;
  index: number;
  line: number;
}

interface Capture {
  purpose: 'record' | 'top' | 'key';
  kind: 'container' | 'string' | 'scalar';
  parts: string[];
  chars: number;
  limit: number;
  refused: string | null;
  depth: number;
  inString: boolean;
  escape: boolean;
  line: number;
}

type JsonState = 'start' | 'keyFirst' | 'key' | 'colon' | 'value' | 'comma' | 'itemFirst' | 'item' | 'itemComma' | 'done';

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

class JsonExportScanner {
  line = 1;
  private state: JsonState = 'start';
  private mode: 'document' | 'list' | null = null;
  private cap: Capture | null = null;
  private key = '';
  private readonly seenKeys = new Set<string>();
  private index = 0;
  /** Small top-level scalars kept for checks (versions, counts). */
  readonly topValues = new Map<string, unknown>();
  sawList = false;

  constructor(private readonly onRecord: (r: RawRecord) => void) {}

  private fail(message: string): never {
    throw new FileFormatError(`line ${this.line}: ${message}`);
  }

  feed(text: string): void {
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (this.cap) {
        i = this.capture(text, i);
        continue;
      }
      const c = text.charCodeAt(i);
      if (isSpace(c)) {
        if (c === 10) this.line++;
        i++;
        continue;
      }
      i = this.step(text, i, c);
    }
  }

  private startCapture(purpose: Capture['purpose'], text: string, i: number, c: number, limit: number): number {
    const kind = c === 123 || c === 91 ? 'container' : c === 34 ? 'string' : 'scalar';
    if (kind === 'scalar' && (c === 44 || c === 93 || c === 125 || c === 58)) this.fail(`expected a value, found ${JSON.stringify(text[i])}`);
    this.cap = { purpose, kind, parts: [], chars: 0, limit, refused: null, depth: 0, inString: false, escape: false, line: this.line };
    return i;
  }

  /** Consumes one structural character (or starts a capture) in the current state. */
  private step(text: string, i: number, c: number): number {
    switch (this.state) {
      case 'start':
        if (c === 123) {
          this.mode = 'document';
          this.state = 'keyFirst';
        } else if (c === 91) {
          this.mode = 'list';
          this.sawList = true;
          this.state = 'itemFirst';
        } else this.fail('not a JSON export (it must start with "{" or "[")');
        return i + 1;
      case 'keyFirst':
      case 'key':
        if (c === 125 && this.state === 'keyFirst') {
          this.state = 'done';
          return i + 1;
        }
        if (c !== 34) this.fail('expected a key in quotes');
        return this.startCapture('key', text, i, c, MAX_KEY_CHARS);
      case 'colon':
        if (c !== 58) this.fail('expected ":" after a key');
        this.state = 'value';
        return i + 1;
      case 'value':
        if (this.key === 'metrics') {
          if (c !== 91) this.fail('"metrics" must be a list of tasks');
          this.sawList = true;
          this.state = 'itemFirst';
          return i + 1;
        }
        return this.startCapture('top', text, i, c, MAX_TOP_VALUE_CHARS);
      case 'comma':
        if (c === 44) this.state = 'key';
        else if (c === 125) this.state = 'done';
        else this.fail('expected "," or "}" after a value');
        return i + 1;
      case 'itemFirst':
        if (c === 93) {
          this.endList();
          return i + 1;
        }
        return this.startCapture('record', text, i, c, MAX_RECORD_CHARS);
      case 'item':
        return this.startCapture('record', text, i, c, MAX_RECORD_CHARS);
      case 'itemComma':
        if (c === 44) this.state = 'item';
        else if (c === 93) this.endList();
        else this.fail('expected "," or "]" after a task');
        return i + 1;
      case 'done':
        this.fail('unexpected text after the end of the JSON document');
    }
  }

  private endList(): void {
    this.state = this.mode === 'list' ? 'done' : 'comma';
  }

  /** Scans a value being captured from `i`; returns where scanning stopped (the end of text, or just past the value). */
  private capture(text: string, start: number): number {
    const cap = this.cap as Capture;
    const n = text.length;
    let i = start;
    let end = -1;
    if (cap.kind === 'scalar') {
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c === 44 || c === 93 || c === 125 || isSpace(c)) {
          end = i;
          break;
        }
      }
    } else {
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c === 10) this.line++;
        if (cap.inString) {
          if (cap.escape) cap.escape = false;
          else if (c === 92) cap.escape = true;
          else if (c === 34) {
            cap.inString = false;
            if (cap.kind === 'string') {
              end = i + 1;
              break;
            }
          }
        } else if (c === 34) {
          // The opening quote of a string value, or of a string inside a container.
          cap.inString = true;
        } else if (c === 123 || c === 91) {
          cap.depth++;
          if (cap.depth > MAX_RECORD_DEPTH && cap.refused === null) cap.refused = `nested more than ${MAX_RECORD_DEPTH} levels deep`;
        } else if (c === 125 || c === 93) {
          cap.depth--;
          if (cap.depth === 0) {
            end = i + 1;
            break;
          }
        }
      }
    }
    const stop = end < 0 ? n : end;
    const taken = stop - start;
    if (cap.refused === null && cap.chars + taken > cap.limit) cap.refused = `larger than ${cap.limit} characters`;
    if (cap.refused === null) cap.parts.push(text.slice(start, stop));
    cap.chars += taken;
    if (end >= 0) this.finishCapture(cap);
    return stop;
  }

  private finishCapture(cap: Capture): void {
    this.cap = null;
    const raw = cap.refused === null ? cap.parts.join('') : null;
    if (cap.purpose === 'key') {
      if (raw === null) this.fail(`a key is ${cap.refused}`);
      let key: unknown;
      try {
        key = JSON.parse(raw);
      } catch {
        this.fail('a key is not a valid JSON string');
      }
      this.key = key as string;
      if (this.seenKeys.has(this.key)) this.fail(`the key ${JSON.stringify(safeText(this.key, 60))} appears twice`);
      this.seenKeys.add(this.key);
      this.state = 'colon';
      return;
    }
    if (cap.purpose === 'top') {
      if (raw !== null && cap.kind !== 'container') {
        try {
          this.topValues.set(this.key, JSON.parse(raw));
        } catch {
          this.fail(`the value of ${JSON.stringify(safeText(this.key, 60))} is not valid JSON`);
        }
      }
      this.state = 'comma';
      return;
    }
    this.onRecord({ text: raw, refused: cap.refused, index: this.index++, line: cap.line });
    this.state = 'itemComma';
  }

  finish(): void {
    if (this.cap || this.state !== 'done') this.fail('the file ends before the JSON document does: it was cut off, or is not a complete export');
    if (!this.sawList) this.fail('no "metrics" list: not an export of model-perf or of the original performance monitor');
    const version = this.topValues.get('schema_version');
    if (typeof version === 'number' && version > EXPORT_SCHEMA_VERSION) this.fail(`written by a newer version of model-perf (schema_version ${version}); update model-perf to import it`);
    const historyVersion = this.topValues.get('history_schema_version');
    if (typeof historyVersion === 'number' && historyVersion > HISTORY_SCHEMA_VERSION) this.fail(`written by a newer version of model-perf (history_schema_version ${historyVersion}); update model-perf to import it`);
  }

  /** True for an export document (`{..., "metrics": [...]}`), false for a bare list of records. */
  get isDocument(): boolean {
    return this.mode === 'document';
  }
}

// ---------------------------------------------------------------------------------------------
// CSV: RFC 4180 rows as this product's export writes them (CRLF, quotes doubled)

interface CsvRow {
  cells: string[];
  line: number;
  refused: string | null;
}

class CsvScanner {
  line = 1;
  private cells: string[] = [];
  private cell = '';
  private rowChars = 0;
  /** Line where the current row starts; -1 between rows. */
  private rowLine = -1;
  private refused: string | null = null;
  /** 0: start of a cell; 1: in an unquoted cell; 2: in quotes; 3: just after a quote inside quotes; 4: after a closing quote. */
  private state = 0;
  private lastWasCr = false;

  constructor(private readonly onRow: (row: CsvRow) => void) {}

  private add(text: string): void {
    if (this.refused !== null) return;
    this.rowChars += text.length;
    if (this.rowChars > MAX_RECORD_CHARS) {
      this.refused = `larger than ${MAX_RECORD_CHARS} characters`;
      this.cells = [];
      this.cell = '';
      return;
    }
    this.cell += text;
  }

  private endCell(): void {
    if (this.refused === null) {
      if (this.cells.length >= MAX_CSV_COLUMNS) {
        this.refused = `has more than ${MAX_CSV_COLUMNS} cells`;
        this.cells = [];
      } else this.cells.push(this.cell);
    }
    this.cell = '';
    this.state = 0;
  }

  private endRow(): void {
    this.endCell();
    const blank = this.refused === null && this.cells.length === 1 && this.cells[0] === '';
    if (!blank) this.onRow({ cells: this.cells, line: this.rowLine, refused: this.refused });
    this.cells = [];
    this.rowChars = 0;
    this.refused = null;
  }

  feed(text: string): void {
    const n = text.length;
    let runStart = -1; // start of plain characters not yet added to the cell
    const flushRun = (to: number): void => {
      if (runStart >= 0 && to > runStart) this.add(text.slice(runStart, to));
      runStart = -1;
    };
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      const wasCr = this.lastWasCr;
      this.lastWasCr = false;
      if (c === 10) this.line++;
      if (c === 10 && wasCr && this.rowLine === -1) continue; // the LF of a CRLF that ended the row
      // The first character of a row says where it starts (a row may span lines inside quotes).
      if (this.rowLine === -1) this.rowLine = this.line;
      if (this.state === 2) {
        if (c === 34) {
          flushRun(i);
          this.state = 3;
        } else if (runStart < 0) runStart = i;
        continue;
      }
      if (this.state === 3) {
        if (c === 34) {
          // A doubled quote is one quote of the text.
          this.add('"');
          this.state = 2;
          continue;
        }
        this.state = 4;
      }
      if (c === 44) {
        flushRun(i);
        this.endCell();
      } else if (c === 13 || c === 10) {
        flushRun(i);
        // CRLF is one row end (its LF is skipped above); a lone CR or LF ends a row too.
        if (c === 13) this.lastWasCr = true;
        this.endRow();
        this.rowLine = -1;
      } else if (this.state === 4) {
        if (this.refused === null) this.refused = 'has text after a closing quote';
      } else if (c === 34 && this.state === 0) {
        this.state = 2;
      } else if (c === 34) {
        if (this.refused === null) this.refused = 'has a quote inside an unquoted cell';
      } else {
        this.state = 1;
        if (runStart < 0) runStart = i;
      }
    }
    flushRun(n);
  }

  finish(): void {
    if (this.state === 2) throw new FileFormatError(`line ${this.rowLine}: the file ends inside a quoted cell: it was cut off`);
    if (this.cells.length > 0 || this.cell !== '' || this.state !== 0) this.endRow();
  }
}

/** A CSV cell back to what csvCell wrote it from: the formula guard (a leading quote) removed. */
function unguard(cell: string): string {
  return /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A number cell: a number, or the text itself so that the record parser rejects it by name. */
function numberCell(cell: string): unknown {
  return DECIMAL.test(cell) ? Number(cell) : cell;
}

function phaseCell(item: string): unknown {
  const at = item.lastIndexOf('@');
  const times = at >= 0 ? /^(\d+)-(\d*)$/.exec(item.slice(at + 1)) : null;
  if (!times) return item;
  return { name: item.slice(0, at), startTime: Number(times[1]), endTime: times[2] === '' ? null : Number(times[2]) };
}

/** One CSV row as a record object for toTask, by the kinds of the columns. */
function csvRecord(columns: readonly (MetricsField | null)[], cells: readonly string[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  columns.forEach((field, i) => {
    if (field === null) return;
    const raw = cells[i] as string;
    switch (METRICS_FIELDS[field]) {
      case 'text':
      case 'status':
        record[field] = unguard(raw);
        break;
      case 'nullableText':
      case 'scope':
        record[field] = raw === '' ? null : unguard(raw);
        break;
      case 'number':
        if (raw !== '') record[field] = numberCell(raw);
        break;
      case 'nullableNumber':
        record[field] = raw === '' ? null : numberCell(raw);
        break;
      case 'optionalNumber':
        if (raw !== '') record[field] = numberCell(raw);
        break;
      case 'boolean':
        record[field] = raw === 'true' ? true : raw === 'false' ? false : raw;
        break;
      case 'numberList':
        record[field] = raw === '' ? [] : raw.split(';').map(numberCell);
        break;
      case 'textList':
        record[field] = raw === '' ? [] : unguard(raw).split(';');
        break;
      case 'phases':
        if (raw !== '') record[field] = unguard(raw).split(';').map(phaseCell);
        break;
    }
  });
  return record;
}

const CSV_REQUIRED: readonly MetricsField[] = ['taskId', 'modelType', 'resolution', 'steps', 'startTime', 'status', 'success'];

// ---------------------------------------------------------------------------------------------
// The import

/** Opens `path` for reading without blocking on a pipe, and checks that it is a regular file. */
async function openInput(path: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    // O_NONBLOCK: opening a named pipe with no writer would otherwise wait for ever.
    fh = await open(path, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImportError(path, `cannot read "${path}": ${code === 'ENOENT' ? 'no such file' : describeFsError(err)}`, err);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ImportError(path, `cannot import "${path}": it is ${st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a named pipe' : 'not a regular file'}; give an export file (JSON or CSV)`);
    return { fh, size: st.size };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/** Appends the accepted tasks to the history: the one place the store is written, so a batch API can replace `append`. */
async function appendImported(store: ImportTarget, tasks: AsyncIterable<PerformanceMetrics>, progress: { appended: number }): Promise<void> {
  for await (const task of tasks) {
    await store.append(task);
    progress.appended++;
  }
}

/** Accepted records, one history line each, in a file: memory stays flat however large the import. */
class Spool {
  private fh: FileHandle | null = null;
  private pending: string[] = [];
  private pendingChars = 0;
  count = 0;

  private constructor(readonly path: string) {}

  static async create(dir: string): Promise<Spool> {
    const spool = new Spool(join(dir, `import-${process.pid}-${randomBytes(4).toString('hex')}.spool`));
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      spool.fh = await open(spool.path, 'wx', 0o600);
    } catch (err) {
      throw new ImportError(spool.path, `cannot create the import spool "${spool.path}": ${describeFsError(err)}; nothing was imported`, err);
    }
    return spool;
  }

  async add(task: PerformanceMetrics): Promise<void> {
    const line = `${JSON.stringify(task)}\n`;
    this.pending.push(line);
    this.pendingChars += line.length;
    this.count++;
    if (this.pendingChars >= SPOOL_BATCH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0 || !this.fh) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    try {
      await this.fh.writeFile(text);
    } catch (err) {
      throw new ImportError(this.path, `cannot write the import spool "${this.path}": ${describeFsError(err)}; nothing was imported`, err);
    }
  }

  async *tasks(): AsyncGenerator<PerformanceMetrics> {
    await this.flush();
    await this.fh?.close();
    this.fh = null;
    const lines = createInterface({ input: createReadStream(this.path, { encoding: 'utf8' }), crlfDelay: Infinity });
    // Written above from tasks that passed every check, in a private file: not checked twice (that
    // doubled the cost of an import). A line that does not parse, or a count that differs, is a damaged disk.
    let read = 0;
    for await (const line of lines) {
      if (line === '') continue;
      let task: PerformanceMetrics;
      try {
        task = JSON.parse(line) as PerformanceMetrics;
      } catch {
        throw new Error(`the import spool "${this.path}" was damaged while importing (line ${read + 1})`);
      }
      read++;
      yield task;
    }
    if (read !== this.count) throw new Error(`the import spool "${this.path}" holds ${read} of the ${this.count} accepted tasks: it was damaged while importing`);
  }

  async remove(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
    await unlink(this.path).catch(() => undefined);
  }
}

function dedupeKey(task: Pick<PerformanceMetrics, 'taskId' | 'startTime'>): string {
  return `${task.taskId}\u0000${task.startTime}`;
}

/**
 * Imports `filePath` into `store`. Throws ImportError when the file cannot be opened; otherwise
 * returns a report (rejected records and a cut-off file are reported, not thrown).
 */
export async function importHistory(filePath: string, store: ImportTarget, options: ImportOptions): Promise<ImportReport> {
  const maxProblems = options.maxProblems ?? DEFAULT_MAX_PROBLEMS;
  const report: ImportReport = {
    file: filePath,
    format: null,
    keyStyles: [],
    records: 0,
    imported: 0,
    duplicates: 0,
    rejected: 0,
    problems: [],
    problemsOmitted: 0,
    fileError: null,
    ignoredFields: [],
    written: false,
  };
  const problem = async (where: string, reason: string): Promise<void> => {
    const p = { where, reason: safeText(reason, 300) };
    if (report.problems.length < maxProblems) report.problems.push(p);
    else report.problemsOmitted++;
    await options.onProblem?.(p);
  };
  const { fh, size } = await openInput(filePath);
  let spool: Spool | null = null;
  try {
    const existing = new Set<string>();
    for (const t of (await store.load(options.nowMs)).tasks) existing.add(dedupeKey(t));
    spool = await Spool.create(options.spoolDir);
    const styles = new Set<ImportKeyStyle>();
    const ignored = new Set<string>();

    const accept = async (value: unknown, where: string): Promise<void> => {
      report.records++;
      const result = toTask(value, options.nowMs);
      if (!result.ok) {
        report.rejected++;
        await problem(where, result.reason);
        return;
      }
      styles.add(result.style);
      for (const f of result.ignored) if (ignored.size < 20) ignored.add(safeText(f, 60));
      const key = dedupeKey(result.task);
      if (existing.has(key)) {
        report.duplicates++;
        return;
      }
      existing.add(key);
      await (spool as Spool).add(result.task);
    };

    // Each chunk's records are handled before the next chunk is read: at most a chunk of text and one record in memory.
    let pending: (() => Promise<void>)[] = [];
    let format: ImportFormat | null = null;
    let json: JsonExportScanner | null = null;
    let csv: CsvScanner | null = null;
    let columns: (MetricsField | null)[] | null = null;
    const onRecord = (r: RawRecord): void => {
      const where = `${json?.isDocument ? 'metrics' : ''}[${r.index}], line ${r.line}`;
      pending.push(async () => {
        if (r.text === null) {
          report.records++;
          report.rejected++;
          await problem(where, `the record is ${r.refused ?? 'unreadable'}`);
          return;
        }
        let value: unknown;
        try {
          value = JSON.parse(r.text);
        } catch (err) {
          report.records++;
          report.rejected++;
          // Python's json module writes NaN and Infinity, which JSON does not have.
          const why = /(?:^|[\s:,[])-?(?:NaN|Infinity)\s*[,}\]]/.test(r.text) ? 'holds NaN or Infinity, which JSON does not allow' : err instanceof Error ? err.message : String(err);
          await problem(where, `not valid JSON (${why})`);
          return;
        }
        await accept(value, where);
      });
    };
    const onRow = (row: CsvRow): void => {
      if (columns === null) {
        if (row.refused !== null) throw new FileFormatError(`line ${row.line}: the header row ${row.refused}`);
        const seen = new Set<string>();
        columns = row.cells.map((name) => {
          if (PROTOTYPE_KEYS.has(name)) throw new FileFormatError(`line ${row.line}: the header has a column named ${JSON.stringify(name)}, which no task field has`);
          if (seen.has(name)) throw new FileFormatError(`line ${row.line}: the header names the column ${JSON.stringify(safeText(name, 60))} twice`);
          seen.add(name);
          const field = FIELD_SET.has(name) ? (name as MetricsField) : (SNAKE_FIELDS.get(name) ?? null);
          if (field === null && ignored.size < 20) ignored.add(safeText(name, 60));
          return field;
        });
        const missing = CSV_REQUIRED.filter((f) => !(columns as (MetricsField | null)[]).includes(f));
        if (missing.length > 0) throw new FileFormatError(`line ${row.line}: the header has no ${missing.join(', ')} column${missing.length > 1 ? 's' : ''}: not a CSV export of model-perf`);
        return;
      }
      const cols = columns;
      const where = `line ${row.line}`;
      pending.push(async () => {
        if (row.refused !== null || row.cells.length !== cols.length) {
          report.records++;
          report.rejected++;
          await problem(where, row.refused !== null ? `the row ${row.refused}` : `the row has ${row.cells.length} cells, the header ${cols.length}`);
          return;
        }
        await accept(csvRecord(cols, row.cells), where);
      });
    };

    const decoder = new TextDecoder('utf-8', { fatal: true });
    const chunkBytes = Math.max(1, options.readChunkBytes ?? READ_CHUNK_BYTES);
    const buffer = Buffer.allocUnsafe(chunkBytes);
    let position = 0;
    let blankLines = 0;
    try {
      // Read no further than the size seen at the start: a file that grows while read ends there.
      while (position < size) {
        const { bytesRead } = await fh.read(buffer, 0, Math.min(chunkBytes, size - position), position);
        if (bytesRead === 0) break;
        position += bytesRead;
        let text: string;
        try {
          text = decoder.decode(buffer.subarray(0, bytesRead), { stream: true });
        } catch {
          throw new FileFormatError(`the file is not valid UTF-8 text (in the bytes ${position - bytesRead} to ${position})`);
        }
        if (format === null) {
          const first = /\S/.exec(text);
          if (!first) {
            // Leading blank reads: only their lines matter, for the line numbers after them.
            for (let k = text.indexOf('\n'); k >= 0; k = text.indexOf('\n', k + 1)) blankLines++;
            continue;
          }
          format = first[0] === '{' || first[0] === '[' ? 'json' : 'csv';
          report.format = format;
          if (format === 'json') json = new JsonExportScanner(onRecord);
          else csv = new CsvScanner(onRow);
          (json ?? (csv as CsvScanner)).line += blankLines;
        }
        try {
          if (json) json.feed(text);
          else csv?.feed(text);
        } finally {
          // Records found before a structural error still count.
          const work = pending;
          pending = [];
          for (const w of work) await w();
        }
      }
      try {
        decoder.decode();
      } catch {
        throw new FileFormatError('the file is not valid UTF-8 text (it ends inside a character)');
      }
      if (format === null) throw new FileFormatError('the file is empty');
      try {
        if (json) json.finish();
        else csv?.finish();
      } finally {
        const work = pending;
        pending = [];
        for (const w of work) await w();
      }
    } catch (err) {
      if (!(err instanceof FileFormatError)) throw err;
      report.fileError = err.message;
      await problem('file', err.message);
    }
    report.keyStyles = [...styles];
    report.ignoredFields = [...ignored];
    const clean = report.rejected === 0 && report.fileError === null;
    if ((clean || options.partial) && spool.count > 0) {
      const progress = { appended: 0 };
      try {
        await appendImported(store, spool.tasks(), progress);
      } catch (err) {
        // The history may refuse midway (disk full, lock held): say how far it got. Importing the
        // same file again is safe: the tasks already appended are skipped as duplicates.
        const why = err instanceof Error ? err.message : String(err);
        throw new ImportError(filePath, `${progress.appended} of ${spool.count} task(s) were imported, then: ${why}. Run the same import again to add the rest (those already in are skipped).`, err);
      }
      report.imported = progress.appended;
      report.written = report.imported > 0;
    }
    return report;
  } finally {
    await fh.close().catch(() => undefined);
    await spool?.remove();
  }
}
