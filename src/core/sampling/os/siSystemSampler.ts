// macOS and Windows CPU, RAM and disk through systeminformation's asynchronous calls (Linux reads
// /proc directly instead, see procSystemSampler). Also the process-tree sampler for those systems,
// from si.processes(), which is costly (ps / PowerShell), so concurrent calls share one run.
import type { ProcessSampler, ProcessTreeReading, SystemReading, SystemSampler } from '../../ports';
import { OnceLog } from '../../util/onceLog';

/** The slice of systeminformation used here, so tests inject recorded answers. */
export interface SiSystemPort {
  currentLoad(): Promise<{ currentLoad: number }>;
  mem(): Promise<{ total: number; available: number }>;
  fsSize(): Promise<Array<{ mount: string; size: number; used: number; available: number; use: number }>>;
}

export interface SiProcessPort {
  processes(): Promise<{ list: Array<{ pid: number; parentPid: number; cpu: number; memRss: number; state?: string }> }>;
}

const BYTES_PER_MIB = 1024 * 1024;

/** Loads systeminformation only when a non-Linux sampler is actually made. */
async function loadSi(): Promise<SiSystemPort & SiProcessPort> {
  const si = await import('systeminformation');
  return {
    currentLoad: () => si.currentLoad(),
    mem: () => si.mem(),
    fsSize: () => si.fsSize(),
    processes: () => si.processes(),
  };
}

/** The filesystem holding `path`: the mount that is the longest prefix of it (case-blind on Windows). */
export function mountFor<T extends { mount: string }>(filesystems: readonly T[], path: string, platform: NodeJS.Platform): T | null {
  const norm = (p: string): string => {
    const s = platform === 'win32' ? p.replace(/\//g, '\\').toLowerCase() : p;
    return s;
  };
  const target = norm(path);
  let best: T | null = null;
  for (const fs of filesystems) {
    const mount = norm(fs.mount);
    if (!mount) continue;
    const sep = platform === 'win32' ? '\\' : '/';
    const isPrefix = target === mount || target.startsWith(mount.endsWith(sep) ? mount : mount + sep);
    if (isPrefix && (!best || mount.length > norm(best.mount).length)) best = fs;
  }
  return best;
}

function finiteOrNull(n: unknown, min = 0, max = Number.POSITIVE_INFINITY): number | null {
  return typeof n === 'number' && Number.isFinite(n) && n >= min && n <= max ? n : null;
}

export interface SiSystemSamplerOptions {
  diskPath?: string | null;
  platform?: NodeJS.Platform;
  si?: SiSystemPort;
  onLog?: (message: string) => void;
}

export class SiSystemSampler implements SystemSampler {
  private readonly diskPath: string | null;
  private readonly platform: NodeJS.Platform;
  private readonly si: Promise<SiSystemPort>;
  private readonly onLog: (message: string) => void;
  private readonly once: OnceLog;

  constructor(options: SiSystemSamplerOptions = {}) {
    this.diskPath = options.diskPath ?? null;
    this.platform = options.platform ?? process.platform;
    this.si = options.si ? Promise.resolve(options.si) : loadSi();
    this.onLog = options.onLog ?? (() => {});
    this.once = new OnceLog(this.onLog);
  }

  async sample(): Promise<SystemReading> {
    const si = await this.si;
    const [load, mem, disk] = await Promise.all([
      this.guard('cpu', 'CPU %', () => si.currentLoad()),
      this.guard('mem', 'RAM figures', () => si.mem()),
      this.diskPath === null ? Promise.resolve(null) : this.guard('disk', 'disk %', () => si.fsSize()),
    ]);
    const total = finiteOrNull(mem?.total);
    const available = finiteOrNull(mem?.available);
    let diskUsagePercent: number | null = null;
    if (disk && this.diskPath !== null) {
      const fs = mountFor(disk, this.diskPath, this.platform);
      if (!fs) this.once.say('disk-mount', `No mounted filesystem holds ${this.diskPath}; disk % is unknown.`);
      diskUsagePercent = fs ? finiteOrNull(fs.use, 0, 100) : null;
    }
    return {
      cpuUsagePercent: finiteOrNull(load?.currentLoad, 0, 100),
      ramTotalMb: total !== null ? total / BYTES_PER_MIB : null,
      ramAvailableMb: available !== null ? available / BYTES_PER_MIB : null,
      // si's own `used` counts file cache as used; total - available matches what the OS calls in use.
      ramUsedMb: total !== null && available !== null && available <= total ? (total - available) / BYTES_PER_MIB : null,
      diskUsagePercent,
    };
  }

  private async guard<T>(kind: string, what: string, call: () => Promise<T>): Promise<T | null> {
    try {
      return await call();
    } catch (err) {
      this.once.say(kind, `systeminformation could not read ${what} (${err instanceof Error ? err.message : String(err)}); it is unknown.`);
      return null;
    }
  }

}

export interface SiProcessSamplerOptions {
  si?: SiProcessPort;
  onLog?: (message: string) => void;
}

/** Process trees on macOS and Windows. si reports CPU per process already as a percentage. */
export class SiProcessSampler implements ProcessSampler {
  private readonly si: Promise<SiProcessPort>;
  private readonly onLog: (message: string) => void;
  private inFlight: ReturnType<SiProcessPort['processes']> | null = null;
  private failedOnce = false;

  constructor(options: SiProcessSamplerOptions = {}) {
    this.si = options.si ? Promise.resolve(options.si) : loadSi();
    this.onLog = options.onLog ?? (() => {});
  }

  async sampleTree(rootPid: number): Promise<ProcessTreeReading | null> {
    let list: Awaited<ReturnType<SiProcessPort['processes']>>['list'];
    try {
      list = (await this.processes()).list;
    } catch (err) {
      if (!this.failedOnce) this.onLog(`Could not list processes (${err instanceof Error ? err.message : String(err)}); task RAM and CPU are unknown.`);
      this.failedOnce = true;
      return null;
    }
    const byParent = new Map<number, typeof list>();
    for (const p of list) {
      const kids = byParent.get(p.parentPid);
      if (kids) kids.push(p);
      else byParent.set(p.parentPid, [p]);
    }
    const root = list.find((p) => p.pid === rootPid);
    if (!root) return null;
    const tree = [root];
    const seen = new Set([root.pid]);
    for (let i = 0; i < tree.length; i++) {
      for (const kid of byParent.get((tree[i] as (typeof list)[number]).pid) ?? []) {
        if (!seen.has(kid.pid)) {
          seen.add(kid.pid);
          tree.push(kid);
        }
      }
    }
    const cpu = tree.map((p) => finiteOrNull(p.cpu));
    return {
      rootPid,
      pids: tree.map((p) => p.pid).sort((a, b) => a - b),
      // memRss is in KiB.
      rssMb: tree.reduce((sum, p) => sum + (finiteOrNull(p.memRss) ?? 0), 0) / 1024,
      cpuPercent: cpu.every((c) => c === null) ? null : cpu.reduce<number>((s, c) => s + (c ?? 0), 0),
    };
  }

  private processes(): ReturnType<SiProcessPort['processes']> {
    if (this.inFlight) return this.inFlight;
    this.inFlight = this.si.then((si) => si.processes()).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }
}
