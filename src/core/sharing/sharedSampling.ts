// Lets several engines on one machine (VS Code windows, the CLI) share one sampler. The leader
// (see leadership.ts) samples with the real samplers and publishes each reading to a small file;
// followers read that file instead of starting their own nvidia-smi. The monitor sees ordinary
// SystemSampler / GpuProvider ports and never knows which role it has.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GpuAvailability, GpuReading } from '../../shared/snapshot';
import { replaceFile } from './replaceFile';
import type { Role, RoleSource } from './leadership';
import type { Clock, GpuProcessUsage, GpuProvider, GpuSample, SystemReading, SystemSampler } from '../ports';

export const LIVE_FILE_NAME = 'live-sample.json';
const LIVE_VERSION = 1;

export interface PublishedSample {
  version: 1;
  pid: number;
  /** Epoch ms of the leader's write. */
  publishedAt: number;
  system: SystemReading | null;
  gpu: GpuSample | null;
  availability: GpuAvailability;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const numOrNull = (v: unknown): number | null => (isNum(v) ? v : null);
const strOrNull = (v: unknown, max = 200): string | null => (typeof v === 'string' ? v.slice(0, max) : null);
const obj = (v: unknown): Record<string, unknown> | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

function parseSystem(v: unknown): SystemReading | null {
  const o = obj(v);
  if (!o) return null;
  return {
    cpuUsagePercent: numOrNull(o.cpuUsagePercent),
    ramUsedMb: numOrNull(o.ramUsedMb),
    ramAvailableMb: numOrNull(o.ramAvailableMb),
    ramTotalMb: numOrNull(o.ramTotalMb),
    diskUsagePercent: numOrNull(o.diskUsagePercent),
  };
}

function parseGpuReading(v: unknown): GpuReading | null {
  const o = obj(v);
  if (!o || !Number.isInteger(o.index) || typeof o.name !== 'string') return null;
  return {
    index: o.index as number,
    uuid: strOrNull(o.uuid),
    name: o.name.slice(0, 200),
    utilizationPercent: numOrNull(o.utilizationPercent),
    memoryUtilizationPercent: numOrNull(o.memoryUtilizationPercent),
    vramUsedMb: numOrNull(o.vramUsedMb),
    vramTotalMb: numOrNull(o.vramTotalMb),
    temperatureCelsius: numOrNull(o.temperatureCelsius),
    powerDrawWatts: numOrNull(o.powerDrawWatts),
    powerLimitWatts: numOrNull(o.powerLimitWatts),
    smClockMhz: numOrNull(o.smClockMhz),
    performanceState: strOrNull(o.performanceState, 8),
    mig: o.mig === true,
  };
}

function parseGpuSample(v: unknown): GpuSample | null {
  const o = obj(v);
  if (!o || !isNum(o.timestamp) || !Array.isArray(o.gpus)) return null;
  const gpus = o.gpus.slice(0, 64).map(parseGpuReading).filter((g): g is GpuReading => g !== null);
  let processes: GpuProcessUsage[] | null = null;
  if (Array.isArray(o.processes)) {
    processes = [];
    for (const p of o.processes.slice(0, 4096)) {
      const q = obj(p);
      if (q && Number.isInteger(q.pid) && (q.pid as number) > 0) processes.push({ pid: q.pid as number, gpuUuid: strOrNull(q.gpuUuid), usedMemoryMb: numOrNull(q.usedMemoryMb) });
    }
  }
  return { timestamp: o.timestamp, gpus, processes };
}

/** Parses the live file; null for anything malformed (a follower then shows unknowns). */
export function parsePublishedSample(text: string): PublishedSample | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const o = obj(value);
  if (!o || o.version !== LIVE_VERSION || !Number.isInteger(o.pid) || !isNum(o.publishedAt)) return null;
  const a = obj(o.availability);
  const providers = ['nvidia', 'amd', 'apple', 'windows', 'none'];
  if (!a || typeof a.available !== 'boolean' || typeof a.provider !== 'string' || !providers.includes(a.provider)) return null;
  return {
    version: LIVE_VERSION,
    pid: o.pid as number,
    publishedAt: o.publishedAt,
    system: parseSystem(o.system),
    gpu: parseGpuSample(o.gpu),
    availability: { provider: a.provider as GpuAvailability['provider'], available: a.available, reason: strOrNull(a.reason, 500) },
  };
}

export interface SharedSamplingOptions {
  dir: string;
  clock: Clock;
  lock: RoleSource;
  localSystem: SystemSampler;
  localGpu: GpuProvider;
  /** A published sample older than this is not used (default 5000 ms). */
  staleMs?: number;
  pid?: number;
  onLog?: (message: string) => void;
  /** False for a reader that only follows (the CLI): when it samples itself it publishes nothing. */
  publish?: boolean;
}

const WAITING: GpuAvailability = { provider: 'none', available: false, reason: 'Waiting for the window that samples the GPU on this machine.' };

export class SharedSampling {
  readonly systemSampler: SystemSampler;
  readonly gpuProvider: GpuProvider;
  private readonly file: string;
  private readonly staleMs: number;
  private readonly pid: number;
  private lastSystem: SystemReading | null = null;
  private lastGpu: GpuSample | null = null;
  private publishQueued = false;
  private publishing: Promise<void> = Promise.resolve();
  private cached: { at: number; value: PublishedSample | null } | null = null;
  private localGpuStarted = false;
  /** The local provider's start in flight (after a takeover): reads wait for it. */
  private localStart: Promise<GpuAvailability> | null = null;
  private intervalMs = 1000;
  private gpuWanted = false;
  private publishFailureLogged = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: SharedSamplingOptions) {
    this.file = join(options.dir, LIVE_FILE_NAME);
    this.staleMs = options.staleMs ?? 5000;
    this.pid = options.pid ?? process.pid;
    this.unsubscribe = options.lock.onRoleChange((role) => void this.roleChanged(role));
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.systemSampler = {
      async sample(): Promise<SystemReading> {
        if (self.isLeader) {
          const reading = await options.localSystem.sample();
          self.lastSystem = reading;
          self.schedulePublish();
          return reading;
        }
        const published = await self.readPublished();
        return published?.system ?? { cpuUsagePercent: null, ramUsedMb: null, ramAvailableMb: null, ramTotalMb: null, diskUsagePercent: null };
      },
      dispose: () => options.localSystem.dispose?.(),
    };
    this.gpuProvider = {
      get kind() {
        return options.localGpu.kind;
      },
      async start(intervalMs: number): Promise<GpuAvailability> {
        self.intervalMs = intervalMs;
        self.gpuWanted = true;
        if (self.isLeader) return self.startLocalGpu();
        return (await self.readPublished())?.availability ?? WAITING;
      },
      async read(): Promise<GpuSample | null> {
        if (self.isLeader) {
          if (self.localStart) await self.localStart.catch(() => null);
          const sample = self.localGpuStarted ? await options.localGpu.read() : null;
          self.lastGpu = sample;
          self.schedulePublish();
          return sample;
        }
        return (await self.readPublished())?.gpu ?? null;
      },
      availability(): GpuAvailability {
        // While a takeover starts the local tool, keep what the old leader last said.
        if (self.isLeader && self.localStart && self.cached?.value) return self.cached.value.availability;
        if (self.isLeader) return self.localGpuStarted ? options.localGpu.availability() : WAITING;
        const p = self.cached?.value;
        return p ? p.availability : WAITING;
      },
      async stop(): Promise<void> {
        self.gpuWanted = false;
        await self.stopLocalGpu();
      },
    };
  }

  get isLeader(): boolean {
    return this.options.lock.role !== 'follower';
  }

  /** Stops the local GPU provider and waits for a publish in flight. */
  async dispose(): Promise<void> {
    this.unsubscribe();
    await this.stopLocalGpu();
    await this.publishing;
  }

  private async roleChanged(role: Role): Promise<void> {
    if (role === 'leader' && this.gpuWanted) await this.startLocalGpu();
    if (role === 'follower') await this.stopLocalGpu();
  }

  private async startLocalGpu(): Promise<GpuAvailability> {
    if (this.localStart) return this.localStart;
    if (this.localGpuStarted) return this.options.localGpu.availability();
    this.localGpuStarted = true;
    this.localStart = this.options.localGpu.start(this.intervalMs);
    try {
      return await this.localStart;
    } finally {
      this.localStart = null;
    }
  }

  private async stopLocalGpu(): Promise<void> {
    if (!this.localGpuStarted) return;
    this.localGpuStarted = false;
    await this.options.localGpu.stop();
  }

  /** One read of the live file per half interval, shared by the system and GPU ports. */
  private async readPublished(): Promise<PublishedSample | null> {
    const now = this.options.clock.now();
    if (this.cached && now - this.cached.at < this.intervalMs / 2) return this.cached.value;
    let value: PublishedSample | null = null;
    try {
      value = parsePublishedSample(await readFile(this.file, 'utf8'));
    } catch {
      value = null; // not written yet, or the leader is between renames
    }
    if (value && now - value.publishedAt > this.staleMs) value = null;
    this.cached = { at: now, value };
    return value;
  }

  /** Coalesces the system and GPU halves of one tick into one write. */
  private schedulePublish(): void {
    if (this.publishQueued || this.options.publish === false) return;
    this.publishQueued = true;
    setImmediate(() => {
      this.publishQueued = false;
      const doc: PublishedSample = {
        version: LIVE_VERSION,
        pid: this.pid,
        publishedAt: this.options.clock.now(),
        system: this.lastSystem,
        gpu: this.lastGpu,
        availability: this.gpuProvider.availability(),
      };
      this.publishing = this.publishing
        .then(() => replaceFile(this.file, JSON.stringify(doc)))
        .then(
          () => { this.publishFailureLogged = false; },
          (err: unknown) => {
            if (!this.publishFailureLogged) this.options.onLog?.(`Could not share this window's samples with other windows: ${err instanceof Error ? err.message : String(err)}`);
            this.publishFailureLogged = true;
          },
        );
    });
  }
}
