// The machine an export was taken on (host, OS, CPU, RAM and the GPUs last seen), so a file read
// later or elsewhere says where its figures come from. Reads node's `os` module only: instant.
import { cpus, hostname, release, totalmem } from 'node:os';
import type { GpuAvailability, GpuReading } from '../../../shared/snapshot';
import type { MachineInventory } from '../../history/exporter';

export function machineInventory(gpuAvailability: GpuAvailability, gpus: readonly GpuReading[]): MachineInventory {
  const cpuList = cpus();
  return {
    hostname: hostname(),
    platform: process.platform,
    arch: process.arch,
    osRelease: release(),
    cpuModel: cpuList[0]?.model ?? null,
    cpuCount: cpuList.length,
    ramTotalMb: Math.round(totalmem() / 1048576),
    gpuProvider: gpuAvailability.provider,
    gpuAvailable: gpuAvailability.available,
    gpus: gpus.map((g) => ({ index: g.index, uuid: g.uuid, name: g.name, vramTotalMb: g.vramTotalMb })),
  };
}
