// Lets several engines on one machine (VS Code windows, the CLI) share one sampler. The leader
// (see leadership.ts) samples with the real samplers and publishes each reading to a small file;
// followers read that file instead of starting their own nvidia-smi. The monitor sees ordinary
// SystemSampler / GpuProvider ports and never knows which role it has.
//
// The file is an input like any other: read at most MAX_LIVE_FILE_BYTES, stale when written more
// than a small skew in the future, and every figure outside what hardware can show (negative,
// a share over 100 %, more VRAM used than there is, a temperature no GPU survives) is unknown.
import { join } from 'node:path';
import { gpuReading, type GpuAvailability, type GpuReading } from '../../shared/snapshot';
import { safeText } from '../../shared/text';
import { isFreshTimestamp } from './freshness';
import type { Role, RoleSource } from './leadership';
import { OversizedFileError, readBoundedText, writePrivateFileAtomic } from '../util/privateFiles';
import type { Clock, GpuProcessUsage, GpuProvider, GpuSample, SystemReading, SystemSampler } from '../ports';

export const LIVE_FILE_NAME = 'live-sample.json';
const LIVE_VERSION = 1;
/** 64 GPUs and 4096 processes fit in about 350 KB; a larger file is refused unread. */
export const MAX_LIVE_FILE_BYTES = 1024 * 1024;

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
/** A finite number within [min, max], else null (unknown): what no hardware can show is not shown. */
const inRange = (v: unknown, min: number, max: number): number | null => (isNum(v) && v >= min && v <= max ? v : null);
const percent = (v: unknown): number | null => inRange(v, 0, 100);
/** Memory in MiB: at most 1 PiB. */
const mebibytes = (v: unknown): number | null => inRange(v, 0, 1024 ** 3);
/** `used` when it fits in `total` (or total is unknown), else null. */
const usedWithin = (used: number | null, total: number | null): number | null => (used !== null && total !== null && used > total ? null : used);
// Names and reasons are printed by `status` and `watch`: bounded, and no escape sequence reaches the terminal.
const strOrNull = (v: unknown, max = 200): string | null => (typeof v === 'string' ? safeText(v, max) : null);
const obj = (v: unknown): Record<string, unknown> | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

function parseSystem(v: unknown): SystemReading | null {
  const o = obj(v);
  if (!o) return null;
  const ramTotalMb = mebibytes(o.ramTotalMb);
  return {
    cpuUsagePercent: percent(o.cpuUsagePercent),
    ramUsedMb: usedWithin(mebibytes(o.ramUsedMb), ramTotalMb),
    ramAvailableMb: usedWithin(mebibytes(o.ramAvailableMb), ramTotalMb),
    ramTotalMb,
    diskUsagePercent: percent(o.diskUsagePercent),
  };
}

function parseGpuReading(v: unknown): GpuReading | null {
  const o = obj(v);
  if (!o || !Number.isInteger(o.index) || (o.index as number) < 0 || (o.index as number) > 1023 || typeof o.name !== 'string') return null;
  const vramTotalMb = mebibytes(o.vramTotalMb);
  // Through the builder: the percent is derived here, never taken from the file.
  return gpuReading({
    index: o.index as number,
    uuid: strOrNull(o.uuid),
    name: safeText(o.name, 200),
    utilizationPercent: percent(o.utilizationPercent),
    memoryUtilizationPercent: percent(o.memoryUtilizationPercent),
    vramUsedMb: usedWithin(mebibytes(o.vramUsedMb), vramTotalMb),
    vramTotalMb,
    // Below -40 C or above 150 C no GPU runs (they shut down near 100 C).
    temperatureCelsius: inRange(o.temperatureCelsius, -40, 150),
    powerDrawWatts: inRange(o.powerDrawWatts, 0, 10_000),
    powerLimitWatts: inRange(o.powerLimitWatts, 0, 10_000),
    smClockMhz: inRange(o.smClockMhz, 0, 100_000),
    smClockMaxMhz: inRange(o.smClockMaxMhz, 0, 100_000),
    clockEventReasons: Number.isInteger(o.clockEventReasons) ? inRange(o.clockEventReasons, 0, 0xffffffff) : null,
    performanceState: strOrNull(o.performanceState, 8),
    mig: o.mig === true,
  });
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
      if (q && Number.isInteger(q.pid) && (q.pid as number) > 0) processes.push({ pid: q.pid as number, gpuUuid: strOrNull(q.gpuUuid), usedMemoryMb: mebibytes(q.usedMemoryMb) });
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
  if (!o || o.version !== LIVE_VERSION || !Number.isInteger(o.pid) || (o.pid as number) <= 0 || !isNum(o.publishedAt) || o.publishedAt <= 0) return null;
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
  private oversizedLogged = false;
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
      value = parsePublishedSample(await readBoundedText(this.file, MAX_LIVE_FILE_BYTES));
    } catch (err) {
      value = null; // not written yet, or the leader is between renames, or too large
      if (err instanceof OversizedFileError && !this.oversizedLogged) {
        this.oversizedLogged = true;
        this.options.onLog?.(`Ignoring the shared sample file: ${err.message}. This window waits for a valid one (or samples itself once it leads).`);
      }
    }
    // Stale when old, and when from the future: a forged or skewed time must not stay fresh for ever.
    if (value && !isFreshTimestamp(value.publishedAt, now, this.staleMs)) value = null;
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
        .then(() => writePrivateFileAtomic(this.file, JSON.stringify(doc)))
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
