// The finished tasks a monitor holds in memory: at most `maxSize`, the newest, oldest first. Tasks
// are known by id and start time, so a task seen twice (read back from the file after this process
// wrote it, or told by another process) is held once.
import type { PerformanceMetrics } from '../../shared/metrics';
import type { HistoryStore } from '../history/historyStore';
import { recordKey } from '../history/records';
import type { HistoryLoadReport } from './monitorTypes';

/** Told of every change to the held tasks (the kept window aggregates follow them). */
export interface HeldHistoryWatcher {
  added(task: PerformanceMetrics): void;
  /** The oldest held tasks, trimmed to the size limit. */
  removed(tasks: readonly PerformanceMetrics[]): void;
  /** Everything may have changed (a reload, a clear). */
  reset(): void;
}

export class HeldHistory {
  private tasks: PerformanceMetrics[] = [];
  watcher: HeldHistoryWatcher | null = null;
  /**
   * How many held tasks have each key (a file may hold one twice), in step with `tasks`: a task
   * told by another process is checked against it, never against a set rebuilt from every task.
   */
  private readonly keys = new Map<string, number>();

  constructor(private maxSize: number) {}

  /** The held tasks, oldest first (not copied: callers must not change them). */
  get all(): readonly PerformanceMetrics[] {
    return this.tasks;
  }

  get count(): number {
    return this.tasks.length;
  }

  clear(): void {
    this.tasks = [];
    this.keys.clear();
    this.watcher?.reset();
  }

  /** A new limit; the oldest tasks beyond it go. */
  limit(maxSize: number): void {
    this.maxSize = maxSize;
    this.trim();
  }

  /** A task this process just finished. */
  push(task: PerformanceMetrics): void {
    this.tasks.push(task);
    this.counted(task, 1);
    this.watcher?.added(task);
    this.trim();
  }

  /** What the store returned, keeping tasks held here that it does not show yet (an append in flight). */
  replaceWithLoaded(loaded: readonly PerformanceMetrics[]): void {
    const inFile = new Set(loaded.map(recordKey));
    this.tasks = loaded.concat(this.tasks.filter((t) => !inFile.has(recordKey(t))));
    this.keys.clear();
    for (const t of this.tasks) this.counted(t, 1);
    this.watcher?.reset();
    this.trim();
  }

  /** Tasks recorded elsewhere, added unless already held; false when none was new. */
  addRecorded(tasks: readonly PerformanceMetrics[]): boolean {
    const fresh = tasks.filter((t) => !this.keys.has(recordKey(t)));
    if (fresh.length === 0) return false;
    for (const t of fresh) {
      const copy = { ...t };
      this.tasks.push(copy);
      this.counted(copy, 1);
      this.watcher?.added(copy);
    }
    this.trim();
    return true;
  }

  /** Copies of the tasks started at or after `cutoffMs` (all of them for null). */
  copies(cutoffMs: number | null): PerformanceMetrics[] {
    return (cutoffMs === null ? this.tasks : this.since(cutoffMs)).map((t) => ({ ...t }));
  }

  /** The tasks started at or after `cutoffMs`, not copied (callers must not change them). */
  since(cutoffMs: number): readonly PerformanceMetrics[] {
    return this.tasks.filter((t) => t.startTime >= cutoffMs);
  }

  private counted(task: PerformanceMetrics, delta: 1 | -1): void {
    const k = recordKey(task);
    const n = (this.keys.get(k) ?? 0) + delta;
    if (n > 0) this.keys.set(k, n);
    else this.keys.delete(k);
  }

  private trim(): void {
    if (this.tasks.length <= this.maxSize) return;
    const gone = this.tasks.splice(0, this.tasks.length - this.maxSize);
    for (const t of gone) this.counted(t, -1);
    this.watcher?.removed(gone);
  }
}

/**
 * Records the tasks of dead processes (leaving `ownMarkers` alone), then reads what `held` keeps
 * into it. Only what memory keeps is read; compaction is the write path's, never a read's. Throws
 * what the store throws; the report says what was loaded, recovered and skipped.
 */
export async function loadInto(held: HeldHistory, store: HistoryStore, nowMs: number, ownMarkers: ReadonlySet<string>, options: { sinceMs?: number; lastN: number }): Promise<HistoryLoadReport> {
  const recovered = await store.recoverInterrupted(nowMs, ownMarkers);
  const result = await store.load(nowMs, options);
  held.replaceWithLoaded(result.tasks);
  return { loaded: result.tasks.length, recovered, warnings: result.warnings, error: null };
}
