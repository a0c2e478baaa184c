// Lets several engines on one machine (VS Code windows, the CLI) share one sampler. The leader
// (see leadership.ts) samples with the real samplers and publishes each reading to a small file;
// followers read that file instead of starting their own nvidia-smi. The monitor sees ordinary
// SystemSampler / GpuProvider ports and never knows which role it has.
//
// The leader publishes only while someone reads: each reader keeps a note in `readers/` whose
// name carries its pid and the time it last read (`<pid>-<epoch ms>`, renamed as it reads), and
// the leader looks at the folder's names (one readdir, woken by fs.watch and every few seconds),
// never at their contents. A lone window so writes nothing per sample.
//
// The file is an input like any other: read at most MAX_LIVE_FILE_BYTES, stale when written more
// than a small skew in the future, and every figure outside what hardware can show (negative,
// a share over 100 %, more VRAM used than there is, a temperature no GPU survives) is unknown.
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gpuReading, type GpuAvailability, type GpuReading } from '../../shared/snapshot';
import { safeText } from '../../shared/text';
import { isFreshTimestamp } from './freshness';
import type { Role, RoleSource } from './leadership';
import { OversizedFileError, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, readBoundedText, writePrivateFileAtomic } from '../util/privateFiles';
import type { Clock, GpuProcessUsage, GpuProvider, GpuReadingsEvent, GpuSample, SystemReading, SystemSampler } from '../ports';
import { OneAtATime } from '../util/oneAtATime';
import { changeEventsTrusted, SLOW_POLL_MS } from '../util/folderWatch';

export const LIVE_FILE_NAME = 'live-sample.json';
const LIVE_VERSION = 1;
/** 64 GPUs and 4096 processes fit in about 350 KB; a larger file is refused unread. */
export const MAX_LIVE_FILE_BYTES = 1024 * 1024;
/** Where readers of the published sample leave their notes. */
export const READERS_DIR_NAME = 'readers';
/** At most this many names of the readers folder are looked at (a flooded folder costs no more). */
const MAX_READER_NOTES = 256;
/** A note this old is a reader that died without removing it: the leader removes it. */
const DEAD_NOTE_MS = 3_600_000;

/** A reader's note name `<pid>-<epoch ms>`, or null for any other name. */
export function parseReaderNote(name: string): { pid: number; at: number } | null {
  const dash = name.indexOf('-');
  if (dash <= 0 || dash > 10 || name.length - dash - 1 > 15) return null;
  const pidText = name.slice(0, dash);
  const atText = name.slice(dash + 1);
  if (!/^\d+$/.test(pidText) || !/^\d+$/.test(atText)) return null;
  return { pid: Number(pidText), at: Number(atText) };
}

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
  private readonly readersDir: string;
  /** Reader side: the name of this process's note (null before the first), and its writes in order. */
  private noteName: string | null = null;
  private noteWrites: Promise<void> = Promise.resolve();
  private notedAt = Number.NEGATIVE_INFINITY;
  /** Leader side: the newest reader note seen, when the folder was last looked at, the look in flight. */
  private readerSeenAt: number | null = null;
  private readersCheckedAt = Number.NEGATIVE_INFINITY;
  private readonly readerLooks = new OneAtATime(() => this.lookAtReaders(), () => this.disposed);
  private readersWatch: FSWatcher | null = null;
  /** Whether the watch of `readers/` sees every note (a local filesystem): then a look a minute is enough. */
  private readersWatchTrusted = false;
  private disposed = false;

  constructor(private readonly options: SharedSamplingOptions) {
    this.file = join(options.dir, LIVE_FILE_NAME);
    this.staleMs = options.staleMs ?? 5000;
    this.pid = options.pid ?? process.pid;
    this.readersDir = join(options.dir, READERS_DIR_NAME);
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
      // Only the leader's local tool reads: a follower's loop keeps its timer (and reads the file).
      onReadings(listener: ((event: GpuReadingsEvent) => void) | null): void {
        options.localGpu.onReadings?.(listener);
      },
    };
  }

  get isLeader(): boolean {
    return this.options.lock.role !== 'follower';
  }

  /** Stops the local GPU provider, waits for a publish in flight and removes this reader's note. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.unsubscribe();
    this.stopWatchingReaders();
    await this.stopLocalGpu();
    await this.publishing;
    await this.noteWrites;
    if (this.noteName !== null) await unlink(join(this.readersDir, this.noteName)).catch(() => undefined);
  }

  private async roleChanged(role: Role): Promise<void> {
    if (role === 'leader' && this.gpuWanted) await this.startLocalGpu();
    if (role === 'follower') {
      this.stopWatchingReaders();
      await this.stopLocalGpu();
    }
  }

  // ----- readers' notes -----

  /** Reader side: renames this process's note to now, a third of the stale time after the last. */
  private noteReading(now: number): void {
    if (this.disposed || now - this.notedAt < this.staleMs / 3) return;
    this.notedAt = now;
    const name = `${this.pid}-${Math.round(now)}`;
    this.noteWrites = this.noteWrites.then(async () => {
      const to = join(this.readersDir, name);
      try {
        if (this.noteName === null) throw Object.assign(new Error('no note yet'), { code: 'ENOENT' });
        await rename(join(this.readersDir, this.noteName), to);
      } catch {
        // First note, or removed meanwhile: write it anew (the folder too).
        try {
          await mkdir(this.readersDir, { recursive: true, mode: PRIVATE_DIR_MODE });
          await writeFile(to, '', { mode: PRIVATE_FILE_MODE });
        } catch (err) {
          if (this.noteName === null) this.options.onLog?.(`Could not tell the window that samples this machine that this process reads its figures: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
      }
      this.noteName = name;
    });
  }

  /** Leader side: whether anyone read lately. Looks at the notes again when due (the answer comes later). */
  private readersWanted(now: number): boolean {
    this.watchReaders();
    // A note's arrival and each renewal wake a look through the watch, and a reader that left is
    // told by its note's age alone: on a trusted watch, a look a minute is a safety net.
    const due = this.readersWatch && this.readersWatchTrusted ? SLOW_POLL_MS : this.readerSeenAt !== null ? this.staleMs / 2 : this.staleMs;
    if (now - this.readersCheckedAt >= due) void this.checkReaders();
    return this.readerSeenAt !== null && isFreshTimestamp(this.readerSeenAt, now, this.staleMs);
  }

  private watchReaders(): void {
    if (this.readersWatch || this.disposed || this.options.publish === false) return;
    try {
      const w = watch(this.readersDir, { persistent: false }, () => void this.checkReaders());
      this.readersWatch = w;
      w.on('error', () => this.stopWatchingReaders());
      void changeEventsTrusted(this.readersDir).then((trusted) => {
        if (this.readersWatch === w) this.readersWatchTrusted = trusted;
      });
    } catch {
      // No folder yet: made now, and watched as soon as it is there.
      void mkdir(this.readersDir, { recursive: true, mode: PRIVATE_DIR_MODE }).then(() => this.watchReaders(), () => undefined);
      return;
    }
    // A note written before the watch began gives no event: look once now.
    void this.checkReaders();
  }

  private stopWatchingReaders(): void {
    this.readersWatch?.close();
    this.readersWatch = null;
    this.readersWatchTrusted = false;
  }

  /** One look at the notes at a time (see lookAtReaders). */
  private checkReaders(): Promise<void> {
    return this.readerLooks.run();
  }

  /** One readdir: the newest fresh note; a reader that appears gets the last readings at once. */
  private async lookAtReaders(): Promise<void> {
    const now = this.options.clock.now();
    this.readersCheckedAt = now;
    const before = this.readerSeenAt !== null && isFreshTimestamp(this.readerSeenAt, now, this.staleMs);
    const names = await readdir(this.readersDir).catch(() => [] as string[]);
    let newest: number | null = null;
    for (const name of names.slice(0, MAX_READER_NOTES)) {
      const note = parseReaderNote(name);
      if (!note) continue;
      if (isFreshTimestamp(note.at, now, this.staleMs)) newest = Math.max(newest ?? note.at, note.at);
      else if (now - note.at > DEAD_NOTE_MS) void unlink(join(this.readersDir, name)).catch(() => undefined);
    }
    this.readerSeenAt = newest;
    if (!before && newest !== null && this.isLeader && (this.lastSystem || this.lastGpu)) this.schedulePublish();
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
    this.noteReading(now);
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

  /**
   * Coalesces the system and GPU halves of one tick into one write. Nobody reading (the common
   * case of a lone window) schedules nothing: not even the wake-up that would find that out.
   */
  private schedulePublish(): void {
    if (this.publishQueued || this.options.publish === false) return;
    if (!this.readersWanted(this.options.clock.now())) return;
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
