// Which GPUs a run may use, from its CUDA_VISIBLE_DEVICES: the step between "its processes are
// listed on a GPU" and "the GPU whose memory rose" when the engine decides which GPU a run used.
// CUDA reads the variable as a comma-separated list of device indices or UUIDs (a unique prefix
// suffices) and stops at the first entry it cannot read. An index is CUDA's own enumeration, which
// matches nvidia-smi's only with CUDA_DEVICE_ORDER=PCI_BUS_ID (the default, FASTEST_FIRST, puts the
// fastest GPU first): on a machine with different GPU models an index is trusted only then. Pure.
import type { GpuReading } from '../../shared/snapshot';
import type { DeviceEnvironment } from '../sampling/os/processEnv';

/**
 * nvidia-smi indices of the GPUs the variable makes visible; null when it names none of this
 * machine's GPUs, names none at all (`""`, `-1`: the run uses no GPU, nothing to compare with), or
 * uses indices whose order is ambiguous here.
 */
export function visibleGpuIndices(env: DeviceEnvironment, gpus: readonly Pick<GpuReading, 'index' | 'uuid' | 'name'>[]): number[] | null {
  if (gpus.length === 0) return null;
  const sameModel = gpus.every((g) => g.name === (gpus[0] as (typeof gpus)[number]).name);
  const indicesTrusted = sameModel || env.deviceOrder?.trim().toUpperCase() === 'PCI_BUS_ID';
  const out = new Set<number>();
  for (const raw of env.visibleDevices.split(',')) {
    const entry = raw.trim();
    let found: number | null = null;
    if (/^\d{1,4}$/.test(entry)) {
      if (!indicesTrusted) return null;
      found = gpus.find((g) => g.index === Number(entry))?.index ?? null;
    } else if (/^GPU-[0-9a-f-]{1,64}$/i.test(entry)) {
      const matches = gpus.filter((g) => g.uuid !== null && g.uuid.toLowerCase().startsWith(entry.toLowerCase()));
      found = matches.length === 1 ? (matches[0] as (typeof gpus)[number]).index : null;
    }
    // CUDA ignores the rest of the list after an entry it cannot read (MIG instances included).
    if (found === null) break;
    out.add(found);
  }
  return out.size > 0 ? [...out].sort((a, b) => a - b) : null;
}
