// The tasks running on this node, whoever runs them (`model-perf run`, a VS Code window): each
// writes a marker under `running/` in the shared storage folder (rewritten about once a minute,
// and by `model-perf run` whenever its progress moves, at most once a second). `serve` lists them
// for its exposition; a window follows them (RunningElsewhere) to show runs started outside it. A
// marker is another process's file: parsed as hostile, size-bounded, and never written or removed
// here (recording dead tasks is the history's job).
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PerformanceMetrics } from '../../shared/metrics';
import { safeLabel, taskIdProblem } from '../../shared/text';
import { HISTORY_SCHEMA_VERSION, parseRecord, RUNNING_DIR_NAME } from '../history/historyStore';
import { readBoundedText } from '../util/privateFiles';
import type { RunningTaskView } from './openMetrics';
import { OneAtATime } from '../util/oneAtATime';
import { FolderWatch } from '../util/folderWatch';

/** A marker holds one task record: a few KiB; a larger file is not one (and is not read whole). */
const MAX_MARKER_BYTES = 256 * 1024;
/** Markers read per listing: more would be a broken folder, not a busy node. */
const MAX_MARKERS = 500;

const finiteOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A marker's task object, or null when the text is not a marker (a JSON object with a task) of `hostname`. */
function markerTask(text: string, hostname: string): Record<string, unknown> | null {
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
  return typeof task === 'object' && task !== null && !Array.isArray(task) ? (task as Record<string, unknown>) : null;
}

/**
 * The running task in one marker's text, or null when it is not a well-formed marker of `hostname`
 * (markers of other machines sharing the folder belong to them).
 */
export function parseRunningMarker(text: string, hostname: string): RunningTaskView | null {
  const t = markerTask(text, hostname);
  if (t === null) return null;
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

/**
 * The whole running task in one marker's text (figures, progress, phases) as `RunningElsewhere`
 * shows it, or null when it is not a well-formed marker of `hostname`. Checked field by field as a
 * history record is; its id must be one a run could have been given, its labels are cleaned.
 */
export function parseRunningTask(text: string, hostname: string): PerformanceMetrics | null {
  const t = markerTask(text, hostname);
  if (t === null) return null;
  // The record parser knows only ended tasks: checked as one, then running again.
  const parsed = parseRecord({ ...t, schemaVersion: HISTORY_SCHEMA_VERSION, status: 'interrupted', success: false });
  if (parsed.kind !== 'task' || taskIdProblem(parsed.task.taskId) !== null) return null;
  return { ...parsed.task, status: 'running', success: false, endTime: null, generationTimeSeconds: null, modelType: safeLabel(parsed.task.modelType), resolution: safeLabel(parsed.task.resolution) };
}

export interface RunningElsewhereOptions {
  storageDir: string;
  hostname: string;
  /** This process: its own markers are its own tasks, shown from memory. */
  ownPid: number;
  isAlive: (pid: number) => boolean;
  /** Called when the list changed (a run started, moved on or ended). */
  onChange: () => void;
  /**
   * Pace of the look while the folder is not watched (not there yet), on a filesystem whose events
   * cannot be trusted, and while another process's run is shown (it may be killed without a word).
   * Otherwise a look a minute. Default 5000.
   */
  pollMs?: number;
}

/**
 * The tasks other processes of this machine run now (`model-perf run`, another window), followed
 * through their markers: fs.watch of `running/` wakes a look (debounced); a poll (FolderWatch) covers
 * a folder not there yet and, every 5 s while one is shown, a process killed without removing its
 * marker; with nothing shown on a local filesystem it looks once a minute. A marker is read again
 * only when its size or time changed; each is another process's file, parsed as hostile.
 */
export class RunningElsewhere {
  private readonly dir: string;
  private readonly files = new Map<string, { stamp: string; task: PerformanceMetrics | null; pid: number }>();
  private list: PerformanceMetrics[] = [];
  private owners = new WeakMap<PerformanceMetrics, number>();
  private readonly folder: FolderWatch;
  private readonly looks = new OneAtATime(() => this.look(), () => this.disposed);
  private disposed = false;

  constructor(private readonly options: RunningElsewhereOptions) {
    this.dir = join(options.storageDir, RUNNING_DIR_NAME);
    // While another process's run is shown, look at the fast pace: it may die without a word.
    // The storage folder is watched only for the creation of `running/` (others write there often).
    this.folder = new FolderWatch({
      dirs: [this.dir, dirname(this.dir)],
      matters: (dir, name) => dir === this.dir || name === null || name === RUNNING_DIR_NAME,
      look: () => void this.check(),
      fastPollMs: options.pollMs ?? 5000,
      mustPoll: () => this.files.size > 0,
    });
  }

  /** The tasks running elsewhere, oldest first. */
  tasks(): PerformanceMetrics[] {
    return this.list;
  }

  /** The process that runs `task` (one of `tasks()`), from its marker's name; null for any other task. */
  ownerPid(task: PerformanceMetrics): number | null {
    return this.owners.get(task) ?? null;
  }

  /** Looks once, then follows. Resolves after the first look. */
  async start(): Promise<void> {
    this.folder.start();
    await this.check();
  }

  dispose(): void {
    this.disposed = true;
    this.folder.dispose();
  }

  /** One look at a time; a wake-up during a look asks for one more after it. */
  check(): Promise<void> {
    return this.looks.run();
  }

  private async look(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.json')).sort().slice(0, MAX_MARKERS);
    } catch {
      names = [];
    }
    const seen = new Set<string>();
    let changed = false;
    for (const name of names) {
      // `<pid>-<hash>.json`: ours are shown from memory; a dead process's marker is no running task.
      const pid = Number(name.slice(0, name.indexOf('-')));
      if (!Number.isInteger(pid) || pid <= 0 || pid === this.options.ownPid || !this.options.isAlive(pid)) continue;
      const path = join(this.dir, name);
      try {
        const s = await stat(path);
        const stamp = `${s.size}:${s.mtimeMs}:${s.ino}`;
        seen.add(name);
        if (this.files.get(name)?.stamp === stamp) continue;
        const task = s.size > MAX_MARKER_BYTES ? null : parseRunningTask(await readBoundedText(path, MAX_MARKER_BYTES), this.options.hostname);
        this.files.set(name, { stamp, task, pid });
        changed = true;
      } catch {
        // Removed while listed (the run ended), or unreadable: not shown.
      }
    }
    for (const name of [...this.files.keys()]) {
      if (seen.has(name)) continue;
      this.files.delete(name);
      changed = true;
    }
    if (!changed || this.disposed) return;
    this.folder.paceChanged();
    this.owners = new WeakMap();
    for (const f of this.files.values()) if (f.task) this.owners.set(f.task, f.pid);
    this.list = [...this.files.values()].flatMap((f) => (f.task ? [f.task] : [])).sort((a, b) => a.startTime - b.startTime);
    this.options.onChange();
  }
}
