// NVIDIA GPUs through one long-lived `nvidia-smi --query-gpu=... -lms N` child per monitor: the
// child prints one line per GPU every N ms and `read()` answers from the latest complete tick, so
// sampling spawns nothing. A watchdog restarts a silent or dead child with backoff. Per-process
// memory comes from a second long-lived child (`--query-compute-apps ... -lms N`, on a slower
// cadence) that runs only while processes are wanted; a driver that refuses to loop that query
// gets a short one-off run per period instead.
import type { GpuAvailability, GpuReading } from '../../../shared/snapshot';
import { copyGpuSample, systemClock, type Clock, type GpuProcessUsage, type GpuProvider, type GpuReadingsEvent, type GpuSample, type TimerHandle } from '../../ports';
import { describeNvidiaSmiFailure, type NvidiaSmiFailure } from './nvidiaSmiErrors';
import {
  NVIDIA_FIELD_FALLBACKS,
  NVIDIA_QUERY_FIELDS,
  OPTIONAL_NVIDIA_FIELDS,
  computeAppsArgs,
  computeAppsStreamArgs,
  gpuQueryArgs,
  isComputeAppsHeader,
  parseComputeApps,
  parseComputeAppsLine,
  parseGpuLine,
  parseGpuOutput,
  sanitizeText,
  type NvidiaQueryField,
} from './nvidiaSmiParser';
import { LineSplitter, nodeSpawn, runToCompletion, type ChildExit, type ChildHandle, type SpawnPort } from './spawnPort';
import { OnceLog } from '../../util/onceLog';

export interface NvidiaSmiProviderOptions {
  /** The nvidia-smi to run (see locateNvidiaSmi). */
  nvidiaSmiPath: string;
  spawn?: SpawnPort;
  clock?: Clock;
  /** One line per kind of trouble (restart, garbage, dropped field), meant for the output channel. */
  onLog?: (message: string) => void;
  /** Query names to ask for; optional ones the driver rejects are dropped. Defaults to all. */
  fields?: readonly NvidiaQueryField[];
  /** Cadence of the per-process memory query; 0 turns it off. Default 5000. */
  computeAppsIntervalMs?: number;
  /**
   * True (default): per-process memory from a long-lived looping child, so steady state spawns
   * nothing. False: a one-off run per period (what a driver that refuses the loop gets anyway).
   */
  computeAppsStream?: boolean;
  /**
   * Asked before each per-process query: false skips it (and per-process figures read unknown).
   * Only tasks with a root process need them, so an idle monitor spawns nothing. Default: always.
   */
  wantProcesses?: () => boolean | Promise<boolean>;
  /** How long a one-shot query (probe, compute-apps) may run before it is killed. Default 10000. */
  commandTimeoutMs?: number;
  /** The watchdog waits this many intervals without a complete tick... Default 3. */
  watchdogIntervals?: number;
  /** ...but never less than this. Default 5000 (nvidia-smi can take seconds to start on a cold driver). */
  watchdogMinMs?: number;
  /** First restart delay; doubles per consecutive failure. Default 1000. */
  restartBackoffInitialMs?: number;
  /** Longest restart delay. Default 60000. */
  restartBackoffMaxMs?: number;
}

/** Smallest `-lms` the provider asks for: faster gains nothing and costs the driver. */
const MIN_INTERVAL_MS = 50;
/** Captured stderr of the long-lived child, enough to classify why it died. */
const MAX_STDERR_CHARS = 4096;
/** More processes than this in one compute-apps block is garbage (no header seen): start over. */
const MAX_PROCESSES_PER_TICK = 4096;
/** A compute-apps stream that ends this many times in a row is given up for one-off runs. */
const MAX_APPS_STREAM_FAILURES = 3;

export class NvidiaSmiProvider implements GpuProvider {
  readonly kind = 'nvidia' as const;

  private readonly path: string;
  private readonly spawn: SpawnPort;
  private readonly clock: Clock;
  private readonly onLog: (message: string) => void;
  private readonly computeAppsIntervalMs: number;
  private appsStreamWanted: boolean;
  private readonly wantProcesses: (() => boolean | Promise<boolean>) | undefined;
  private readonly commandTimeoutMs: number;
  private readonly watchdogIntervals: number;
  private readonly watchdogMinMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;

  private fields: NvidiaQueryField[];
  private intervalMs = 1000;
  private gpuCount = 0;
  private state: GpuAvailability;
  private latest: { timestamp: number; gpus: GpuReading[] } | null = null;
  /** Told of each complete tick (the monitor samples then) and of the stream's end: see GpuProvider.onReadings. */
  private readingsListener: ((event: GpuReadingsEvent) => void) | null = null;
  private processes: GpuProcessUsage[] | null = null;
  private readonly once: OnceLog;

  private startPromise: Promise<GpuAvailability> | null = null;
  private stopped = false;
  /** Bumped whenever the current stream is abandoned, so late events of an old child are ignored. */
  private generation = 0;
  private stream: ChildHandle | null = null;
  private streamExited: Promise<void> | null = null;
  private tick: GpuReading[] = [];
  private incompleteTicks = 0;
  private consecutiveFailures = 0;
  private restarts = 0;
  private readonly oneShotChildren = new Set<ChildHandle>();
  private watchdogTimer: TimerHandle | null = null;
  /** When the watchdog bites unless a complete tick comes first (its timer may be set earlier). */
  private watchdogDeadline = 0;
  private restartTimer: TimerHandle | null = null;
  private computeTimer: TimerHandle | null = null;
  /** When the per-process period is next due; a tick that comes after it runs the period. */
  private computeDueAt = 0;
  private computeRunning = false;
  /** When the last complete tick came: while ticks come, they run the periods (see scheduleComputeApps). */
  private lastTickAt = Number.NEGATIVE_INFINITY;
  /** The long-lived compute-apps child, while processes are wanted. */
  private appsStream: ChildHandle | null = null;
  private appsGeneration = 0;
  /** The block being filled: set at each header, so an empty block reads as no process. */
  private appsTick: GpuProcessUsage[] | null = null;
  private appsLastHeaderAt = 0;
  private appsStreamFailures = 0;

  constructor(options: NvidiaSmiProviderOptions) {
    this.path = options.nvidiaSmiPath;
    this.spawn = options.spawn ?? nodeSpawn;
    this.clock = options.clock ?? systemClock;
    this.onLog = options.onLog ?? (() => {});
    this.once = new OnceLog(this.onLog);
    this.fields = [...(options.fields ?? NVIDIA_QUERY_FIELDS)];
    this.computeAppsIntervalMs = options.computeAppsIntervalMs ?? 5000;
    this.appsStreamWanted = options.computeAppsStream ?? true;
    this.wantProcesses = options.wantProcesses;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
    this.watchdogIntervals = options.watchdogIntervals ?? 3;
    this.watchdogMinMs = options.watchdogMinMs ?? 5000;
    this.backoffInitialMs = options.restartBackoffInitialMs ?? 1000;
    this.backoffMaxMs = options.restartBackoffMaxMs ?? 60_000;
    this.state = { provider: 'nvidia', available: false, reason: 'nvidia-smi has not been started yet.' };
  }

  /** The query names in use after the probe dropped those this driver rejects. */
  get activeFields(): readonly NvidiaQueryField[] {
    return this.fields;
  }

  /** How many times the long-lived child was restarted (for the log and tests). */
  get restartCount(): number {
    return this.restarts;
  }

  start(intervalMs: number): Promise<GpuAvailability> {
    // A second start() joins the first instead of spawning a second child.
    this.startPromise ??= this.doStart(intervalMs);
    return this.startPromise;
  }

  private async doStart(intervalMs: number): Promise<GpuAvailability> {
    this.intervalMs = Math.max(MIN_INTERVAL_MS, Math.round(Number.isFinite(intervalMs) ? intervalMs : 1000));
    const first = await this.probe();
    if (this.stopped) return this.state;
    if (!first) return this.state;
    this.gpuCount = first.length;
    this.latest = { timestamp: this.clock.now(), gpus: first };
    this.state = { provider: 'nvidia', available: true, reason: null };
    this.spawnStream();
    if (this.computeAppsIntervalMs > 0) this.scheduleComputeApps(0);
    return this.state;
  }

  /**
   * One-shot query: tells whether nvidia-smi works, how many GPUs there are, and which optional
   * query names this driver accepts (an unknown name fails the whole query, so drop and retry).
   */
  private async probe(): Promise<GpuReading[] | null> {
    const dropped: string[] = [];
    for (;;) {
      const run = await runToCompletion(this.spawn, this.path, gpuQueryArgs(this.fields), {
        timeoutMs: this.commandTimeoutMs,
        clock: this.clock,
        onChild: (c) => this.trackOneShot(c),
      });
      if (this.stopped) return null;
      const failure = describeNvidiaSmiFailure({ ...run, command: this.path });
      if (failure?.kind === 'invalid-field' && failure.invalidField) {
        const field = failure.invalidField as NvidiaQueryField;
        const older = (NVIDIA_FIELD_FALLBACKS as Partial<Record<string, NvidiaQueryField>>)[field];
        if (older !== undefined && this.fields.includes(field) && !this.fields.includes(older)) {
          // A driver before R535: the same figure under its older name, in the same column.
          this.fields = this.fields.map((f) => (f === field ? older : f));
          continue;
        }
        if (OPTIONAL_NVIDIA_FIELDS.has(field) && this.fields.includes(field)) {
          this.fields = this.fields.filter((f) => f !== field);
          dropped.push(field);
          continue;
        }
      }
      if (dropped.length > 0) {
        this.once.say('fields', `This NVIDIA driver does not know ${dropped.join(', ')}; those figures show as unknown.`);
      }
      if (failure) {
        this.fail(failure.reason);
        this.once.say(`start:${failure.kind}`, failure.reason);
        return null;
      }
      const { readings, rejected } = parseGpuOutput(run.stdout, this.fields);
      if (rejected.length > 0) this.logGarbage(rejected[0]?.line ?? '', rejected[0]?.reason ?? '');
      if (readings.length === 0) {
        const reason = 'nvidia-smi ran but listed no GPU; GPU figures are off.';
        this.fail(reason);
        this.once.say('start:empty', reason);
        return null;
      }
      return readings.sort((a, b) => a.index - b.index);
    }
  }

  private spawnStream(): void {
    const generation = ++this.generation;
    this.tick = [];
    let stderr = '';
    let child: ChildHandle;
    try {
      child = this.spawn(this.path, gpuQueryArgs(this.fields, this.intervalMs));
    } catch (err) {
      this.onStreamExit({ code: null, signal: null, spawnErrorCode: (err as NodeJS.ErrnoException).code ?? 'UNKNOWN', spawnErrorMessage: String(err) }, '');
      return;
    }
    this.stream = child;
    this.streamExited = new Promise<void>((resolve) => child.onExit(() => resolve()));
    const lines = new LineSplitter((line) => {
      if (generation === this.generation) this.onLine(line);
    });
    child.onStdout((chunk) => lines.push(chunk));
    child.onStderr((chunk) => {
      if (stderr.length < MAX_STDERR_CHARS) stderr += chunk;
    });
    child.onExit((exit) => {
      if (generation !== this.generation) return; // We abandoned this child ourselves.
      lines.flush();
      this.stream = null;
      this.onStreamExit(exit, stderr);
    });
    this.armWatchdog();
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    const parsed = parseGpuLine(line, this.fields);
    if (!parsed.ok) {
      this.logGarbage(line, parsed.reason);
      return;
    }
    const gpu = parsed.reading;
    const last = this.tick[this.tick.length - 1];
    if (last && gpu.index <= last.index) {
      // A new tick began before the last one was complete (a garbage line took a GPU's place).
      this.onIncompleteTick();
      this.tick = [];
      if (this.gpuCount === 0) return;
    }
    this.tick.push(gpu);
    if (this.tick.length >= this.gpuCount) {
      this.commit(this.tick);
      this.tick = [];
    }
  }

  private onIncompleteTick(): void {
    this.incompleteTicks++;
    // Several short ticks in a row mean the GPU count really changed (a GPU fell off the bus).
    if (this.incompleteTicks >= 3) {
      const seen = this.tick.length;
      this.once.say('gpu-count', `nvidia-smi now lists ${seen} GPU(s) instead of ${this.gpuCount}; showing what it lists.`);
      this.gpuCount = seen;
      this.incompleteTicks = 0;
      this.commit(this.tick);
    }
  }

  /** Takes a complete tick (the array is the provider's from now on: callers start a new one). */
  private commit(gpus: GpuReading[]): void {
    // nvidia-smi prints GPUs in index order: sort only when it did not.
    if (!gpus.every((g, i) => i === 0 || (gpus[i - 1] as GpuReading).index < g.index)) gpus.sort((a, b) => a.index - b.index);
    this.latest = { timestamp: this.clock.now(), gpus };
    this.incompleteTicks = 0;
    if (this.consecutiveFailures > 0 || !this.state.available) {
      this.consecutiveFailures = 0;
      if (!this.state.available) this.once.say('recovered', 'nvidia-smi is reporting again after a restart.');
      this.state = { provider: 'nvidia', available: true, reason: null };
    }
    this.armWatchdog();
    this.computeOnTick(this.clock.now());
    this.readingsListener?.('reading');
  }

  onReadings(listener: ((event: GpuReadingsEvent) => void) | null): void {
    this.readingsListener = listener;
  }

  private watchdogMs(intervalMs = this.intervalMs): number {
    return Math.max(this.watchdogMinMs, this.watchdogIntervals * intervalMs);
  }

  /**
   * Moves the deadline; the timer is set only when none is (each tick used to clear and set one:
   * a timer per second for a deadline that is never reached while the child answers).
   */
  private armWatchdog(): void {
    this.watchdogDeadline = this.clock.now() + this.watchdogMs();
    if (!this.watchdogTimer) this.setWatchdogTimer(this.watchdogMs());
  }

  private setWatchdogTimer(ms: number): void {
    this.watchdogTimer = this.clock.setTimeout(() => this.onWatchdog(), ms);
    this.watchdogTimer.unref?.();
  }

  private onWatchdog(): void {
    this.watchdogTimer = null;
    if (this.stopped) return;
    const left = this.watchdogDeadline - this.clock.now();
    if (left > 0) {
      this.setWatchdogTimer(left);
      return;
    }
    const seconds = Math.round(this.watchdogMs() / 100) / 10;
    this.once.say(
      'stalled',
      `nvidia-smi printed no complete reading for ${seconds} s; restarting it with backoff (further restarts are not logged).`,
    );
    this.fail('nvidia-smi stopped answering; GPU figures are paused while it restarts.');
    this.abandonStream('SIGKILL');
    this.scheduleRestart();
    this.readingsListener?.('stopped');
  }

  private onStreamExit(exit: ChildExit, stderr: string): void {
    if (this.stopped) return;
    const failure: NvidiaSmiFailure = describeNvidiaSmiFailure({ ...exit, stderr, command: this.path }) ?? {
      kind: 'unknown',
      reason: 'nvidia-smi exited although it was asked to keep reporting; GPU figures are paused while it restarts.',
      transient: true,
    };
    this.once.say(`exit:${failure.kind}`, `${failure.reason} (restarting it with backoff; further restarts are not logged)`);
    this.fail(failure.reason);
    this.scheduleRestart();
    this.readingsListener?.('stopped');
  }

  private scheduleRestart(): void {
    if (this.watchdogTimer) {
      this.clock.clearTimeout(this.watchdogTimer);
      this.watchdogTimer = null;
    }
    if (this.restartTimer) return;
    this.consecutiveFailures++;
    const delayMs = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** Math.min(30, this.consecutiveFailures - 1));
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = null;
      if (this.stopped) return;
      this.restarts++;
      this.spawnStream();
    }, delayMs);
    this.restartTimer.unref?.();
  }

  /** Kills the current stream and makes sure none of its later output or exit is acted on. */
  private abandonStream(signal: NodeJS.Signals): void {
    this.generation++;
    const child = this.stream;
    this.stream = null;
    this.tick = [];
    child?.kill(signal);
  }

  /**
   * Sets when the next per-process period is due. While the stream's ticks come, the first tick
   * after that time runs it (the process is awake anyway) and the timer is a fallback two periods
   * later, whose due time moves without clearing it (node wakes at a cleared timer's old expiry):
   * an idle window's check every 5 s no longer wakes it on its own. Without ticks the timer keeps
   * the period.
   */
  private scheduleComputeApps(delayMs: number): void {
    if (this.stopped) return;
    this.computeDueAt = this.clock.now() + delayMs;
    if (!this.computeTimer) this.armComputeTimer(delayMs);
  }

  private armComputeTimer(delayMs: number): void {
    const fallback = this.ticking() ? 2 * this.computeAppsIntervalMs : 0;
    this.computeTimer = this.clock.setTimeout(() => {
      this.computeTimer = null;
      const left = this.computeDueAt - this.clock.now();
      if (left > 0 || this.computeRunning) this.armComputeTimer(Math.max(left, 0) + (this.computeRunning ? this.computeAppsIntervalMs : 0));
      else void this.runComputeApps();
    }, Math.max(0, delayMs) + fallback);
    this.computeTimer.unref?.();
  }

  /** Whether the stream's ticks are coming (one within the last two intervals). */
  private ticking(): boolean {
    return this.clock.now() - this.lastTickAt <= 2 * this.intervalMs;
  }

  /** A tick came: runs the per-process period when it is due (see scheduleComputeApps). */
  private computeOnTick(now: number): void {
    this.lastTickAt = now;
    if (this.computeAppsIntervalMs > 0 && this.computeDueAt > 0 && now >= this.computeDueAt && !this.computeRunning && !this.stopped) void this.runComputeApps();
  }

  /**
   * Runs once per period: starts or stops the compute-apps stream as processes are (no longer)
   * wanted, or, without the stream, makes one one-off run. The next period is scheduled only after
   * this one ended, so one-off runs never overlap.
   */
  private async runComputeApps(): Promise<void> {
    if (this.stopped || this.computeRunning) return;
    this.computeRunning = true;
    try {
      await this.runComputePeriod();
    } finally {
      this.computeRunning = false;
    }
  }

  private async runComputePeriod(): Promise<void> {
    let wanted = true;
    try {
      wanted = (await this.wantProcesses?.()) ?? true;
    } catch {
      wanted = true; // when in doubt, measure
    }
    if (this.stopped) return;
    if (!wanted) {
      this.stopAppsStream();
      this.processes = null;
      this.scheduleComputeApps(this.computeAppsIntervalMs);
      return;
    }
    if (this.appsStreamWanted) {
      if (this.appsStream && this.clock.now() - this.appsLastHeaderAt > this.watchdogMs(this.computeAppsIntervalMs)) {
        // Silent for several periods: its figures are stale. Kill it; the next period starts another.
        this.stopAppsStream();
        this.processes = null;
        this.onAppsStreamFailed('it stopped printing');
      } else if (!this.appsStream) {
        this.spawnAppsStream();
      }
      this.scheduleComputeApps(this.computeAppsIntervalMs);
      return;
    }
    await this.runComputeAppsOnce();
    this.scheduleComputeApps(this.computeAppsIntervalMs);
  }

  private async runComputeAppsOnce(): Promise<void> {
    const run = await runToCompletion(this.spawn, this.path, computeAppsArgs(), {
      timeoutMs: Math.min(this.commandTimeoutMs, Math.max(1000, this.computeAppsIntervalMs)),
      clock: this.clock,
      onChild: (c) => this.trackOneShot(c),
    });
    if (this.stopped) return;
    const failure = describeNvidiaSmiFailure({ ...run, command: this.path });
    if (failure) {
      this.processes = null;
      this.once.say(`compute-apps:${failure.kind}`, `Per-process GPU memory is unavailable: ${failure.reason}`);
    } else {
      this.processes = parseComputeApps(run.stdout);
    }
  }

  private spawnAppsStream(): void {
    const generation = ++this.appsGeneration;
    this.appsTick = null;
    // Counts as heard from now: a child that never prints is caught by the same silence check.
    this.appsLastHeaderAt = this.clock.now();
    let child: ChildHandle;
    try {
      child = this.spawn(this.path, computeAppsStreamArgs(this.computeAppsIntervalMs));
    } catch {
      this.onAppsStreamFailed('it could not be started', true);
      return;
    }
    this.appsStream = child;
    let headers = 0;
    let stderr = '';
    const lines = new LineSplitter((line) => {
      if (generation !== this.appsGeneration) return;
      if (isComputeAppsHeader(line)) {
        headers++;
        this.appsLastHeaderAt = this.clock.now();
        this.appsStreamFailures = 0;
        // The new block replaces the last one as it fills: read() sees whole blocks but for the
        // instant between two chunks of one block, which a pipe write of a few lines never splits.
        this.appsTick = [];
        this.processes = this.appsTick;
        return;
      }
      const usage = parseComputeAppsLine(line);
      if (usage && this.appsTick && this.appsTick.length < MAX_PROCESSES_PER_TICK) this.appsTick.push(usage);
    });
    child.onStdout((chunk) => lines.push(chunk));
    child.onStderr((chunk) => {
      if (stderr.length < MAX_STDERR_CHARS) stderr += chunk;
    });
    child.onExit((exit) => {
      if (generation !== this.appsGeneration) return; // We stopped it ourselves.
      lines.flush();
      this.appsStream = null;
      this.appsTick = null;
      this.processes = null;
      if (this.stopped) return;
      // A child that ends before its first block was refused (an old driver, a tool that does not
      // loop this query): go back to one-off runs at once. One that worked is restarted next period.
      const failure = describeNvidiaSmiFailure({ ...exit, stderr, stdout: '', command: this.path });
      this.onAppsStreamFailed(failure?.reason ?? 'it exited', headers === 0);
    });
  }

  private onAppsStreamFailed(why: string, refused = false): void {
    this.appsStreamFailures++;
    if (refused || this.appsStreamFailures >= MAX_APPS_STREAM_FAILURES) {
      this.appsStreamWanted = false;
      this.once.say(
        'compute-apps-stream',
        `nvidia-smi did not keep reporting per-process GPU memory (${sanitizeText(why, 200)}); asking it once every ${Math.round(this.computeAppsIntervalMs / 100) / 10} s instead.`,
      );
    }
  }

  private stopAppsStream(): void {
    this.appsGeneration++;
    const child = this.appsStream;
    this.appsStream = null;
    this.appsTick = null;
    child?.kill('SIGTERM');
  }

  private trackOneShot(child: ChildHandle): void {
    this.oneShotChildren.add(child);
    child.onExit(() => this.oneShotChildren.delete(child));
    if (this.stopped) child.kill('SIGKILL');
  }

  async read(): Promise<GpuSample | null> {
    // While the child is down or restarting, the last tick describes the past: unknown, not stale.
    if (this.stopped || !this.latest || !this.state.available) return null;
    // A reading older than the watchdog window is history, not the present: say unknown instead.
    if (this.clock.now() - this.latest.timestamp > this.watchdogMs()) return null;
    return copyGpuSample(this.latest.timestamp, this.latest.gpus, this.processes);
  }

  availability(): GpuAvailability {
    return { ...this.state };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of [this.watchdogTimer, this.restartTimer, this.computeTimer]) {
      if (timer) this.clock.clearTimeout(timer);
    }
    this.watchdogTimer = this.restartTimer = this.computeTimer = null;
    const exited = this.streamExited;
    const hadStream = this.stream !== null;
    this.abandonStream('SIGTERM');
    this.stopAppsStream();
    for (const child of this.oneShotChildren) child.kill('SIGKILL');
    this.oneShotChildren.clear();
    this.latest = null;
    this.state = { provider: 'nvidia', available: false, reason: 'GPU monitoring stopped.' };
    if (hadStream && exited) {
      // Wait briefly for the child to go so callers (and tests) see no leftover process.
      let timer: TimerHandle | null = null;
      await Promise.race([exited, new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, 2000)))]);
      if (timer) this.clock.clearTimeout(timer);
    }
  }

  private fail(reason: string): void {
    this.state = { provider: 'nvidia', available: false, reason };
  }

  private logGarbage(line: string, reason: string): void {
    this.once.say('garbage', `nvidia-smi printed a line this monitor cannot read (${reason}): "${sanitizeText(line, 120)}"; such lines are skipped (not logged again).`);
  }

}
