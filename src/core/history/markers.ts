// Running markers: a running task's figures in `running/<pid>-<hash>.json`, refreshed each minute,
// so that a task whose process died is still recorded, as `interrupted`. A dead task's marker is
// claimed by rename before it is recorded, so two windows starting together record it once; a
// claim whose claimer died is claimed again, unless its record is already in the segment.
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { PerformanceMetrics } from '../../shared/metrics';
import { writeFileAtomic } from '../util/atomicWrite';
import { describeFsError } from '../util/errors';
import { PRIVATE_FILE_MODE } from '../util/privateFiles';
import { HISTORY_SCHEMA_VERSION, HistorySpooledError, HistoryStoreError, parseRecord, recordKey } from './records';
import { classifiedLines, segmentNameFor } from './segments';
import { ensureDir, type StoreContext } from './storeContext';

interface RunningMarker {
  schemaVersion: number;
  ownerPid: number;
  hostname: string;
  updatedAt: number;
  task: PerformanceMetrics;
}

/** What recovering needs of the store: its start (folders, spool) and its append (spool on failure). */
interface RecoveryWriter {
  prepare(): Promise<void>;
  append(task: PerformanceMetrics): Promise<void>;
}

export function markerPath(ctx: StoreContext, taskId: string): string {
  const hash = createHash('sha1').update(taskId).digest('hex').slice(0, 16);
  return join(ctx.runningDir, `${ctx.pid}-${hash}.json`);
}

/** Records that `task` is running in this process (overwrites the previous marker). */
export async function writeRunningMarker(ctx: StoreContext, task: PerformanceMetrics, nowMs: number): Promise<void> {
  await ensureDir(ctx.runningDir);
  const marker: RunningMarker = { schemaVersion: HISTORY_SCHEMA_VERSION, ownerPid: ctx.pid, hostname: ctx.host, updatedAt: nowMs, task };
  // Rewritten every minute; losing the last rewrite to a power cut only loses a minute of figures.
  await writeFileAtomic(markerPath(ctx, task.taskId), JSON.stringify(marker), { durable: false, mode: PRIVATE_FILE_MODE });
}

export async function removeRunningMarker(ctx: StoreContext, taskId: string): Promise<void> {
  try {
    await unlink(markerPath(ctx, taskId));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new HistoryStoreError(`Cannot remove the running marker of task "${taskId}": ${describeFsError(err)}`, err);
  }
}

/**
 * Finds markers of tasks whose process has died, appends them as `interrupted` and returns them.
 * `activeTaskIds` are this process's live tasks, whose markers are left alone. A folder that
 * cannot be written (read-only disk) is reported and left as it is: reading needs no writes.
 * A marker not refreshed for `staleMs` is dead even if its pid is alive (reused).
 */
export async function recoverInterrupted(ctx: StoreContext, store: RecoveryWriter, nowMs: number, activeTaskIds: ReadonlySet<string>, staleMs: number): Promise<PerformanceMetrics[]> {
  let names: string[];
  try {
    names = await readdir(ctx.runningDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new HistoryStoreError(`Cannot list running-task markers in "${ctx.runningDir}": ${describeFsError(err)}`, err);
  }
  if (!names.some((n) => n.endsWith('.json') || n.includes('.json.claimed-'))) return [];
  try {
    await store.prepare();
  } catch (err) {
    ctx.warn({ file: ctx.runningDir, line: null, reason: `tasks of ended processes cannot be recorded now (${err instanceof Error ? err.message : String(err)}); a later start will` });
    return [];
  }
  const recovered: PerformanceMetrics[] = [];
  for (const name of names.sort()) {
    const claimedBy = /\.json\.claimed-(\d+)-[0-9a-f]+$/.exec(name);
    if (!name.endsWith('.json') && !claimedBy) continue;
    // A claim whose claimer died before recording it: claim it again (and check it is not recorded).
    if (claimedBy && (Number(claimedBy[1]) === ctx.pid || ctx.alive(Number(claimedBy[1])))) continue;
    const path = join(ctx.runningDir, name);
    let marker: RunningMarker;
    try {
      marker = JSON.parse(await readFile(path, 'utf8')) as RunningMarker;
      if (typeof marker.ownerPid !== 'number' || typeof marker.updatedAt !== 'number' || typeof marker.task?.taskId !== 'string' || typeof marker.task.startTime !== 'number') {
        throw new Error('missing fields');
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // finished meanwhile
      ctx.warn({ file: path, line: null, reason: 'running-task marker is corrupt; removed' });
      await unlink(path).catch(() => undefined);
      continue;
    }
    if (marker.hostname !== ctx.host) continue; // another machine sharing this folder owns it
    const ours = marker.ownerPid === ctx.pid;
    if (!claimedBy) {
      if (ours && activeTaskIds.has(marker.task.taskId)) continue;
      // A marker of our own pid that we are not running is from an earlier process that had our pid.
      const dead = ours || !ctx.alive(marker.ownerPid) || nowMs - marker.updatedAt > staleMs;
      if (!dead) continue;
      // Its owner ended but the run goes on (a persistent terminal kept it through a reload): it is
      // not interrupted. A window that adopts it releases this marker; else it is recorded once the
      // run's process is gone.
      const rootPid = marker.task.rootPid;
      if (!ours && typeof rootPid === 'number' && rootPid > 0 && ctx.runGoing(rootPid, marker.task.startTime)) continue;
    }
    // Claim by rename so two windows starting together record the task once.
    const claimed = `${join(ctx.runningDir, name.replace(/\.claimed-.*$/, ''))}.claimed-${ctx.pid}-${randomBytes(4).toString('hex')}`;
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
    if (ctx.flushedSpool.has(recordKey(task)) || (claimedBy && (await isRecorded(ctx.historyDir, task)))) {
      // Its finished record is in the history already (it was spooled, or the claimer wrote it).
      await unlink(claimed).catch(() => undefined);
      continue;
    }
    const parsed = parseRecord({ schemaVersion: HISTORY_SCHEMA_VERSION, ...task });
    if (parsed.kind !== 'task') {
      ctx.warn({ file: path, line: null, reason: `running-task marker holds an invalid task (${parsed.kind === 'bad' ? parsed.reason : 'newer schema'}); removed` });
      await unlink(claimed).catch(() => undefined);
      continue;
    }
    try {
      await store.append(parsed.task);
    } catch (err) {
      if (!(err instanceof HistorySpooledError)) {
        // Left claimed: once this process has ended, a later start claims and records it again.
        ctx.warn({ file: claimed, line: null, reason: `the interrupted task could not be recorded yet (${err instanceof Error ? err.message : String(err)})` });
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
async function isRecorded(historyDir: string, task: PerformanceMetrics): Promise<boolean> {
  const key = recordKey(task);
  for await (const l of classifiedLines(join(historyDir, segmentNameFor(task)))) {
    if (l.parsed?.kind === 'task' && recordKey(l.parsed.task) === key) return true;
  }
  return false;
}

/**
 * Removes the markers that other, ended processes on this host left for a run whose root process
 * is `rootPid` (this process adopted the run and records it itself). Returns how many.
 */
export async function releaseRunMarkers(ctx: StoreContext, rootPid: number): Promise<number> {
  let names: string[];
  try {
    names = await readdir(ctx.runningDir);
  } catch {
    return 0;
  }
  let released = 0;
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const path = join(ctx.runningDir, name);
    try {
      const marker = JSON.parse(await readFile(path, 'utf8')) as Partial<RunningMarker>;
      if (marker.hostname !== ctx.host || marker.ownerPid === ctx.pid || typeof marker.ownerPid !== 'number' || ctx.alive(marker.ownerPid)) continue;
      if (marker.task?.rootPid !== rootPid) continue;
      await unlink(path);
      released++;
    } catch {
      // Gone meanwhile, or unreadable: recovery deals with it.
    }
  }
  return released;
}
