// The spool: when an append fails (disk full, lock not obtainable, folder unwritable), the record
// is kept as a file of its own under `spool/` and its running marker removed, so it is not later
// recorded as `interrupted`. The next start or the next successful append moves spooled records
// into their segments. (The import has a spool of its own, importSpool.ts: a different thing.)
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { PerformanceMetrics } from '../../shared/metrics';
import { writeFileAtomic } from '../util/atomicWrite';
import { describeFsError } from '../util/errors';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../util/privateFiles';
import { markerPath } from './markers';
import { HistorySpooledError, HistoryStoreError, recordKey } from './records';
import { appendRaw, quarantine } from './segmentWrites';
import { classifiedLines, segmentNameFor, type ClassifiedLine } from './segments';
import { NEWLINE_BUF, type StoreContext } from './storeContext';

/** Spool files larger than this are not records of this product. */
const MAX_SPOOL_FILE_BYTES = 8 * 1024 * 1024;

/**
 * Keeps `line` (the record of `task`, whose append failed with `cause`) in the spool and returns
 * the error to throw: HistorySpooledError saying where it waits, or, when the spool cannot be
 * written either, a HistoryStoreError saying so (the running marker then stays).
 */
export async function spoolRecord(ctx: StoreContext, task: PerformanceMetrics, line: Buffer, cause: unknown): Promise<HistoryStoreError> {
  const why = cause instanceof Error ? cause.message : String(cause);
  const reason = describeFsError(cause instanceof HistoryStoreError && cause.cause !== undefined ? cause.cause : cause);
  const file = join(ctx.spoolDir, `${Date.now()}-${ctx.pid}-${randomBytes(4).toString('hex')}.jsonl`);
  try {
    await mkdir(ctx.spoolDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    await writeFileAtomic(file, line, { mode: PRIVATE_FILE_MODE });
  } catch (spoolErr) {
    return new HistoryStoreError(`${why}; the task could not be kept in the spool "${ctx.spoolDir}" either (${describeFsError((spoolErr as { cause?: unknown }).cause ?? spoolErr)})`, cause);
  }
  // The record is safe in the spool: its running marker must not turn it into `interrupted`.
  await unlink(markerPath(ctx, task.taskId)).catch(() => undefined);
  return new HistorySpooledError(`${why}; the task is kept in "${file}" and goes into the history on the next start or save`, file, reason, cause);
}

/** Whether any record waits in the spool (an unreadable spool folder holds none that can move). */
export async function hasSpooled(ctx: StoreContext): Promise<boolean> {
  return readdir(ctx.spoolDir).then(
    (names) => names.some((n) => n.endsWith('.jsonl')),
    () => false,
  );
}

/** Under the lock: moves spooled records into their segments, oldest first. */
export async function flushSpoolLocked(ctx: StoreContext): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(ctx.spoolDir)).filter((n) => n.endsWith('.jsonl')).sort();
  } catch {
    return;
  }
  for (const n of names) {
    const path = join(ctx.spoolDir, n);
    const st = await stat(path).catch(() => null);
    if (!st) continue;
    if (st.size > MAX_SPOOL_FILE_BYTES) {
      ctx.warn({ file: path, line: null, reason: `spool file is ${st.size} bytes, more than a record may take; left where it is` });
      continue;
    }
    const bad: ClassifiedLine[] = [];
    let moved = 0;
    for await (const l of classifiedLines(path)) {
      if (l.unreadable !== null) bad.push(l);
      else if (l.parsed?.kind === 'task' && l.raw.bytes) {
        await appendRaw(ctx, segmentNameFor(l.parsed.task), Buffer.concat([l.raw.bytes, NEWLINE_BUF]), true);
        ctx.flushedSpool.add(recordKey(l.parsed.task));
        if (n.includes(`-${ctx.pid}-`)) ctx.ownAppends.add(recordKey(l.parsed.task));
        moved++;
      }
    }
    if (bad.length > 0) await quarantine(ctx, path, bad);
    await unlink(path);
    ctx.log(`Moved ${moved} spooled task(s) from "${path}" into the history.`);
  }
}
