// The small ports through which time, processes and the machine enter the engine. Tests swap each
// for a fake (fake clock, recorded nvidia-smi output); production wires the real ones.
import type { GpuAvailability, GpuReading } from '../shared/snapshot';

/** Wall-clock time and timers, so tests never sleep on real time. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerHandle {
  /** Lets the process exit while this timer is pending (Node's `unref`). */
  unref?(): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** CPU, RAM and disk of the whole machine at one instant. Unknown figures are null. */
export interface SystemReading {
  cpuUsagePercent: number | null;
  ramUsedMb: number | null;
  ramAvailableMb: number | null;
  ramTotalMb: number | null;
  diskUsagePercent: number | null;
}

export interface SystemSampler {
  /** Never blocks the event loop; rejects only on a fault worth logging. */
  sample(): Promise<SystemReading>;
  dispose?(): void;
}

/** GPU memory held by one process, as the GPU tool attributes it. */
export interface GpuProcessUsage {
  readonly pid: number;
  /** The GPU's uuid where known (nvidia-smi compute-apps reports uuids), else null. */
  readonly gpuUuid: string | null;
  readonly usedMemoryMb: number | null;
}

export interface GpuSample {
  /** When the readings were taken (epoch ms); may lag the request by up to one interval. */
  timestamp: number;
  gpus: GpuReading[];
  /** Per-process GPU memory from a slower cadence; null when the provider cannot attribute it. */
  processes: GpuProcessUsage[] | null;
}

/** A sample a provider hands out: copies, so a caller cannot change the provider's latest readings. */
export function copyGpuSample(timestamp: number, gpus: readonly GpuReading[], processes: readonly GpuProcessUsage[] | null): GpuSample {
  // Readings and process rows are immutable (readonly to the compiler): the lists are copied, the
  // objects shared. Copying every GPU's reading for each consumer cost a few µs per GPU per sample.
  return { timestamp, gpus: gpus.slice(), processes: processes ? processes.slice() : null };
}

/**
 * A source of GPU readings. Push-based providers (a long-lived `nvidia-smi -lms` child) answer
 * `read()` from the latest complete sample without spawning anything.
 */
export interface GpuProvider {
  readonly kind: GpuAvailability['provider'];
  /** Starts any child process; resolves with whether GPUs were found and, if not, why. */
  start(intervalMs: number): Promise<GpuAvailability>;
  /** The latest readings, or null when none are available (see `availability()`). */
  read(): Promise<GpuSample | null>;
  availability(): GpuAvailability;
  /** Stops every child process and timer; safe to call twice. */
  stop(): Promise<void>;
  /**
   * Optional, for a provider whose readings arrive on their own (a streaming child): `listener`
   * hears 'reading' right after each complete reading, so the loop can sample then rather than on
   * a timer of its own (one wake-up per interval instead of two), and 'stopped' when readings
   * stop coming (the child exited or fell silent). Null removes it. Polled providers leave it out.
   */
  onReadings?(listener: ((event: GpuReadingsEvent) => void) | null): void;
}

export type GpuReadingsEvent = 'reading' | 'stopped';

/** RAM and CPU of one process and all its descendants. */
export interface ProcessTreeReading {
  rootPid: number;
  pids: number[];
  rssMb: number;
  /** Percent of one core, summed over the tree, since the previous reading of this root. */
  cpuPercent: number | null;
}

export interface ProcessSampler {
  /** Null when the root process no longer exists. */
  sampleTree(rootPid: number): Promise<ProcessTreeReading | null>;
  /** Releases what the sampler keeps open between samples (descriptors); sampling may go on after. */
  dispose?(): void;
}
