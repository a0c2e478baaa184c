// Linux CPU, RAM and disk read straight from /proc and statfs: no shell, no child process, a few
// async reads per sample. CPU % is the busy share of the jiffies between two reads of /proc/stat.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { SystemReading, SystemSampler } from '../../ports';
import { OnceLog, errnoCode } from '../../util/onceLog';
import { ProcFile } from './procFile';
import { skipBlanks, skipDigits } from '../../util/scan';

/** The statfs fields used, so tests can inject a fake filesystem. */
export interface StatfsResult {
  /** Total data blocks. */
  blocks: number;
  /** Free blocks (including those reserved for root). */
  bfree: number;
  /** Free blocks an unprivileged user may use. */
  bavail: number;
}

export interface ProcSystemSamplerOptions {
  /** Where /proc lives; tests point this at a fixture directory. */
  procRoot?: string;
  /** A path on the filesystem whose fullness is reported (the workspace folder); null for none. */
  diskPath?: string | null;
  statfs?: (path: string) => Promise<StatfsResult>;
  /** Told once per kind of failure (a missing file, an unreadable disk), with its cause. */
  onLog?: (message: string) => void;
  /**
   * How long a disk reading is reused (default 10000 ms): a disk fills over minutes, and statfs
   * through the thread pool each second was a measurable part of an idle engine's CPU.
   */
  diskEveryMs?: number;
  /** Monotonic milliseconds, for the disk reading's age. */
  nowMs?: () => number;
}

const DEFAULT_DISK_EVERY_MS = 10_000;

/** Cumulative jiffies from the aggregate `cpu` line of /proc/stat. */
export interface CpuTimes {
  totalTicks: number;
  idleTicks: number;
}

/**
 * Parses the aggregate `cpu ` line. Busy = user + nice + system + irq + softirq + steal; idle =
 * idle + iowait. guest and guest_nice are already inside user and nice, so they are not added again.
 */
export function parseProcStat(text: string): CpuTimes | null {
  // The aggregate line comes first on Linux; only that line is split (not the whole text, per sample).
  const start = text.startsWith('cpu ') ? 0 : text.indexOf('\ncpu ') + 1;
  if (start === 0 && !text.startsWith('cpu ')) return null;
  const end = text.indexOf('\n', start);
  const line = end < 0 ? text.slice(start) : text.slice(start, end);
  const values = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (values.length < 4 || values.some((v) => !Number.isFinite(v) || v < 0)) return null;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = values;
  return { totalTicks: user + nice + system + idle + iowait + irq + softirq + steal, idleTicks: idle + iowait };
}

/** Busy percent between two readings, or null when no time passed or the counters went backwards. */
export function cpuPercentBetween(prev: CpuTimes, next: CpuTimes): number | null {
  const total = next.totalTicks - prev.totalTicks;
  const idle = next.idleTicks - prev.idleTicks;
  if (total <= 0 || idle < 0 || idle > total) return null;
  return Math.min(100, Math.max(0, ((total - idle) / total) * 100));
}

export interface MemInfo {
  ramTotalMb: number | null;
  ramAvailableMb: number | null;
  ramUsedMb: number | null;
}

const KIB_PER_MIB = 1024;

/**
 * Parses /proc/meminfo (kB values). "Used" is total minus MemAvailable, the figure `free` and the
 * kernel consider in use (page cache that can be dropped is not). Kernels before 3.14 lack
 * MemAvailable: used and available are then unknown rather than guessed.
 */
export function parseMeminfo(text: string): MemInfo {
  const total = meminfoKib(text, 'MemTotal');
  const available = meminfoKib(text, 'MemAvailable');
  const ramTotalMb = total !== null ? total / KIB_PER_MIB : null;
  const ramAvailableMb = available !== null ? available / KIB_PER_MIB : null;
  const ramUsedMb = total !== null && available !== null && available <= total ? (total - available) / KIB_PER_MIB : null;
  return { ramTotalMb, ramAvailableMb, ramUsedMb };
}

/**
 * The value of `key` at the start of a meminfo line (`MemTotal:       24684092 kB`), or null when
 * the line is missing or is not whitespace, digits, whitespace, `kB`. A scan, not a RegExp built
 * per call: this runs every second.
 */
function meminfoKib(text: string, key: string): number | null {
  const head = `${key}:`;
  let i = text.startsWith(head) ? 0 : text.indexOf(`\n${head}`) + 1;
  if (i === 0 && !text.startsWith(head)) return null;
  i += head.length;
  const digitStart = skipBlanks(text, i);
  if (digitStart === i) return null;
  const digitEnd = skipDigits(text, digitStart);
  if (digitEnd === digitStart) return null;
  return text.startsWith('kB', skipBlanks(text, digitEnd)) ? Number(text.slice(digitStart, digitEnd)) : null;
}

/** Used share as `df` shows it: blocks in use over blocks a user could ever use. */
export function diskPercentFromStatfs(s: StatfsResult): number | null {
  const used = s.blocks - s.bfree;
  const usable = used + s.bavail;
  if (!(s.blocks > 0) || usable <= 0 || used < 0) return null;
  return Math.min(100, (used / usable) * 100);
}

export class ProcSystemSampler implements SystemSampler {
  private readonly procRoot: string;
  private readonly diskPath: string | null;
  private readonly statfs: (path: string) => Promise<StatfsResult>;
  private readonly once: OnceLog;
  /** The reading the next CPU delta is taken against; starts as a baseline read at construction. */
  private previousCpu: Promise<CpuTimes | null>;
  private readonly statFile: ProcFile;
  private readonly meminfoFile: ProcFile;
  private readonly diskEveryMs: number;
  private readonly nowMs: () => number;
  /** The last disk reading (or the one in flight) and when it was asked for. */
  private disk: { atMs: number; value: Promise<number | null> } | null = null;

  constructor(options: ProcSystemSamplerOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.diskPath = options.diskPath ?? null;
    this.statfs = options.statfs ?? ((p) => fsp.statfs(p));
    this.once = new OnceLog(options.onLog ?? (() => {}));
    this.diskEveryMs = options.diskEveryMs ?? DEFAULT_DISK_EVERY_MS;
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.statFile = new ProcFile(join(this.procRoot, 'stat'));
    this.meminfoFile = new ProcFile(join(this.procRoot, 'meminfo'));
    // Taken now so the first sample() already has a delta to report.
    this.previousCpu = this.readCpu();
  }

  async sample(): Promise<SystemReading> {
    const [prev, cpu, mem, disk] = await Promise.all([this.previousCpu, this.readCpu(), this.readMem(), this.readDisk()]);
    if (cpu) this.previousCpu = Promise.resolve(cpu);
    return {
      cpuUsagePercent: prev && cpu ? cpuPercentBetween(prev, cpu) : null,
      ramUsedMb: mem.ramUsedMb,
      ramAvailableMb: mem.ramAvailableMb,
      ramTotalMb: mem.ramTotalMb,
      diskUsagePercent: disk,
    };
  }

  private async readCpu(): Promise<CpuTimes | null> {
    const path = this.statFile.path;
    try {
      const times = parseProcStat(this.statFile.readNow() ?? (await this.statFile.readPrefix()));
      if (!times) this.once.say('cpu-parse', `${path} has no aggregate cpu line; CPU % is unknown.`);
      return times;
    } catch (err) {
      this.once.say('cpu-read', `Could not read ${path} (${errnoCode(err)}); CPU % is unknown.`);
      return null;
    }
  }

  private async readMem(): Promise<MemInfo> {
    const path = this.meminfoFile.path;
    try {
      const mem = parseMeminfo(this.meminfoFile.readNow() ?? (await this.meminfoFile.readPrefix()));
      if (mem.ramUsedMb === null) this.once.say('mem-parse', `${path} lacks MemTotal or MemAvailable; RAM use is unknown.`);
      return mem;
    } catch (err) {
      this.once.say('mem-read', `Could not read ${path} (${errnoCode(err)}); RAM figures are unknown.`);
      return { ramTotalMb: null, ramAvailableMb: null, ramUsedMb: null };
    }
  }

  /** Closes the /proc files kept open between samples. */
  dispose(): void {
    this.statFile.close();
    this.meminfoFile.close();
  }

  /** The disk's fullness, read again once the last reading is diskEveryMs old. */
  private readDisk(): Promise<number | null> {
    const now = this.nowMs();
    if (this.disk === null || now - this.disk.atMs >= this.diskEveryMs) this.disk = { atMs: now, value: this.statDisk() };
    return this.disk.value;
  }

  private async statDisk(): Promise<number | null> {
    if (this.diskPath === null) return null;
    try {
      return diskPercentFromStatfs(await this.statfs(this.diskPath));
    } catch (err) {
      this.once.say('disk', `Could not read disk usage of ${this.diskPath} (${errnoCode(err)}); disk % is unknown.`);
      return null;
    }
  }

}

