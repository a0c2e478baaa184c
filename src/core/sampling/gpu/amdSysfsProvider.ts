// AMD GPUs on Linux through the amdgpu driver's sysfs files: a handful of small async reads per
// sample, no child process, no root. Per-process VRAM is not attributed (it would need fdinfo scans).
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { gpuReading, type GpuAvailability, type GpuReading } from '../../../shared/snapshot';
import { systemClock, type Clock, type GpuProvider, type GpuSample } from '../../ports';
import { sanitizeText } from './nvidiaSmiParser';

export interface AmdSysfsProviderOptions {
  /** Where /sys lives; tests point this at a fixture tree. */
  sysfsRoot?: string;
  clock?: Clock;
  onLog?: (message: string) => void;
}

/** PCI vendor id of AMD/ATI. */
const AMD_VENDOR_ID = '0x1002';
const BYTES_PER_MIB = 1024 * 1024;

export interface AmdCard {
  /** `card0` -> 0: the DRM minor, stable while the driver is loaded. */
  index: number;
  deviceDir: string;
  /** hwmon directory for temperature and power, when the driver exposes one. */
  hwmonDir: string | null;
  name: string;
  uuid: string | null;
}

async function readText(file: string): Promise<string | null> {
  try {
    return (await fsp.readFile(file, 'utf8')).trim();
  } catch {
    return null;
  }
}

/** A non-negative integer file (sysfs numbers), or null when missing or not a number. */
async function readInt(file: string): Promise<number | null> {
  const t = await readText(file);
  if (t === null || !/^\d{1,20}$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/** Finds amdgpu cards under <sysfsRoot>/class/drm: `cardN` entries (not connectors) of vendor 0x1002. */
export async function discoverAmdCards(sysfsRoot: string): Promise<AmdCard[]> {
  const drm = join(sysfsRoot, 'class', 'drm');
  let entries: string[];
  try {
    entries = await fsp.readdir(drm);
  } catch {
    return [];
  }
  const cards: AmdCard[] = [];
  for (const entry of entries) {
    const m = /^card(\d+)$/.exec(entry);
    if (!m) continue;
    const deviceDir = join(drm, entry, 'device');
    if ((await readText(join(deviceDir, 'vendor'))) !== AMD_VENDOR_ID) continue;
    // Without these the card is not driven by amdgpu (or the kernel is too old): nothing to read.
    const hasBusy = (await readText(join(deviceDir, 'gpu_busy_percent'))) !== null;
    const hasVram = (await readText(join(deviceDir, 'mem_info_vram_total'))) !== null;
    if (!hasBusy && !hasVram) continue;
    let hwmonDir: string | null = null;
    try {
      const hw = (await fsp.readdir(join(deviceDir, 'hwmon'))).filter((h) => /^hwmon\d+$/.test(h)).sort();
      if (hw[0]) hwmonDir = join(deviceDir, 'hwmon', hw[0]);
    } catch {
      hwmonDir = null;
    }
    const product = await readText(join(deviceDir, 'product_name'));
    const deviceId = await readText(join(deviceDir, 'device'));
    const uniqueId = await readText(join(deviceDir, 'unique_id'));
    cards.push({
      index: Number(m[1]),
      deviceDir,
      hwmonDir,
      name: product ? sanitizeText(product) : `AMD GPU${deviceId ? ` ${sanitizeText(deviceId, 10)}` : ''} (${entry})`,
      uuid: uniqueId && /^[0-9a-fA-F]{1,32}$/.test(uniqueId) ? uniqueId : null,
    });
  }
  return cards.sort((a, b) => a.index - b.index);
}

/** One reading of one card. Every missing or unreadable file leaves its figure null. */
async function readAmdCard(card: AmdCard): Promise<GpuReading> {
  const d = card.deviceDir;
  const h = card.hwmonDir;
  const [busy, memBusy, vramUsed, vramTotal, tempMilli, powerAvgMicro, powerInputMicro, powerCapMicro, sclkHz] = await Promise.all([
    readInt(join(d, 'gpu_busy_percent')),
    readInt(join(d, 'mem_busy_percent')),
    readInt(join(d, 'mem_info_vram_used')),
    readInt(join(d, 'mem_info_vram_total')),
    h ? readInt(join(h, 'temp1_input')) : null,
    h ? readInt(join(h, 'power1_average')) : null,
    // Newer kernels (RDNA3+) expose power1_input instead of power1_average.
    h ? readInt(join(h, 'power1_input')) : null,
    h ? readInt(join(h, 'power1_cap')) : null,
    h ? readInt(join(h, 'freq1_input')) : null,
  ]);
  const powerMicro = powerAvgMicro ?? powerInputMicro;
  return gpuReading({
    index: card.index,
    uuid: card.uuid,
    name: card.name,
    utilizationPercent: busy !== null && busy <= 100 ? busy : null,
    memoryUtilizationPercent: memBusy !== null && memBusy <= 100 ? memBusy : null,
    vramUsedMb: vramUsed !== null ? vramUsed / BYTES_PER_MIB : null,
    vramTotalMb: vramTotal !== null && vramTotal > 0 ? vramTotal / BYTES_PER_MIB : null,
    temperatureCelsius: tempMilli !== null && tempMilli < 150_000 ? tempMilli / 1000 : null,
    powerDrawWatts: powerMicro !== null ? powerMicro / 1e6 : null,
    powerLimitWatts: powerCapMicro !== null && powerCapMicro > 0 ? powerCapMicro / 1e6 : null,
    smClockMhz: sclkHz !== null && sclkHz > 0 ? sclkHz / 1e6 : null,
    performanceState: null,
    mig: false,
  });
}

export class AmdSysfsProvider implements GpuProvider {
  readonly kind = 'amd' as const;
  private readonly sysfsRoot: string;
  private readonly clock: Clock;
  private readonly onLog: (message: string) => void;
  private cards: AmdCard[] = [];
  private state: GpuAvailability = { provider: 'amd', available: false, reason: 'AMD GPU monitoring has not been started yet.' };
  private stopped = false;

  constructor(options: AmdSysfsProviderOptions = {}) {
    this.sysfsRoot = options.sysfsRoot ?? '/sys';
    this.clock = options.clock ?? systemClock;
    this.onLog = options.onLog ?? (() => {});
  }

  async start(): Promise<GpuAvailability> {
    this.cards = await discoverAmdCards(this.sysfsRoot);
    if (this.cards.length === 0) {
      this.state = {
        provider: 'amd',
        available: false,
        reason: `No AMD GPU driven by amdgpu found under ${join(this.sysfsRoot, 'class', 'drm')}; GPU figures are off.`,
      };
      this.onLog(this.state.reason ?? '');
      return this.state;
    }
    const missing = this.cards.filter((c) => c.hwmonDir === null).map((c) => `card${c.index}`);
    if (missing.length > 0) this.onLog(`No hwmon sensors for ${missing.join(', ')}; temperature and power are unknown there.`);
    this.state = { provider: 'amd', available: true, reason: null };
    return this.state;
  }

  async read(): Promise<GpuSample | null> {
    if (this.stopped || this.cards.length === 0) return null;
    const gpus = await Promise.all(this.cards.map((c) => readAmdCard(c)));
    // sysfs cannot attribute VRAM to processes without scanning every process's fdinfo.
    return { timestamp: this.clock.now(), gpus, processes: null };
  }

  availability(): GpuAvailability {
    return { ...this.state };
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}
