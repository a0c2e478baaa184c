// Apple silicon GPUs through `ioreg -r -d 1 -w 0 -c IOAccelerator`, whose PerformanceStatistics
// hold "Device Utilization %" and "In use system memory" (unified memory, so no VRAM total).
// Needs no root, unlike powermetrics. One short run per read, never two at once.
import { gpuReading, type GpuAvailability, type GpuReading } from '../../../shared/snapshot';
import { systemClock, type Clock, type GpuProvider, type GpuSample } from '../../ports';
import { describeSimpleFailure } from './simpleFailure';
import { sanitizeText } from './nvidiaSmiParser';
import { PolledCommand } from './polledCommand';
import { nodeSpawn, type SpawnPort } from './spawnPort';
import { OnceLog } from '../../util/onceLog';

export const IOREG_ARGS = ['-r', '-d', '1', '-w', '0', '-c', 'IOAccelerator'] as const;
const BYTES_PER_MIB = 1024 * 1024;

/** What one IOAccelerator entry says about its GPU. */
export interface IoregAccelerator {
  className: string;
  model: string | null;
  coreCount: number | null;
  deviceUtilizationPercent: number | null;
  rendererUtilizationPercent: number | null;
  tilerUtilizationPercent: number | null;
  inUseSystemMemoryBytes: number | null;
  allocSystemMemoryBytes: number | null;
  /** Discrete GPUs of Intel Macs report their own VRAM under these keys. */
  vramUsedBytes: number | null;
  vramFreeBytes: number | null;
}

/** Reads `"Key"=123` pairs from ioreg's one-line dictionary text; quoted keys only, integers only. */
function parseDictNumbers(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = /"([^"\n]{1,80})"\s*=\s*(-?\d{1,20})(?=[,}\s])/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const n = Number(m[2]);
    if (Number.isSafeInteger(n)) out.set(m[1] as string, n);
  }
  return out;
}

/**
 * Parses ioreg output into one entry per `+-o` IOAccelerator node. A node without
 * PerformanceStatistics (a display-only accelerator) is kept with unknown figures.
 */
export function parseIoreg(text: string): IoregAccelerator[] {
  const out: IoregAccelerator[] = [];
  const blocks = text.split(/^\+-o /m).slice(1);
  for (const block of blocks) {
    const className = /<class ([A-Za-z0-9_]{1,80})/.exec(block)?.[1] ?? sanitizeText(block.split(/\s/)[0] ?? '', 80);
    const statsLine = /^\s*"PerformanceStatistics"\s*=\s*(\{.*\})\s*$/m.exec(block)?.[1] ?? '';
    const stats = parseDictNumbers(statsLine);
    const model = /^\s*"model"\s*=\s*"([^"\n]{1,120})"/m.exec(block)?.[1] ?? null;
    const cores = /^\s*"gpu-core-count"\s*=\s*(\d{1,5})\s*$/m.exec(block)?.[1];
    const pct = (key: string): number | null => {
      const v = stats.get(key);
      return v !== undefined && v >= 0 && v <= 100 ? v : null;
    };
    const bytes = (key: string): number | null => {
      const v = stats.get(key);
      return v !== undefined && v >= 0 ? v : null;
    };
    out.push({
      className,
      model: model ? sanitizeText(model) : null,
      coreCount: cores !== undefined ? Number(cores) : null,
      deviceUtilizationPercent: pct('Device Utilization %'),
      rendererUtilizationPercent: pct('Renderer Utilization %'),
      tilerUtilizationPercent: pct('Tiler Utilization %'),
      inUseSystemMemoryBytes: bytes('In use system memory'),
      allocSystemMemoryBytes: bytes('Alloc system memory'),
      vramUsedBytes: bytes('vramUsedBytes'),
      vramFreeBytes: bytes('vramFreeBytes'),
    });
  }
  return out;
}

/** GpuReading for an accelerator. Unified memory has no separate total: vramTotalMb stays unknown. */
function ioregToReading(acc: IoregAccelerator, index: number): GpuReading {
  if (acc.vramUsedBytes !== null) {
    const total = acc.vramFreeBytes !== null ? acc.vramUsedBytes + acc.vramFreeBytes : null;
    return {
      ...ioregToReading({ ...acc, vramUsedBytes: null, inUseSystemMemoryBytes: acc.vramUsedBytes }, index),
      vramTotalMb: total !== null ? total / BYTES_PER_MIB : null,
    };
  }
  return gpuReading({
    index,
    name: acc.model ?? acc.className,
    utilizationPercent: acc.deviceUtilizationPercent,
    vramUsedMb: acc.inUseSystemMemoryBytes !== null ? acc.inUseSystemMemoryBytes / BYTES_PER_MIB : null,
  });
}

export interface AppleIoregProviderOptions {
  spawn?: SpawnPort;
  clock?: Clock;
  onLog?: (message: string) => void;
  ioregPath?: string;
  timeoutMs?: number;
}

export class AppleIoregProvider implements GpuProvider {
  readonly kind = 'apple' as const;
  private readonly clock: Clock;
  private readonly command: PolledCommand;
  private state: GpuAvailability = { provider: 'apple', available: false, reason: 'Apple GPU monitoring has not been started yet.' };
  private readonly once: OnceLog;
  private stopped = false;

  constructor(options: AppleIoregProviderOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.once = new OnceLog(options.onLog ?? (() => {}));
    this.command = new PolledCommand({
      spawn: options.spawn ?? nodeSpawn,
      clock: this.clock,
      command: options.ioregPath ?? '/usr/sbin/ioreg',
      args: IOREG_ARGS,
      timeoutMs: options.timeoutMs ?? 5000,
    });
  }

  async start(): Promise<GpuAvailability> {
    const sample = await this.read();
    if (!sample && this.state.available) {
      this.state = { provider: 'apple', available: false, reason: 'ioreg lists no GPU statistics on this Mac; GPU figures are off.' };
    }
    return this.availability();
  }

  async read(): Promise<GpuSample | null> {
    if (this.stopped) return null;
    const run = await this.command.run();
    if (this.stopped) return null;
    const failure = describeSimpleFailure('ioreg', run);
    if (failure) {
      this.state = { provider: 'apple', available: false, reason: failure };
      this.once.say(`fail:${run.code ?? run.spawnErrorCode ?? 'timeout'}`, failure);
      return null;
    }
    const accelerators = parseIoreg(run.stdout).filter((a) => a.deviceUtilizationPercent !== null || a.inUseSystemMemoryBytes !== null || a.vramUsedBytes !== null);
    if (accelerators.length === 0) {
      this.state = { provider: 'apple', available: false, reason: 'ioreg lists no GPU statistics on this Mac; GPU figures are off.' };
      this.once.say('empty', this.state.reason ?? '');
      return null;
    }
    this.state = { provider: 'apple', available: true, reason: null };
    // ioreg has no per-process GPU memory; unified memory shows up in each process's RSS instead.
    return { timestamp: this.clock.now(), gpus: accelerators.map((a, i) => ioregToReading(a, i)), processes: null };
  }

  availability(): GpuAvailability {
    return { ...this.state };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.command.stop();
  }

}
