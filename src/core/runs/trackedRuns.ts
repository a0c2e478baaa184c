// Runs started without the "Start Task" command (a terminal command, a debug session, a VS Code
// task, the CLI's child) become monitor tasks here: a unique task id, progress from the output
// (throttled, so a bar redrawn ten times a second is not ten updates), the root process once
// known, and the end classified by the shared outcome classifier. Node only, no `vscode`.
import type { PerformanceMonitor } from '../engine/monitor';
import type { MonitorLogger } from '../engine/monitorTypes';
import { classifyOutcome } from './outcome';
import { ProgressParser } from './progress';
import type { TaskGuess } from './commandLine';

export type RunSource = 'terminal' | 'debug' | 'task' | 'cli';

/** Progress reaches the monitor at most this often (the status bar redraws on each update). */
const PROGRESS_UPDATE_MS = 250;

export interface RunEnd {
  /** The exit code, or undefined when unknown (terminal closed, shell integration lost). */
  exitCode: number | undefined;
  /** Why the exit code is unknown, as an error category (default `interrupted`). */
  unknownCategory?: string;
}

export class TrackedRun {
  readonly parser = new ProgressParser();
  private lastPushAt = 0;
  private pushTimer: ReturnType<typeof setTimeout> | null = null;
  private ended = false;
  rootPid: number | null = null;

  constructor(
    readonly taskId: string,
    readonly source: RunSource,
    private readonly guess: TaskGuess,
    private readonly monitor: PerformanceMonitor,
    private readonly log: MonitorLogger,
    private readonly now: () => number,
  ) {}

  get isEnded(): boolean {
    return this.ended;
  }

  /** A chunk of the run's output. */
  feed(chunk: string): void {
    if (this.ended || !this.parser.push(chunk)) return;
    const wait = PROGRESS_UPDATE_MS - (this.now() - this.lastPushAt);
    if (wait <= 0) this.pushProgress();
    else this.pushTimer ??= setTimeout(() => this.pushProgress(), wait);
  }

  private pushProgress(): void {
    if (this.pushTimer) clearTimeout(this.pushTimer);
    this.pushTimer = null;
    const p = this.parser.latest;
    if (this.ended || !p) return;
    this.lastPushAt = this.now();
    this.safely('progress', () => {
      this.monitor.updateTaskMetrics(this.taskId, { stepsCompleted: p.done, stepsTotal: p.total, stepsPerSecond: p.ratePerSecond, progressIsPercent: p.unit === 'percent' });
      // Without --steps on the command line, the run's longest bar tells how many steps it has.
      const largest = this.parser.largestTotal;
      if (this.guess.steps === 0 && largest !== null && this.monitor.getActiveTasks().find((t) => t.taskId === this.taskId)?.steps !== largest) {
        this.monitor.updateTaskMetrics(this.taskId, { steps: largest });
      }
    });
  }

  setRootPid(pid: number | null): void {
    if (this.ended || pid === null || pid === this.rootPid) return;
    this.rootPid = pid;
    this.safely('root process', () => this.monitor.updateTaskMetrics(this.taskId, { rootPid: pid }));
  }

  /**
   * Sends the latest progress now and stops following the output, without ending the task: for
   * a caller that records the end itself (`model-perf run`), so the task's record holds the last
   * reading and no late update reaches an ended task.
   */
  flush(): void {
    if (this.ended) return;
    this.pushProgress();
    this.ended = true;
  }

  /** Records how the run ended; a second call does nothing. */
  async end(end: RunEnd): Promise<void> {
    if (this.ended) return;
    this.pushProgress();
    this.ended = true;
    const tail = this.parser.tail();
    try {
      if (end.exitCode === undefined) {
        await this.monitor.interruptTaskMonitoring(this.taskId, end.unknownCategory ?? 'interrupted');
        this.log.info(`Task "${this.taskId}" (${this.source}) ended without an exit code: recorded as interrupted (${end.unknownCategory ?? 'interrupted'})`);
        return;
      }
      const outcome = classifyOutcome({ code: end.exitCode, signal: null }, tail, null);
      if (outcome.errorCategory === 'interrupted') await this.monitor.interruptTaskMonitoring(this.taskId);
      else await this.monitor.completeTaskMonitoring(this.taskId, outcome.success, outcome.errorCategory);
      this.log.info(`Task "${this.taskId}" (${this.source}) ended: ${outcome.exitDescription}${outcome.errorCategory ? `, ${outcome.errorCategory}` : ''}`);
    } catch (err) {
      this.log.warn(`Task "${this.taskId}" could not be recorded as ended: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      // The task may have been completed by hand (Complete Task…) meanwhile: not worth more than a line.
      this.log.info(`Task "${this.taskId}": ${what} not recorded (${err instanceof Error ? err.message : String(err)})`);
    }
  }
}

/** Starts tracked runs on one monitor, with unique task ids. */
export class RunRegistry {
  private readonly runs = new Set<TrackedRun>();

  constructor(
    private readonly monitor: PerformanceMonitor,
    private readonly log: MonitorLogger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts the task; null (and a log line) when the monitor refuses it. */
  start(source: RunSource, guess: TaskGuess, rootPid: number | null = null): TrackedRun | null {
    const active = new Set(this.monitor.getActiveTasks().map((t) => t.taskId));
    let taskId = guess.taskId;
    for (let n = 2; active.has(taskId) && n < 1000; n++) taskId = `${guess.taskId}#${n}`;
    try {
      this.monitor.startTaskMonitoring(taskId, guess.modelType, guess.resolution, guess.steps, { rootPid });
    } catch (err) {
      this.log.warn(`Could not start tracking "${taskId}": ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
    const run = new TrackedRun(taskId, source, guess, this.monitor, this.log, this.now);
    run.rootPid = rootPid;
    this.runs.add(run);
    this.log.info(`Tracking ${source} run "${taskId}" (model ${guess.modelType}${guess.resolution ? `, ${guess.resolution}` : ''}${guess.steps ? `, ${guess.steps} steps` : ''})`);
    return run;
  }

  /**
   * Continues a run found already going (see adoption.ts) as an `adopted` task from its own start;
   * null (and a log line) when the monitor refuses it.
   */
  adopt(source: RunSource, found: { pid: number; guess: TaskGuess; startTimeMs: number | null }): TrackedRun | null {
    const active = this.monitor.getActiveTasks();
    if (active.some((t) => t.rootPid === found.pid)) return null;
    const ids = new Set(active.map((t) => t.taskId));
    let taskId = found.guess.taskId;
    for (let n = 2; ids.has(taskId) && n < 1000; n++) taskId = `${found.guess.taskId}#${n}`;
    try {
      this.monitor.adoptTaskMonitoring(taskId, found.guess.modelType, found.guess.resolution, found.guess.steps, { rootPid: found.pid, startTimeMs: found.startTimeMs });
    } catch (err) {
      this.log.warn(`Could not adopt the run "${taskId}" (pid ${found.pid}): ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
    const run = new TrackedRun(taskId, source, found.guess, this.monitor, this.log, this.now);
    run.rootPid = found.pid;
    this.runs.add(run);
    const since = found.startTimeMs === null ? 'start unknown' : `started ${new Date(found.startTimeMs).toISOString()}`;
    this.log.info(`Adopted ${source} run "${taskId}" already going (pid ${found.pid}, ${since})`);
    return run;
  }

  /** Runs not yet ended. */
  live(): TrackedRun[] {
    for (const r of this.runs) if (r.isEnded) this.runs.delete(r);
    return [...this.runs];
  }

  /** Ends every live run as interrupted (the window is closing). */
  async endAll(category: string): Promise<void> {
    await Promise.all(this.live().map((r) => r.end({ exitCode: undefined, unknownCategory: category })));
  }
}
