// Builds a PerformanceMonitor wired to this machine: the platform's system and process-tree
// samplers, the GPU provider found here (nvidia-smi stream, AMD sysfs, ...), and the shared JSONL
// history. The CLI and the extension host both start the engine through this one function.
import { validateConfig, type MonitorConfigInput } from './engine/config';
import { selectGpuProvider } from './sampling/gpu/selectProvider';
import { createNodeSpawn } from './sampling/gpu/spawnPort';
import { defaultStorageDir, MemoryHistoryStore } from './history/historyStore';
import { PerformanceMonitor } from './engine/monitor';
import type { MonitorLogger, MonitorPorts } from './engine/monitorTypes';
import { systemClock, type Clock, type GpuProvider, type SystemSampler } from './ports';
import { LockObserver } from './sharing/leadership';
import { SharedSampling } from './sharing/sharedSampling';
import { createProcessSampler, createSystemSampler } from './sampling/os';

export interface MachineMonitorOptions {
  /** Milliseconds between two samples (250..60000). Default 1000. */
  intervalMs?: number;
  /** False turns GPU figures off (the provider then says so). Default true. */
  enableGpu?: boolean;
  /** nvidia-smi to run; empty or absent searches PATH and the driver's usual folders. */
  nvidiaSmiPath?: string | null;
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
  /** Tests only. */
  clock?: Clock;
}

export interface GpuProviderOptions {
  enableGpu: boolean;
  nvidiaSmiPath?: string | null;
  env?: NodeJS.ProcessEnv;
  onLog?: (message: string) => void;
  /** Cadence of the per-process GPU memory query (default 5000 ms, 0 = off). */
  gpuProcessIntervalMs?: number;
  /** Asked before each per-process query: only tasks need it, so an idle monitor spawns nothing. */
  wantProcesses?: () => boolean | Promise<boolean>;
  clock?: Clock;
}

/** The GPU provider this machine has (not started), its tools run with `env` (PATH included). */
export function createGpuProvider(options: GpuProviderOptions): Promise<GpuProvider> {
  const env = options.env ?? process.env;
  const nvidia = {
    ...(options.gpuProcessIntervalMs !== undefined ? { computeAppsIntervalMs: options.gpuProcessIntervalMs } : {}),
    ...(options.wantProcesses ? { wantProcesses: options.wantProcesses } : {}),
  };
  return selectGpuProvider({
    enabled: options.enableGpu,
    env,
    nvidiaSmiPath: options.nvidiaSmiPath || null,
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
  const holder: { monitor: PerformanceMonitor | null } = { monitor: null };
  const gpuProvider = await createGpuProvider({
    enableGpu,
    env,
    nvidiaSmiPath: options.nvidiaSmiPath ?? null,
    ...(onLog ? { onLog } : {}),
    ...(options.gpuProcessIntervalMs !== undefined ? { gpuProcessIntervalMs: options.gpuProcessIntervalMs } : {}),
    // Per-process GPU memory only while a task runs.
    wantProcesses: () => (holder.monitor?.getActiveTasks().length ?? 0) > 0,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  let systemSampler: SystemSampler = createSystemSampler(process.platform, options.diskPath ?? null, onLog ? { onLog } : {});
  let gpu: GpuProvider = gpuProvider;
  if (options.followWindowsIn) {
    const clock = options.clock ?? systemClock;
    const observer = new LockObserver({ dir: options.followWindowsIn, clock });
    if ((await observer.start()) === 'follower') logger?.info(`A VS Code window samples this machine: reading its figures from ${options.followWindowsIn}`);
    const sharing = new SharedSampling({ dir: options.followWindowsIn, clock, lock: observer, localSystem: systemSampler, localGpu: gpuProvider, publish: false, ...(onLog ? { onLog } : {}) });
    systemSampler = {
      sample: () => sharing.systemSampler.sample(),
      dispose: () => {
        observer.stop();
        sharing.systemSampler.dispose?.();
        void sharing.dispose();
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
