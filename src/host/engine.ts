// The host's handle on the engine: builds the PerformanceMonitor with this machine's samplers,
// shares one sampler among all windows (LeaderLock + SharedSampling in the storage folder), applies
// settings live, and reloads the history when another window or the CLI records a task. Node only:
// no `vscode` import, so host-side logic stays testable in plain node.
import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { MonitorConfigInput } from '../core/engine/config';
import { HISTORY_DIR_NAME, JsonlHistoryStore, RUNNING_DIR_NAME, defaultStorageDir, type StoreWarning } from '../core/history/historyStore';
import { LeaderLock, type Role } from '../core/sharing/leadership';
import { createGpuProvider } from '../core/machine';
import { PerformanceMonitor, type Disposable, type MonitorLogger } from '../core/engine/monitor';
import { systemClock, type GpuProvider } from '../core/ports';
import { createProcessSampler, createSystemSampler } from '../core/sampling/os';
import { SharedSampling } from '../core/sharing/sharedSampling';
import type { PerformanceMetrics } from '../shared/metrics';
import type { GpuAvailability, SystemPerformanceSnapshot } from '../shared/snapshot';
import { diffSettings, toMonitorConfig, type HostSettings } from './settings';

export interface EngineOptions {
  settings: HostSettings;
  /** Workspace folder whose filesystem's fullness is shown as disk %. */
  diskPath: string | null;
  log: MonitorLogger;
  env?: NodeJS.ProcessEnv;
}

/** `history.jsonl:12: cut-off line skipped`, for the log. */
export function describeStoreWarning(w: StoreWarning): string {
  return `History file ${w.file}${w.line !== null ? ` line ${w.line}` : ''}: ${w.reason}`;
}

export type EngineChange = 'snapshot' | 'tasks' | 'gpu' | 'monitoring' | 'history' | 'role';

function storageDirFor(settings: HostSettings, env: NodeJS.ProcessEnv): string {
  return settings.storageDirectory || defaultStorageDir(env);
}

export class HostEngine {
  readonly monitor: PerformanceMonitor;
  private settings: HostSettings;
  private storageDir: string;
  private lock: LeaderLock;
  private sharing: SharedSampling;
  private readonly listeners = new Set<(change: EngineChange) => void>();
  private readonly subscriptions: Disposable[] = [];
  private historyWatcher: FSWatcher | null = null;
  private reloadTimer: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;

  private constructor(private readonly options: EngineOptions, parts: { storageDir: string; lock: LeaderLock; sharing: SharedSampling; monitor: PerformanceMonitor }) {
    this.settings = options.settings;
    this.storageDir = parts.storageDir;
    this.lock = parts.lock;
    this.sharing = parts.sharing;
    this.monitor = parts.monitor;
    const emit = (c: EngineChange) => () => this.emit(c);
    this.subscriptions.push(
      this.monitor.on('snapshot', emit('snapshot')),
      this.monitor.on('taskStarted', emit('tasks')),
      this.monitor.on('taskUpdated', emit('tasks')),
      this.monitor.on('taskEnded', emit('tasks')),
      this.monitor.on('gpuAvailabilityChanged', emit('gpu')),
      this.monitor.on('historyChanged', emit('history')),
      this.monitor.on('historyWarning', (w) => options.log.warn(describeStoreWarning(w))),
    );
    this.subscriptions.push({ dispose: this.lock.onRoleChange((role) => this.roleChanged(role)) });
  }

  static async create(options: EngineOptions): Promise<HostEngine> {
    const env = options.env ?? process.env;
    const storageDir = storageDirFor(options.settings, env);
    const holder: { engine: HostEngine | null } = { engine: null };
    const { lock, sharing } = HostEngine.sharedSampling(storageDir, options, env, () => holder.engine?.wantsGpuProcesses() ?? Promise.resolve(false));
    const monitor = new PerformanceMonitor(
      { ...toMonitorConfig(options.settings), storageDir },
      {
        systemSampler: sharing.systemSampler,
        gpuProvider: sharing.gpuProvider,
        processSampler: createProcessSampler(process.platform, { onLog: (m) => options.log.info(m) }),
        historyStore: HostEngine.historyStore(storageDir, options.settings, options.log),
        logger: options.log,
      },
    );
    holder.engine = new HostEngine(options, { storageDir, lock, sharing, monitor });
    return holder.engine;
  }

  /**
   * Per-process GPU memory is only needed while a task runs, here or in another window (each
   * running task has a marker in the storage folder): an idle monitor spawns no query at all.
   */
  async wantsGpuProcesses(): Promise<boolean> {
    if (this.monitor.getActiveTasks().length > 0) return true;
    try {
      return (await readdir(join(this.storageDir, RUNNING_DIR_NAME))).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  }

  private static historyStore(dir: string, settings: HostSettings, log: MonitorLogger): JsonlHistoryStore {
    return new JsonlHistoryStore(dir, {
      retentionDays: settings.retentionDays,
      retentionMaxTasks: settings.retentionMaxTasks,
      onWarning: (w) => log.warn(describeStoreWarning(w)),
      onLog: (m) => log.info(m),
    });
  }

  private static sharedSampling(storageDir: string, options: EngineOptions, env: NodeJS.ProcessEnv, wantProcesses: () => Promise<boolean>): { lock: LeaderLock; sharing: SharedSampling } {
    const onLog = (m: string) => options.log.info(m);
    const lock = new LeaderLock({ dir: storageDir, clock: systemClock, onLog });
    const sharing = new SharedSampling({
      dir: storageDir,
      clock: systemClock,
      lock,
      localSystem: createSystemSampler(process.platform, options.diskPath, { onLog }),
      localGpu: new DeferredGpuProvider(() => HostEngine.gpuProvider(options.settings, env, onLog, wantProcesses)),
      onLog,
    });
    return { lock, sharing };
  }

  private static gpuProvider(settings: HostSettings, env: NodeJS.ProcessEnv, onLog: (m: string) => void, wantProcesses: () => Promise<boolean>): Promise<GpuProvider> {
    return createGpuProvider({ enableGpu: settings.gpuEnabled, env, nvidiaSmiPath: settings.nvidiaSmiPath, onLog, wantProcesses });
  }

  /** Takes the sampler lock (or follows its holder), loads the history and starts sampling. */
  async start(): Promise<void> {
    this.roleChanged(await this.lock.start());
    await this.monitor.startMonitoring();
    this.watchHistory();
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
    return this.lock.role;
  }

  get historyLocation(): string {
    return this.storageDir;
  }

  get currentSettings(): HostSettings {
    return this.settings;
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

  onChange(listener: (change: EngineChange) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }

  private emit(change: EngineChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch (err) {
        this.options.log.error(`A listener of engine changes threw: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  private roleChanged(role: Role): void {
    if (role === 'leader') this.options.log.info('This window samples the GPU for every window on this machine.');
    else if (role === 'follower') this.options.log.info('Another window samples the GPU; this window reads its figures.');
    this.emit('role');
  }

  /** Applies new settings; only the parts that changed restart. */
  async applySettings(next: HostSettings): Promise<void> {
    const prev = this.settings;
    const change = diffSettings(prev, next);
    this.settings = next;
    this.options.settings = next;
    const env = this.options.env ?? process.env;
    const config: MonitorConfigInput = { ...toMonitorConfig(next), storageDir: storageDirFor(next, env) };
    const newDir = storageDirFor(next, env);
    if (newDir !== this.storageDir) {
      // A new storage folder: a new lock and a new shared sample there, then a new history.
      await this.swapStorage(newDir, next, config, env);
    } else {
      await this.monitor.reconfigure(config, {
        // The same provider object restarts, and the deferred provider inside chooses again
        // with the new nvidia-smi path.
        ...(change.gpuProvider ? { gpuProvider: this.sharing.gpuProvider } : {}),
        ...(change.history ? { historyStore: HostEngine.historyStore(newDir, next, this.options.log) } : {}),
      });
    }
    this.emit('monitoring');
  }

  private async swapStorage(dir: string, settings: HostSettings, config: MonitorConfigInput, env: NodeJS.ProcessEnv): Promise<void> {
    // this.options.settings is already `settings`: the deferred GPU provider reads it when it starts.
    const wasRunning = this.monitor.isMonitoring;
    if (wasRunning) await this.monitor.stopMonitoring();
    await this.sharing.dispose();
    await this.lock.stop();
    this.historyWatcher?.close();
    this.storageDir = dir;
    const { lock, sharing } = HostEngine.sharedSampling(dir, this.options, env, () => this.wantsGpuProcesses());
    this.lock = lock;
    this.sharing = sharing;
    this.subscriptions.push({ dispose: lock.onRoleChange((role) => this.roleChanged(role)) });
    await lock.start();
    await this.monitor.reconfigure(config, { gpuProvider: sharing.gpuProvider, historyStore: HostEngine.historyStore(dir, settings, this.options.log) });
    this.watchHistory();
    if (wasRunning && !this.monitor.isMonitoring) await this.monitor.startMonitoring();
  }

  /**
   * Other windows and the CLI append to the same history file: reload (debounced) when it
   * changes, so every face shows the same tasks. fs.watch costs nothing between changes.
   */
  private watchHistory(): void {
    this.historyWatcher?.close();
    // Tasks are appended to day segments in the history folder (made here so it can be watched).
    const segments = join(this.storageDir, HISTORY_DIR_NAME);
    try {
      mkdirSync(segments, { recursive: true, mode: 0o700 });
      this.historyWatcher = watch(segments, { persistent: false }, (_event, name) => {
        if (name && !name.endsWith('.jsonl')) return;
        if (this.reloadTimer) clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => {
          this.reloadTimer = null;
          if (!this.disposed) void this.monitor.reloadHistory();
        }, 500);
      });
      this.historyWatcher.on('error', (err) => this.options.log.warn(`Stopped watching ${this.storageDir} for tasks of other windows: ${err.message}`));
    } catch (err) {
      this.options.log.warn(`Cannot watch ${this.storageDir} for tasks of other windows (${err instanceof Error ? err.message : String(err)}); they appear after a reload.`);
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.historyWatcher?.close();
    for (const s of this.subscriptions) s.dispose();
    await this.monitor.dispose();
    await this.sharing.dispose();
    await this.lock.stop();
    this.listeners.clear();
  }
}

/**
 * A GPU provider chosen when first started (selection looks for nvidia-smi on disk, which must
 * not delay activation), and chosen again on each start after a stop so a GPU tool installed
 * later is found.
 */
export class DeferredGpuProvider implements GpuProvider {
  private inner: GpuProvider | null = null;
  constructor(private readonly choose: () => Promise<GpuProvider>) {}

  get kind(): GpuProvider['kind'] {
    return this.inner?.kind ?? 'none';
  }

  async start(intervalMs: number): Promise<GpuAvailability> {
    this.inner = await this.choose();
    return this.inner.start(intervalMs);
  }

  async read() {
    return this.inner ? this.inner.read() : null;
  }

  availability(): GpuAvailability {
    return this.inner?.availability() ?? { provider: 'none', available: false, reason: 'GPU monitoring has not started yet' };
  }

  async stop(): Promise<void> {
    const inner = this.inner;
    this.inner = null;
    await inner?.stop();
  }
}
