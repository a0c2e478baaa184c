// The monitor's contract with its users: the events it emits, the ports it is built from, the
// logger it writes to and the shapes of its status and history-load answers.
import type { GitCommitReader } from './gitCommit';
import type { PerformanceMetrics } from '../../shared/metrics';
import type { GpuAvailability, SystemPerformanceSnapshot } from '../../shared/snapshot';
import type { HistoryStore, StoreWarning } from '../history/historyStore';
import type { Clock, GpuProvider, ProcessSampler, SystemSampler } from '../ports';
import type { DeviceEnvironment } from '../sampling/os/processEnv';

export type MonitorErrorKind = 'systemSample' | 'gpuStart' | 'gpuSample' | 'processSample' | 'history' | 'listener';

export interface MonitorErrorEvent {
  kind: MonitorErrorKind;
  /** A sentence a user can act on, with the cause. */
  message: string;
  cause: unknown;
}

export interface MonitorEvents {
  snapshot: SystemPerformanceSnapshot;
  taskStarted: PerformanceMetrics;
  taskUpdated: PerformanceMetrics;
  taskEnded: PerformanceMetrics;
  gpuAvailabilityChanged: GpuAvailability;
  historyWarning: StoreWarning;
  /** The history was reloaded from the shared file or cleared: re-read it. */
  historyChanged: { count: number };
  error: MonitorErrorEvent;
}


export interface MonitorLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface MonitorPorts {
  clock?: Clock;
  /** Defaults to a small sampler over node's `os` module (CPU and RAM; disk unknown). */
  systemSampler?: SystemSampler;
  /** Null or absent: no GPU figures (availability says why). */
  gpuProvider?: GpuProvider | null;
  processSampler?: ProcessSampler | null;
  /** Defaults to the JSON-lines store in `config.storageDir` or the OS's per-user data folder. */
  historyStore?: HistoryStore;
  logger?: MonitorLogger;
  /**
   * Whether a process id exists on this machine (in this pid namespace), to tell a GPU tool's
   * foreign pids (a container sees the host's) from ours. Defaults to a signal-0 probe.
   */
  pidExists?: (pid: number) => boolean;
  /** Reads the git commit of a run's working directory once at its start; defaults to `git`. Null: never. */
  gitCommitReader?: GitCommitReader | null;
  /**
   * Reads the CUDA device variables of a task's root process (which GPUs it may use), once when
   * its pid is known; defaults to /proc/PID/environ on Linux. Null: never.
   */
  deviceEnvironmentReader?: ((pid: number) => Promise<DeviceEnvironment | null>) | null;
}

export type CurrentSystemStatus =
  | { error: string; activeTasks: number; gpuAvailability: GpuAvailability }
  | (SystemPerformanceSnapshot & { activeTasks: number; gpuAvailability: GpuAvailability });

export interface HistoryLoadReport {
  loaded: number;
  /** Tasks of dead processes recorded as interrupted by this load. */
  recovered: PerformanceMetrics[];
  warnings: StoreWarning[];
  /** Why the history could not be read, or null. */
  error: string | null;
}
