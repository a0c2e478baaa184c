// The finished tasks a monitor holds in memory: at most `maxSize`, the newest, oldest first. Tasks
// are known by id and start time, so a task seen twice (read back from the file after this process
// wrote it, or told by another process) is held once.
import type { PerformanceMetrics } from '../../shared/metrics';
import type { HistoryStore } from '../history/historyStore';
import type { HistoryLoadReport } from './monitorTypes';

const key = (t: PerformanceMetrics): string => `${t.taskId}\u0000${t.startTime}`;

export class HeldHistory {
  private tasks: PerformanceMetrics[] = [];

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
  }

  /** A new limit; the oldest tasks beyond it go. */
  limit(maxSize: number): void {
    this.maxSize = maxSize;
    this.trim();
  }

  /** A task this process just finished. */
  push(task: PerformanceMetrics): void {
    this.tasks.push(task);
    this.trim();
  }

  /** What the store returned, keeping tasks held here that it does not show yet (an append in flight). */
  replaceWithLoaded(loaded: readonly PerformanceMetrics[]): void {
    const inFile = new Set(loaded.map(key));
    this.tasks = loaded.concat(this.tasks.filter((t) => !inFile.has(key(t))));
    this.trim();
  }

  /** Tasks recorded elsewhere, added unless already held; false when none was new. */
  addRecorded(tasks: readonly PerformanceMetrics[]): boolean {
    const held = new Set(this.tasks.map(key));
    const fresh = tasks.filter((t) => !held.has(key(t)));
    if (fresh.length === 0) return false;
    this.tasks = this.tasks.concat(fresh.map((t) => ({ ...t })));
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

  private trim(): void {
    if (this.tasks.length > this.maxSize) this.tasks.splice(0, this.tasks.length - this.maxSize);
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
