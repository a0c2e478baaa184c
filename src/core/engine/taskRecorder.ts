// What a monitor writes to the shared history for its tasks: a running marker per task (refreshed
// each minute, so a crash still leaves its figures), the record when it ends, and, every few
// hundred appends, a compaction. Failures are reported, never thrown: the task is still returned
// and analysed, and a record the store could not append waits in its spool.
import type { PerformanceMetrics } from '../../shared/metrics';
import { HistorySpooledError, type HistoryStore } from '../history/historyStore';
import type { Clock } from '../ports';
import { errorText } from '../util/errors';

const MARKER_REFRESH_MS = 60_000;
/** A window left open for weeks still applies retention, not only at start. */
const COMPACT_EVERY_APPENDS = 500;

/** The part of a running task the recorder keeps: its marker writes, in order. */
export interface RecordedTask {
  /** Marker writes of this task, in order, so clearing the marker can never be overtaken by a write. */
  markerChain: Promise<void>;
  /** When its marker was last queued (epoch ms), and the progress time it held then. */
  markedAt?: number;
  markedProgressAt?: number | null;
}

/** A running task as the recorder sees it each sample: its progress time read cheaply, its figures on demand. */
export interface RefreshedTask {
  task: RecordedTask;
  progressAt: () => number | null;
  metrics: () => PerformanceMetrics;
}

export interface TaskRecorderPorts {
  store: () => HistoryStore;
  clock: Clock;
  /** A failure of the history, reported once until it works again. */
  failed: (message: string, cause: unknown) => void;
  recovered: () => void;
  /** Work the monitor waits for before it stops. */
  track: (work: Promise<unknown>) => void;
}

export class TaskRecorder {
  private lastMarkerRefreshAt = 0;
  private appendsSinceCompaction = 0;

  /** `liveProgressMs` > 0: a task's marker is also rewritten when its progress changed, at most that often. */
  constructor(
    private readonly ports: TaskRecorderPorts,
    private readonly liveProgressMs: () => number = () => 0,
  ) {}

  private where(): string {
    return this.ports.store().location ?? 'memory';
  }

  /** Queues a write of the task's running marker after its earlier ones. */
  mark(task: RecordedTask, metrics: PerformanceMetrics): void {
    task.markedAt = this.ports.clock.now();
    task.markedProgressAt = metrics.progressUpdatedAt ?? null;
    task.markerChain = task.markerChain.then(() =>
      this.ports.store().markRunning(metrics, this.ports.clock.now()).catch((err: unknown) => {
        this.ports.failed(`Could not record running task "${metrics.taskId}" in ${this.where()}: ${errorText(err)}`, err);
      }),
    );
    this.ports.track(task.markerChain);
  }

  /**
   * Rewrites the markers of running tasks once a minute (called each sample) and, with live
   * progress on, a task's marker whose progress changed since it was written, at most every
   * `liveProgressMs`: readers on the machine (a window) then follow the run's progress.
   */
  refresh(running: Iterable<RefreshedTask>): void {
    const now = this.ports.clock.now();
    const everyTask = now - this.lastMarkerRefreshAt >= MARKER_REFRESH_MS;
    if (everyTask) this.lastMarkerRefreshAt = now;
    const liveMs = this.liveProgressMs();
    if (!everyTask && liveMs <= 0) return;
    for (const r of running) {
      const moved = !everyTask && r.progressAt() !== (r.task.markedProgressAt ?? null) && now - (r.task.markedAt ?? 0) >= liveMs;
      if (everyTask || moved) this.mark(r.task, r.metrics());
    }
  }

  /** Appends the ended task and clears its marker; a spooled record's marker is cleared too. */
  async record(task: RecordedTask, metrics: PerformanceMetrics): Promise<void> {
    const store = this.ports.store();
    try {
      await store.append(metrics);
      await task.markerChain;
      await store.clearRunning(metrics.taskId);
      this.ports.recovered();
      if (++this.appendsSinceCompaction >= COMPACT_EVERY_APPENDS) {
        this.appendsSinceCompaction = 0;
        this.ports.track(store.compact(this.ports.clock.now()).catch((err: unknown) => this.ports.failed(`History compaction failed in ${this.where()}: ${errorText(err)}`, err)));
      }
    } catch (err) {
      // Spooled: the record is safe, so its running marker must not record it as interrupted too.
      if (err instanceof HistorySpooledError) await task.markerChain.then(() => store.clearRunning(metrics.taskId)).catch(() => undefined);
      this.ports.failed(`Task "${metrics.taskId}" could not be saved to the history in ${this.where()}: ${errorText(err)}`, err);
    }
  }
}
