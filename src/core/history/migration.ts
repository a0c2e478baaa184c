// Migration of the single `history.jsonl` of earlier builds into day segments, on the first write
// (docs/storage.md): the segments' sizes are noted in `migration.json` first, so that a crash in
// between is undone on the next start and the migration runs again; readers meanwhile ignore the
// noted segments' new bytes (readMigrationMarker).
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomicWrite';
import { PRIVATE_FILE_MODE } from '../util/privateFiles';
import { HistoryStoreError } from './records';
import { appendRaw, quarantine } from './segmentWrites';
import { MIGRATION_FILE_NAME, classifiedLines, segmentDayStart, segmentNameFor, summaryName, type ClassifiedLine } from './segments';
import { NEWLINE_BUF, WRITE_BATCH_BYTES, type StoreContext } from './storeContext';

/** Under the lock: truncates the segments a cut-short migration wrote to back to their noted sizes. */
export async function undoInterruptedMigration(ctx: StoreContext): Promise<void> {
  const marker = await readMigrationMarker(ctx.historyDir);
  if (!marker) return;
  for (const [name, size] of Object.entries(marker)) {
    const fh = await open(join(ctx.historyDir, name), 'r+').catch(() => null);
    if (!fh) continue;
    try {
      await fh.truncate(size);
    } finally {
      await fh.close();
    }
    await unlink(join(ctx.historyDir, summaryName(name))).catch(() => undefined);
  }
  await unlink(join(ctx.historyDir, MIGRATION_FILE_NAME)).catch(() => undefined);
  ctx.log(`An earlier migration of "${ctx.legacyFile}" was cut short; it was undone and runs again.`);
}

/** The segments' sizes before a migration in progress; null when none is; `{}` for a damaged marker. */
export async function readMigrationMarker(historyDir: string): Promise<Record<string, number> | null> {
  try {
    const v = JSON.parse(await readFile(join(historyDir, MIGRATION_FILE_NAME), 'utf8')) as unknown;
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
 * Under the lock: moves the single `history.jsonl` of older builds into segments: sizes noted
 * first (so a crash is undone), records appended, the counts verified, then the old file removed.
 * Unreadable lines go to the quarantine; newer-schema lines to today's segment, verbatim.
 */
export async function migrateLegacy(ctx: StoreContext): Promise<void> {
  let legacySize: number;
  try {
    legacySize = (await stat(ctx.legacyFile)).size;
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
        before[name] = await stat(join(ctx.historyDir, name)).then(
          (s) => s.size,
          () => 0,
        );
        await writeFileAtomic(join(ctx.historyDir, MIGRATION_FILE_NAME), JSON.stringify(before), { mode: PRIVATE_FILE_MODE });
      }
      await appendRaw(ctx, name, Buffer.concat(parts), true);
    }
    pending.clear();
    pendingBytes = 0;
  };
  const quarantined: ClassifiedLine[] = [];
  const today = segmentNameFor({ startTime: Date.now(), endTime: null });
  for await (const l of classifiedLines(ctx.legacyFile, 0, legacySize)) {
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
    const path = join(ctx.historyDir, name);
    const size = (await stat(path)).size;
    const from = before[name] ?? 0;
    // A newline may have been added before the first record to end a cut-off line.
    if (size - from !== bytes && size - from !== bytes + 1) throw new HistoryStoreError(`Migration of "${ctx.legacyFile}" could not be verified: "${path}" has ${size - from} new bytes, expected ${bytes}; the old file is kept`);
    for await (const l of classifiedLines(path, from, size)) if (l.parsed?.kind === 'task' || l.parsed?.kind === 'newerSchema') readBack++;
  }
  if (readBack !== tasks + newer) throw new HistoryStoreError(`Migration of "${ctx.legacyFile}" could not be verified: ${readBack} records read back, expected ${tasks + newer}; the old file is kept`);
  if (quarantined.length > 0) await quarantine(ctx, ctx.legacyFile, quarantined);
  await unlink(ctx.legacyFile);
  await unlink(join(ctx.historyDir, MIGRATION_FILE_NAME)).catch(() => undefined);
  ctx.log(
    `Migrated the history "${ctx.legacyFile}" (${tasks} tasks${newer ? `, ${newer} newer-schema records` : ''}${quarantined.length ? `, ${quarantined.length} unreadable lines moved to "${ctx.quarantineFile}"` : ''}) to day segments in "${ctx.historyDir}" in ${Date.now() - started} ms; the old file was removed after the check.`,
  );
}
