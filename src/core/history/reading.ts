// Reading the history: no lock, no writes, so it works on a read-only folder or while another
// process holds the lock. Files are streamed (lines.ts); `load` reads only the segments that can
// hold what is asked for (the newest N from the end backwards, or those since a time), and
// `iterate` streams tasks oldest segment first. Retention (age, then the count) applies on reads
// too, so a history a little over the limit reads as if compacted.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PerformanceMetrics } from '../../shared/metrics';
import { describeFsError } from '../util/errors';
import { readLineBatches, readLinesBackward, type RawLine } from './lines';
import { readMigrationMarker } from './migration';
import { HISTORY_SCHEMA_VERSION, HistoryStoreError, type StoreWarning } from './records';
import type { RetentionOptions } from './retention';
import { DAY_MS, classify, listSegments, quickStartTime, segmentDayStart } from './segments';
import type { StoreContext } from './storeContext';

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

export interface IterateOptions {
  /** Tasks started at or after this time (default: all). */
  sinceMs?: number;
  /** Tasks started before this time (default: all). */
  untilMs?: number;
  /** Age retention is applied against this time (default: now). */
  nowMs?: number;
}

interface ReadPlanEntry {
  path: string;
  /** Segment day start; null for the old single file. */
  dayStart: number | null;
  /** Read only up to here (a migration in progress); undefined: to the end. */
  end?: number;
}

/** The files a reader reads, oldest first. */
async function readPlan(ctx: StoreContext): Promise<ReadPlanEntry[]> {
  const plan: ReadPlanEntry[] = [];
  if (await stat(ctx.legacyFile).then(() => true, () => false)) plan.push({ path: ctx.legacyFile, dayStart: null });
  let segments: string[];
  try {
    segments = await listSegments(ctx.historyDir);
  } catch (err) {
    throw new HistoryStoreError(`Cannot list the history folder "${ctx.historyDir}": ${describeFsError(err)}`, err);
  }
  // A migration in progress: its new bytes are not read until the old file is gone.
  const migrating = plan.length > 0 ? await readMigrationMarker(ctx.historyDir) : null;
  for (const name of segments) {
    const limit = migrating?.[name];
    plan.push({ path: join(ctx.historyDir, name), dayStart: segmentDayStart(name), ...(limit !== undefined ? { end: limit } : {}) });
  }
  return plan;
}

/**
 * The tasks of one file in batches, in file order, or last first with `backward` (the newest N
 * cost only N). Lines whose start time is plainly before `minStartMs` are skipped without being
 * parsed. Forward, a batch is a chunk's lines, handled in one synchronous pass.
 */
async function* taskBatches(ctx: StoreContext, entry: ReadPlanEntry, warnings: StoreWarning[], backward = false, minStartMs = -Infinity): AsyncGenerator<PerformanceMetrics[]> {
  const take = (raw: RawLine, out: PerformanceMetrics[]): void => {
    if (minStartMs !== -Infinity && raw.bytes !== null) {
      const start = quickStartTime(raw.bytes);
      if (start !== null && start < minStartMs) return;
    }
    const l = classify(raw);
    if (l.parsed?.kind === 'task') {
      out.push(l.parsed.task);
      return;
    }
    const line = backward ? null : raw.lineNo;
    const where = backward ? ` (at byte ${raw.offset})` : '';
    if (l.unreadable !== null) {
      const w = { file: entry.path, line, reason: `${l.unreadable}${where}; skipped` };
      warnings.push(w);
      ctx.warn(w);
    } else if (l.parsed?.kind === 'newerSchema') {
      const w = { file: entry.path, line, reason: `schema version ${l.parsed.version} is newer than this build reads (${HISTORY_SCHEMA_VERSION})${where}; skipped, and kept in the file for the newer build` };
      warnings.push(w);
      ctx.warn(w);
    }
  };
  try {
    if (backward) {
      for await (const raw of readLinesBackward(entry.path, entry.end)) {
        const out: PerformanceMetrics[] = [];
        take(raw, out);
        if (out.length > 0) yield out;
      }
      return;
    }
    for await (const batch of readLineBatches(entry.path, 0, entry.end)) {
      const out: PerformanceMetrics[] = [];
      for (const raw of batch) take(raw, out);
      if (out.length > 0) yield out;
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
export async function loadTasks(ctx: StoreContext, retention: RetentionOptions, nowMs: number, options: LoadOptions = {}): Promise<LoadResult> {
  const warnings: StoreWarning[] = [];
  const cutoff = nowMs - retention.retentionDays * DAY_MS;
  const since = Math.max(cutoff, options.sinceMs ?? -Infinity);
  const want = Math.min(options.lastN ?? Infinity, retention.retentionMaxTasks);
  const plan = await readPlan(ctx);
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
    batches: for await (const batch of taskBatches(ctx, e, warnings, backward, options.sinceMs ?? -Infinity)) {
      for (const t of batch) {
        if ((t.endTime ?? t.startTime) < cutoff) continue;
        if (options.sinceMs !== undefined && t.startTime < options.sinceMs) continue;
        got.push(t);
        if (backward && found + got.length >= want) break batches;
      }
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
export async function* iterateTasks(ctx: StoreContext, retentionDays: number, options: IterateOptions = {}): AsyncGenerator<PerformanceMetrics> {
  const cutoff = (options.nowMs ?? Date.now()) - retentionDays * DAY_MS;
  const since = Math.max(cutoff, options.sinceMs ?? -Infinity);
  const warnings: StoreWarning[] = [];
  for (const e of await readPlan(ctx)) {
    if (e.dayStart !== null && e.dayStart + DAY_MS <= since) continue;
    for await (const batch of taskBatches(ctx, e, warnings, false, options.sinceMs ?? -Infinity)) {
      for (const t of batch) {
        if ((t.endTime ?? t.startTime) < cutoff) continue;
        if (options.sinceMs !== undefined && t.startTime < options.sinceMs) continue;
        if (options.untilMs !== undefined && t.startTime >= options.untilMs) continue;
        yield t;
      }
    }
    warnings.length = 0;
  }
}
