// Assembles one machine-wide snapshot from the system reading and every GPU's reading: totals,
// averages and the VRAM percent over the GPUs that report enough to make the ratio honest.
import type { GpuReading, SystemPerformanceSnapshot } from '../../shared/snapshot';
import type { SystemReading } from '../ports';

/** One SystemPerformanceSnapshot from the system reading and every GPU's reading. */
export function assembleSnapshot(timestamp: number, system: SystemReading | null, gpus: readonly GpuReading[]): SystemPerformanceSnapshot {
  // One pass over the GPUs (this runs every second): no intermediate lists.
  let utilSum = 0;
  let utilCount = 0;
  // Available and percent only over GPUs that report both used and total, so the ratio is honest.
  let usedBoth: number | null = null;
  let totalBoth: number | null = null;
  let used: number | null = null;
  let total: number | null = null;
  let hottest: number | null = null;
  for (const g of gpus) {
    if (g.utilizationPercent !== null) {
      utilSum += g.utilizationPercent;
      utilCount++;
    }
    if (g.vramUsedMb !== null) used = (used ?? 0) + g.vramUsedMb;
    if (g.vramTotalMb !== null) total = (total ?? 0) + g.vramTotalMb;
    if (g.vramUsedMb !== null && g.vramTotalMb !== null) {
      usedBoth = (usedBoth ?? 0) + g.vramUsedMb;
      totalBoth = (totalBoth ?? 0) + g.vramTotalMb;
    }
    if (g.temperatureCelsius !== null && (hottest === null || g.temperatureCelsius > hottest)) hottest = g.temperatureCelsius;
  }
  return {
    timestamp,
    cpuUsagePercent: system?.cpuUsagePercent ?? null,
    ramUsageMb: system?.ramUsedMb ?? null,
    ramAvailableMb: system?.ramAvailableMb ?? null,
    ramTotalMb: system?.ramTotalMb ?? null,
    diskUsagePercent: system?.diskUsagePercent ?? null,
    gpuUsagePercent: utilCount > 0 ? utilSum / utilCount : null,
    vramUsageMb: used,
    vramAvailableMb: usedBoth !== null && totalBoth !== null ? totalBoth - usedBoth : null,
    vramTotalMb: total,
    vramUsagePercent: usedBoth !== null && totalBoth !== null && totalBoth > 0 ? (usedBoth / totalBoth) * 100 : null,
    temperatureCelsius: hottest,
    // Readings are immutable: the snapshot shares them.
    gpus: gpus.slice(),
  };
}
