// The one place where engines are assembled for this machine: the platform's system and
// process-tree samplers, the GPU provider found here (nvidia-smi stream, AMD sysfs, ...), and the
// shared JSONL history. The CLI builds a short-lived monitor with createMachineMonitor; a VS Code
// window builds a SharedEngine, which shares one sampler among every window on the machine and
// is rebuilt in parts when its settings change. Faces only adapt their settings and format.
import { hostname } from 'node:os';
import type { PerformanceMetrics } from '../shared/metrics';
import type { GpuAvailability, SystemPerformanceSnapshot } from '../shared/snapshot';
import { validateConfig, type MonitorConfig, type MonitorConfigInput } from './engine/config';
import { PerformanceMonitor } from './engine/monitor';
import type { MonitorLogger, MonitorPorts } from './engine/monitorTypes';
import { defaultStorageDir, JsonlHistoryStore, MemoryHistoryStore, type StoreWarning } from './history/historyStore';
import { systemClock, type Clock, type GpuProvider, type SystemSampler } from './ports';
import { DeferredGpuProvider } from './sampling/gpu/deferredProvider';
import { selectGpuProvider, type GpuBackend } from './sampling/gpu/selectProvider';
import { createNodeSpawn } from './sampling/gpu/spawnPort';
import { createProcessSampler, createSystemSampler } from './sampling/os';
import { anyTaskRunning } from './sharing/runningMarkers';
import { LeaderLock, LockObserver, type Role } from './sharing/leadership';
import { SharedSampling } from './sharing/sharedSampling';
import type { Disposable } from './util/emitter';
import { errorText } from './util/errors';
import { isProcessAlive } from './util/process';
import { RunningElsewhere } from './metrics/runningMarkers';

// ---------------------------------------------------------------------------------------------
// The monitor of a short-lived process (a CLI command)

export interface MachineMonitorOptions {
  /** Milliseconds between two samples (250..60000). Default 1000. */
  intervalMs?: number;
  /** False turns GPU figures off (the provider then says so). Default true. */
  enableGpu?: boolean;
  /** nvidia-smi to run; empty or absent searches PATH and the driver's usual folders. */
  nvidiaSmiPath?: string | null;
  /** How NVIDIA GPUs are read (see GpuBackend). Default `auto`. */
  gpuBackend?: GpuBackend;
  /**
   * Folder of the shared task history. Absent: `$MODEL_PERF_HOME`, else the per-user data folder.
   * `false`: keep tasks in memory only (a one-shot status read needs no history).
   */
  storageDir?: string | false | null;
  /** A path on the filesystem whose fullness is shown as disk % (the workspace folder); null for none. */
  diskPath?: string | null;
  /** Where warnings go (the output channel, the CLI's stderr). Samplers' one-off notes arrive as `info`. */
  logger?: MonitorLogger;
  /**
   * Cadence of the per-process GPU memory query (a short `nvidia-smi --query-compute-apps` run).
   * Default 5000: cheap enough to run beside a busy extension host; `model-perf run` asks for more.
   */
  gpuProcessIntervalMs?: number;
  /** Environment for locating and running GPU tools (PATH, MODEL_PERF_HOME). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Anything else of the monitor's config (thresholds, retention, history size). */
  config?: MonitorConfigInput;
  /**
   * A storage folder where VS Code windows publish their samples: while a window samples this
   * machine, read its figures instead of starting a second nvidia-smi; otherwise sample here.
   * Publishes nothing and never takes the lock. For short-lived readers (`status`, `watch`).
   */
  followWindowsIn?: string;
  /**
   * A storage folder where this monitor shares the machine's sampler like a window does (for
   * `model-perf run`): while another process (a window, `serve`) samples the machine, read its
   * published figures and start no nvidia-smi; else take the sampler lock, sample here and publish
   * for the others. Only the per-process figures of its own tasks' trees are read here (/proc).
   */
  shareSamplerIn?: string;
  /** Tests only. */
  clock?: Clock;
}

/** The slowest sampler that may publish for the others (their published sample goes stale after 5 s). */
const MAX_PUBLISHING_INTERVAL_MS = 2000;

interface GpuProviderOptions {
  enableGpu: boolean;
  nvidiaSmiPath?: string | null;
  gpuBackend?: GpuBackend;
  env?: NodeJS.ProcessEnv;
  onLog?: (message: string) => void;
  /** Cadence of the per-process GPU memory query (default 5000 ms, 0 = off). */
  gpuProcessIntervalMs?: number;
  /** Asked before each per-process query: only tasks need it, so an idle monitor spawns nothing. */
  wantProcesses?: () => boolean | Promise<boolean>;
  clock?: Clock;
}

/** The GPU provider this machine has (not started), its tools run with `env` (PATH included). */
function createGpuProvider(options: GpuProviderOptions): Promise<GpuProvider> {
  const env = options.env ?? process.env;
  const nvidia = {
    ...(options.gpuProcessIntervalMs !== undefined ? { computeAppsIntervalMs: options.gpuProcessIntervalMs } : {}),
    ...(options.wantProcesses ? { wantProcesses: options.wantProcesses } : {}),
  };
  return selectGpuProvider({
    enabled: options.enableGpu,
    env,
    nvidiaSmiPath: options.nvidiaSmiPath || null,
    ...(options.gpuBackend ? { backend: options.gpuBackend } : {}),
    // The GPU tools see the same environment they were located with (tests point PATH at a fake).
    spawn: createNodeSpawn({ env }),
    nvidia,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.onLog ? { onLog: options.onLog } : {}),
  });
}

/**
 * A monitor for this machine, not yet started: call `startMonitoring()` to sample, or `ready()` to
 * load the history only. Throws ConfigError for an interval out of range.
 */
export async function createMachineMonitor(options: MachineMonitorOptions = {}): Promise<PerformanceMonitor> {
  const env = options.env ?? process.env;
  const logger = options.logger;
  const onLog = logger ? (message: string) => logger.info(message) : undefined;
  const enableGpu = options.enableGpu ?? true;
  // Validate before anything is spawned, so a bad interval costs no nvidia-smi start.
  const config = validateConfig({
    ...options.config,
    ...(options.intervalMs !== undefined ? { monitoringIntervalMs: options.intervalMs } : {}),
    enableGpuMonitoring: enableGpu,
    storageDir: options.storageDir === false ? null : (options.storageDir ?? defaultStorageDir(env)),
  });
  const holder: { monitor: PerformanceMonitor | null; sharedDir: string | null } = { monitor: null, sharedDir: null };
  const gpuProvider = await createGpuProvider({
    enableGpu,
    env,
    nvidiaSmiPath: options.nvidiaSmiPath ?? null,
    ...(options.gpuBackend ? { gpuBackend: options.gpuBackend } : {}),
    ...(onLog ? { onLog } : {}),
    ...(options.gpuProcessIntervalMs !== undefined ? { gpuProcessIntervalMs: options.gpuProcessIntervalMs } : {}),
    // Per-process GPU memory only while a task runs (while it samples for others, theirs count too).
    wantProcesses: () => (holder.monitor?.activeTaskCount ?? 0) > 0 || (holder.sharedDir !== null && anyTaskRunning(holder.sharedDir)),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  let systemSampler: SystemSampler = createSystemSampler(process.platform, options.diskPath ?? null, onLog ? { onLog } : {});
  let gpu: GpuProvider = gpuProvider;
  const sharedDir = options.shareSamplerIn ?? options.followWindowsIn;
  if (sharedDir) {
    const clock = options.clock ?? systemClock;
    // `run` and `serve` compete for the lock (and publish while they hold it); `status` and `watch`
    // only look. So does a sampler slower than readers wait for: they call a sample older than 5 s
    // stale, and would show "waiting" between two of its samples.
    const publish = options.shareSamplerIn !== undefined && config.monitoringIntervalMs <= MAX_PUBLISHING_INTERVAL_MS;
    const lock = publish ? new LeaderLock({ dir: sharedDir, clock, ...(onLog ? { onLog } : {}) }) : new LockObserver({ dir: sharedDir, clock });
    if ((await lock.start()) === 'follower') logger?.info(`Another process samples this machine: reading its figures from ${sharedDir}`);
    const sharing = new SharedSampling({ dir: sharedDir, clock, lock, localSystem: systemSampler, localGpu: gpuProvider, publish, ...(onLog ? { onLog } : {}) });
    if (publish) holder.sharedDir = sharedDir;
    systemSampler = {
      sample: () => sharing.systemSampler.sample(),
      dispose: () => {
        // The lock is released only after the local tool stopped: a successor never overlaps it.
        void sharing.dispose().then(() => lock.stop());
        sharing.systemSampler.dispose?.();
      },
    };
    gpu = sharing.gpuProvider;
  }
  const ports: MonitorPorts = {
    systemSampler,
    processSampler: createProcessSampler(process.platform, onLog ? { onLog } : {}),
    gpuProvider: gpu,
    ...(options.storageDir === false ? { historyStore: new MemoryHistoryStore() } : {}),
    ...(logger ? { logger } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  };
  holder.monitor = new PerformanceMonitor(config, ports);
  return holder.monitor;
}

// ---------------------------------------------------------------------------------------------
// The engine of a long-lived process that shares this machine with others (a VS Code window)

/** What a window's settings decide about its engine, in the engine's own terms. */
export interface SharedEngineSettings {
  /** The monitor's configuration: interval, GPU switch, thresholds, retention, history size. */
  config: MonitorConfigInput;
  /** nvidia-smi to run; empty or null searches PATH and the driver's usual folders. */
  nvidiaSmiPath: string | null;
  /** How NVIDIA GPUs are read; absent: `auto`. */
  gpuBackend?: GpuBackend;
  /** Folder of the shared history, the sampler lock and the published sample; empty or null: the default. */
  storageDir: string | null;
}

export interface SharedEngineOptions {
  settings: SharedEngineSettings;
  /** A path on the filesystem whose fullness is shown as disk % (the workspace folder); null for none. */
  diskPath: string | null;
  logger: MonitorLogger;
  env?: NodeJS.ProcessEnv;
}

/** `elsewhere`: the tasks other processes of this machine run (their markers) changed. */
export type EngineChange = 'snapshot' | 'tasks' | 'gpu' | 'monitoring' | 'history' | 'role' | 'elsewhere';

/** `history.jsonl:12: cut-off line skipped`, for the log. */
function describeStoreWarning(w: StoreWarning): string {
  return `History file ${w.file}${w.line !== null ? ` line ${w.line}` : ''}: ${w.reason}`;
}

function resolvedStorageDir(settings: SharedEngineSettings, env: NodeJS.ProcessEnv): string {
  return settings.storageDir || defaultStorageDir(env);
}

/** The validated configuration of these settings, their storage folder included (throws ConfigError). */
function monitorConfig(settings: SharedEngineSettings, env: NodeJS.ProcessEnv): MonitorConfig {
  // A window's running tasks carry their progress in their markers too (rewritten only when it
  // moves, at most once a second), so other windows on the machine show them live as well.
  return validateConfig({ liveProgressMarkerMs: 1000, ...settings.config, storageDir: resolvedStorageDir(settings, env) });
}

/** Everything that lives in one storage folder: the sampler lock, the shared sample, the runs of other processes. The history tells its own changes (JsonlHistoryStore.onDidChange). */
interface FolderParts {
  dir: string;
  lock: LeaderLock;
  sharing: SharedSampling;
  elsewhere: RunningElsewhere;
}

/**
 * A window's engine: takes the machine's sampler lock or follows its holder (one nvidia-smi for
 * every window), keeps the shared history in step with other windows and the CLI, and applies
 * settings live, restarting only what they change.
 */
export class SharedEngine {
  readonly monitor: PerformanceMonitor;
  private settings: SharedEngineSettings;
  private parts: FolderParts;
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: MonitorLogger;
  private readonly listeners = new Set<(change: EngineChange) => void>();
  private readonly subscriptions: Disposable[] = [];
  private historyWatch: Disposable | null = null;
  /** The history store the monitor writes to now (a new one when the folder or retention changes). */
  private store!: JsonlHistoryStore;
  private disposed = false;

  /** Builds the engine (nothing starts: see start()). Throws ConfigError for settings out of range. */
  constructor(private readonly options: SharedEngineOptions) {
    this.env = options.env ?? process.env;
    this.log = options.logger;
    this.settings = options.settings;
    const config = monitorConfig(this.settings, this.env);
    this.parts = this.folderParts(config.storageDir as string);
    this.monitor = new PerformanceMonitor(config, {
      systemSampler: this.parts.sharing.systemSampler,
      gpuProvider: this.parts.sharing.gpuProvider,
      processSampler: createProcessSampler(process.platform, { onLog: (m) => this.log.info(m) }),
      historyStore: this.historyStore(config),
      logger: this.log,
    });
    const emit = (c: EngineChange) => () => this.emit(c);
    this.subscriptions.push(
      this.monitor.on('snapshot', emit('snapshot')),
      this.monitor.on('taskStarted', emit('tasks')),
      this.monitor.on('taskUpdated', emit('tasks')),
      this.monitor.on('taskEnded', emit('tasks')),
      this.monitor.on('gpuAvailabilityChanged', emit('gpu')),
      this.monitor.on('historyChanged', emit('history')),
      this.monitor.on('historyWarning', (w) => this.log.warn(describeStoreWarning(w))),
    );
  }

  /** The lock, the shared sample and the history watch of one storage folder (none started). */
  private folderParts(dir: string): FolderParts {
    const onLog = (m: string) => this.log.info(m);
    const lock = new LeaderLock({ dir, clock: systemClock, onLog });
    this.subscriptions.push({ dispose: lock.onRoleChange((role) => this.roleChanged(role)) });
    const sharing = new SharedSampling({
      dir,
      clock: systemClock,
      lock,
      localSystem: createSystemSampler(process.platform, this.options.diskPath, { onLog }),
      // Chosen when sampling starts, with the settings in force then (a new nvidia-smi path included).
      localGpu: new DeferredGpuProvider(() =>
        createGpuProvider({
          enableGpu: monitorConfig(this.settings, this.env).enableGpuMonitoring,
          env: this.env,
          nvidiaSmiPath: this.settings.nvidiaSmiPath,
          ...(this.settings.gpuBackend ? { gpuBackend: this.settings.gpuBackend } : {}),
          onLog,
          wantProcesses: () => this.wantsGpuProcesses(),
        }),
      ),
      onLog,
    });
    const elsewhere = new RunningElsewhere({ storageDir: dir, hostname: hostname(), ownPid: process.pid, isAlive: isProcessAlive, onChange: () => this.emit('elsewhere') });
    return { dir, lock, sharing, elsewhere };
  }

  private historyStore(config: MonitorConfig): JsonlHistoryStore {
    this.store = new JsonlHistoryStore(config.storageDir as string, {
      retentionDays: config.retentionDays,
      retentionMaxTasks: config.retentionMaxTasks,
      onWarning: (w) => this.log.warn(describeStoreWarning(w)),
      // Migration, broken locks, tightened modes: said once in the log.
      onLog: (m) => this.log.info(m),
    });
    return this.store;
  }

  /**
   * Per-process GPU memory is only needed while a task runs, here or in another process of this
   * machine (a window, `model-perf run`: each running task has a marker in the storage folder,
   * followed by RunningElsewhere through its watch): an idle monitor queries nothing, and reads
   * no folder to know it.
   */
  wantsGpuProcesses(): boolean {
    return this.monitor.activeTaskCount > 0 || this.parts.elsewhere.tasks().length > 0;
  }

  /** Takes the sampler lock (or follows its holder), loads the history and starts sampling. */
  async start(): Promise<void> {
    this.roleChanged(await this.parts.lock.start());
    await this.monitor.startMonitoring();
    this.watchHistory();
    await this.parts.elsewhere.start();
    this.emit('monitoring');
  }

  async startMonitoring(): Promise<void> {
    await this.monitor.startMonitoring();
    this.emit('monitoring');
  }

  async stopMonitoring(): Promise<void> {
    await this.monitor.stopMonitoring();
    this.emit('monitoring');
  }

  get isMonitoring(): boolean {
    return this.monitor.isMonitoring;
  }

  get role(): Role {
    return this.parts.lock.role;
  }

  get historyLocation(): string {
    return this.parts.dir;
  }

  latestSnapshot(): SystemPerformanceSnapshot | null {
    const s = this.monitor.getCurrentSystemStatus();
    if ('error' in s) return null;
    const { activeTasks: _a, gpuAvailability: _g, ...snapshot } = s;
    return snapshot;
  }

  gpuAvailability(): GpuAvailability {
    return this.monitor.getGpuAvailability();
  }

  activeTasks(): PerformanceMetrics[] {
    return this.monitor.getActiveTasks();
  }

  /** Tasks other processes of this machine run now (`model-perf run`, other windows), as their markers last said. */
  tasksElsewhere(): PerformanceMetrics[] {
    return this.parts.elsewhere.tasks();
  }

  /** The process running a task of `tasksElsewhere()`; null for this process's own tasks. */
  elsewhereOwner(task: PerformanceMetrics): number | null {
    return this.parts.elsewhere.ownerPid(task);
  }

  onChange(listener: (change: EngineChange) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }

  private emit(change: EngineChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch (err) {
        this.log.error(`A listener of engine changes threw: ${errorText(err)}`);
      }
    }
  }

  private roleChanged(role: Role): void {
    if (role === 'leader') this.log.info('This window samples the GPU for every window on this machine.');
    else if (role === 'follower') this.log.info('Another window samples the GPU; this window reads its figures.');
    this.emit('role');
  }

  /** Applies new settings; only the parts that changed restart. Throws ConfigError and changes nothing for a value out of range. */
  async applySettings(next: SharedEngineSettings): Promise<void> {
    const prev = this.settings;
    const config = monitorConfig(next, this.env);
    this.settings = next;
    if (config.storageDir !== this.parts.dir) {
      // A new storage folder: a new lock and a new shared sample there, then a new history.
      await this.swapFolder(config);
    } else {
      const prevConfig = monitorConfig(prev, this.env);
      const newHistory = prev.storageDir !== next.storageDir || prevConfig.retentionDays !== config.retentionDays || prevConfig.retentionMaxTasks !== config.retentionMaxTasks;
      await this.monitor.reconfigure(config, {
        // The same provider object restarts, and the deferred provider inside chooses again
        // with the new nvidia-smi path.
        ...(prev.nvidiaSmiPath !== next.nvidiaSmiPath || prev.gpuBackend !== next.gpuBackend ? { gpuProvider: this.parts.sharing.gpuProvider } : {}),
        ...(newHistory ? { historyStore: this.historyStore(config) } : {}),
      });
      if (newHistory) this.watchHistory();
    }
    this.emit('monitoring');
  }

  private async swapFolder(config: MonitorConfig): Promise<void> {
    const wasRunning = this.monitor.isMonitoring;
    if (wasRunning) await this.monitor.stopMonitoring();
    await this.parts.sharing.dispose();
    await this.parts.lock.stop();
    this.parts.elsewhere.dispose();
    this.historyWatch?.dispose();
    this.historyWatch = null;
    this.parts = this.folderParts(config.storageDir as string);
    await this.parts.lock.start();
    await this.parts.elsewhere.start();
    this.emit('elsewhere');
    await this.monitor.reconfigure(config, { gpuProvider: this.parts.sharing.gpuProvider, historyStore: this.historyStore(config) });
    this.watchHistory();
    if (wasRunning && !this.monitor.isMonitoring) await this.monitor.startMonitoring();
  }

  /** Other windows and the CLI append to the same history: reload when it changes, so every face shows the same tasks. */
  private watchHistory(): void {
    this.historyWatch?.dispose();
    // The store tells only of other processes' records: those are added as they are; a rewrite
    // (compaction, clearing, migration elsewhere) reloads what memory keeps.
    this.historyWatch = this.store.onDidChange((change) => {
      if (this.disposed) return;
      if (change.kind === 'appended') this.monitor.addRecordedTasks(change.tasks);
      else void this.monitor.reloadHistory();
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.historyWatch?.dispose();
    for (const s of this.subscriptions) s.dispose();
    await this.monitor.dispose();
    this.parts.elsewhere.dispose();
    await this.parts.sharing.dispose();
    await this.parts.lock.stop();
    this.listeners.clear();
  }
}
