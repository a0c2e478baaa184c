// The task history every window and the CLI share: one JSON-lines file in a per-user folder, each
// record stamped with a schema version. Appends and compaction take a lock file; a bad line is
// skipped and reported, never fatal. Running-task markers let the next start record dead tasks.
import { createHash, randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { homedir, hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { parseStructuredField } from '../../shared/structuredFields';
import { TASK_STATUSES, metricsFieldsOfKind, type PerformanceMetrics, type TaskPhase, type TaskStatus } from '../../shared/metrics';

export const HISTORY_SCHEMA_VERSION = 1;
export const HISTORY_FILE_NAME = 'history.jsonl';
const LOCK_FILE_NAME = 'history.lock';
export const RUNNING_DIR_NAME = 'running';
const DAY_MS = 86_400_000;

export class HistoryStoreError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'HistoryStoreError';
  }
}

/** A line or marker that was skipped, and why. `line` is 1-based; null for markers. */
export interface StoreWarning {
  file: string;
  line: number | null;
  reason: string;
}

export interface LoadResult {
  /** In file order (completion order). */
  tasks: PerformanceMetrics[];
  warnings: StoreWarning[];
  /** True when records are past retention (age or count) and a compaction would drop some. */
  needsCompaction: boolean;
}

export interface CompactionResult {
  kept: number;
  droppedExpired: number;
  droppedOverCount: number;
  droppedCorrupt: number;
  /** Lines from a newer schema are kept as they are: a newer build owns them. */
  keptUnknownSchema: number;
}

/** The port through which the monitor persists history; tests use MemoryHistoryStore. */
export interface HistoryStore {
  /** Where the history lives, for messages; null for an in-memory store. */
  readonly location: string | null;
  append(task: PerformanceMetrics): Promise<void>;
  load(nowMs: number): Promise<LoadResult>;
  compact(nowMs: number): Promise<CompactionResult>;
  /** Records that `task` is running in this process (overwrites the previous marker). */
  markRunning(task: PerformanceMetrics, nowMs: number): Promise<void>;
  clearRunning(taskId: string): Promise<void>;
  /**
   * Finds markers of tasks whose process has died, appends them as `interrupted` and returns them.
   * `activeTaskIds` are this process's live tasks, whose markers are left alone.
   */
  recoverInterrupted(nowMs: number, activeTaskIds: ReadonlySet<string>): Promise<PerformanceMetrics[]>;
  /** Removes every finished task; returns how many there were. Running markers stay. */
  clear(): Promise<number>;
}

export interface RetentionOptions {
  retentionDays: number;
  retentionMaxTasks: number;
}

/**
 * `$MODEL_PERF_HOME`, else the OS's per-user data folder: `$XDG_DATA_HOME/model-perf` or
 * `~/.local/share/model-perf` on Linux, `~/Library/Application Support/model-perf` on macOS,
 * `%LOCALAPPDATA%\model-perf` on Windows.
 */
export function defaultStorageDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home: string = homedir()): string {
  const override = env.MODEL_PERF_HOME;
  if (override && override.trim() !== '') return override;
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA && env.LOCALAPPDATA.trim() !== '' ? env.LOCALAPPDATA : join(home, 'AppData', 'Local');
    return join(local, 'model-perf');
  }
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'model-perf');
  const xdg = env.XDG_DATA_HOME;
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  if (xdg && xdg.startsWith('/')) return join(xdg, 'model-perf');
  return join(home, '.local', 'share', 'model-perf');
}

/** True when a process with this id exists (EPERM means it exists but is not ours). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function errnoReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'the folder does not exist';
    case 'ENOTDIR':
      return 'part of the path is a file, not a folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOSPC':
      return 'the disk is full';
    case 'EROFS':
      return 'the file system is read-only';
    case 'EISDIR':
      return 'the path is a folder';
    default:
      return e?.message ?? String(err);
  }
}

type Parsed = { kind: 'task'; task: PerformanceMetrics } | { kind: 'newerSchema'; version: number } | { kind: 'bad'; reason: string };

const NULLABLE_NUMBER_FIELDS = metricsFieldsOfKind('nullableNumber');
const NULLABLE_TEXT_FIELDS = metricsFieldsOfKind('nullableText');
const SCOPE_FIELDS = metricsFieldsOfKind('scope');
const OPTIONAL_NUMBER_FIELDS = metricsFieldsOfKind('optionalNumber');

const SCOPES = ['processTree', 'device'];

/** Checks one record's shape; absent optional fields become null so older v1 writers still load. */
function isPhase(p: unknown): p is TaskPhase {
  if (typeof p !== 'object' || p === null) return false;
  const o = p as Record<string, unknown>;
  return typeof o.name === 'string' && typeof o.startTime === 'number' && Number.isFinite(o.startTime) && (o.endTime === null || o.endTime === undefined || (typeof o.endTime === 'number' && Number.isFinite(o.endTime)));
}

export function parseRecord(value: unknown): Parsed {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'bad', reason: 'not a JSON object' };
  const r = value as Record<string, unknown>;
  const version = r.schemaVersion;
  if (typeof version !== 'number' || !Number.isInteger(version)) return { kind: 'bad', reason: 'no schemaVersion' };
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
  const task: Record<string, unknown> = {};
  for (const key of NULLABLE_NUMBER_FIELDS) {
    const v = r[key] ?? null;
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) return { kind: 'bad', reason: `field "${key}" must be a number or null` };
    task[key] = v;
  }
  for (const key of SCOPE_FIELDS) {
    const v = r[key] ?? null;
    if (v !== null && !SCOPES.includes(v as string)) return { kind: 'bad', reason: `field "${key}" must be processTree, device or null` };
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
  // Progress and phases came later: a record without them loads without them (optional fields).
  for (const key of OPTIONAL_NUMBER_FIELDS) {
    if (!(key in r)) continue;
    const v = r[key] ?? null;
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) return { kind: 'bad', reason: `field "${key}" must be a number or null` };
    task[key] = v;
  }
  if ('phases' in r) {
    const phases = r.phases ?? [];
    if (!Array.isArray(phases) || phases.length > 1000 || !phases.every(isPhase)) return { kind: 'bad', reason: 'field "phases" must be a list of {name, startTime, endTime}' };
    task.phases = phases.map((p: TaskPhase) => ({ name: p.name, startTime: p.startTime, endTime: p.endTime ?? null }));
  }
  // Timeline, git commit and prediction came later still; a malformed one is left out, the task kept.
  for (const key of metricsFieldsOfKind('structured')) {
    const v = key in r ? parseStructuredField(key, r[key]) : undefined;
    if (v !== undefined) task[key] = v;
  }
  return {
    kind: 'task',
    task: {
      ...(task as unknown as PerformanceMetrics),
      taskId: r.taskId as string,
      modelType: r.modelType as string,
      resolution: r.resolution as string,
      steps: r.steps as number,
      startTime: r.startTime as number,
      status: r.status as TaskStatus,
      success: r.success,
      gpuIndices: gpuIndices as number[],
      optimizationsApplied: optimizations as string[],
      sampleCount,
      offloadUsed,
    },
  };
}

/** One line of the history file, newline included. */
export function serializeRecord(task: PerformanceMetrics): string {
  return `${JSON.stringify({ schemaVersion: HISTORY_SCHEMA_VERSION, ...task })}\n`;
}

interface ParsedLine {
  text: string;
  parsed: Parsed;
  lineNo: number;
}

/** Splits file text into lines; a last line without its newline is a torn write and is reported. */
export function parseHistoryText(text: string, file: string): { lines: ParsedLine[]; warnings: StoreWarning[] } {
  const lines: ParsedLine[] = [];
  const warnings: StoreWarning[] = [];
  const parts = text.split('\n');
  const torn = parts.length > 0 && parts[parts.length - 1] !== '';
  for (let i = 0; i < parts.length; i++) {
    const raw = parts[i] as string;
    const lineNo = i + 1;
    if (i === parts.length - 1) {
      if (torn) warnings.push({ file, line: lineNo, reason: 'the last line is cut off (a write was interrupted); skipped' });
      break;
    }
    if (raw.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      warnings.push({ file, line: lineNo, reason: 'not valid JSON (corrupt line); skipped' });
      continue;
    }
    const parsed = parseRecord(value);
    if (parsed.kind === 'bad') warnings.push({ file, line: lineNo, reason: `${parsed.reason}; skipped` });
    else if (parsed.kind === 'newerSchema') {
      warnings.push({ file, line: lineNo, reason: `schema version ${parsed.version} is newer than this build reads (${HISTORY_SCHEMA_VERSION}); skipped, and kept in the file for the newer build` });
    }
    lines.push({ text: raw, parsed, lineNo });
  }
  return { lines, warnings };
}

function retentionKeep(task: PerformanceMetrics, nowMs: number, retention: RetentionOptions): boolean {
  return nowMs - (task.endTime ?? task.startTime) <= retention.retentionDays * DAY_MS;
}

export interface JsonlHistoryStoreOptions extends RetentionOptions {
  /** Called once per skipped line or marker. */
  onWarning?: (warning: StoreWarning) => void;
  /** How long to wait for another process's lock before giving up. */
  lockTimeoutMs?: number;
  /** A lock older than this is from a crashed process and is broken. */
  lockStaleMs?: number;
  /** A running marker not refreshed for this long is treated as dead even if its pid is reused. */
  markerStaleMs?: number;
  pid?: number;
  hostname?: string;
  isProcessAlive?: (pid: number) => boolean;
}

interface RunningMarker {
  schemaVersion: number;
  ownerPid: number;
  hostname: string;
  updatedAt: number;
  task: PerformanceMetrics;
}

export class JsonlHistoryStore implements HistoryStore {
  readonly location: string;
  private readonly file: string;
  private readonly lockFile: string;
  private readonly runningDir: string;
  private readonly pid: number;
  private readonly host: string;
  private readonly alive: (pid: number) => boolean;

  constructor(
    readonly dir: string,
    private readonly options: JsonlHistoryStoreOptions,
  ) {
    this.location = dir;
    this.file = join(dir, HISTORY_FILE_NAME);
    this.lockFile = join(dir, LOCK_FILE_NAME);
    this.runningDir = join(dir, RUNNING_DIR_NAME);
    this.pid = options.pid ?? process.pid;
    this.host = options.hostname ?? osHostname();
    this.alive = options.isProcessAlive ?? isProcessAlive;
  }

  get historyFile(): string {
    return this.file;
  }

  private warn(w: StoreWarning): void {
    this.options.onWarning?.(w);
  }

  private async ensureDir(path: string): Promise<void> {
    try {
      await mkdir(path, { recursive: true });
    } catch (err) {
      throw new HistoryStoreError(`Cannot create the history folder "${path}": ${errnoReason(err)}. Set MODEL_PERF_HOME or the storage folder setting to a writable folder.`, err);
    }
  }

  /**
   * One `write()` of the whole line on an O_APPEND descriptor, so lines from several processes
   * never interleave; the lock keeps an append from landing in a file that compaction is replacing.
   */
  async append(task: PerformanceMetrics): Promise<void> {
    if (task.status === 'running') throw new HistoryStoreError(`Task "${task.taskId}" is still running; only finished tasks are written to history`);
    await this.appendLines(serializeRecord(task));
  }

  private async appendLines(text: string): Promise<void> {
    await this.ensureDir(this.dir);
    const data = Buffer.from(text, 'utf8');
    await this.withLock(async () => {
      let fh: FileHandle | null = null;
      try {
        fh = await open(this.file, 'a');
        const { bytesWritten } = await fh.write(data, 0, data.length);
        if (bytesWritten !== data.length) throw new Error(`only ${bytesWritten} of ${data.length} bytes were written`);
      } catch (err) {
        throw new HistoryStoreError(`Cannot append to the history file "${this.file}": ${errnoReason(err)}`, err);
      } finally {
        await fh?.close();
      }
    });
  }

  async load(nowMs: number): Promise<LoadResult> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { tasks: [], warnings: [], needsCompaction: false };
      throw new HistoryStoreError(`Cannot read the history file "${this.file}": ${errnoReason(err)}`, err);
    }
    const { lines, warnings } = parseHistoryText(text, this.file);
    for (const w of warnings) this.warn(w);
    const tasks: PerformanceMetrics[] = [];
    let expired = false;
    for (const l of lines) {
      if (l.parsed.kind !== 'task') continue;
      tasks.push(l.parsed.task);
      if (!expired && !retentionKeep(l.parsed.task, nowMs, this.options)) expired = true;
    }
    return { tasks, warnings, needsCompaction: expired || tasks.length > this.options.retentionMaxTasks };
  }

  /**
   * Reads the history under the lock, lets `edit` choose the lines to keep, and writes them through
   * a temporary file and a rename: the one way the file is ever rewritten.
   */
  private async rewrite<T>(edit: (lines: ParsedLine[], warnings: StoreWarning[]) => { keep: ParsedLine[]; result: T }): Promise<T> {
    await this.ensureDir(this.dir);
    return this.withLock(async () => {
      let text = '';
      try {
        text = await readFile(this.file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new HistoryStoreError(`Cannot read the history file "${this.file}": ${errnoReason(err)}`, err);
      }
      const { lines, warnings } = parseHistoryText(text, this.file);
      const { keep, result } = edit(lines, warnings);
      await writeFileAtomic(this.file, keep.map((l) => `${l.text}\n`).join(''));
      return result;
    });
  }

  /** Applies retention by writing the kept lines to a temporary file and renaming it over the history. */
  async compact(nowMs: number): Promise<CompactionResult> {
    return this.rewrite((lines, warnings) => {
      const result: CompactionResult = { kept: 0, droppedExpired: 0, droppedOverCount: 0, droppedCorrupt: warnings.length - lines.filter((l) => l.parsed.kind === 'newerSchema').length, keptUnknownSchema: 0 };
      const keep: ParsedLine[] = [];
      let validKept = 0;
      // Walk newest first so the count limit keeps the most recent tasks.
      for (let i = lines.length - 1; i >= 0; i--) {
        const l = lines[i] as ParsedLine;
        if (l.parsed.kind === 'newerSchema') {
          keep.push(l);
          result.keptUnknownSchema++;
        } else if (l.parsed.kind === 'task') {
          if (!retentionKeep(l.parsed.task, nowMs, this.options)) result.droppedExpired++;
          else if (validKept >= this.options.retentionMaxTasks) result.droppedOverCount++;
          else {
            keep.push(l);
            validKept++;
          }
        }
      }
      keep.reverse();
      result.kept = validKept;
      return { keep, result };
    });
  }

  async clear(): Promise<number> {
    // Records of a newer schema belong to a newer version of this tool: it clears its own.
    return this.rewrite((lines) => ({
      keep: lines.filter((l) => l.parsed.kind === 'newerSchema'),
      result: lines.filter((l) => l.parsed.kind === 'task').length,
    }));
  }

  private markerPath(taskId: string, pid = this.pid): string {
    const hash = createHash('sha1').update(taskId).digest('hex').slice(0, 16);
    return join(this.runningDir, `${pid}-${hash}.json`);
  }

  async markRunning(task: PerformanceMetrics, nowMs: number): Promise<void> {
    await this.ensureDir(this.runningDir);
    const marker: RunningMarker = { schemaVersion: HISTORY_SCHEMA_VERSION, ownerPid: this.pid, hostname: this.host, updatedAt: nowMs, task };
    // Rewritten every minute; losing the last rewrite to a power cut only loses a minute of figures.
    await writeFileAtomic(this.markerPath(task.taskId), JSON.stringify(marker), { durable: false });
  }

  async clearRunning(taskId: string): Promise<void> {
    try {
      await unlink(this.markerPath(taskId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new HistoryStoreError(`Cannot remove the running marker of task "${taskId}": ${errnoReason(err)}`, err);
    }
  }

  async recoverInterrupted(nowMs: number, activeTaskIds: ReadonlySet<string>): Promise<PerformanceMetrics[]> {
    let names: string[];
    try {
      names = await readdir(this.runningDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new HistoryStoreError(`Cannot list running-task markers in "${this.runningDir}": ${errnoReason(err)}`, err);
    }
    const recovered: PerformanceMetrics[] = [];
    const staleMs = this.options.markerStaleMs ?? DAY_MS;
    for (const name of names.sort()) {
      if (!name.endsWith('.json')) continue;
      const path = join(this.runningDir, name);
      let marker: RunningMarker;
      try {
        marker = JSON.parse(await readFile(path, 'utf8')) as RunningMarker;
        if (typeof marker.ownerPid !== 'number' || typeof marker.updatedAt !== 'number' || typeof marker.task?.taskId !== 'string' || typeof marker.task.startTime !== 'number') {
          throw new Error('missing fields');
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // finished meanwhile
        this.warn({ file: path, line: null, reason: 'running-task marker is corrupt; removed' });
        await unlink(path).catch(() => undefined);
        continue;
      }
      if (marker.hostname !== this.host) continue; // another machine sharing this folder owns it
      const ours = marker.ownerPid === this.pid;
      if (ours && activeTaskIds.has(marker.task.taskId)) continue;
      // A marker of our own pid that we are not running is from an earlier process that had our pid.
      const dead = ours || !this.alive(marker.ownerPid) || nowMs - marker.updatedAt > staleMs;
      if (!dead) continue;
      // Claim by rename so two windows starting together record the task once.
      const claimed = `${path}.claimed-${this.pid}-${randomBytes(4).toString('hex')}`;
      try {
        await rename(path, claimed);
      } catch {
        continue;
      }
      const task: PerformanceMetrics = {
        ...marker.task,
        status: 'interrupted',
        success: false,
        endTime: marker.updatedAt,
        generationTimeSeconds: null,
        errorCategory: marker.task.errorCategory ?? 'interrupted',
      };
      const parsed = parseRecord({ schemaVersion: HISTORY_SCHEMA_VERSION, ...task });
      if (parsed.kind !== 'task') {
        this.warn({ file: path, line: null, reason: `running-task marker holds an invalid task (${parsed.kind === 'bad' ? parsed.reason : 'newer schema'}); removed` });
        await unlink(claimed).catch(() => undefined);
        continue;
      }
      await this.append(parsed.task);
      await unlink(claimed).catch(() => undefined);
      recovered.push(parsed.task);
    }
    return recovered;
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const timeoutMs = this.options.lockTimeoutMs ?? 10_000;
    const staleMs = this.options.lockStaleMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const fh = await open(this.lockFile, 'wx');
        try {
          await fh.write(JSON.stringify({ pid: this.pid, hostname: this.host, at: Date.now() }));
        } finally {
          await fh.close();
        }
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new HistoryStoreError(`Cannot create the history lock "${this.lockFile}": ${errnoReason(err)}`, err);
        }
      }
      if (await this.lockIsStale(staleMs)) {
        // Move it aside before deleting so only one waiter breaks a given stale lock.
        const aside = `${this.lockFile}.stale-${this.pid}-${randomBytes(4).toString('hex')}`;
        await rename(this.lockFile, aside).then(
          () => unlink(aside).catch(() => undefined),
          () => undefined,
        );
        continue;
      }
      if (Date.now() > deadline) {
        throw new HistoryStoreError(
          `Timed out after ${timeoutMs} ms waiting for the history lock "${this.lockFile}". If no Model Perf window or CLI is writing history, delete that file.`,
        );
      }
      await new Promise<void>((resolve) => setTimeout(resolve, 1 + Math.random() * 4));
    }
    try {
      return await fn();
    } finally {
      await unlink(this.lockFile).catch(() => undefined);
    }
  }

  private async lockIsStale(staleMs: number): Promise<boolean> {
    try {
      const [text, st] = await Promise.all([readFile(this.lockFile, 'utf8'), stat(this.lockFile)]);
      if (Date.now() - st.mtimeMs > staleMs) return true;
      const info = JSON.parse(text) as { pid?: unknown; hostname?: unknown };
      return typeof info.pid === 'number' && info.hostname === this.host && info.pid !== this.pid && !this.alive(info.pid);
    } catch {
      // Gone, or still being written by its owner: not stale.
      return false;
    }
  }
}

/**
 * Writes through a temporary file in the same folder and renames it into place, so a crash or a
 * full disk never leaves half a file at `path`. Errors name the path and the reason.
 */
export interface WriteFileAtomicOptions {
  /**
   * Flush to disk before the rename (default true), so a power cut leaves the old file or the new
   * one. Heartbeats and other files rewritten every few seconds may skip it.
   */
  durable?: boolean;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, options: WriteFileAtomicOptions = {}): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  let fh: FileHandle | null = null;
  try {
    fh = await open(tmp, 'wx');
    await fh.writeFile(data);
    if (options.durable !== false) await fh.sync();
    await fh.close();
    fh = null;
    await rename(tmp, path);
  } catch (err) {
    if (fh) await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw new WriteFileError(path, err);
  }
}

export class WriteFileError extends Error {
  /** Why, in words (`the folder does not exist`, `the disk is full`, ...). */
  readonly reason: string;
  /** The errno code of the cause (`ENOENT`, `ENOSPC`, ...), for callers that branch on it. */
  readonly code: string | undefined;
  constructor(
    readonly path: string,
    override readonly cause: unknown,
  ) {
    const reason = errnoReason(cause);
    super(`Cannot write "${path}": ${reason}`);
    this.name = 'WriteFileError';
    this.reason = reason;
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/** History kept in memory only: for tests, and for a monitor told not to persist. */
export class MemoryHistoryStore implements HistoryStore {
  readonly location = null;
  readonly tasks: PerformanceMetrics[] = [];
  readonly running = new Map<string, PerformanceMetrics>();
  appendError: Error | null = null;

  async append(task: PerformanceMetrics): Promise<void> {
    if (this.appendError) throw this.appendError;
    this.tasks.push(structuredClone(task));
  }
  async load(): Promise<LoadResult> {
    return { tasks: this.tasks.map((t) => structuredClone(t)), warnings: [], needsCompaction: false };
  }
  async compact(): Promise<CompactionResult> {
    return { kept: this.tasks.length, droppedExpired: 0, droppedOverCount: 0, droppedCorrupt: 0, keptUnknownSchema: 0 };
  }
  async markRunning(task: PerformanceMetrics): Promise<void> {
    this.running.set(task.taskId, structuredClone(task));
  }
  async clearRunning(taskId: string): Promise<void> {
    this.running.delete(taskId);
  }
  async recoverInterrupted(): Promise<PerformanceMetrics[]> {
    return [];
  }
  async clear(): Promise<number> {
    return this.tasks.splice(0).length;
  }
}
