// The history on disk: segment files per UTC day under `<storage>/history/` (see segments.ts and
// docs/storage.md). Writers (append, compaction, migration, spool flush) take the lock; readers
// never write and never need the lock. A record that cannot be written is kept in the spool; a
// line that cannot be read is never deleted, only moved to the quarantine file.
import { createHash, randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { chmod, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { PerformanceMetrics } from '../../shared/metrics';
import type { HistoryStore } from './historyStore';
import { writeFileAtomic } from '../util/atomicWrite';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../util/privateFiles';
import { readChunks, readLines, readLinesBackward } from './lines';
import { withLock } from './lock';
import { HISTORY_SCHEMA_VERSION, HistorySpooledError, HistoryStoreError, parseLineBytes, parseRecord, recordKey, serializeRecord, type StoreWarning } from './records';
import {
  DAY_MS,
  HISTORY_DIR_NAME,
  LEGACY_FILE_NAME,
  MIGRATION_FILE_NAME,
  QUARANTINE_FILE_NAME,
  QUARANTINE_LOG_NAME,
  SPOOL_DIR_NAME,
  classifiedLines,
  classify,
  quickStartTime,
  listSegments,
  readSummary,
  scanSummary,
  segmentDayStart,
  segmentNameFor,
  summaryName,
  type ClassifiedLine,
  type SegmentSummary,
} from './segments';
import { HistoryWatcher, type HistoryChange } from './watcher';
import { describeFsError } from '../util/errors';

const LOCK_FILE_NAME = 'history.lock';
export const RUNNING_DIR_NAME = 'running';
/** Spool files larger than this are not records of this product. */
const MAX_SPOOL_FILE_BYTES = 8 * 1024 * 1024;
const WRITE_BATCH_BYTES = 1024 * 1024;
const NEWLINE_BUF = Buffer.from('\n');

export interface LoadOptions {
  /** Only tasks started at or after this time: only the segments that can hold them are read. */
  sinceMs?: number;
  /** Only the newest N tasks: segments are read newest first until N are found. */
  lastN?: number;
}

export interface LoadResult {
  /** Oldest segment first, completion order within a segment. */
  tasks: PerformanceMetrics[];
  warnings: StoreWarning[];
  /** True when a compaction would drop whole segments or migrate the old single file. */
  needsCompaction: boolean;
}

export interface CompactionResult {
  kept: number;
  droppedExpired: number;
  droppedOverCount: number;
  /** Unreadable lines moved to the quarantine file (never deleted). */
  droppedCorrupt: number;
  /** Lines from a newer schema are kept as they are: a newer build owns them. */
  keptUnknownSchema: number;
}

export interface IterateOptions {
  /** Tasks started at or after this time (default: all). */
  sinceMs?: number;
  /** Tasks started before this time (default: all). */
  untilMs?: number;
  /** Age retention is applied against this time (default: now). */
  nowMs?: number;
}

interface RetentionOptions {
  retentionDays: number;
  retentionMaxTasks: number;
}

/** The few file operations a test replaces to inject faults (a full disk) where no small disk exists. */
export interface StoreFsPort {
  open: (path: string, flags: string, mode?: number) => Promise<FileHandle>;
}

export interface JsonlHistoryStoreOptions extends RetentionOptions {
  /** Called once per skipped line or marker. */
  onWarning?: (warning: StoreWarning) => void;
  /** Called for things a user may want in the log: a broken lock, a migration, tightened modes. */
  onLog?: (message: string) => void;
  lockTimeoutMs?: number;
  /** A lock of a live-looking owner older than this is broken. */
  lockStaleMs?: number;
  /** A running marker not refreshed for this long is treated as dead even if its pid is reused. */
  markerStaleMs?: number;
  /** Fraction over retentionMaxTasks tolerated before a compaction trims (default 0.1). */
  countSlack?: number;
  pid?: number;
  hostname?: string;
  isProcessAlive?: (pid: number) => boolean;
  fs?: Partial<StoreFsPort>;
  /** The time retention is applied against at start (default Date.now). */
  now?: () => number;
}

interface RunningMarker {
  schemaVersion: number;
  ownerPid: number;
  hostname: string;
  updatedAt: number;
  task: PerformanceMetrics;
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

interface ReadPlanEntry {
  path: string;
  /** Segment day start; null for the old single file. */
  dayStart: number | null;
  /** Read only up to here (a migration in progress); undefined: to the end. */
  end?: number;
}

export class JsonlHistoryStore implements HistoryStore {
  readonly location: string;
  readonly historyDir: string;
  readonly legacyFile: string;
  readonly spoolDir: string;
  readonly quarantineFile: string;
  private readonly lockFile: string;
  private readonly runningDir: string;
  private readonly pid: number;
  private readonly host: string;
  private readonly alive: (pid: number) => boolean;
  private readonly fs: StoreFsPort;
  private prepared: Promise<void> | null = null;
  /** Keys of records this process wrote, so its own change notifications can be skipped. */
  readonly ownAppends = new Set<string>();
  /** Keys of spooled records moved into the history by this process: their markers are not interruptions. */
  private readonly flushedSpool = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly options: JsonlHistoryStoreOptions,
  ) {
    this.location = dir;
    this.historyDir = join(dir, HISTORY_DIR_NAME);
    this.legacyFile = join(dir, LEGACY_FILE_NAME);
    this.spoolDir = join(dir, SPOOL_DIR_NAME);
    this.quarantineFile = join(this.historyDir, QUARANTINE_FILE_NAME);
    this.lockFile = join(dir, LOCK_FILE_NAME);
    this.runningDir = join(dir, RUNNING_DIR_NAME);
    this.pid = options.pid ?? process.pid;
    this.host = options.hostname ?? osHostname();
    this.alive = options.isProcessAlive ?? isProcessAlive;
    this.fs = { open: (p, f, m) => open(p, f, m), ...options.fs };
  }

  /** Where new records go, for messages. */
  get historyFile(): string {
    return this.historyDir;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private warn(w: StoreWarning): void {
    this.options.onWarning?.(w);
  }

  private log(message: string): void {
    this.options.onLog?.(message);
  }

  private lock<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(
      {
        file: this.lockFile,
        pid: this.pid,
        hostname: this.host,
        alive: this.alive,
        timeoutMs: this.options.lockTimeoutMs ?? 10_000,
        staleMs: this.options.lockStaleMs ?? 30_000,
        emptyGraceMs: 1000,
        log: (m) => this.log(m),
      },
      fn,
    );
  }

  private async ensureDir(path: string): Promise<void> {
    try {
      await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE });
    } catch (err) {
      throw new HistoryStoreError(`Cannot create the history folder "${path}": ${describeFsError(err)}. Set MODEL_PERF_HOME or the storage folder setting to a writable folder.`, err);
    }
  }

  // ----- start: folders, modes, migration, spool (write path only) -----

  /** What the first write of this process does once: folders, modes, migration, spool. */
  prepare(): Promise<void> {
    this.prepared ??= this.doPrepare().catch((err: unknown) => {
      this.prepared = null;
      throw err;
    });
    return this.prepared;
  }

  private async doPrepare(): Promise<void> {
    await this.ensureDir(this.dir);
    await this.ensureDir(this.historyDir);
    await this.tightenModes();
    await this.lock(async () => {
      await this.undoInterruptedMigration();
      await this.migrateLegacy();
      await this.flushSpoolLocked();
      // Retention on the write path, once per process: a CLI that appends once per run would
      // otherwise never apply it. Cheap when nothing is due (a folder listing and small summaries).
      const result = await this.compactLocked(this.now(), true);
      if (result.droppedExpired + result.droppedOverCount + result.droppedCorrupt > 0) {
        const days = this.options.retentionDays;
        this.log(`History retention: ${result.droppedExpired} tasks older than ${days} day${days === 1 ? '' : 's'} and ${result.droppedOverCount} over the limit of ${this.options.retentionMaxTasks} removed, ${result.droppedCorrupt} unreadable lines moved to "${this.quarantineFile}"; ${result.kept} kept.`);
      }
    });
  }

  /** Folders 0700 and files 0600 whatever the umask was when they were made; each change logged. */
  private async tightenModes(): Promise<void> {
    const tighten = async (path: string, mode: number): Promise<void> => {
      try {
        const st = await stat(path);
        if ((st.mode & 0o777) === mode || (st.mode & 0o077) === 0) return;
        await chmod(path, mode);
        this.log(`Tightened the permissions of "${path}" from ${(st.mode & 0o777).toString(8).padStart(4, '0')} to ${mode.toString(8).padStart(4, '0')}: the history is private to its user.`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log(`Could not tighten the permissions of "${path}": ${describeFsError(err)}`);
      }
    };
    if (process.platform === 'win32') return;
    for (const d of [this.historyDir, this.spoolDir, this.runningDir]) {
      await tighten(d, PRIVATE_DIR_MODE);
      let names: string[] = [];
      try {
        names = await readdir(d);
      } catch {
        continue;
      }
      for (const n of names) await tighten(join(d, n), PRIVATE_FILE_MODE);
    }
    await tighten(this.legacyFile, PRIVATE_FILE_MODE);
  }

  private async undoInterruptedMigration(): Promise<void> {
    const marker = await this.readMigrationMarker();
    if (!marker) return;
    for (const [name, size] of Object.entries(marker)) {
      const fh = await open(join(this.historyDir, name), 'r+').catch(() => null);
      if (!fh) continue;
      try {
        await fh.truncate(size);
      } finally {
        await fh.close();
      }
      await unlink(join(this.historyDir, summaryName(name))).catch(() => undefined);
    }
    await unlink(join(this.historyDir, MIGRATION_FILE_NAME)).catch(() => undefined);
    this.log(`An earlier migration of "${this.legacyFile}" was cut short; it was undone and runs again.`);
  }

  private async readMigrationMarker(): Promise<Record<string, number> | null> {
    try {
      const v = JSON.parse(await readFile(join(this.historyDir, MIGRATION_FILE_NAME), 'utf8')) as unknown;
      if (typeof v !== 'object' || v === null) return {};
      const out: Record<string, number> = {};
      for (const [k, size] of Object.entries(v as Record<string, unknown>)) {
        if (segmentDayStart(k) !== null && typeof size === 'number' && Number.isInteger(size) && size >= 0) out[k] = size;
      }
      return out;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : {};
    }
  }

  /**
   * Moves the single `history.jsonl` of older builds into segments: sizes noted first (so a crash
   * is undone), records appended, the counts verified, then the old file removed. Unreadable lines
   * go to the quarantine; newer-schema lines to today's segment, verbatim.
   */
  private async migrateLegacy(): Promise<void> {
    let legacySize: number;
    try {
      legacySize = (await stat(this.legacyFile)).size;
    } catch {
      return;
    }
    const started = Date.now();
    const before: Record<string, number> = {};
    const pending = new Map<string, Buffer[]>();
    const written = new Map<string, number>();
    let pendingBytes = 0;
    let tasks = 0;
    let newer = 0;
    const flush = async (): Promise<void> => {
      for (const [name, parts] of pending) {
        if (!(name in before)) {
          before[name] = await stat(join(this.historyDir, name)).then(
            (s) => s.size,
            () => 0,
          );
          await writeFileAtomic(join(this.historyDir, MIGRATION_FILE_NAME), JSON.stringify(before), { mode: PRIVATE_FILE_MODE });
        }
        await this.appendRaw(name, Buffer.concat(parts), true);
      }
      pending.clear();
      pendingBytes = 0;
    };
    const quarantined: ClassifiedLine[] = [];
    const today = segmentNameFor({ startTime: Date.now(), endTime: null });
    for await (const l of classifiedLines(this.legacyFile, 0, legacySize)) {
      let name: string | null = null;
      if (l.unreadable !== null) quarantined.push(l);
      else if (l.parsed?.kind === 'task') {
        name = segmentNameFor(l.parsed.task);
        tasks++;
      } else if (l.parsed?.kind === 'newerSchema') {
        name = today;
        newer++;
      }
      if (name === null || !l.raw.bytes) continue;
      const parts = pending.get(name) ?? [];
      parts.push(l.raw.bytes, NEWLINE_BUF);
      pending.set(name, parts);
      written.set(name, (written.get(name) ?? 0) + l.raw.bytes.length + 1);
      pendingBytes += l.raw.bytes.length + 1;
      if (pendingBytes >= WRITE_BATCH_BYTES) await flush();
    }
    await flush();
    // Verify: each touched segment grew by exactly what was written, and its new lines read back.
    let readBack = 0;
    for (const [name, bytes] of written) {
      const path = join(this.historyDir, name);
      const size = (await stat(path)).size;
      const from = before[name] ?? 0;
      // A newline may have been added before the first record to end a cut-off line.
      if (size - from !== bytes && size - from !== bytes + 1) throw new HistoryStoreError(`Migration of "${this.legacyFile}" could not be verified: "${path}" has ${size - from} new bytes, expected ${bytes}; the old file is kept`);
      for await (const l of classifiedLines(path, from, size)) if (l.parsed?.kind === 'task' || l.parsed?.kind === 'newerSchema') readBack++;
    }
    if (readBack !== tasks + newer) throw new HistoryStoreError(`Migration of "${this.legacyFile}" could not be verified: ${readBack} records read back, expected ${tasks + newer}; the old file is kept`);
    if (quarantined.length > 0) await this.quarantine(this.legacyFile, quarantined);
    await unlink(this.legacyFile);
    await unlink(join(this.historyDir, MIGRATION_FILE_NAME)).catch(() => undefined);
    this.log(
      `Migrated the history "${this.legacyFile}" (${tasks} tasks${newer ? `, ${newer} newer-schema records` : ''}${quarantined.length ? `, ${quarantined.length} unreadable lines moved to "${this.quarantineFile}"` : ''}) to day segments in "${this.historyDir}" in ${Date.now() - started} ms; the old file was removed after the check.`,
    );
  }

  // ----- append and spool -----

  /**
   * Appends one finished task to its day's segment under the lock, starting on a fresh line and
   * cutting back any partial write. When that fails, the record goes to the spool and the error
   * (HistorySpooledError) says why and where it waits.
   */
  async append(task: PerformanceMetrics): Promise<void> {
    if (task.status === 'running') throw new HistoryStoreError(`Task "${task.taskId}" is still running; only finished tasks are written to history`);
    const line = Buffer.from(serializeRecord(task), 'utf8');
    const key = recordKey(task);
    this.ownAppends.add(key);
    try {
      await this.prepare();
      await this.lock(() => this.appendRaw(segmentNameFor(task), line, false));
    } catch (err) {
      this.ownAppends.delete(key);
      throw await this.spool(task, line, err);
    }
    // The record is safe; an old spool that still cannot move only waits for the next time.
    // Most appends find no spool: only then is the lock taken again.
    const spooled = await readdir(this.spoolDir).then(
      (names) => names.some((n) => n.endsWith('.jsonl')),
      () => false,
    );
    if (spooled) await this.lock(() => this.flushSpoolLocked()).catch((err: unknown) => this.log(`Spooled tasks could not be moved into the history yet: ${err instanceof Error ? err.message : String(err)}`));
  }

  /** Under the lock: appends whole lines to a segment, never gluing them onto a cut-off line. */
  private async appendRaw(name: string, data: Buffer, durable: boolean): Promise<void> {
    const path = join(this.historyDir, name);
    let fh: FileHandle | null = null;
    let size = 0;
    let written = false;
    try {
      fh = await this.fs.open(path, 'a', PRIVATE_FILE_MODE);
      size = (await fh.stat()).size;
      let out = data;
      if (size > 0) {
        const last = Buffer.alloc(1);
        const rfh = await open(path, 'r');
        try {
          await rfh.read(last, 0, 1, size - 1);
        } finally {
          await rfh.close();
        }
        if (last[0] !== 0x0a) out = Buffer.concat([NEWLINE_BUF, data]);
      }
      written = true;
      let off = 0;
      while (off < out.length) {
        const { bytesWritten } = await fh.write(out, off, out.length - off);
        if (bytesWritten <= 0) throw new Error(`only ${off} of ${out.length} bytes were written`);
        off += bytesWritten;
      }
      if (durable) await fh.sync();
      await this.updateSummary(name, size, out, data);
    } catch (err) {
      // Take back a partial record so it can never merge with a later line.
      if (fh && written) await fh.truncate(size).catch(() => undefined);
      throw new HistoryStoreError(`Cannot append to the history file "${path}": ${describeFsError(err)}`, err);
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  private async updateSummary(name: string, sizeBefore: number, out: Buffer, data: Buffer): Promise<void> {
    const prev = sizeBefore === 0 ? { bytes: 0, tasks: 0, newerSchema: 0, unreadable: 0, torn: false } : await readSummary(this.historyDir, name);
    if (!prev || prev.bytes !== sizeBefore) return; // out of date already: the next compaction rescans
    let tasks = 0;
    let newer = 0;
    // Counted as a reader would count them (a byte-order mark is tolerated there too).
    for (let from = 0; from < data.length; ) {
      const nl = data.indexOf(0x0a, from);
      const end = nl === -1 ? data.length : nl;
      const p = parseLineBytes(data.subarray(from, end));
      if (p?.kind === 'task') tasks++;
      else if (p?.kind === 'newerSchema') newer++;
      else if (p?.kind === 'bad') return; // not ours to count: the next compaction rescans
      from = end + 1;
    }
    const next: SegmentSummary = { bytes: sizeBefore + out.length, tasks: prev.tasks + tasks, newerSchema: prev.newerSchema + newer, unreadable: prev.unreadable, torn: false };
    // Not durable: a summary lost to a power cut is only out of date, and rescanned.
    await writeFileAtomic(join(this.historyDir, summaryName(name)), JSON.stringify(next), { durable: false, mode: PRIVATE_FILE_MODE }).catch(() => undefined);
  }

  private async spool(task: PerformanceMetrics, line: Buffer, cause: unknown): Promise<HistoryStoreError> {
    const why = cause instanceof Error ? cause.message : String(cause);
    const reason = describeFsError(cause instanceof HistoryStoreError && cause.cause !== undefined ? cause.cause : cause);
    const file = join(this.spoolDir, `${Date.now()}-${this.pid}-${randomBytes(4).toString('hex')}.jsonl`);
    try {
      await mkdir(this.spoolDir, { recursive: true, mode: PRIVATE_DIR_MODE });
      await writeFileAtomic(file, line, { mode: PRIVATE_FILE_MODE });
    } catch (spoolErr) {
      return new HistoryStoreError(`${why}; the task could not be kept in the spool "${this.spoolDir}" either (${describeFsError((spoolErr as { cause?: unknown }).cause ?? spoolErr)})`, cause);
    }
    // The record is safe in the spool: its running marker must not turn it into `interrupted`.
    await unlink(this.markerPath(task.taskId)).catch(() => undefined);
    return new HistorySpooledError(`${why}; the task is kept in "${file}" and goes into the history on the next start or save`, file, reason, cause);
  }

  /** Under the lock: moves spooled records into their segments, oldest first. */
  private async flushSpoolLocked(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.spoolDir)).filter((n) => n.endsWith('.jsonl')).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const path = join(this.spoolDir, n);
      const st = await stat(path).catch(() => null);
      if (!st) continue;
      if (st.size > MAX_SPOOL_FILE_BYTES) {
        this.warn({ file: path, line: null, reason: `spool file is ${st.size} bytes, more than a record may take; left where it is` });
        continue;
      }
      const bad: ClassifiedLine[] = [];
      let moved = 0;
      for await (const l of classifiedLines(path)) {
        if (l.unreadable !== null) bad.push(l);
        else if (l.parsed?.kind === 'task' && l.raw.bytes) {
          await this.appendRaw(segmentNameFor(l.parsed.task), Buffer.concat([l.raw.bytes, NEWLINE_BUF]), true);
          this.flushedSpool.add(recordKey(l.parsed.task));
          if (n.includes(`-${this.pid}-`)) this.ownAppends.add(recordKey(l.parsed.task));
          moved++;
        }
      }
      if (bad.length > 0) await this.quarantine(path, bad);
      await unlink(path);
      this.log(`Moved ${moved} spooled task(s) from "${path}" into the history.`);
    }
  }

  // ----- quarantine -----

  /** Copies unreadable lines, byte for byte, to the quarantine file (flushed to disk) and says so. */
  private async quarantine(source: string, lines: ClassifiedLine[]): Promise<void> {
    if (lines.length === 0) return;
    const fh = await open(this.quarantineFile, 'a', PRIVATE_FILE_MODE);
    try {
      const size = (await fh.stat()).size;
      if (size > 0) {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, size - 1).catch(() => undefined);
        if (last[0] !== 0x0a) await fh.write(NEWLINE_BUF);
      }
      for (const l of lines) {
        if (l.raw.bytes) await fh.write(l.raw.bytes);
        else for await (const chunk of readChunks(source, l.raw.offset, l.raw.offset + l.raw.length)) await fh.write(chunk);
        await fh.write(NEWLINE_BUF);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    const stamp = new Date().toISOString();
    const logText = lines.map((l) => `${stamp} ${source}:${l.raw.lineNo}: ${l.unreadable ?? 'unreadable'}\n`).join('');
    const lfh = await open(join(this.historyDir, QUARANTINE_LOG_NAME), 'a', PRIVATE_FILE_MODE);
    try {
      await lfh.write(logText);
    } finally {
      await lfh.close();
    }
    for (const l of lines) this.warn({ file: source, line: l.raw.lineNo, reason: `${l.unreadable ?? 'unreadable'}; moved to ${this.quarantineFile}` });
  }

  // ----- reading: no lock, no writes -----

  /** The files a reader reads, oldest first. */
  private async readPlan(): Promise<ReadPlanEntry[]> {
    const plan: ReadPlanEntry[] = [];
    if (await stat(this.legacyFile).then(() => true, () => false)) plan.push({ path: this.legacyFile, dayStart: null });
    let segments: string[];
    try {
      segments = await listSegments(this.historyDir);
    } catch (err) {
      throw new HistoryStoreError(`Cannot list the history folder "${this.historyDir}": ${describeFsError(err)}`, err);
    }
    // A migration in progress: its new bytes are not read until the old file is gone.
    const migrating = plan.length > 0 ? await this.readMigrationMarker() : null;
    for (const name of segments) {
      const limit = migrating?.[name];
      plan.push({ path: join(this.historyDir, name), dayStart: segmentDayStart(name), ...(limit !== undefined ? { end: limit } : {}) });
    }
    return plan;
  }

  /**
   * The tasks of one file, in file order, or last first with `backward` (the newest N cost only
   * N). Lines whose start time is plainly before `minStartMs` are skipped without being parsed.
   */
  private async *tasksIn(entry: ReadPlanEntry, warnings: StoreWarning[], backward = false, minStartMs = -Infinity): AsyncGenerator<PerformanceMetrics> {
    try {
      for await (const raw of backward ? readLinesBackward(entry.path, entry.end) : readLines(entry.path, 0, entry.end)) {
        if (minStartMs !== -Infinity && raw.bytes !== null) {
          const start = quickStartTime(raw.bytes);
          if (start !== null && start < minStartMs) continue;
        }
        const l = classify(raw);
        const line = backward ? null : raw.lineNo;
        const where = backward ? ` (at byte ${raw.offset})` : '';
        if (l.unreadable !== null) {
          const w = { file: entry.path, line, reason: `${l.unreadable}${where}; skipped` };
          warnings.push(w);
          this.warn(w);
        } else if (l.parsed?.kind === 'newerSchema') {
          const w = { file: entry.path, line, reason: `schema version ${l.parsed.version} is newer than this build reads (${HISTORY_SCHEMA_VERSION})${where}; skipped, and kept in the file for the newer build` };
          warnings.push(w);
          this.warn(w);
        } else if (l.parsed?.kind === 'task') yield l.parsed.task;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // removed by a compaction meanwhile
      throw new HistoryStoreError(`Cannot read the history file "${entry.path}": ${describeFsError(err)}`, err);
    }
  }

  /**
   * Loads the tasks inside retention (age, then the newest retentionMaxTasks). `lastN` and
   * `sinceMs` read only the segments that can hold what is asked for.
   */
  async load(nowMs: number, options: LoadOptions = {}): Promise<LoadResult> {
    const warnings: StoreWarning[] = [];
    const cutoff = nowMs - this.options.retentionDays * DAY_MS;
    const since = Math.max(cutoff, options.sinceMs ?? -Infinity);
    const want = Math.min(options.lastN ?? Infinity, this.options.retentionMaxTasks);
    const plan = await this.readPlan();
    let needsCompaction = plan.some((e) => e.dayStart === null || e.dayStart + DAY_MS <= cutoff);
    const chunks: PerformanceMetrics[][] = [];
    let found = 0;
    // The newest N: each file is read from its end, and reading stops once N are found.
    const backward = options.lastN !== undefined;
    for (let i = plan.length - 1; i >= 0 && found < want; i--) {
      const e = plan[i] as ReadPlanEntry;
      // A segment holds tasks that ended that day: all of them started before its day ended.
      if (e.dayStart !== null && e.dayStart + DAY_MS <= since) continue;
      const got: PerformanceMetrics[] = [];
      for await (const t of this.tasksIn(e, warnings, backward, options.sinceMs ?? -Infinity)) {
        if ((t.endTime ?? t.startTime) < cutoff) continue;
        if (options.sinceMs !== undefined && t.startTime < options.sinceMs) continue;
        got.push(t);
        if (backward && found + got.length >= want) break;
        // Keep memory bounded by what is asked for, even within one large segment.
        if (!backward && got.length > 2 * want && want !== Infinity) got.splice(0, got.length - want);
      }
      if (backward) got.reverse();
      chunks.push(got);
      found += got.length;
    }
    let tasks = chunks.reverse().flat();
    if (tasks.length > want) {
      tasks = tasks.slice(tasks.length - want);
      if (options.lastN === undefined) needsCompaction = true;
    }
    return { tasks, warnings, needsCompaction };
  }

  /** Streams retained tasks, oldest segment first, without holding the history in memory. */
  async *iterate(options: IterateOptions = {}): AsyncGenerator<PerformanceMetrics> {
    const cutoff = (options.nowMs ?? Date.now()) - this.options.retentionDays * DAY_MS;
    const since = Math.max(cutoff, options.sinceMs ?? -Infinity);
    const warnings: StoreWarning[] = [];
    for (const e of await this.readPlan()) {
      if (e.dayStart !== null && e.dayStart + DAY_MS <= since) continue;
      for await (const t of this.tasksIn(e, warnings, false, options.sinceMs ?? -Infinity)) {
        if ((t.endTime ?? t.startTime) < cutoff) continue;
        if (options.sinceMs !== undefined && t.startTime < options.sinceMs) continue;
        if (options.untilMs !== undefined && t.startTime >= options.untilMs) continue;
        yield t;
      }
      warnings.length = 0;
    }
  }

  /**
   * Tells `listener` when another process changed the history: appended tasks (read from the
   * segments' new tails only), or `rewritten` after a compaction or clear. This process's own
   * appends are not reported. Driven by fs.watch of the folder and a cheap size check.
   */
  onDidChange(listener: (change: HistoryChange) => void, options: { pollMs?: number } = {}): HistoryWatcher {
    const w = new HistoryWatcher(
      {
        historyDir: this.historyDir,
        legacyFile: this.legacyFile,
        isOwn: (t) => this.ownAppends.delete(recordKey(t)),
        warn: (x) => this.warn(x),
      },
      listener,
      options.pollMs ?? 5000,
    );
    w.start();
    return w;
  }

  // ----- compaction and clearing (write path) -----

  /** The segment's summary; an out-of-date one is rebuilt by reading the segment, unless `rescan` is false (then null). */
  private async segmentSummary(name: string, rescan = true): Promise<SegmentSummary | null> {
    const path = join(this.historyDir, name);
    const size = await stat(path).then(
      (s) => s.size,
      () => null,
    );
    if (size === null) return null;
    const s = await readSummary(this.historyDir, name);
    if (s && s.bytes === size) return s;
    if (!rescan) return null;
    const fresh = await scanSummary(path, size);
    await writeFileAtomic(join(this.historyDir, summaryName(name)), JSON.stringify(fresh), { durable: false, mode: PRIVATE_FILE_MODE }).catch(() => undefined);
    return fresh;
  }

  /**
   * Rewrites one segment through a temporary file, keeping newer-schema lines verbatim, moving
   * unreadable lines to the quarantine and dropping the first `dropTasks` tasks. Returns counts.
   */
  private async rewriteSegment(name: string, dropTasks: number): Promise<{ dropped: number; kept: number; quarantined: number; newer: number }> {
    const path = join(this.historyDir, name);
    const size = (await stat(path)).size;
    const tmp = `${path}.tmp-${this.pid}-${randomBytes(4).toString('hex')}`;
    const out = await open(tmp, 'wx', PRIVATE_FILE_MODE);
    const counts = { dropped: 0, kept: 0, quarantined: 0, newer: 0 };
    const bad: ClassifiedLine[] = [];
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let outBytes = 0;
    const put = async (b: Buffer): Promise<void> => {
      batch.push(b, NEWLINE_BUF);
      batchBytes += b.length + 1;
      outBytes += b.length + 1;
      if (batchBytes >= WRITE_BATCH_BYTES) {
        await out.write(Buffer.concat(batch));
        batch = [];
        batchBytes = 0;
      }
    };
    try {
      for await (const l of classifiedLines(path, 0, size)) {
        if (l.unreadable !== null) bad.push(l);
        else if (l.parsed?.kind === 'newerSchema' && l.raw.bytes) {
          counts.newer++;
          await put(l.raw.bytes);
        } else if (l.parsed?.kind === 'task' && l.raw.bytes) {
          if (counts.dropped < dropTasks) counts.dropped++;
          else {
            counts.kept++;
            await put(l.raw.bytes);
          }
        }
      }
      if (batch.length) await out.write(Buffer.concat(batch));
      await out.sync();
      await out.close();
      // Quarantine first: once the segment is replaced, those lines exist only there.
      await this.quarantine(path, bad);
      counts.quarantined = bad.length;
      if (outBytes === 0) {
        await unlink(tmp);
        await unlink(path);
        await unlink(join(this.historyDir, summaryName(name))).catch(() => undefined);
      } else {
        await rename(tmp, path);
        const summary: SegmentSummary = { bytes: outBytes, tasks: counts.kept, newerSchema: counts.newer, unreadable: 0, torn: false };
        await writeFileAtomic(join(this.historyDir, summaryName(name)), JSON.stringify(summary), { durable: false, mode: PRIVATE_FILE_MODE }).catch(() => undefined);
      }
    } catch (err) {
      await out.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw new HistoryStoreError(`Cannot rewrite the history file "${path}": ${describeFsError(err)}`, err);
    }
    return counts;
  }

  /**
   * Applies retention where it is cheap: whole segments past the age limit go (their unreadable
   * lines to the quarantine); the oldest tasks are trimmed only when the count is more than the
   * slack over the limit; segments with unreadable lines have them moved to the quarantine.
   */
  async compact(nowMs: number): Promise<CompactionResult> {
    await this.prepare();
    return this.lock(() => this.compactLocked(nowMs));
  }

  /**
   * With `quick` (at start, on the way to a `run`'s command): no segment is read to rebuild an
   * out-of-date summary; such a segment is left for the next full compaction, and the count is
   * not trimmed without all summaries. Expired segments are always handled.
   */
  private async compactLocked(nowMs: number, quick = false): Promise<CompactionResult> {
    const result: CompactionResult = { kept: 0, droppedExpired: 0, droppedOverCount: 0, droppedCorrupt: 0, keptUnknownSchema: 0 };
    const cutoff = nowMs - this.options.retentionDays * DAY_MS;
    const live: { name: string; s: SegmentSummary }[] = [];
    let unknown = false;
    for (const name of await listSegments(this.historyDir)) {
      const dayStart = segmentDayStart(name) as number;
      const expired = dayStart + DAY_MS <= cutoff;
      const s = await this.segmentSummary(name, !quick || expired);
      if (!s) {
        unknown = true;
        continue;
      }
      if (expired) {
        if (s.unreadable === 0 && s.newerSchema === 0 && !s.torn) {
          await unlink(join(this.historyDir, name));
          await unlink(join(this.historyDir, summaryName(name))).catch(() => undefined);
          result.droppedExpired += s.tasks;
        } else {
          const c = await this.rewriteSegment(name, Infinity);
          result.droppedExpired += c.dropped;
          result.droppedCorrupt += c.quarantined;
          result.keptUnknownSchema += c.newer;
        }
        continue;
      }
      if (s.unreadable > 0 || s.torn) {
        const c = await this.rewriteSegment(name, 0);
        result.droppedCorrupt += c.quarantined;
        live.push({ name, s: { bytes: 0, tasks: c.kept, newerSchema: c.newer, unreadable: 0, torn: false } });
      } else live.push({ name, s });
    }
    let total = live.reduce((n, x) => n + x.s.tasks, 0);
    const max = this.options.retentionMaxTasks;
    const slack = Math.max(1, Math.floor(max * (this.options.countSlack ?? 0.1)));
    if (total > max + slack && !(quick && unknown)) {
      let excess = total - max;
      for (const { name, s } of live) {
        if (excess <= 0) break;
        if (s.tasks <= excess && s.newerSchema === 0) {
          await unlink(join(this.historyDir, name));
          await unlink(join(this.historyDir, summaryName(name))).catch(() => undefined);
          result.droppedOverCount += s.tasks;
          excess -= s.tasks;
          s.tasks = 0;
        } else {
          const c = await this.rewriteSegment(name, excess);
          result.droppedOverCount += c.dropped;
          excess -= c.dropped;
          s.tasks = c.kept;
        }
      }
      total = live.reduce((n, x) => n + x.s.tasks, 0);
    }
    result.kept = total;
    result.keptUnknownSchema += live.reduce((n, x) => n + x.s.newerSchema, 0);
    return result;
  }

  /** Removes every finished task; returns how many there were. Running markers and newer-schema records stay; unreadable lines go to the quarantine. */
  async clear(): Promise<number> {
    await this.prepare();
    return this.lock(async () => {
      let removed = 0;
      for (const name of await listSegments(this.historyDir)) {
        const c = await this.rewriteSegment(name, Infinity);
        removed += c.dropped;
      }
      return removed;
    });
  }

  // ----- running markers -----

  private markerPath(taskId: string, pid = this.pid): string {
    const hash = createHash('sha1').update(taskId).digest('hex').slice(0, 16);
    return join(this.runningDir, `${pid}-${hash}.json`);
  }

  /** Records that `task` is running in this process (overwrites the previous marker). */
  async markRunning(task: PerformanceMetrics, nowMs: number): Promise<void> {
    await this.ensureDir(this.runningDir);
    const marker: RunningMarker = { schemaVersion: HISTORY_SCHEMA_VERSION, ownerPid: this.pid, hostname: this.host, updatedAt: nowMs, task };
    // Rewritten every minute; losing the last rewrite to a power cut only loses a minute of figures.
    await writeFileAtomic(this.markerPath(task.taskId), JSON.stringify(marker), { durable: false, mode: PRIVATE_FILE_MODE });
  }

  async clearRunning(taskId: string): Promise<void> {
    try {
      await unlink(this.markerPath(taskId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new HistoryStoreError(`Cannot remove the running marker of task "${taskId}": ${describeFsError(err)}`, err);
    }
  }

  /**
   * Finds markers of tasks whose process has died, appends them as `interrupted` and returns them.
   * `activeTaskIds` are this process's live tasks, whose markers are left alone. A folder that
   * cannot be written (read-only disk) is reported and left as it is: reading needs no writes.
   */
  async recoverInterrupted(nowMs: number, activeTaskIds: ReadonlySet<string>): Promise<PerformanceMetrics[]> {
    let names: string[];
    try {
      names = await readdir(this.runningDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new HistoryStoreError(`Cannot list running-task markers in "${this.runningDir}": ${describeFsError(err)}`, err);
    }
    if (!names.some((n) => n.endsWith('.json') || n.includes('.json.claimed-'))) return [];
    try {
      await this.prepare();
    } catch (err) {
      this.warn({ file: this.runningDir, line: null, reason: `tasks of ended processes cannot be recorded now (${err instanceof Error ? err.message : String(err)}); a later start will` });
      return [];
    }
    const recovered: PerformanceMetrics[] = [];
    const staleMs = this.options.markerStaleMs ?? DAY_MS;
    for (const name of names.sort()) {
      const claimedBy = /\.json\.claimed-(\d+)-[0-9a-f]+$/.exec(name);
      if (!name.endsWith('.json') && !claimedBy) continue;
      // A claim whose claimer died before recording it: claim it again (and check it is not recorded).
      if (claimedBy && (Number(claimedBy[1]) === this.pid || this.alive(Number(claimedBy[1])))) continue;
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
      if (!claimedBy) {
        if (ours && activeTaskIds.has(marker.task.taskId)) continue;
        // A marker of our own pid that we are not running is from an earlier process that had our pid.
        const dead = ours || !this.alive(marker.ownerPid) || nowMs - marker.updatedAt > staleMs;
        if (!dead) continue;
      }
      // Claim by rename so two windows starting together record the task once.
      const claimed = `${join(this.runningDir, name.replace(/\.claimed-.*$/, ''))}.claimed-${this.pid}-${randomBytes(4).toString('hex')}`;
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
      if (this.flushedSpool.has(recordKey(task)) || (claimedBy && (await this.isRecorded(task)))) {
        // Its finished record is in the history already (it was spooled, or the claimer wrote it).
        await unlink(claimed).catch(() => undefined);
        continue;
      }
      const parsed = parseRecord({ schemaVersion: HISTORY_SCHEMA_VERSION, ...task });
      if (parsed.kind !== 'task') {
        this.warn({ file: path, line: null, reason: `running-task marker holds an invalid task (${parsed.kind === 'bad' ? parsed.reason : 'newer schema'}); removed` });
        await unlink(claimed).catch(() => undefined);
        continue;
      }
      try {
        await this.append(parsed.task);
      } catch (err) {
        if (!(err instanceof HistorySpooledError)) {
          // Left claimed: once this process has ended, a later start claims and records it again.
          this.warn({ file: claimed, line: null, reason: `the interrupted task could not be recorded yet (${err instanceof Error ? err.message : String(err)})` });
          continue;
        }
        // Safe in the spool: recorded with the spool's next flush.
      }
      await unlink(claimed).catch(() => undefined);
      recovered.push(parsed.task);
    }
    return recovered;
  }

  /** Whether a task with this id and start is in the segment it would be in (rare path: orphaned claims). */
  private async isRecorded(task: PerformanceMetrics): Promise<boolean> {
    const key = recordKey(task);
    for await (const l of classifiedLines(join(this.historyDir, segmentNameFor(task)))) {
      if (l.parsed?.kind === 'task' && recordKey(l.parsed.task) === key) return true;
    }
    return false;
  }
}
