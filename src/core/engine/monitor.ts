// The engine's front door: a sampling loop (chained timers, one sample at a time), live task
// accumulators, the snapshot ring, the shared history and the analysis. Faces (status bar,
// dashboard, CLI) subscribe to its events and read its figures; they compute nothing themselves.
import type { PerformanceAnalysis, PerformanceMetrics, TaskMetricsUpdate } from '../../shared/metrics';
import type { GpuAvailability, SystemPerformanceSnapshot } from '../../shared/snapshot';
import { buildExportDocument, ExportError, formatFromPath, writeExport, type ExportFormat, type ExportResult, type MachineInventory } from '../history/exporter';
import { defaultStorageDir, JsonlHistoryStore, type HistoryStore } from '../history/historyStore';
import { systemClock, type Clock, type GpuProvider, type GpuReadingsEvent, type GpuSample, type ProcessSampler, type ProcessTreeReading, type SystemSampler, type TimerHandle } from '../ports';
import { machineInventory } from '../sampling/os/machineInventory';
import { OsSystemSampler } from '../sampling/os/osSystemSampler';
import { readDeviceEnvironment, type DeviceEnvironment } from '../sampling/os/processEnv';
import { TypedEmitter, type Disposable } from '../util/emitter';
import { isProcessAlive } from '../util/process';
import { ForeignPidWatch } from './foreignPids';
import { errorText } from '../util/errors';
import { analyzePerformance } from './analysis';
import { validateConfig, type MonitorConfig, type MonitorConfigInput } from './config';
import { FailureReport } from './failureReport';
import type { CurrentSystemStatus, HistoryLoadReport, MonitorErrorKind, MonitorEvents, MonitorLogger, MonitorPorts } from './monitorTypes';
import { assembleSnapshot } from './snapshot';
import { SnapshotRing, type MinuteRollup } from './snapshotRing';
import { TaskAccumulator } from './taskAccumulator';
import { defaultGitCommitReader, lookUpGitCommit, type GitCommitReader } from './gitCommit';
import { HeldHistory, loadInto } from './heldHistory';
import { LiveAnalyses } from './windowAggregate';
import { TaskRecorder } from './taskRecorder';
import { predictRun } from './findings';
import { normalizeResolution } from './resolution';
import { safeErrorText, safeLabel } from '../../shared/text';
import {
  checkAdoptArguments,
  checkHelperVram,
  checkPhaseArguments,
  checkStartArguments,
  checkTimeWindow,
  checkUpdate,
  invalidArgument,
  isProgressField,
  showValue,
  TaskStateError,
  type StartTaskOptions,
} from './taskArguments';

interface TaskEntry {
  acc: TaskAccumulator;
  /** Set when completion or cancellation began: later samples are clamped to it. */
  endTime: number | null;
  /** Marker writes of this task, in order, so clearing the marker can never be overtaken by a write. */
  markerChain: Promise<void>;
  /** The git lookup of its working directory while it runs (bounded by its own timeout). */
  gitLookup: Promise<void>;
}

/** A reading this far into the interval after the last sample is sampled at once (see onGpuReadings). */
const SAMPLE_ON_READING_AFTER_INTERVALS = 0.5;
/**
 * While following readings, the loop's own timer is a safety net for a provider that stops without
 * saying so: a sample is taken after this many intervals without a reading. (The nvidia-smi
 * provider says 'stopped' when its child exits or its watchdog finds it silent.)
 */
const FALLBACK_AFTER_INTERVALS = 10;

export class PerformanceMonitor {
  private currentConfig: MonitorConfig;
  private readonly clock: Clock;
  private readonly systemSampler: SystemSampler;
  private gpuProvider: GpuProvider | null;
  private readonly processSampler: ProcessSampler | null;
  private store: HistoryStore;
  private readonly logger: MonitorLogger | null;
  private readonly foreignPids: ForeignPidWatch;
  private readonly gitCommitReader: GitCommitReader | null;
  private readonly deviceEnvironmentReader: ((pid: number) => Promise<DeviceEnvironment | null>) | null;
  private readonly emitter: TypedEmitter<MonitorEvents>;

  private readonly active = new Map<string, TaskEntry>();
  private readonly finishing = new Set<TaskEntry>();
  /**
   * Ids whose running marker is ours until `finish` removes it: from the start to after the
   * append, so a history reload meanwhile does not take a starting or finishing task of ours for
   * one an earlier process left (it would be recorded and announced twice). Passed live.
   */
  private readonly ownMarkers = new Set<string>();
  private readonly history: HeldHistory;
  private readonly live = new LiveAnalyses();
  private readonly recorder: TaskRecorder;
  private readonly snapshots: SnapshotRing;

  private running = false;
  private disposed = false;
  private loopTimer: TimerHandle | null = null;
  private recheckTimer: TimerHandle | null = null;
  private gpuRecheckDelayMs: number;
  private gpuStarted = false;
  private gpuAvailability: GpuAvailability;
  private gpuAvailabilityKnown = false;
  private lastSampleStartedAt: number | null = null;
  /**
   * Whether the loop follows the GPU provider's readings (a streaming provider tells each one):
   * the sample is taken as a reading arrives and the loop's timer is only a safety net (see
   * onGpuReadings), whose deadline moves with each sample while the timer itself stays set.
   */
  private followingReadings = false;
  private fallbackDueAt = 0;
  private readonly gpuReadingsListener = (event: GpuReadingsEvent): void => this.onGpuReadings(event);

  /** Every sample and GPU (re)start runs through this chain, so two never overlap. */
  private chain: Promise<unknown> = Promise.resolve();
  private queuedSample: Promise<SystemPerformanceSnapshot | null> | null = null;
  private readonly pendingWork = new Set<Promise<unknown>>();
  /** Each failure is logged and emitted once, until its kind works again. */
  private readonly failures = new FailureReport<MonitorErrorKind>(
    (kind, message, cause) => {
      this.logger?.error(message);
      this.emitter.emit('error', { kind, message, cause });
    },
    (kind) => this.logger?.info(`${kind} works again`),
  );
  private readyPromise: Promise<HistoryLoadReport> | null = null;

  constructor(config?: MonitorConfigInput, ports: MonitorPorts = {}) {
    this.currentConfig = validateConfig(config ?? {});
    this.clock = ports.clock ?? systemClock;
    this.systemSampler = ports.systemSampler ?? new OsSystemSampler();
    this.gpuProvider = ports.gpuProvider ?? null;
    this.processSampler = ports.processSampler ?? null;
    this.logger = ports.logger ?? null;
    this.foreignPids = new ForeignPidWatch(ports.pidExists ?? isProcessAlive, (note, pids) => {
      this.logger?.warn(`${note} (pids listed: ${pids})`);
      this.emitter.emit('gpuAvailabilityChanged', this.withNote(this.gpuAvailability));
    });
    this.gitCommitReader = ports.gitCommitReader === undefined ? defaultGitCommitReader : ports.gitCommitReader;
    this.deviceEnvironmentReader = ports.deviceEnvironmentReader === undefined ? (process.platform === 'linux' ? readDeviceEnvironment : null) : ports.deviceEnvironmentReader;
    this.store =
      ports.historyStore ??
      new JsonlHistoryStore(this.config.storageDir ?? defaultStorageDir(), {
        retentionDays: this.config.retentionDays,
        retentionMaxTasks: this.config.retentionMaxTasks,
        now: () => this.clock.now(),
      });
    this.emitter = new TypedEmitter<MonitorEvents>((event, err) => {
      const message = `A listener for "${String(event)}" threw: ${errorText(err)}`;
      if (event === 'error') this.logger?.error(message);
      else this.failures.failed('listener', message, err);
    });
    this.history = new HeldHistory(this.config.maxHistorySize);
    this.history.watcher = this.live;
    this.recorder = new TaskRecorder({
      store: () => this.store,
      clock: this.clock,
      failed: (message, cause) => this.failures.failed('history', message, cause),
      recovered: () => this.failures.recovered('history'),
      track: (work) => this.track(work),
    }, () => this.config.liveProgressMarkerMs);
    this.snapshots = new SnapshotRing(this.config.maxSnapshots, this.config.maxRollupMinutes, this.config.monitoringIntervalMs * 2);
    this.gpuRecheckDelayMs = this.config.gpuRecheckInitialMs;
    this.gpuAvailability = this.initialGpuAvailability();
  }

  /** The validated configuration in force (see reconfigure()). */
  get config(): MonitorConfig {
    return this.currentConfig;
  }

  /**
   * Applies a configuration change live: `input` is merged over the current configuration and
   * validated (a bad value throws ConfigError and changes nothing). Only what changed restarts:
   * thresholds and retention apply at once; a new interval, GPU switch or GPU provider restarts
   * the loop and the provider; a new history store reloads the history. Running tasks go on.
   */
  async reconfigure(input: MonitorConfigInput, replace: { gpuProvider?: GpuProvider | null; historyStore?: HistoryStore } = {}): Promise<void> {
    const next = validateConfig({ ...this.currentConfig, ...input, thresholds: { ...this.currentConfig.thresholds, ...input.thresholds } });
    const restartLoop =
      replace.gpuProvider !== undefined ||
      next.enableGpuMonitoring !== this.currentConfig.enableGpuMonitoring ||
      next.monitoringIntervalMs !== this.currentConfig.monitoringIntervalMs;
    const wasRunning = this.running;
    if (wasRunning && restartLoop) await this.stopMonitoring();
    this.currentConfig = next;
    if (replace.gpuProvider !== undefined) this.gpuProvider = replace.gpuProvider;
    if (restartLoop) {
      this.gpuAvailabilityKnown = false;
      this.gpuRecheckDelayMs = next.gpuRecheckInitialMs;
      this.gpuAvailability = this.initialGpuAvailability();
    }
    if (replace.historyStore) {
      this.store = replace.historyStore;
      this.history.clear();
      this.readyPromise = null;
    }
    this.history.limit(next.maxHistorySize);
    if (replace.historyStore) await this.ready();
    if (wasRunning && restartLoop) await this.startMonitoring();
  }

  /** Removes every finished task from the shared history (running tasks go on). Returns how many. */
  async clearHistory(): Promise<number> {
    const removed = await this.store.clear();
    this.history.clear();
    this.emitter.emit('historyChanged', { count: 0 });
    return removed;
  }

  private initialGpuAvailability(): GpuAvailability {
    if (!this.config.enableGpuMonitoring) return { provider: 'none', available: false, reason: 'GPU monitoring is off ("enableGpuMonitoring" is false)' };
    if (!this.gpuProvider) return { provider: 'none', available: false, reason: 'No GPU provider is configured; GPU figures are off' };
    return { provider: this.gpuProvider.kind, available: false, reason: 'GPU monitoring has not started yet' };
  }

  on<K extends keyof MonitorEvents>(event: K, listener: (payload: MonitorEvents[K]) => void): Disposable {
    return this.emitter.on(event, listener);
  }

  get isMonitoring(): boolean {
    return this.running;
  }

  /** Where the shared history lives (null for an in-memory store). */
  get storageLocation(): string | null {
    return this.store.location;
  }

  private track<T>(p: Promise<T>): void {
    const guarded = p.then(
      () => undefined,
      () => undefined,
    );
    this.pendingWork.add(guarded);
    void guarded.then(() => this.pendingWork.delete(guarded));
  }

  // ----- history -----

  /** Loads the shared history once (recovering tasks of dead processes first). Never rejects. */
  ready(): Promise<HistoryLoadReport> {
    this.readyPromise ??= this.reloadHistory();
    return this.readyPromise;
  }

  /** Re-reads the shared history, e.g. to see tasks other windows or the CLI recorded. Never rejects. */
  async reloadHistory(): Promise<HistoryLoadReport> {
    return this.loadHistory({ lastN: this.config.maxHistorySize });
  }

  /**
   * Holds only the tasks started in the last `timeWindowHours` (at most maxHistorySize, the
   * newest): a read-only face (analyze, export) pays for the window it shows, not for the history.
   */
  async loadHistoryWindow(timeWindowHours: number): Promise<HistoryLoadReport> {
    checkTimeWindow(timeWindowHours);
    this.readyPromise = this.loadHistory({ sinceMs: this.clock.now() - timeWindowHours * 3_600_000, lastN: this.config.maxHistorySize });
    return this.readyPromise;
  }

  private async loadHistory(options: { sinceMs?: number; lastN: number }): Promise<HistoryLoadReport> {
    try {
      const report = await loadInto(this.history, this.store, this.clock.now(), this.ownMarkers, options);
      for (const w of report.warnings) this.emitter.emit('historyWarning', w);
      for (const t of report.recovered) this.emitter.emit('taskEnded', t);
      this.emitter.emit('historyChanged', { count: this.history.count });
      this.failures.recovered('history');
      return report;
    } catch (err) {
      const error = `Task history could not be loaded from ${this.store.location ?? 'memory'}: ${errorText(err)}`;
      this.failures.failed('history', error, err);
      return { loaded: 0, recovered: [], warnings: [], error };
    }
  }

  /**
   * Tasks another process recorded (told by the history store's change notification): added
   * without reading the history again; ones already held are skipped.
   */
  addRecordedTasks(tasks: readonly PerformanceMetrics[]): void {
    if (this.history.addRecorded(tasks)) this.emitter.emit('historyChanged', { count: this.history.count });
  }

  /** How many completed tasks are held (without copying them). */
  get historyCount(): number {
    return this.history.count;
  }

  /** Completed tasks (oldest first) started within the window, or all of them. */
  getHistory(timeWindowHours?: number): PerformanceMetrics[] {
    if (timeWindowHours === undefined) return this.history.copies(null);
    checkTimeWindow(timeWindowHours);
    return this.history.copies(this.clock.now() - timeWindowHours * 3_600_000);
  }

  /**
   * A page of the window's finished tasks, newest first by start, not copied (callers only read
   * them): `offset` matches skipped, at most `limit` taken; `total` counts the matches. Without a
   * filter the page is read from the kept window alone; a filter reads the window once.
   */
  historyPage(timeWindowHours: number, offset: number, limit: number, match: ((t: PerformanceMetrics) => boolean) | null = null): { tasks: readonly PerformanceMetrics[]; total: number } {
    checkTimeWindow(timeWindowHours);
    return this.live.page(this.history.all, this.clock.now(), timeWindowHours, Math.max(0, Math.floor(offset)), Math.max(0, Math.floor(limit)), match);
  }

  getRecentSnapshots(sinceMs?: number): SystemPerformanceSnapshot[] {
    return this.snapshots.recent(sinceMs);
  }

  getMinuteRollups(sinceMs?: number): MinuteRollup[] {
    return this.snapshots.minuteRollups(sinceMs);
  }

  getGpuAvailability(): GpuAvailability {
    return this.withNote(this.gpuAvailability);
  }

  /** Availability with the attribution note, once the container case was seen (it does not go away). */
  private withNote(availability: GpuAvailability): GpuAvailability {
    const note = this.foreignPids.note;
    return note !== null && availability.available ? { ...availability, note } : { ...availability };
  }

  // ----- the loop -----

  async startMonitoring(): Promise<void> {
    if (this.disposed) throw new Error('This PerformanceMonitor was disposed; create a new one');
    if (this.running) return;
    this.running = true;
    // The history loads beside the first sample: the status bar's first figures never wait for
    // the history, however large it is.
    const history = this.ready();
    if (this.config.enableGpuMonitoring && this.gpuProvider && !this.gpuStarted) {
      await this.exclusive(() => this.startGpu());
      if (!this.running) return;
    } else if (!this.gpuAvailabilityKnown) {
      this.setGpuAvailability(this.gpuAvailability);
    }
    this.logger?.info(`Monitoring started, one sample every ${this.config.monitoringIntervalMs} ms`);
    await this.requestSample();
    this.scheduleNext();
    // Resolves once the history is in memory too, as callers expect.
    await history;
  }

  /** Stops the loop, waits for the sample in flight, and stops every timer and GPU child process. */
  async stopMonitoring(): Promise<void> {
    this.running = false;
    this.clearLoopTimer();
    if (this.recheckTimer) this.clock.clearTimeout(this.recheckTimer);
    this.recheckTimer = null;
    await this.chain.catch(() => undefined);
    await Promise.all([...this.pendingWork]);
    this.gpuProvider?.onReadings?.(null);
    this.followingReadings = false;
    if (this.gpuProvider && this.gpuStarted) {
      this.gpuStarted = false;
      try {
        await this.gpuProvider.stop();
      } catch (err) {
        this.failures.failed('gpuStart', `The GPU provider did not stop cleanly: ${errorText(err)}`, err);
      }
    }
  }

  /** Stops monitoring, releases the samplers and drops every listener. Tasks still running are left as they are. */
  async dispose(): Promise<void> {
    await this.stopMonitoring();
    this.disposed = true;
    this.systemSampler.dispose?.();
    this.processSampler?.dispose?.();
    this.emitter.clear();
  }

  private scheduleNext(): void {
    if (!this.running) return;
    const interval = this.config.monitoringIntervalMs;
    if (this.followingReadings) {
      // Moving the deadline costs nothing; clearing and setting a timer each second would cost a
      // wake-up each second (node wakes for a cleared timer's old expiry).
      this.fallbackDueAt = (this.lastSampleStartedAt ?? this.clock.now()) + interval * FALLBACK_AFTER_INTERVALS;
      if (!this.loopTimer) this.armLoopTimer(this.fallbackDueAt - this.clock.now());
      return;
    }
    if (this.loopTimer) return;
    // Fixed cadence: a slow sample shortens the wait rather than stretching the interval.
    const since = this.lastSampleStartedAt === null ? 0 : this.clock.now() - this.lastSampleStartedAt;
    this.armLoopTimer(Math.min(interval, interval - since));
  }

  private armLoopTimer(delayMs: number): void {
    this.loopTimer = this.clock.setTimeout(() => this.onLoopTimer(), Math.max(0, delayMs));
    this.loopTimer.unref?.();
  }

  private onLoopTimer(): void {
    this.loopTimer = null;
    if (this.followingReadings) {
      const left = this.fallbackDueAt - this.clock.now();
      if (left > 0) {
        this.armLoopTimer(left);
        return;
      }
      // The readings stopped without a word: the loop keeps time itself again.
      this.followingReadings = false;
    }
    void this.tick();
  }

  /**
   * A streaming GPU provider has a fresh reading: sample now when the last sample is at least
   * half an interval old, so the loop wakes once per interval (for the reading) instead of twice
   * (for the reading and its own timer), with the GPU figures at their freshest. A reading that
   * comes just after a sample (one asked for) is left for the next. When the provider says its
   * readings stopped, or the GPU is lost, the loop keeps time with its own timer again.
   */
  private onGpuReadings(event: GpuReadingsEvent): void {
    if (!this.running) return;
    if (event === 'stopped') {
      this.stopFollowingReadings();
      return;
    }
    if (!this.followingReadings) {
      this.followingReadings = true;
      // The loop's own timer gives way to the readings (its safety net is set by scheduleNext).
      this.clearLoopTimer();
    }
    const since = this.lastSampleStartedAt === null ? Number.POSITIVE_INFINITY : this.clock.now() - this.lastSampleStartedAt;
    if (since >= this.config.monitoringIntervalMs * SAMPLE_ON_READING_AFTER_INTERVALS) void this.tick();
    else this.scheduleNext();
  }

  private stopFollowingReadings(): void {
    if (!this.followingReadings) return;
    this.followingReadings = false;
    this.clearLoopTimer();
    this.scheduleNext();
  }

  private clearLoopTimer(): void {
    if (this.loopTimer) this.clock.clearTimeout(this.loopTimer);
    this.loopTimer = null;
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    await this.requestSample();
    this.recorder.refresh([...this.active.values()].map((e) => ({ task: e, progressAt: () => e.acc.description.progressUpdatedAt ?? null, metrics: () => e.acc.toMetrics() })));
    this.scheduleNext();
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Takes a sample as soon as the one in flight (if any) has finished; callers arriving while one
   * is already queued share it, so a burst of requests never stacks samples.
   */
  sampleNow(): Promise<SystemPerformanceSnapshot | null> {
    return this.requestSample();
  }

  private requestSample(): Promise<SystemPerformanceSnapshot | null> {
    if (this.queuedSample) return this.queuedSample;
    const p = this.exclusive(() => {
      this.queuedSample = null;
      return this.takeSample();
    });
    this.queuedSample = p;
    return p;
  }

  private async takeSample(): Promise<SystemPerformanceSnapshot | null> {
    const timestamp = this.clock.now();
    this.lastSampleStartedAt = timestamp;
    const targets = [...this.active.values(), ...this.finishing];
    const gpuOn = this.gpuStarted && this.gpuAvailability.available;
    const [system, gpu, trees] = await Promise.all([
      this.systemSampler.sample().then(
        (r) => {
          this.failures.recovered('systemSample');
          return r;
        },
        (err: unknown) => {
          this.failures.failed('systemSample', `CPU/RAM sample failed: ${errorText(err)}`, err);
          return null;
        },
      ),
      gpuOn ? this.readGpu() : Promise.resolve(null),
      Promise.all(targets.map((e) => this.sampleTree(e.acc.description.rootPid))),
    ]);
    if (system === null && gpu === null) return null;
    const snapshot = assembleSnapshot(timestamp, system, gpu?.gpus ?? []);
    this.snapshots.push(snapshot);
    const gpuProcesses = gpu?.processes ?? null;
    const processesHidden = this.foreignPids.hidden(gpuProcesses);
    targets.forEach((e, i) => e.acc.addSample({ timestamp, snapshot, gpuProcesses, tree: trees[i] ?? null, processesHidden }, e.endTime));
    this.emitter.emit('snapshot', snapshot);
    return snapshot;
  }

  private async readGpu(): Promise<GpuSample | null> {
    const provider = this.gpuProvider as GpuProvider;
    try {
      const sample = await provider.read();
      this.failures.recovered('gpuSample');
      if (sample === null) {
        const availability = provider.availability();
        if (!availability.available) this.gpuLost(availability);
      }
      return sample;
    } catch (err) {
      this.failures.failed('gpuSample', `GPU sample failed: ${errorText(err)}`, err);
      const availability = provider.availability();
      if (!availability.available) this.gpuLost(availability);
      return null;
    }
  }

  private async sampleTree(rootPid: number | null): Promise<ProcessTreeReading | null> {
    if (rootPid === null || !this.processSampler) return null;
    try {
      const tree = await this.processSampler.sampleTree(rootPid);
      this.failures.recovered('processSample');
      return tree;
    } catch (err) {
      this.failures.failed('processSample', `Process tree sample failed: ${errorText(err)}`, err);
      return null;
    }
  }

  // ----- GPU availability, with backoff while none is found -----

  private async startGpu(): Promise<void> {
    const provider = this.gpuProvider as GpuProvider;
    let availability: GpuAvailability;
    try {
      provider.onReadings?.(this.gpuReadingsListener);
      availability = await provider.start(this.config.monitoringIntervalMs);
      this.gpuStarted = true;
      this.failures.recovered('gpuStart');
    } catch (err) {
      const reason = `The GPU provider failed to start: ${errorText(err)}`;
      this.failures.failed('gpuStart', reason, err);
      availability = { provider: provider.kind, available: false, reason };
    }
    this.setGpuAvailability(availability);
    if (availability.available) this.gpuRecheckDelayMs = this.config.gpuRecheckInitialMs;
    else this.scheduleGpuRecheck();
  }

  private gpuLost(availability: GpuAvailability): void {
    this.stopFollowingReadings();
    this.setGpuAvailability(availability);
    this.scheduleGpuRecheck();
  }

  private scheduleGpuRecheck(): void {
    if (!this.running || this.recheckTimer || !this.gpuProvider) return;
    const delay = this.gpuRecheckDelayMs;
    this.gpuRecheckDelayMs = Math.min(this.config.gpuRecheckMaxMs, this.gpuRecheckDelayMs * 2);
    this.recheckTimer = this.clock.setTimeout(() => {
      this.recheckTimer = null;
      if (!this.running) return;
      const provider = this.gpuProvider as GpuProvider;
      this.track(
        this.exclusive(async () => {
          if (!this.running) return;
          if (this.gpuStarted) {
            this.gpuStarted = false;
            await provider.stop().catch((err: unknown) => this.failures.failed('gpuStart', `The GPU provider did not stop cleanly: ${errorText(err)}`, err));
          }
          await this.startGpu();
        }),
      );
    }, delay);
    this.recheckTimer.unref?.();
  }

  private setGpuAvailability(availability: GpuAvailability): void {
    const changed = !this.gpuAvailabilityKnown || availability.available !== this.gpuAvailability.available;
    this.gpuAvailability = { ...availability };
    this.gpuAvailabilityKnown = true;
    if (changed) this.logger?.info(availability.available ? `GPU monitoring on (${availability.provider})` : `No GPU figures: ${availability.reason ?? 'no GPU found'}`);
    if (changed) this.emitter.emit('gpuAvailabilityChanged', this.withNote(availability));
  }

  // ----- tasks -----

  startTaskMonitoring(taskId: string, modelType: string, resolution: string, steps: number, options: StartTaskOptions = {}): PerformanceMetrics {
    checkStartArguments(taskId, modelType, resolution, steps, options);
    const existing = this.active.get(taskId);
    if (existing) {
      throw new TaskStateError(
        'duplicateTask',
        `Task "${taskId}" is already being monitored (started ${new Date(existing.acc.startTime).toISOString()}); complete or cancel it before starting it again`,
      );
    }
    const acc = new TaskAccumulator({
      taskId,
      // Labels are only shown: cleaned and cut rather than refused (shared/text.ts).
      modelType: safeLabel(modelType),
      resolution: safeLabel(resolution),
      steps,
      startTime: this.clock.now(),
      rootPid: options.rootPid ?? null,
      optimizationsApplied: options.optimizations ?? [],
      quantizationUsed: options.quantization ?? null,
      offloadUsed: options.offload ?? false,
      gpuIndices: options.gpuIndices ?? null,
    });
    // What comparable earlier runs predict for this configuration (peak VRAM, time), shown with the task.
    acc.prediction = predictRun(this.history.all, acc.description.modelType, acc.description.resolution, normalizeResolution(acc.description.resolution), steps);
    if (options.deviceEnvironment) acc.deviceEnvironment = { ...options.deviceEnvironment };
    const metrics = this.addTask(acc, options.workingDirectory ?? null);
    this.readDeviceEnvironment(acc);
    return metrics;
  }

  /**
   * Continues a run that was already going when this process started (a terminal's run after a
   * window reload): like startTaskMonitoring, but the task starts at `startTimeMs` (the process's
   * own start; clamped to now) and is marked `adopted`. Its figures cover the time it is followed;
   * the device's rise is no evidence for it (its memory was taken before the first sample).
   */
  adoptTaskMonitoring(taskId: string, modelType: string, resolution: string, steps: number, options: { rootPid: number; startTimeMs: number | null }): PerformanceMetrics {
    checkAdoptArguments(taskId, modelType, resolution, steps, options);
    const start = options.startTimeMs;
    if (this.active.has(taskId)) throw new TaskStateError('duplicateTask', `Task "${taskId}" is already being monitored; it cannot be adopted again`);
    const now = this.clock.now();
    const acc = new TaskAccumulator({
      taskId,
      modelType: safeLabel(modelType),
      resolution: safeLabel(resolution),
      steps,
      startTime: start === null ? now : Math.min(start, now),
      rootPid: options.rootPid,
      adopted: true,
    });
    // The previous window's marker of this run is this task now: it must not be recorded as interrupted too.
    const release = this.store.releaseRunMarkers?.(options.rootPid);
    if (release) this.track(release);
    return this.addTask(acc, null);
  }

  private addTask(acc: TaskAccumulator, workingDirectory: string | null): PerformanceMetrics {
    const entry: TaskEntry = { acc, endTime: null, markerChain: Promise.resolve(), gitLookup: lookUpGitCommit(this.gitCommitReader, acc, workingDirectory, (m) => this.logger?.info(m)) };
    this.track(entry.gitLookup);
    // Two tasks at once share the device: neither's rise of device memory is its own.
    if (this.active.size > 0 || this.finishing.size > 0) {
      acc.markDeviceShared();
      for (const other of [...this.active.values(), ...this.finishing]) other.acc.markDeviceShared();
    }
    this.active.set(acc.taskId, entry);
    this.ownMarkers.add(acc.taskId);
    const metrics = acc.toMetrics();
    this.recorder.mark(entry, metrics);
    this.emitter.emit('taskStarted', metrics);
    // The start sample: a task shorter than the interval still gets a figure from its first instant.
    this.track(this.requestSample());
    return metrics;
  }

  /** Changes known fields of a running task; anything unknown or mistyped is an error and nothing changes. */
  updateTaskMetrics(taskId: string, changes: TaskMetricsUpdate): PerformanceMetrics {
    const entry = this.requireActive('updateTaskMetrics', taskId);
    const entries = checkUpdate(taskId, changes);
    const d = entry.acc.description as unknown as Record<string, unknown>;
    for (const [key, value] of entries) d[key] = Array.isArray(value) ? [...value] : typeof value === 'string' ? safeLabel(value) : value;
    if (entries.some(([key]) => key === 'rootPid')) this.readDeviceEnvironment(entry.acc);
    const progressOnly = entries.length > 0 && entries.every(([key]) => isProgressField(key));
    if (entries.some(([key]) => isProgressField(key))) {
      entry.acc.description.progressUpdatedAt = this.clock.now();
      // A reading that does not say it is a percentage (the helper's mp.step, a counted bar) counts steps.
      if (!entries.some(([key]) => key === 'progressIsPercent')) entry.acc.description.progressIsPercent = false;
    }
    const metrics = entry.acc.toMetrics();
    if (!progressOnly) this.recorder.mark(entry, metrics);
    this.emitter.emit('taskUpdated', metrics);
    return metrics;
  }

  /**
   * Which GPUs a task's root process was told to use (CUDA_VISIBLE_DEVICES), read once its pid is
   * known, unless the caller gave them. A process whose environment cannot be read leaves the
   * decision to the GPU whose memory rose.
   */
  private readDeviceEnvironment(acc: TaskAccumulator): void {
    const pid = acc.description.rootPid;
    const reader = this.deviceEnvironmentReader;
    if (acc.deviceEnvironment !== null || pid === null || reader === null) return;
    reader(pid).then(
      (env) => {
        if (env && acc.deviceEnvironment === null && acc.description.rootPid === pid) acc.deviceEnvironment = env;
      },
      () => undefined,
    );
  }

  /**
   * Records the framework allocator's peak (MiB) that the Python helper read in process `pid` of
   * a running task; it becomes the task's VRAM (scope `helper`) when its process tree's own is unknown.
   */
  reportHelperVram(taskId: string, pid: number, peakMb: number): PerformanceMetrics {
    const entry = this.requireActive('reportHelperVram', taskId);
    checkHelperVram(taskId, pid, peakMb);
    entry.acc.addHelperVram(pid, peakMb);
    const metrics = entry.acc.toMetrics();
    this.emitter.emit('taskUpdated', metrics);
    return metrics;
  }

  /**
   * Starts phase `name` of a running task at `atMs` (default now; clamped to the task's start and
   * to now), ending the phase before it. Phases appear in the task's record and its export.
   */
  markTaskPhase(taskId: string, name: string, atMs?: number): PerformanceMetrics {
    const entry = this.requireActive('markTaskPhase', taskId);
    const at = this.phaseTime('markTaskPhase', taskId, name, atMs);
    if (!entry.acc.markPhase(name, at)) throw new TaskStateError('invalidUpdate', `markTaskPhase("${taskId}"): the task already has the most phases a task keeps; "${name}" was not added`);
    const metrics = entry.acc.toMetrics();
    this.recorder.mark(entry, metrics);
    this.emitter.emit('taskUpdated', metrics);
    return metrics;
  }

  /** Ends the open phase of a running task (only when it is `name`, if given). */
  endTaskPhase(taskId: string, name?: string, atMs?: number): PerformanceMetrics {
    const entry = this.requireActive('endTaskPhase', taskId);
    const at = this.phaseTime('endTaskPhase', taskId, name ?? 'phase', atMs);
    entry.acc.endPhase(at, name);
    const metrics = entry.acc.toMetrics();
    this.recorder.mark(entry, metrics);
    this.emitter.emit('taskUpdated', metrics);
    return metrics;
  }

  private phaseTime(method: string, taskId: string, name: unknown, atMs: unknown): number {
    checkPhaseArguments(method, taskId, name, atMs);
    const now = this.clock.now();
    return atMs === undefined ? now : Math.min(atMs, now);
  }

  /**
   * Ends a task: stamps the end, takes an end sample, records it in the shared history and returns
   * its figures. An unknown id is an error. A history write failure is reported, not thrown: the
   * task's figures are still returned and kept in memory.
   */
  async completeTaskMonitoring(taskId: string, success = true, errorCategory?: string | null): Promise<PerformanceMetrics> {
    if (typeof success !== 'boolean') throw invalidArgument(`completeTaskMonitoring("${taskId}"): "success" must be true or false (got ${showValue(success)})`);
    if (errorCategory !== undefined && errorCategory !== null && typeof errorCategory !== 'string') {
      throw invalidArgument(`completeTaskMonitoring("${taskId}"): "errorCategory" must be a string or omitted (got ${showValue(errorCategory)})`);
    }
    const entry = this.requireActive('completeTaskMonitoring', taskId);
    return this.finish(entry, success ? 'succeeded' : 'failed', success, errorCategory ?? null);
  }

  /** Ends a task the user stopped: recorded as cancelled, which does not count against the success rate. */
  async cancelTaskMonitoring(taskId: string): Promise<PerformanceMetrics> {
    const entry = this.requireActive('cancelTaskMonitoring', taskId);
    return this.finish(entry, 'cancelled', false, null);
  }

  /**
   * Ends a task that was interrupted (Ctrl-C, SIGTERM, its terminal closed): recorded as
   * `interrupted`, which counts as a failure, with `errorCategory` (default "interrupted").
   */
  async interruptTaskMonitoring(taskId: string, errorCategory = 'interrupted'): Promise<PerformanceMetrics> {
    if (typeof errorCategory !== 'string') throw invalidArgument(`interruptTaskMonitoring("${taskId}"): "errorCategory" must be a string (got ${showValue(errorCategory)})`);
    const entry = this.requireActive('interruptTaskMonitoring', taskId);
    return this.finish(entry, 'interrupted', false, errorCategory);
  }

  private requireActive(method: string, taskId: string): TaskEntry {
    const entry = typeof taskId === 'string' ? this.active.get(taskId) : undefined;
    if (!entry) throw new TaskStateError('unknownTask', `${method}: no task "${String(taskId)}" is being monitored; it was never started or has already ended`);
    return entry;
  }

  private async finish(entry: TaskEntry, status: 'succeeded' | 'failed' | 'cancelled' | 'interrupted', success: boolean, errorCategory: string | null): Promise<PerformanceMetrics> {
    // Leave the active set now, so a second complete/cancel fails at once and records nothing.
    const taskId = entry.acc.taskId;
    this.active.delete(taskId);
    entry.endTime = this.clock.now();
    this.finishing.add(entry);
    try {
      // The git lookup started with the task and is bounded by its timeout: its answer belongs in the record.
      await Promise.all([this.requestSample(), entry.gitLookup]);
    } finally {
      this.finishing.delete(entry);
    }
    const metrics = entry.acc.toMetrics({ endTime: entry.endTime, status, success, errorCategory: errorCategory === null ? null : safeErrorText(errorCategory) });
    this.history.push(metrics);
    this.emitter.emit('taskEnded', { ...metrics });
    try {
      await this.recorder.record(entry, metrics);
    } finally {
      // A marker left by a failed append is recovered by the next reload, as after a crash.
      if (!this.active.has(taskId)) this.ownMarkers.delete(taskId);
    }
    return { ...metrics };
  }

  /** Live figures of every running task. */
  getActiveTasks(): PerformanceMetrics[] {
    return [...this.active.values()].map((e) => e.acc.toMetrics());
  }

  /** How many tasks run now, without building their figures (getActiveTasks copies each timeline). */
  get activeTaskCount(): number {
    return this.active.size;
  }

  // ----- analysis, status, export -----

  /** The full analysis of the window: every task in it read again (the CLI, export, and the dashboard's coalesced refresh). */
  getPerformanceAnalysis(timeWindowHours = 24): PerformanceAnalysis {
    checkTimeWindow(timeWindowHours);
    const thresholds = this.config.thresholds;
    const analysis = analyzePerformance(this.history.all, thresholds, this.clock.now(), timeWindowHours);
    this.live.remember(analysis, thresholds);
    return analysis;
  }

  /**
   * The same figures from aggregates kept task by task (a task end costs the same at any history
   * size), with the findings of the window's latest full analysis (which runs here when there is
   * none yet). Equal to getPerformanceAnalysis but for findings, which lag until the next full one.
   */
  getLiveAnalysis(timeWindowHours = 24): PerformanceAnalysis {
    checkTimeWindow(timeWindowHours);
    return this.live.analysis(this.history.all, this.config.thresholds, this.clock.now(), timeWindowHours) ?? this.getPerformanceAnalysis(timeWindowHours);
  }

  /** The latest snapshot's fields and the number of running tasks, or an error entry before the first sample. */
  getCurrentSystemStatus(): CurrentSystemStatus {
    const latest = this.snapshots.latest();
    const gpuAvailability = this.getGpuAvailability();
    if (!latest) return { error: 'No system data available yet: no sample has been taken', activeTasks: this.active.size, gpuAvailability };
    return { ...latest, gpus: latest.gpus.map((g) => ({ ...g })), activeTasks: this.active.size, gpuAvailability };
  }

  getInventory(): MachineInventory {
    return machineInventory(this.gpuAvailability, this.snapshots.latest()?.gpus ?? []);
  }

  /** Writes the tasks of the window (JSON by default, CSV for a `.csv` path or `format: 'csv'`). */
  async exportMetrics(filePath: string, timeWindowHours = 24, format?: ExportFormat): Promise<ExportResult> {
    if (typeof filePath !== 'string' || filePath.trim() === '') throw new ExportError(String(filePath), `Export failed: no file path was given (got ${showValue(filePath)})`);
    checkTimeWindow(timeWindowHours);
    const tasks = this.getHistory(timeWindowHours);
    const analysis = this.getPerformanceAnalysis(timeWindowHours);
    const document = buildExportDocument(tasks, analysis, timeWindowHours, this.clock.now(), this.getInventory());
    const result = await writeExport(filePath, format ?? formatFromPath(filePath), document);
    this.logger?.info(`Exported ${result.metricsCount} task(s) to ${result.path}`);
    return result;
  }
}
