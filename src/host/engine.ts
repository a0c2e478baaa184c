// The host's handle on the engine: the window's SharedEngine (assembled in core/machine.ts) seen
// through the extension's settings. It only translates settings and remembers the ones in force;
// sampling, sharing one sampler among windows and following the history all live in core.
// Node only: no `vscode` import, so host-side logic stays testable in plain node.
import type { PerformanceMonitor } from '../core/engine/monitor';
import type { MonitorLogger } from '../core/engine/monitorTypes';
import { SharedEngine, type EngineChange, type SharedEngineSettings } from '../core/machine';
import type { Role } from '../core/sharing/leadership';
import type { Disposable } from '../core/util/emitter';
import type { PerformanceMetrics } from '../shared/metrics';
import type { GpuAvailability, SystemPerformanceSnapshot } from '../shared/snapshot';
import { toMonitorConfig, type HostSettings } from './settings';

export interface EngineOptions {
  settings: HostSettings;
  /** Workspace folder whose filesystem's fullness is shown as disk %. */
  diskPath: string | null;
  log: MonitorLogger;
  env?: NodeJS.ProcessEnv;
}

/** The engine's view of the extension's settings. */
function engineSettings(s: HostSettings): SharedEngineSettings {
  return { config: toMonitorConfig(s), nvidiaSmiPath: s.nvidiaSmiPath, gpuBackend: s.gpuBackend, storageDir: s.storageDirectory };
}

export class HostEngine {
  private settings: HostSettings;

  private constructor(private readonly engine: SharedEngine, settings: HostSettings) {
    this.settings = settings;
  }

  static async create(options: EngineOptions): Promise<HostEngine> {
    const engine = new SharedEngine({
      settings: engineSettings(options.settings),
      diskPath: options.diskPath,
      logger: options.log,
      ...(options.env ? { env: options.env } : {}),
    });
    return new HostEngine(engine, options.settings);
  }

  get monitor(): PerformanceMonitor {
    return this.engine.monitor;
  }

  /** Takes the sampler lock (or follows its holder), loads the history and starts sampling. */
  start(): Promise<void> {
    return this.engine.start();
  }

  startMonitoring(): Promise<void> {
    return this.engine.startMonitoring();
  }

  stopMonitoring(): Promise<void> {
    return this.engine.stopMonitoring();
  }

  get isMonitoring(): boolean {
    return this.engine.isMonitoring;
  }

  get role(): Role {
    return this.engine.role;
  }

  get historyLocation(): string {
    return this.engine.historyLocation;
  }

  get currentSettings(): HostSettings {
    return this.settings;
  }

  latestSnapshot(): SystemPerformanceSnapshot | null {
    return this.engine.latestSnapshot();
  }

  gpuAvailability(): GpuAvailability {
    return this.engine.gpuAvailability();
  }

  activeTasks(): PerformanceMetrics[] {
    return this.engine.activeTasks();
  }

  /** What the status bar and the dashboard show: this window's tasks, then those other processes of this machine run (`model-perf run`). */
  visibleTasks(): PerformanceMetrics[] {
    const elsewhere = this.engine.tasksElsewhere();
    return elsewhere.length === 0 ? this.engine.activeTasks() : [...this.engine.activeTasks(), ...elsewhere];
  }

  /** The pid of the process (`model-perf run`, another window) that runs a visible task not of this window; null for this window's. */
  elsewhereOwner(task: PerformanceMetrics): number | null {
    return this.engine.elsewhereOwner(task);
  }

  onChange(listener: (change: EngineChange) => void): Disposable {
    return this.engine.onChange(listener);
  }

  /** Applies new settings; only the parts of the engine that they change restart. */
  async applySettings(next: HostSettings): Promise<void> {
    this.settings = next;
    await this.engine.applySettings(engineSettings(next));
  }

  dispose(): Promise<void> {
    return this.engine.dispose();
  }
}
