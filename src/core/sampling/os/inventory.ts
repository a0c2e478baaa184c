// What the machine is, collected once at start for the dashboard and exports: CPU model and cores,
// total RAM, OS, GPU controllers. Each systeminformation call has a timeout, node's `os` fills in
// what they miss, and the result is plain JSON. Never throws.
import * as os from 'node:os';

export interface GpuControllerInfo {
  vendor: string | null;
  model: string | null;
  vramMb: number | null;
  driverVersion: string | null;
  bus: string | null;
}

export interface MachineInventory {
  /** Epoch ms. */
  collectedAt: number;
  cpuModel: string | null;
  cpuPhysicalCores: number | null;
  cpuLogicalCores: number | null;
  ramTotalMb: number | null;
  os: { platform: string; distro: string | null; release: string | null; kernel: string | null; arch: string };
  gpuControllers: GpuControllerInfo[];
  /** What could not be collected, in words (shown in the log, never as an error). */
  problems: string[];
}

/** The systeminformation calls used, so tests inject answers (or hangs). */
export interface InventorySiPort {
  cpu(): Promise<{ manufacturer: string; brand: string; cores: number; physicalCores: number }>;
  mem(): Promise<{ total: number }>;
  osInfo(): Promise<{ platform: string; distro: string; release: string; kernel: string; arch: string }>;
  graphics(): Promise<{ controllers: Array<{ vendor: string; model: string; vram: number | null; driverVersion?: string; bus: string }> }>;
}

export interface InventoryOptions {
  /** Per call; a call that takes longer is left out and named in `problems`. Default 5000. */
  timeoutMs?: number;
  si?: InventorySiPort;
  /**
   * si.graphics() runs nvidia-smi through execFileSync (and lspci on Linux), blocking the calling
   * thread for as long as they take. Default true, as the inventory is collected once; turn it off
   * where the GPU provider already names the GPUs.
   */
  includeGpuControllers?: boolean;
  now?: () => number;
}

const BYTES_PER_MIB = 1024 * 1024;

function text(v: unknown, max = 120): string | null {
  if (typeof v !== 'string') return null;
  const t = v.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return t ? t.slice(0, max) : null;
}

function positive(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null;
}

async function loadSi(): Promise<InventorySiPort> {
  const si = await import('systeminformation');
  return { cpu: () => si.cpu(), mem: () => si.mem(), osInfo: () => si.osInfo(), graphics: () => si.graphics() };
}

async function withTimeout<T>(what: string, ms: number, call: () => Promise<T>, problems: string[]): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      call(),
      new Promise<never>((_, reject) => {
        // Not unref'd: a CLI waiting only on this must still get its answer when the call hangs.
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } catch (err) {
    problems.push(`Could not read ${what} (${err instanceof Error ? err.message : String(err)}).`);
    return null;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

export async function collectInventory(options: InventoryOptions = {}): Promise<MachineInventory> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const problems: string[] = [];
  const now = options.now ?? Date.now;
  let si: InventorySiPort | null = options.si ?? null;
  if (!si) {
    try {
      si = await loadSi();
    } catch (err) {
      problems.push(`systeminformation could not be loaded (${err instanceof Error ? err.message : String(err)}).`);
    }
  }

  const [cpu, mem, osInfo, graphics] = await Promise.all([
    si ? withTimeout('the CPU model', timeoutMs, () => si.cpu(), problems) : null,
    si ? withTimeout('total RAM', timeoutMs, () => si.mem(), problems) : null,
    si ? withTimeout('the OS version', timeoutMs, () => si.osInfo(), problems) : null,
    si && options.includeGpuControllers !== false ? withTimeout('the GPU controllers', timeoutMs, () => si.graphics(), problems) : null,
  ]);

  // node's own figures are cheap and always there: the fallback for whatever si missed.
  const osCpus = safe(() => os.cpus(), []);
  const ramBytes = positive(mem?.total) ?? positive(safe(() => os.totalmem(), 0));
  const siModel = cpu ? text([cpu.manufacturer, cpu.brand].filter(Boolean).join(' ')) : null;
  return {
    collectedAt: now(),
    cpuModel: siModel ?? text(osCpus[0]?.model),
    cpuPhysicalCores: positive(cpu?.physicalCores),
    cpuLogicalCores: positive(cpu?.cores) ?? positive(osCpus.length),
    ramTotalMb: ramBytes !== null ? ramBytes / BYTES_PER_MIB : null,
    os: {
      platform: text(osInfo?.platform) ?? process.platform,
      distro: text(osInfo?.distro),
      release: text(osInfo?.release) ?? text(safe(() => os.release(), '')),
      kernel: text(osInfo?.kernel),
      arch: text(osInfo?.arch) ?? process.arch,
    },
    gpuControllers: (graphics?.controllers ?? []).slice(0, 32).map((c) => ({
      vendor: text(c.vendor),
      model: text(c.model),
      // si reports vram in MB; 0 and null both mean it could not tell (shared memory, unknown).
      vramMb: positive(c.vram),
      driverVersion: text(c.driverVersion, 40),
      bus: text(c.bus, 40),
    })),
    problems,
  };
}

function safe<T>(call: () => T, fallback: T): T {
  try {
    return call();
  } catch {
    return fallback;
  }
}
