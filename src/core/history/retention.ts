// Retention and compaction, on the write path only, under the lock: segments whose whole day is
// past the age limit are deleted, unreadable lines are moved to the quarantine (never deleted),
// and when the count is more than the slack over the limit the oldest whole segments go and at
// most one is rewritten. Segment summaries make the count cheap; an out-of-date one is rebuilt by
// streaming that one segment.
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describeFsError } from '../util/errors';
import { PRIVATE_FILE_MODE } from '../util/privateFiles';
import { HistoryStoreError } from './records';
import { quarantine, removeSegment, writeSummary } from './segmentWrites';
import { DAY_MS, classifiedLines, listSegments, readSummary, scanSummary, segmentDayStart, type ClassifiedLine, type SegmentSummary } from './segments';
import { NEWLINE_BUF, WRITE_BATCH_BYTES, type StoreContext } from './storeContext';

export interface RetentionOptions {
  retentionDays: number;
  retentionMaxTasks: number;
  /** Fraction over retentionMaxTasks tolerated before a compaction trims (default 0.1). */
  countSlack?: number;
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

/** The segment's summary; an out-of-date one is rebuilt by reading the segment, unless `rescan` is false (then null). */
async function segmentSummary(historyDir: string, name: string, rescan = true): Promise<SegmentSummary | null> {
  const path = join(historyDir, name);
  const size = await stat(path).then(
    (s) => s.size,
    () => null,
  );
  if (size === null) return null;
  const s = await readSummary(historyDir, name);
  if (s && s.bytes === size) return s;
  if (!rescan) return null;
  const fresh = await scanSummary(path, size);
  await writeSummary(historyDir, name, fresh);
  return fresh;
}

/**
 * Rewrites one segment through a temporary file, keeping newer-schema lines verbatim, moving
 * unreadable lines to the quarantine and dropping the first `dropTasks` tasks. Returns counts.
 */
async function rewriteSegment(ctx: StoreContext, name: string, dropTasks: number): Promise<{ dropped: number; kept: number; quarantined: number; newer: number }> {
  const path = join(ctx.historyDir, name);
  const size = (await stat(path)).size;
  const tmp = `${path}.tmp-${ctx.pid}-${randomBytes(4).toString('hex')}`;
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
    await quarantine(ctx, path, bad);
    counts.quarantined = bad.length;
    if (outBytes === 0) {
      await unlink(tmp);
      await removeSegment(ctx.historyDir, name);
    } else {
      await rename(tmp, path);
      await writeSummary(ctx.historyDir, name, { bytes: outBytes, tasks: counts.kept, newerSchema: counts.newer, unreadable: 0, torn: false });
    }
  } catch (err) {
    await out.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw new HistoryStoreError(`Cannot rewrite the history file "${path}": ${describeFsError(err)}`, err);
  }
  return counts;
}

/**
 * Under the lock: applies retention where it is cheap. Whole segments past the age limit go
 * (their unreadable lines to the quarantine); the oldest tasks are trimmed only when the count is
 * more than the slack over the limit; segments with unreadable lines have them moved to the
 * quarantine. With `quick` (at start, on the way to a `run`'s command): no segment is read to
 * rebuild an out-of-date summary; such a segment is left for the next full compaction, and the
 * count is not trimmed without all summaries. Expired segments are always handled.
 */
export async function compactLocked(ctx: StoreContext, retention: RetentionOptions, nowMs: number, quick = false): Promise<CompactionResult> {
  const result: CompactionResult = { kept: 0, droppedExpired: 0, droppedOverCount: 0, droppedCorrupt: 0, keptUnknownSchema: 0 };
  const cutoff = nowMs - retention.retentionDays * DAY_MS;
  const live: { name: string; s: SegmentSummary }[] = [];
  let unknown = false;
  for (const name of await listSegments(ctx.historyDir)) {
    const dayStart = segmentDayStart(name) as number;
    const expired = dayStart + DAY_MS <= cutoff;
    const s = await segmentSummary(ctx.historyDir, name, !quick || expired);
    if (!s) {
      unknown = true;
      continue;
    }
    if (expired) {
      if (s.unreadable === 0 && s.newerSchema === 0 && !s.torn) {
        await removeSegment(ctx.historyDir, name);
        result.droppedExpired += s.tasks;
      } else {
        const c = await rewriteSegment(ctx, name, Infinity);
        result.droppedExpired += c.dropped;
        result.droppedCorrupt += c.quarantined;
        result.keptUnknownSchema += c.newer;
      }
      continue;
    }
    if (s.unreadable > 0 || s.torn) {
      const c = await rewriteSegment(ctx, name, 0);
      result.droppedCorrupt += c.quarantined;
      live.push({ name, s: { bytes: 0, tasks: c.kept, newerSchema: c.newer, unreadable: 0, torn: false } });
    } else live.push({ name, s });
  }
  let total = live.reduce((n, x) => n + x.s.tasks, 0);
  const max = retention.retentionMaxTasks;
  const slack = Math.max(1, Math.floor(max * (retention.countSlack ?? 0.1)));
  if (total > max + slack && !(quick && unknown)) {
    let excess = total - max;
    for (const { name, s } of live) {
      if (excess <= 0) break;
      if (s.tasks <= excess && s.newerSchema === 0) {
        await removeSegment(ctx.historyDir, name);
        result.droppedOverCount += s.tasks;
        excess -= s.tasks;
        s.tasks = 0;
      } else {
        const c = await rewriteSegment(ctx, name, excess);
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

/** Under the lock: removes every finished task; returns how many there were. Newer-schema records stay; unreadable lines go to the quarantine. */
export async function clearLocked(ctx: StoreContext): Promise<number> {
  let removed = 0;
  for (const name of await listSegments(ctx.historyDir)) {
    const c = await rewriteSegment(ctx, name, Infinity);
    removed += c.dropped;
  }
  return removed;
}
