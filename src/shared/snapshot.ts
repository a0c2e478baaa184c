// What one sample of the machine looks like, shared by the engine, the faces and the webview.
// Pure types: no node, no vscode, no DOM. `null` always means "unknown", never zero.

/** One GPU at one instant. Every figure the tool could not read is null. */
export interface GpuReading {
  /** The tool's own index (nvidia-smi `index`), stable for the life of the driver. */
  index: number;
  uuid: string | null;
  name: string;
  /** Share of the last sample period in which a kernel ran (not memory use). */
  utilizationPercent: number | null;
  /** Share of time the memory controller was busy. */
  memoryUtilizationPercent: number | null;
  vramUsedMb: number | null;
  vramTotalMb: number | null;
  temperatureCelsius: number | null;
  powerDrawWatts: number | null;
  powerLimitWatts: number | null;
  smClockMhz: number | null;
  /** Performance state such as `P0`, or null. */
  performanceState: string | null;
  /** True when the device is a MIG instance or in MIG mode (utilisation is then not reported). */
  mig: boolean;
}

/** Where GPU figures came from and, when there are none, why. */
export interface GpuAvailability {
  /** `nvidia`, `amd`, `apple`, `windows`, or `none`. */
  provider: GpuProviderKind;
  available: boolean;
  /** A sentence a user can act on when not available ("nvidia-smi not found on PATH; …"). */
  reason: string | null;
}

export type GpuProviderKind = 'nvidia' | 'amd' | 'apple' | 'windows' | 'none';

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

/** A reading with every figure unknown except those given: providers that see only a few fields. */
export function gpuReading(known: Pick<GpuReading, 'index' | 'name'> & Partial<GpuReading>): GpuReading {
  return {
    uuid: null,
    utilizationPercent: null,
    memoryUtilizationPercent: null,
    vramUsedMb: null,
    vramTotalMb: null,
    temperatureCelsius: null,
    powerDrawWatts: null,
    powerLimitWatts: null,
    smClockMhz: null,
    performanceState: null,
    mig: false,
    ...known,
  };
}
