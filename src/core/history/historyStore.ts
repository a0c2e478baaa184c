// The task history every window and the CLI share. The port (HistoryStore) and its two
// implementations: JsonlHistoryStore (day segments on disk, jsonlStore.ts) and MemoryHistoryStore.
// This module also re-exports the pieces other parts of core import from here.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { PerformanceMetrics } from '../../shared/metrics';
import type { CompactionResult, IterateOptions, LoadOptions, LoadResult } from './jsonlStore';
import { recordKey } from './records';

export { HISTORY_SCHEMA_VERSION, HistorySpooledError, HistoryStoreError, parseRecord,   serializeRecord,  type StoreWarning } from './records';
export { JsonlHistoryStore, RUNNING_DIR_NAME, type CompactionResult, type IterateOptions,  type LoadOptions, type LoadResult,   } from './jsonlStore';
export { HISTORY_DIR_NAME, LEGACY_FILE_NAME, QUARANTINE_FILE_NAME, segmentNameFor } from './segments';
export { type HistoryChange } from './watcher';

/** The port through which the monitor persists history; tests use MemoryHistoryStore. */
export interface HistoryStore {
  /** Where the history lives, for messages; null for an in-memory store. */
  readonly location: string | null;
  append(task: PerformanceMetrics): Promise<void>;
  /** Many tasks at once, one write per segment (an import); `onWritten` counts what is in. Optional: `append` one by one otherwise. */
  appendMany?(tasks: readonly PerformanceMetrics[], onWritten?: (count: number) => void): Promise<void>;
  /** Tasks within retention; `options` narrow it to what a view shows, at a cost in proportion. */
  load(nowMs: number, options?: LoadOptions): Promise<LoadResult>;
  /** Streams tasks, oldest first, without holding the history in memory (export, analysis). */
  iterate(options?: IterateOptions): AsyncIterable<PerformanceMetrics>;
  compact(nowMs: number): Promise<CompactionResult>;
  /** Records that `task` is running in this process (overwrites the previous marker). */
  markRunning(task: PerformanceMetrics, nowMs: number): Promise<void>;
  clearRunning(taskId: string): Promise<void>;
  /**
   * Finds markers of tasks whose process has died, appends them as `interrupted` and returns them.
   * `activeTaskIds` are this process's live tasks, whose markers are left alone.
   */
  recoverInterrupted(nowMs: number, activeTaskIds: ReadonlySet<string>): Promise<PerformanceMetrics[]>;
  /** Removes markers ended processes left for the run of `rootPid` (adopted by this process). Optional: a memory store has none. */
  releaseRunMarkers?(rootPid: number): Promise<number>;
  /** Removes every finished task; returns how many there were. Running markers stay. */
  clear(): Promise<number>;
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
  async load(_nowMs?: number, options: LoadOptions = {}): Promise<LoadResult> {
    let tasks = this.tasks.filter((t) => options.sinceMs === undefined || t.startTime >= options.sinceMs);
    if (options.lastN !== undefined) tasks = tasks.slice(-options.lastN);
    return { tasks: tasks.map((t) => structuredClone(t)), warnings: [], needsCompaction: false };
  }
  async *iterate(options: IterateOptions = {}): AsyncGenerator<PerformanceMetrics> {
    for (const t of this.tasks.slice()) {
      if (options.sinceMs !== undefined && t.startTime < options.sinceMs) continue;
      if (options.untilMs !== undefined && t.startTime >= options.untilMs) continue;
      yield structuredClone(t);
    }
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
  /** Whether a task with this id and start time is stored. */
  has(task: Pick<PerformanceMetrics, 'taskId' | 'startTime'>): boolean {
    return this.tasks.some((t) => recordKey(t) === recordKey(task));
  }
}
