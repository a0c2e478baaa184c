// The tasks running on this node, whoever runs them (`model-perf run`, a VS Code window): each
// writes a marker under `running/` in the shared storage folder (rewritten about once a minute,
// so progress seen here may lag by that much). `serve` lists them for its exposition. A marker is
// another process's file: parsed as hostile, size-bounded, and never written or removed here
// (recording dead tasks is the history's job).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RUNNING_DIR_NAME } from '../history/historyStore';
import { readBoundedText } from '../util/privateFiles';
import type { RunningTaskView } from './openMetrics';

/** A marker holds one task record: a few KiB; a larger file is not one (and is not read whole). */
const MAX_MARKER_BYTES = 256 * 1024;
/** Markers read per listing: more would be a broken folder, not a busy node. */
const MAX_MARKERS = 500;

const finiteOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * The running task in one marker's text, or null when it is not a well-formed marker of `hostname`
 * (markers of other machines sharing the folder belong to them).
 */
export function parseRunningMarker(text: string, hostname: string): RunningTaskView | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const m = value as Record<string, unknown>;
  if (m.hostname !== hostname) return null;
  const task = m.task;
  if (typeof task !== 'object' || task === null || Array.isArray(task)) return null;
  const t = task as Record<string, unknown>;
  if (typeof t.taskId !== 'string' || t.taskId === '' || typeof t.modelType !== 'string') return null;
  const startTime = finiteOrNull(t.startTime);
  if (startTime === null) return null;
  return { taskId: t.taskId, modelType: t.modelType, startTime, stepsCompleted: finiteOrNull(t.stepsCompleted), stepsTotal: finiteOrNull(t.stepsTotal) };
}

/** Running tasks of this host in `storageDir`, oldest first; an unreadable folder or file is skipped. */
export async function readRunningTasks(storageDir: string, hostname: string, isAlive: (pid: number) => boolean): Promise<RunningTaskView[]> {
  const dir = join(storageDir, RUNNING_DIR_NAME);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort().slice(0, MAX_MARKERS);
  } catch {
    return [];
  }
  const tasks: RunningTaskView[] = [];
  for (const name of names) {
    // `<pid>-<hash>.json`: a marker whose process is gone is a dead task, not a running one.
    const pid = Number(name.slice(0, name.indexOf('-')));
    if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) continue;
    try {
      const task = parseRunningMarker(await readBoundedText(join(dir, name), MAX_MARKER_BYTES), hostname);
      if (task) tasks.push(task);
    } catch {
      // Finished (removed) while listed, too large, or unreadable: not shown.
    }
  }
  return tasks.sort((a, b) => a.startTime - b.startTime);
}
