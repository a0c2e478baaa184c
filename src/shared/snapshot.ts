// What one sample of the machine looks like, shared by the engine, the faces and the webview.
// Pure types: no node, no vscode, no DOM. `null` always means "unknown", never zero.

/** One GPU at one instant. Every figure the tool could not read is null. */
export interface GpuReading {
  /** The tool's own index (nvidia-smi `index`), stable for the life of the driver. */
  readonly index: number;
  readonly uuid: string | null;
  readonly name: string;
  /** Share of the last sample period in which a kernel ran (not memory use). */
  readonly utilizationPercent: number | null;
  /** Share of time the memory controller was busy. */
  readonly memoryUtilizationPercent: number | null;
  readonly vramUsedMb: number | null;
  readonly vramTotalMb: number | null;
  /**
   * VRAM in use as a percent of the device's total (not `memoryUtilizationPercent`, which is the
   * memory controller's busy time). Set by `gpuReading()` from the two figures above, so every
   * face shows the same figure and none computes it.
   */
  readonly vramUsedPercent: number | null;
  readonly temperatureCelsius: number | null;
  readonly powerDrawWatts: number | null;
  readonly powerLimitWatts: number | null;
  readonly smClockMhz: number | null;
  /** The SM clock's maximum (nvidia-smi `clocks.max.sm`); the clock runs below it when throttled. */
  readonly smClockMaxMhz: number | null;
  /**
   * Why the clocks are held down now: NVML's clock event (throttle) reasons bitmask, e.g. 0x40 for
   * hardware thermal slowdown (see CLOCK_REASON_BITS); 0 for none; null when the driver does not say.
   */
  readonly clockEventReasons: number | null;
  /** Performance state such as `P0`, or null. */
  readonly performanceState: string | null;
  /** True when the device is a MIG instance or in MIG mode (utilisation is then not reported). */
  readonly mig: boolean;
}

/** Where GPU figures came from and, when there are none, why. */
export interface GpuAvailability {
  /** `nvidia`, `amd`, `apple`, `windows`, or `none`. */
  provider: GpuProviderKind;
  available: boolean;
  /** A sentence a user can act on when not available ("nvidia-smi not found on PATH; …"). */
  reason: string | null;
  /**
   * While available: what limits the figures, with the remedy (the GPU tool lists pids this
   * machine cannot see, as in a container). Absent when nothing does.
   */
  note?: string;
}

type GpuProviderKind = 'nvidia' | 'amd' | 'apple' | 'windows' | 'none';

/**
 * One sample of the whole machine. Field names follow the original module's
 * SystemPerformanceSnapshot in camelCase; `gpuUsagePercent` is real utilisation now (the original
 * reported VRAM used / total under that name), and `gpus` holds every device.
 */
export interface SystemPerformanceSnapshot {
  /** Epoch milliseconds. */
  timestamp: number;
  cpuUsagePercent: number | null;
  ramUsageMb: number | null;
  ramAvailableMb: number | null;
  ramTotalMb: number | null;
  diskUsagePercent: number | null;
  /** Mean utilisation over the GPUs that report one; null when none does. */
  gpuUsagePercent: number | null;
  /** Sum over GPUs of VRAM in use (all processes, framework caches included). */
  vramUsageMb: number | null;
  vramAvailableMb: number | null;
  vramTotalMb: number | null;
  /** VRAM used / total over all GPUs, in percent (what the original called GPU usage). */
  vramUsagePercent: number | null;
  /** Hottest GPU's temperature. */
  temperatureCelsius: number | null;
  gpus: GpuReading[];
}

/** `used` as a percent of `total`; null when either is unknown or the total is not positive. */
export function usedPercent(used: number | null | undefined, total: number | null | undefined): number | null {
  return typeof used === 'number' && Number.isFinite(used) && typeof total === 'number' && Number.isFinite(total) && total > 0 ? (used / total) * 100 : null;
}

/**
 * Every GPU reading is built here: the figures a provider read (any it could not stay unknown), and
 * `vramUsedPercent` derived from them, never given.
 */
export function gpuReading(known: Pick<GpuReading, 'index' | 'name'> & Partial<Omit<GpuReading, 'vramUsedPercent'>>): GpuReading {
  const vramUsedMb = known.vramUsedMb ?? null;
  const vramTotalMb = known.vramTotalMb ?? null;
  // Fields in the interface's order, so a reading prints the same whichever provider built it.
  return {
    index: known.index,
    uuid: known.uuid ?? null,
    name: known.name,
    utilizationPercent: known.utilizationPercent ?? null,
    memoryUtilizationPercent: known.memoryUtilizationPercent ?? null,
    vramUsedMb,
    vramTotalMb,
    vramUsedPercent: usedPercent(vramUsedMb, vramTotalMb),
    temperatureCelsius: known.temperatureCelsius ?? null,
    powerDrawWatts: known.powerDrawWatts ?? null,
    powerLimitWatts: known.powerLimitWatts ?? null,
    smClockMhz: known.smClockMhz ?? null,
    smClockMaxMhz: known.smClockMaxMhz ?? null,
    clockEventReasons: known.clockEventReasons ?? null,
    performanceState: known.performanceState ?? null,
    mig: known.mig ?? false,
  };
}

/**
 * NVML's clock event reasons that hold the clocks down for heat or power (nvmlClocksEventReason*,
 * the same bits as DCGM's DCGM_CLOCKS_THROTTLE_REASON_*), by the name nvidia-smi gives each. Idle,
 * application clocks, sync boost and display clocks are left out: they are no thermal or power limit.
 */
export const CLOCK_REASON_BITS = {
  sw_power_cap: 0x4,
  hw_slowdown: 0x8,
  sw_thermal_slowdown: 0x20,
  hw_thermal_slowdown: 0x40,
  hw_power_brake_slowdown: 0x80,
} as const;

export type ClockReason = keyof typeof CLOCK_REASON_BITS;

/** Every thermal or power bit: a mask with any of them set means the clocks are held down. */
export const THROTTLE_MASK = Object.values(CLOCK_REASON_BITS).reduce((a, b) => a | b, 0);

/** The thermal and power reasons set in a mask, in CLOCK_REASON_BITS order. */
export function clockReasons(mask: number | null): ClockReason[] {
  if (mask === null) return [];
  return (Object.keys(CLOCK_REASON_BITS) as ClockReason[]).filter((r) => (mask & CLOCK_REASON_BITS[r]) !== 0);
}

/** The GPUs a task ran on, or every GPU of the sample when it names none. */
function taskGpus(gpus: readonly GpuReading[], taskGpuIndices: readonly number[]): readonly GpuReading[] {
  return taskGpuIndices.length === 0 ? gpus : gpus.filter((g) => taskGpuIndices.includes(g.index));
}

/** VRAM in use on a task's GPUs (every GPU of the sample when it names none); null when none is known. */
export function taskVramUsedMb(gpus: readonly GpuReading[], taskGpuIndices: readonly number[]): number | null {
  let total: number | null = null;
  for (const g of taskGpus(gpus, taskGpuIndices)) if (g.vramUsedMb !== null) total = (total ?? 0) + g.vramUsedMb;
  return total;
}

/** Mean utilisation of a task's GPUs that report one (every GPU when it names none); null when none does. */
export function taskGpuUtilizationPercent(gpus: readonly GpuReading[], taskGpuIndices: readonly number[]): number | null {
  const known = taskGpus(gpus, taskGpuIndices).map((g) => g.utilizationPercent).filter((v): v is number => v !== null);
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0) / known.length;
}
