// How the store's writers (append, spool flush, migration, compaction) change files in history/,
// always under the lock: whole lines appended to a segment, never glued onto a cut-off line and a
// partial write cut back; segment summaries kept in step; segments removed with their summary; and
// unreadable lines copied byte for byte to the quarantine before the file holding them goes.
import type { FileHandle } from 'node:fs/promises';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomicWrite';
import { describeFsError } from '../util/errors';
import { PRIVATE_FILE_MODE } from '../util/privateFiles';
import { readChunks } from './lines';
import { HistoryStoreError, parseLineBytes } from './records';
import { QUARANTINE_LOG_NAME, readSummary, summaryName, type ClassifiedLine, type SegmentSummary } from './segments';
import { NEWLINE_BUF, type StoreContext } from './storeContext';

/**
 * Under the lock: appends whole lines to a segment, never gluing them onto a cut-off line.
 * `taskCount`, when the caller knows every line is a task it serialized, spares the summary a
 * second parse of each line.
 */
export async function appendRaw(ctx: StoreContext, name: string, data: Buffer, durable: boolean, taskCount?: number): Promise<void> {
  const path = join(ctx.historyDir, name);
  let fh: FileHandle | null = null;
  let size = 0;
  let written = false;
  try {
    fh = await ctx.fs.open(path, 'a', PRIVATE_FILE_MODE);
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
    await updateSummary(ctx.historyDir, name, size, out, data, taskCount);
  } catch (err) {
    // Take back a partial record so it can never merge with a later line.
    if (fh && written) await fh.truncate(size).catch(() => undefined);
    throw new HistoryStoreError(`Cannot append to the history file "${path}": ${describeFsError(err)}`, err);
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

async function updateSummary(historyDir: string, name: string, sizeBefore: number, out: Buffer, data: Buffer, taskCount?: number): Promise<void> {
  const prev = sizeBefore === 0 ? { bytes: 0, tasks: 0, newerSchema: 0, unreadable: 0, torn: false } : await readSummary(historyDir, name);
  if (!prev || prev.bytes !== sizeBefore) return; // out of date already: the next compaction rescans
  let tasks = taskCount ?? 0;
  let newer = 0;
  // Counted as a reader would count them (a byte-order mark is tolerated there too).
  for (let from = 0; taskCount === undefined && from < data.length; ) {
    const nl = data.indexOf(0x0a, from);
    const end = nl === -1 ? data.length : nl;
    const p = parseLineBytes(data.subarray(from, end));
    if (p?.kind === 'task') tasks++;
    else if (p?.kind === 'newerSchema') newer++;
    else if (p?.kind === 'bad') return; // not ours to count: the next compaction rescans
    from = end + 1;
  }
  await writeSummary(historyDir, name, { bytes: sizeBefore + out.length, tasks: prev.tasks + tasks, newerSchema: prev.newerSchema + newer, unreadable: prev.unreadable, torn: false });
}

/** Replaces a segment's summary. Not durable: a summary lost to a power cut is only out of date, and rescanned. */
export async function writeSummary(historyDir: string, name: string, summary: SegmentSummary): Promise<void> {
  await writeFileAtomic(join(historyDir, summaryName(name)), JSON.stringify(summary), { durable: false, mode: PRIVATE_FILE_MODE }).catch(() => undefined);
}

/** Deletes a segment, then its summary (which may not exist). */
export async function removeSegment(historyDir: string, name: string): Promise<void> {
  await unlink(join(historyDir, name));
  await unlink(join(historyDir, summaryName(name))).catch(() => undefined);
}

/** Copies unreadable lines, byte for byte, to the quarantine file (flushed to disk) and says so. */
export async function quarantine(ctx: StoreContext, source: string, lines: ClassifiedLine[]): Promise<void> {
  if (lines.length === 0) return;
  const fh = await open(ctx.quarantineFile, 'a', PRIVATE_FILE_MODE);
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
  const lfh = await open(join(ctx.historyDir, QUARANTINE_LOG_NAME), 'a', PRIVATE_FILE_MODE);
  try {
    await lfh.write(logText);
  } finally {
    await lfh.close();
  }
  for (const l of lines) ctx.warn({ file: source, line: l.raw.lineNo, reason: `${l.unreadable ?? 'unreadable'}; moved to ${ctx.quarantineFile}` });
}
