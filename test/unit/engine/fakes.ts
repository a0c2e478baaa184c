// Fakes for the engine's ports and a builder for task records, shared by the engine tests.
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import { blankTask } from '../../../src/core/history/records';
import { gpuReading, type GpuAvailability, type GpuReading } from '../../../src/shared/snapshot';
import type { GpuProvider, GpuReadingsEvent, GpuSample, ProcessSampler, ProcessTreeReading, SystemReading, SystemSampler } from '../../../src/core/ports';

export function makeTask(overrides: Partial<PerformanceMetrics> = {}): PerformanceMetrics {
  // Every nullable field null (the record parser's own blank task), then the figures of a plain run.
  return {
    ...(blankTask() as Partial<PerformanceMetrics>),
    taskId: 't',
    modelType: 'wan-t2v',
    resolution: '720p',
    resolutionClass: '720p',
    steps: 20,
    status: 'succeeded',
    startTime: Date.UTC(2026, 0, 1),
    endTime: Date.UTC(2026, 0, 1) + 100_000,
    generationTimeSeconds: 100,
    gpuIndices: [],
    sampleCount: 2,
    optimizationsApplied: [],
    offloadUsed: false,
    success: overrides.status === undefined || overrides.status === 'succeeded',
    ...overrides,
  } as PerformanceMetrics;
}

export function gpu(index: number, overrides: Partial<Omit<GpuReading, 'vramUsedPercent'>> = {}): GpuReading {
  return gpuReading({
    index,
    uuid: `GPU-${index}`,
    name: 'NVIDIA Test',
    utilizationPercent: 50,
    memoryUtilizationPercent: 10,
    vramUsedMb: 1000,
    vramTotalMb: 24_000,
    temperatureCelsius: 60,
    powerDrawWatts: 100,
    powerLimitWatts: 300,
    smClockMhz: 1500,
    performanceState: 'P2',
    mig: false,
    ...overrides,
  });
}

/** Returns the queued readings in order (the last one repeats); an Error entry rejects that call. */
export class FakeSystemSampler implements SystemSampler {
  calls = 0;
  disposed = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** When set, sample() waits for this promise before answering. */
  gate: Promise<void> | null = null;
  constructor(public readings: (SystemReading | Error)[] = [{ cpuUsagePercent: 10, ramUsedMb: 4000, ramAvailableMb: 12_000, ramTotalMb: 16_000, diskUsagePercent: 50 }]) {}
  async sample(): Promise<SystemReading> {
    this.calls++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.gate) await this.gate;
      const r = this.readings.length > 1 ? this.readings.shift() : this.readings[0];
      if (r instanceof Error) throw r;
      if (!r) throw new Error('FakeSystemSampler: no reading queued');
      return { ...r };
    } finally {
      this.inFlight--;
    }
  }
  dispose(): void {
    this.disposed++;
  }
}

export class FakeGpuProvider implements GpuProvider {
  readonly kind = 'nvidia' as const;
  starts = 0;
  stops = 0;
  running = false;
  /** What the next start() finds; tests flip it to make a GPU appear or vanish. */
  present: boolean;
  gpus: GpuReading[] = [gpu(0)];
  processes: GpuSample['processes'] = null;
  constructor(
    present = true,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.present = present;
  }
  async start(): Promise<GpuAvailability> {
    this.starts++;
    this.running = true;
    return this.availability();
  }
  async read(): Promise<GpuSample | null> {
    if (!this.running || !this.present) return null;
    return { timestamp: this.now(), gpus: this.gpus.map((g) => ({ ...g })), processes: this.processes };
  }
  availability(): GpuAvailability {
    return this.present ? { provider: 'nvidia', available: true, reason: null } : { provider: 'nvidia', available: false, reason: 'nvidia-smi not found on PATH; GPU figures are off' };
  }
  async stop(): Promise<void> {
    this.stops++;
    this.running = false;
  }
}

/** A provider whose readings arrive on their own, like the nvidia-smi stream: `arrive()` is one. */
export class FakeStreamingGpuProvider extends FakeGpuProvider {
  private listener: ((event: GpuReadingsEvent) => void) | null = null;
  reads = 0;
  onReadings(listener: ((event: GpuReadingsEvent) => void) | null): void {
    this.listener = listener;
  }
  get listening(): boolean {
    return this.listener !== null;
  }
  override async read(): Promise<GpuSample | null> {
    this.reads++;
    return super.read();
  }
  arrive(event: GpuReadingsEvent = 'reading'): void {
    if (this.running) this.listener?.(event);
  }
}

export class FakeProcessSampler implements ProcessSampler {
  trees = new Map<number, ProcessTreeReading | null>();
  async sampleTree(rootPid: number): Promise<ProcessTreeReading | null> {
    const t = this.trees.get(rootPid);
    return t ? { ...t, pids: [...t.pids] } : null;
  }
}
