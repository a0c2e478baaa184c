// Assembles one machine-wide snapshot from the system reading and every GPU's reading: totals,
// averages and the VRAM percent over the GPUs that report enough to make the ratio honest.
import type { GpuReading, SystemPerformanceSnapshot } from '../../shared/snapshot';
import type { SystemReading } from '../ports';

function sumKnown(values: (number | null)[]): number | null {
  let total: number | null = null;
  for (const v of values) if (v !== null) total = (total ?? 0) + v;
  return total;
}

/** One SystemPerformanceSnapshot from the system reading and every GPU's reading. */
export function assembleSnapshot(timestamp: number, system: SystemReading | null, gpus: GpuReading[]): SystemPerformanceSnapshot {
  const utils = gpus.map((g) => g.utilizationPercent).filter((u): u is number => u !== null);
  // Available and percent only over GPUs that report both used and total, so the ratio is honest.
  const both = gpus.filter((g) => g.vramUsedMb !== null && g.vramTotalMb !== null);
  const usedBoth = sumKnown(both.map((g) => g.vramUsedMb));
  const totalBoth = sumKnown(both.map((g) => g.vramTotalMb));
  const temps = gpus.map((g) => g.temperatureCelsius).filter((t): t is number => t !== null);
  return {
    timestamp,
    cpuUsagePercent: system?.cpuUsagePercent ?? null,
    ramUsageMb: system?.ramUsedMb ?? null,
    ramAvailableMb: system?.ramAvailableMb ?? null,
    ramTotalMb: system?.ramTotalMb ?? null,
    diskUsagePercent: system?.diskUsagePercent ?? null,
    gpuUsagePercent: utils.length ? utils.reduce((a, b) => a + b, 0) / utils.length : null,
    vramUsageMb: sumKnown(gpus.map((g) => g.vramUsedMb)),
    vramAvailableMb: usedBoth !== null && totalBoth !== null ? totalBoth - usedBoth : null,
    vramTotalMb: sumKnown(gpus.map((g) => g.vramTotalMb)),
    vramUsagePercent: usedBoth !== null && totalBoth !== null && totalBoth > 0 ? (usedBoth / totalBoth) * 100 : null,
    temperatureCelsius: temps.length ? Math.max(...temps) : null,
    gpus: gpus.map((g) => ({ ...g })),
  };
}
