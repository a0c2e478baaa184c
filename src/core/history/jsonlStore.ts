// The history on disk: segment files per UTC day under `<storage>/history/` (see segments.ts and
// docs/storage.md). Writers (append, compaction, migration, spool flush) take the lock; readers
// never write and never need the lock. A record that cannot be written is kept in the spool; a
// line that cannot be read is never deleted, only moved to the quarantine file.
//
// This class holds the store's state and its start (folders, modes, migration, spool, retention)
// and delegates the rest to the modules beside it: segmentWrites.ts (appends, summaries, the
// quarantine), storeSpool.ts, migration.ts, retention.ts (compaction and clear), markers.ts
// (running markers and interrupted tasks) and reading.ts (load and iterate).
import { open, readdir } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { PerformanceMetrics } from '../../shared/metrics';
import type { HistoryStore } from './historyStore';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, tighten } from '../util/privateFiles';
import { withLock } from './lock';
import { recoverInterrupted, releaseRunMarkers, removeRunningMarker, writeRunningMarker } from './markers';
import { migrateLegacy, undoInterruptedMigration } from './migration';
import { iterateTasks, loadTasks, type IterateOptions, type LoadOptions, type LoadResult } from './reading';
import { HistoryStoreError, recordKey, serializeRecord, type StoreWarning } from './records';
import { clearLocked, compactLocked, type CompactionResult, type RetentionOptions } from './retention';
import { appendRaw } from './segmentWrites';
import { DAY_MS, HISTORY_DIR_NAME, LEGACY_FILE_NAME, QUARANTINE_FILE_NAME, SPOOL_DIR_NAME, segmentNameFor } from './segments';
import { ensureDir, type StoreContext, type StoreFsPort } from './storeContext';
import { flushSpoolLocked, hasSpooled, spoolRecord } from './storeSpool';
import { HistoryWatcher, type HistoryChange } from './watcher';
import { isProcessAlive, runStillGoing } from '../util/process';

export type { CompactionResult } from './retention';
export type { IterateOptions, LoadOptions, LoadResult } from './reading';

const LOCK_FILE_NAME = 'history.lock';
export const RUNNING_DIR_NAME = 'running';

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
  pid?: number;
  hostname?: string;
  isProcessAlive?: (pid: number) => boolean;
  /** Whether a task's root process still runs (tests replace it); default: alive and started by the task's start. */
  isRunGoing?: (rootPid: number, taskStartMs: number) => boolean;
  fs?: Partial<StoreFsPort>;
  /** The time retention is applied against at start (default Date.now). */
  now?: () => number;
}


export class JsonlHistoryStore implements HistoryStore {
  readonly location: string;
  readonly historyDir: string;
  readonly legacyFile: string;
  readonly spoolDir: string;
  readonly quarantineFile: string;
  private readonly lockFile: string;
  /** What the modules beside this class work with: paths, this process, the fs port, warnings and log. */
  private readonly ctx: StoreContext;
  private prepared: Promise<void> | null = null;
  /** Keys of records this process wrote, so its own change notifications can be skipped. */
  readonly ownAppends = new Set<string>();

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
    this.ctx = {
      dir,
      historyDir: this.historyDir,
      legacyFile: this.legacyFile,
      spoolDir: this.spoolDir,
      quarantineFile: this.quarantineFile,
      runningDir: join(dir, RUNNING_DIR_NAME),
      pid: options.pid ?? process.pid,
      host: options.hostname ?? osHostname(),
      alive: options.isProcessAlive ?? isProcessAlive,
      runGoing: options.isRunGoing ?? runStillGoing,
      fs: { open: (p, f, m) => open(p, f, m), ...options.fs },
      ownAppends: this.ownAppends,
      flushedSpool: new Set<string>(),
      warn: (w) => this.options.onWarning?.(w),
      log: (m) => this.options.onLog?.(m),
    };
  }

  /** Where new records go, for messages. */
  get historyFile(): string {
    return this.historyDir;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private lock<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(
      {
        file: this.lockFile,
        pid: this.ctx.pid,
        hostname: this.ctx.host,
        alive: this.ctx.alive,
        timeoutMs: this.options.lockTimeoutMs ?? 10_000,
        staleMs: this.options.lockStaleMs ?? 30_000,
        emptyGraceMs: 1000,
        log: (m) => this.ctx.log(m),
      },
      fn,
    );
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
    await ensureDir(this.dir);
    await ensureDir(this.historyDir);
    await this.tightenModes();
    await this.lock(async () => {
      await undoInterruptedMigration(this.ctx);
      await migrateLegacy(this.ctx);
      await flushSpoolLocked(this.ctx);
      // Retention on the write path, once per process: a CLI that appends once per run would
      // otherwise never apply it. Cheap when nothing is due (a folder listing and small summaries).
      const result = await compactLocked(this.ctx, this.options, this.now(), true);
      if (result.droppedExpired + result.droppedOverCount + result.droppedCorrupt > 0) {
        const days = this.options.retentionDays;
        this.ctx.log(`History retention: ${result.droppedExpired} tasks older than ${days} day${days === 1 ? '' : 's'} and ${result.droppedOverCount} over the limit of ${this.options.retentionMaxTasks} removed, ${result.droppedCorrupt} unreadable lines moved to "${this.quarantineFile}"; ${result.kept} kept.`);
      }
    });
  }

  /** Folders 0700 and files 0600 whatever the umask was when they were made; each change logged. */
  private async tightenModes(): Promise<void> {
    const log = (m: string): void => this.ctx.log(m);
    for (const d of [this.historyDir, this.spoolDir, this.ctx.runningDir]) {
      await tighten(d, PRIVATE_DIR_MODE, 'history folder', log);
      let names: string[] = [];
      try {
        names = await readdir(d);
      } catch {
        continue;
      }
      for (const n of names) await tighten(join(d, n), PRIVATE_FILE_MODE, 'history file', log);
    }
    await tighten(this.legacyFile, PRIVATE_FILE_MODE, 'history file', log);
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
      await this.lock(() => appendRaw(this.ctx, segmentNameFor(task), line, false));
    } catch (err) {
      this.ownAppends.delete(key);
      throw await spoolRecord(this.ctx, task, line, err);
    }
    // The record is safe; an old spool that still cannot move only waits for the next time.
    // Most appends find no spool: only then is the lock taken again.
    if (await hasSpooled(this.ctx)) await this.lock(() => flushSpoolLocked(this.ctx)).catch((err: unknown) => this.ctx.log(`Spooled tasks could not be moved into the history yet: ${err instanceof Error ? err.message : String(err)}`));
  }

  /**
   * Appends many finished tasks at once (an import): under one lock, one write per day segment,
   * each cut back whole if it fails. Nothing is spooled: on an error the segments written so far
   * stay (`onWritten` has been told how many tasks they hold) and the error says why the rest
   * were not. These tasks are not this process's own appends to its watchers: a window in this
   * process is told of them like of another process's.
   */
  async appendMany(tasks: readonly PerformanceMetrics[], onWritten?: (count: number) => void): Promise<void> {
    const bySegment = new Map<string, string[]>();
    for (const task of tasks) {
      if (task.status === 'running') throw new HistoryStoreError(`Task "${task.taskId}" is still running; only finished tasks are written to history`);
      const name = segmentNameFor(task);
      let lines = bySegment.get(name);
      if (!lines) bySegment.set(name, (lines = []));
      lines.push(serializeRecord(task));
    }
    if (bySegment.size === 0) return;
    await this.prepare();
    await this.lock(async () => {
      for (const [name, lines] of bySegment) {
        await appendRaw(this.ctx, name, Buffer.from(lines.join(''), 'utf8'), false, lines.length);
        onWritten?.(lines.length);
      }
    });
  }

  // ----- reading: no lock, no writes -----

  /**
   * Loads the tasks inside retention (age, then the newest retentionMaxTasks). `lastN` and
   * `sinceMs` read only the segments that can hold what is asked for.
   */
  load(nowMs: number, options: LoadOptions = {}): Promise<LoadResult> {
    return loadTasks(this.ctx, this.options, nowMs, options);
  }

  /** Streams retained tasks, oldest segment first, without holding the history in memory. */
  iterate(options: IterateOptions = {}): AsyncGenerator<PerformanceMetrics> {
    return iterateTasks(this.ctx, this.options.retentionDays, options);
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
        warn: (x) => this.ctx.warn(x),
      },
      listener,
      options.pollMs ?? 5000,
    );
    w.start();
    return w;
  }

  // ----- compaction and clearing (write path) -----

  /**
   * Applies retention where it is cheap: whole segments past the age limit go (their unreadable
   * lines to the quarantine); the oldest tasks are trimmed only when the count is more than the
   * slack over the limit; segments with unreadable lines have them moved to the quarantine.
   */
  async compact(nowMs: number): Promise<CompactionResult> {
    await this.prepare();
    return this.lock(() => compactLocked(this.ctx, this.options, nowMs));
  }

  /** Removes every finished task; returns how many there were. Running markers and newer-schema records stay; unreadable lines go to the quarantine. */
  async clear(): Promise<number> {
    await this.prepare();
    return this.lock(() => clearLocked(this.ctx));
  }

  // ----- running markers -----

  /** Records that `task` is running in this process (overwrites the previous marker). */
  markRunning(task: PerformanceMetrics, nowMs: number): Promise<void> {
    return writeRunningMarker(this.ctx, task, nowMs);
  }

  clearRunning(taskId: string): Promise<void> {
    return removeRunningMarker(this.ctx, taskId);
  }

  /**
   * Finds markers of tasks whose process has died, appends them as `interrupted` and returns them.
   * `activeTaskIds` are this process's live tasks, whose markers are left alone. A folder that
   * cannot be written (read-only disk) is reported and left as it is: reading needs no writes.
   */
  /** Removes the markers other (ended) processes left for the run of `rootPid`: this process now follows it. */
  releaseRunMarkers(rootPid: number): Promise<number> {
    return releaseRunMarkers(this.ctx, rootPid);
  }

  recoverInterrupted(nowMs: number, activeTaskIds: ReadonlySet<string>): Promise<PerformanceMetrics[]> {
    return recoverInterrupted(this.ctx, this, nowMs, activeTaskIds, this.options.markerStaleMs ?? DAY_MS);
  }
}
