// NVIDIA GPUs read straight from the management library (see nvml.ts): no child process, no text
// to parse, a handful of library calls per GPU when the monitor asks. Readings have the fields the
// nvidia-smi stream gives, from the same driver figures (MiB, W, MHz). A figure the driver does not
// report is unknown (null), never 0. A lost GPU reads unknown, with a note, while the others go on;
// a driver that goes away makes the provider unavailable. start() says why it could not start
// (no library, a missing call, init failed), and the selection falls back to the stream then.
import { gpuReading, type GpuAvailability, type GpuReading } from '../../../shared/snapshot';
import { copyGpuSample, systemClock, type Clock, type GpuProcessUsage, type GpuProvider, type GpuSample } from '../../ports';
import { OnceLog } from '../../util/onceLog';
import { sanitizeText } from './nvidiaSmiParser';
import {
  NVML_ERROR_DRIVER_NOT_LOADED,
  NVML_ERROR_GPU_IS_LOST,
  NVML_ERROR_INSUFFICIENT_SIZE,
  NVML_ERROR_LIB_RM_VERSION_MISMATCH,
  NVML_ERROR_UNINITIALIZED,
  NVML_SUCCESS,
  NVML_TEXT_BUFFER_SIZE,
  loadNvml,
  type NvmlLibrary,
  type NvmlLoad,
} from './nvml';

export interface NvmlProviderOptions {
  /** Library files to try, in order (see nvmlCandidates). */
  candidates: readonly string[];
  /** Tests: a loader other than koffi's. */
  load?: (candidates: readonly string[]) => NvmlLoad;
  clock?: Clock;
  onLog?: (message: string) => void;
  /** Cadence of the per-process memory query; 0 turns it off. Default 5000. */
  computeAppsIntervalMs?: number;
  /** Asked before each per-process query: false skips it (per-process figures read unknown). */
  wantProcesses?: () => boolean | Promise<boolean>;
}

/** A pid list longer than this is garbage from the driver: stop growing the buffer. */
const MAX_PROCESSES = 4096;
/** `NVML_VALUE_NOT_AVAILABLE` for usedGpuMemory (all ones), read as two u32 halves. */
const ALL_ONES_U32 = 0xffffffff;
const MIB = 1024 * 1024;
/** Return codes that mean the driver itself is gone, not one figure. */
const FATAL = new Set([NVML_ERROR_UNINITIALIZED, NVML_ERROR_DRIVER_NOT_LOADED, NVML_ERROR_LIB_RM_VERSION_MISMATCH]);

interface Device {
  index: number;
  handle: unknown;
  name: string;
  uuid: string | null;
  lost: boolean;
}

class DriverGone extends Error {}

export class NvmlProvider implements GpuProvider {
  readonly kind = 'nvidia' as const;

  private readonly candidates: readonly string[];
  private readonly load: (candidates: readonly string[]) => NvmlLoad;
  private readonly clock: Clock;
  private readonly once: OnceLog;
  private readonly computeAppsIntervalMs: number;
  private readonly wantProcesses: (() => boolean | Promise<boolean>) | undefined;

  private lib: NvmlLibrary | null = null;
  private initialised = false;
  private devices: Device[] = [];
  private state: GpuAvailability = { provider: 'nvidia', available: false, reason: 'NVML has not been started yet.' };
  private intervalMs = 1000;
  private latest: { timestamp: number; gpus: GpuReading[] } | null = null;
  private processes: GpuProcessUsage[] | null = null;
  private processesAt = Number.NEGATIVE_INFINITY;

  // Out-parameters, allocated once: a sample allocates nothing on the library's side.
  private readonly u32 = Buffer.alloc(4);
  private readonly u32b = Buffer.alloc(4);
  private readonly pair = Buffer.alloc(8);
  private readonly mem = Buffer.alloc(24);
  private readonly u64 = Buffer.alloc(8);
  private procs = Buffer.alloc(0);

  constructor(options: NvmlProviderOptions) {
    this.candidates = options.candidates;
    this.load = options.load ?? loadNvml;
    this.clock = options.clock ?? systemClock;
    this.once = new OnceLog(options.onLog ?? (() => {}));
    this.computeAppsIntervalMs = options.computeAppsIntervalMs ?? 5000;
    this.wantProcesses = options.wantProcesses;
  }

  /** Which running-processes call is in use (`_v3`, `_v2`, `(original)`), or null. */
  get processCallVersion(): string | null {
    return this.lib?.computeProcesses?.version ?? null;
  }

  async start(intervalMs: number): Promise<GpuAvailability> {
    if (this.initialised) return this.availability();
    this.intervalMs = Math.max(50, Math.round(Number.isFinite(intervalMs) ? intervalMs : 1000));
    const loaded = this.load(this.candidates);
    if (!loaded.ok) return this.fail(`NVML is not usable: ${loaded.reason}.`);
    const lib = loaded.library;
    this.lib = lib;
    const code = lib.init();
    if (code !== NVML_SUCCESS) {
      this.release();
      return this.fail(`NVML did not start: ${lib.errorString(code)} (nvmlInit_v2 returned ${code}).`);
    }
    this.initialised = true;
    const count = lib.deviceCount(this.u32);
    if (count !== NVML_SUCCESS || this.u32.readUInt32LE(0) === 0) {
      const why = count === NVML_SUCCESS ? 'it lists no GPU' : `${lib.errorString(count)} (nvmlDeviceGetCount_v2 returned ${count})`;
      this.release();
      return this.fail(`NVML started but ${why}.`);
    }
    const n = Math.min(this.u32.readUInt32LE(0), 64);
    const text = Buffer.alloc(NVML_TEXT_BUFFER_SIZE);
    for (let index = 0; index < n; index++) {
      const { code: hc, device: handle } = lib.deviceHandle(index);
      if (hc !== NVML_SUCCESS) {
        // A GPU the driver cannot open now (lost, no permission) is listed, with unknown figures.
        this.once.say(`handle:${index}`, `NVML cannot open GPU ${index}: ${lib.errorString(hc)}; its figures read unknown.`);
        this.devices.push({ index, handle: null, name: `GPU ${index}`, uuid: null, lost: hc === NVML_ERROR_GPU_IS_LOST });
        continue;
      }
      const name = (lib.name(handle, text) === NVML_SUCCESS && cString(text)) || `GPU ${index}`;
      const uuid = (lib.uuid(handle, text) === NVML_SUCCESS && cString(text)) || null;
      this.devices.push({ index, handle, name, uuid, lost: false });
    }
    this.state = { provider: 'nvidia', available: true, reason: null };
    this.once.say('started', `GPU figures come from NVML (${lib.path}, ${n} GPU(s)); no nvidia-smi runs.`);
    return this.availability();
  }

  async read(): Promise<GpuSample | null> {
    if (!this.initialised || !this.lib || !this.state.available) return null;
    const now = this.clock.now();
    try {
      // Asked twice within half an interval (two readers of one tick): one set of library calls.
      if (!this.latest || now - this.latest.timestamp >= this.intervalMs / 2) this.latest = { timestamp: now, gpus: this.sampleGpus() };
      if (this.computeAppsIntervalMs > 0 && now - this.processesAt >= this.computeAppsIntervalMs) {
        this.processesAt = now;
        const wanted = await this.wanted();
        if (!this.lib) return null; // stopped while asking
        this.processes = wanted ? this.sampleProcesses() : null;
      }
    } catch (err) {
      if (!(err instanceof DriverGone)) throw err;
      return null;
    }
    return copyGpuSample(this.latest.timestamp, this.latest.gpus, this.processes);
  }

  availability(): GpuAvailability {
    return { ...this.state };
  }

  async stop(): Promise<void> {
    const wasStarted = this.initialised || this.lib !== null;
    this.release();
    this.latest = null;
    this.processes = null;
    if (wasStarted) this.state = { provider: 'nvidia', available: false, reason: 'GPU monitoring stopped.' };
  }

  private async wanted(): Promise<boolean> {
    try {
      return (await this.wantProcesses?.()) ?? true;
    } catch {
      return true; // when in doubt, measure
    }
  }

  private sampleGpus(): GpuReading[] {
    const lib = this.lib as NvmlLibrary;
    const out: GpuReading[] = [];
    for (const d of this.devices) {
      if (d.lost || d.handle === null) {
        out.push(gpuReading({ index: d.index, uuid: d.uuid, name: d.name }));
        continue;
      }
      const h = d.handle;
      const { u32, pair, mem } = this;
      // Each figure on its own: one the driver does not support reads unknown, the rest stay.
      const util = this.check(d, lib.utilization(h, pair));
      const utilizationPercent = util ? percent(pair.readUInt32LE(0)) : null;
      const memoryUtilizationPercent = util ? percent(pair.readUInt32LE(4)) : null;
      const memOk = this.check(d, lib.memory(h, mem));
      const vramTotalMb = memOk ? u64Mib(mem, 0) : null;
      const vramUsedMb = memOk ? u64Mib(mem, 16) : null;
      // Above 150 °C is a sensor error, not a temperature (as the stream's parser reads it).
      const temperatureCelsius = this.check(d, lib.temperature(h, u32)) && u32.readUInt32LE(0) < 150 ? u32.readUInt32LE(0) : null;
      const powerDrawWatts = this.check(d, lib.powerUsage(h, u32)) ? u32.readUInt32LE(0) / 1000 : null;
      const powerLimitWatts = lib.powerLimit && this.check(d, lib.powerLimit(h, u32)) ? u32.readUInt32LE(0) / 1000 : null;
      const smClockMhz = this.check(d, lib.smClock(h, u32)) ? u32.readUInt32LE(0) : null;
      const smClockMaxMhz = lib.smClockMax && this.check(d, lib.smClockMax(h, u32)) ? u32.readUInt32LE(0) : null;
      // The reasons' bits that matter sit in the low word (as the stream's parser keeps them).
      const clockEventReasons = lib.clockEventReasons && this.check(d, lib.clockEventReasons(h, this.u64)) ? this.u64.readUInt32LE(0) : null;
      let performanceState: string | null = null;
      if (lib.performanceState && this.check(d, lib.performanceState(h, u32))) {
        const p = u32.readInt32LE(0);
        performanceState = p >= 0 && p <= 15 ? `P${p}` : null;
      }
      const mig = lib.migMode !== null && this.check(d, lib.migMode(h, u32, this.u32b)) && u32.readUInt32LE(0) === 1;
      if (d.lost) {
        out.push(gpuReading({ index: d.index, uuid: d.uuid, name: d.name }));
        continue;
      }
      out.push(
        gpuReading({
          index: d.index,
          uuid: d.uuid,
          name: d.name,
          utilizationPercent,
          memoryUtilizationPercent,
          vramUsedMb,
          vramTotalMb,
          temperatureCelsius,
          powerDrawWatts,
          powerLimitWatts,
          smClockMhz,
          smClockMaxMhz,
          clockEventReasons,
          performanceState,
          mig,
        }),
      );
    }
    return out;
  }

  /**
   * Per-process GPU memory of every GPU. The count is asked with the buffer in hand; "insufficient
   * size" says how many there are now, and the buffer grows (a few spare) and the call is repeated.
   */
  private sampleProcesses(): GpuProcessUsage[] | null {
    const lib = this.lib as NvmlLibrary;
    const call = lib.computeProcesses;
    if (!call) {
      this.once.say('no-processes', 'This NVIDIA library has no running-processes call; per-process GPU memory is unknown.');
      return null;
    }
    const out: GpuProcessUsage[] = [];
    for (const d of this.devices) {
      if (d.lost || d.handle === null) continue;
      let code = NVML_ERROR_INSUFFICIENT_SIZE;
      for (let attempt = 0; attempt < 4 && code === NVML_ERROR_INSUFFICIENT_SIZE; attempt++) {
        const capacity = this.procs.length / call.entrySize;
        this.u32.writeUInt32LE(capacity, 0);
        code = call.call(d.handle, this.u32, capacity > 0 ? this.procs : null);
        // The list changed between asking and filling: grow when needed, and ask again.
        const needed = Math.min(MAX_PROCESSES, this.u32.readUInt32LE(0) + 8);
        if (code === NVML_ERROR_INSUFFICIENT_SIZE && needed > capacity) this.procs = Buffer.alloc(needed * call.entrySize);
      }
      if (!this.check(d, code)) {
        if (d.lost) continue;
        this.once.say(`processes:${code}`, `NVML cannot list GPU processes (${lib.errorString(code)}); per-process GPU memory is unknown.`);
        return null;
      }
      const n = Math.min(this.u32.readUInt32LE(0), this.procs.length / call.entrySize);
      for (let i = 0; i < n; i++) {
        const at = i * call.entrySize;
        const lo = this.procs.readUInt32LE(at + 8);
        const hi = this.procs.readUInt32LE(at + 12);
        const usedMemoryMb = lo === ALL_ONES_U32 && hi === ALL_ONES_U32 ? null : Math.floor((hi * 2 ** 32 + lo) / MIB);
        out.push({ pid: this.procs.readUInt32LE(at), gpuUuid: d.uuid, usedMemoryMb });
      }
    }
    return out;
  }

  /** True on success. A lost GPU is marked (and said once); a driver that went away stops the provider. */
  private check(d: Device, code: number): boolean {
    if (code === NVML_SUCCESS) return true;
    const lib = this.lib as NvmlLibrary;
    if (code === NVML_ERROR_GPU_IS_LOST) {
      if (!d.lost) {
        d.lost = true;
        const note = `GPU ${d.index} stopped responding ("GPU is lost"); its figures read unknown. This usually needs a reboot; check \`dmesg\` for Xid errors.`;
        this.once.say(`lost:${d.index}`, note);
        this.state = { provider: 'nvidia', available: true, reason: null, note };
      }
      return false;
    }
    if (FATAL.has(code)) {
      const reason = `NVML stopped answering (${lib.errorString(code)}); GPU figures are paused and retried.`;
      this.once.say(`fatal:${code}`, reason);
      this.release();
      this.fail(reason);
      throw new DriverGone(reason);
    }
    return false;
  }

  private fail(reason: string): GpuAvailability {
    this.state = { provider: 'nvidia', available: false, reason };
    return this.availability();
  }

  /** Shuts NVML down once per successful init and drops the library and every handle. */
  private release(): void {
    const lib = this.lib;
    this.lib = null;
    this.devices = [];
    this.procs = Buffer.alloc(0);
    if (!lib) return;
    if (this.initialised) {
      this.initialised = false;
      lib.shutdown();
    }
    try {
      lib.unload();
    } catch {
      // Unloading is a courtesy; the process keeps working either way.
    }
  }
}

/** A NUL-terminated string from a library buffer, cleaned as the stream cleans names. */
function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return sanitizeText(buf.toString('utf8', 0, end < 0 ? buf.length : end));
}

/** A percentage above 100 is garbage, not a figure. */
function percent(n: number): number | null {
  return n <= 100 ? n : null;
}

/** A little-endian u64 of bytes as whole MiB (nvidia-smi's unit), without BigInt. */
function u64Mib(buf: Buffer, at: number): number {
  return Math.floor((buf.readUInt32LE(at + 4) * 2 ** 32 + buf.readUInt32LE(at)) / MIB);
}
