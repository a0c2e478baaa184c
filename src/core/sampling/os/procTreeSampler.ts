// Linux RAM and CPU of a task's whole process tree, read from /proc without a shell. Descendants
// come from /proc/PID/task/*/children where the kernel has it (CONFIG_PROC_CHILDREN), else from one
// scan of every /proc/*/stat per sample; CPU % comes from utime+stime tick deltas between samples.
// The /proc files are read synchronously: procfs text is generated in memory (no disk to wait
// for), and a tree of a few processes means a dozen small files per sample, each of which costs
// five thread-pool round trips through fs/promises (open, fstat, read, read, close) against one
// system call here.
import { readdirSync, readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import type { ProcessSampler, ProcessTreeReading } from '../../ports';
import { OnceLog, errnoCode } from '../../util/onceLog';

/** Architectures whose auxiliary vector holds 8-byte entries. */
const SIXTY_FOUR_BIT_ARCHES = new Set(['x64', 'arm64', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el']);

export interface ProcTreeSamplerOptions {
  /** Where /proc lives; tests point this at a fixture directory. */
  procRoot?: string;
  /** USER_HZ, the unit of utime/stime. 100 on every mainstream Linux; reading it needs a spawn. */
  ticksPerSecond?: number;
  /** Monotonic milliseconds, for the time between two samples. */
  nowMs?: () => number;
  /** 'auto' uses children files when present; tests force one strategy. */
  strategy?: 'auto' | 'children' | 'scan';
  /** Told once per kind of failure, with its cause. */
  onLog?: (message: string) => void;
  /**
   * How often the tree's membership is looked for again (default 5000 ms). In between, only the
   * known members' stat and status are read: finding descendants costs a read of every thread's
   * children file, or of every process's stat on kernels without those files.
   */
  rescanMs?: number;
}

/** The fields of /proc/PID/stat this sampler needs. */
export interface PidStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  utimeTicks: number;
  stimeTicks: number;
  /** Ticks after boot at which the process started: tells a reused pid from the original. */
  startTicks: number;
}

/**
 * Parses /proc/PID/stat. The command name sits in parentheses and may itself hold spaces and
 * parentheses, so the fields are counted from the last `)`.
 */
export function parsePidStat(text: string): PidStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state); field n is rest[n - 3].
  if (!Number.isInteger(pid) || pid <= 0 || rest.length < 20) return null;
  const ppid = Number(rest[1]);
  const utimeTicks = Number(rest[11]);
  const stimeTicks = Number(rest[12]);
  const startTicks = Number(rest[19]);
  if (![ppid, utimeTicks, stimeTicks, startTicks].every((n) => Number.isFinite(n) && n >= 0)) return null;
  return { pid, comm: text.slice(open + 1, close), state: rest[0] ?? '?', ppid, utimeTicks, stimeTicks, startTicks };
}

/**
 * The resident set of /proc/PID/statm (its second field, in pages) in kB: the same figure as
 * status's VmRSS, from a line of a few numbers instead of a page of text the kernel formats. Null
 * for anything else.
 */
export function parseStatmRssKb(text: string, pageKb: number): number | null {
  const first = text.indexOf(' ');
  if (first < 0) return null;
  const second = text.indexOf(' ', first + 1);
  const field = text.slice(first + 1, second < 0 ? undefined : second).trim();
  if (!/^\d{1,15}$/.test(field)) return null;
  return Number(field) * pageKb;
}

/**
 * The page size in kB from an auxiliary vector (/proc/self/auxv: native-endian pairs of type and
 * value, 8 bytes each on 64-bit systems; AT_PAGESZ is type 6), or null when it is not there or is
 * not a power of two from 4 to 1024 kB.
 */
export function pageKbFromAuxv(auxv: Buffer, littleEndian: boolean): number | null {
  for (let i = 0; i + 16 <= auxv.length; i += 16) {
    const type = littleEndian ? auxv.readBigUInt64LE(i) : auxv.readBigUInt64BE(i);
    if (type === 0n) break; // AT_NULL ends the vector
    if (type !== 6n) continue;
    const bytes = Number(littleEndian ? auxv.readBigUInt64LE(i + 8) : auxv.readBigUInt64BE(i + 8));
    const kb = bytes / 1024;
    return Number.isInteger(kb) && kb >= 4 && kb <= 1024 && (kb & (kb - 1)) === 0 ? kb : null;
  }
  return null;
}

/** VmRSS of /proc/PID/status in kB; null for kernel threads and zombies, which have none. */
export function parseStatusRssKb(text: string): number | null {
  const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(text);
  return m ? Number(m[1]) : null;
}

interface TreeState {
  atMs: number;
  /** Total ticks per `pid:startTicks`, so a reused pid is not taken for the old process. */
  ticksByKey: Map<string, number>;
  /** When the members were last found by walking the tree. */
  membersAtMs: number;
}

export class ProcTreeSampler implements ProcessSampler {
  private readonly procRoot: string;
  private readonly ticksPerSecond: number;
  private readonly nowMs: () => number;
  private readonly rescanMs: number;
  private readonly once: OnceLog;
  private strategy: 'auto' | 'children' | 'scan';
  private readonly previous = new Map<number, TreeState>();
  private used: 'children' | 'scan' | null = null;

  /** How the last tree was found (for the log and tests); null before the first sample. */
  get lastStrategy(): 'children' | 'scan' | null {
    return this.used;
  }

  constructor(options: ProcTreeSamplerOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.ticksPerSecond = options.ticksPerSecond ?? 100;
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.strategy = options.strategy ?? 'auto';
    this.once = new OnceLog(options.onLog ?? (() => {}));
    this.rescanMs = options.rescanMs ?? 5000;
  }

  /** Page size in kB for statm (null: read status instead); undefined until first needed. */
  private pageKb: number | null | undefined = undefined;

  async sampleTree(rootPid: number): Promise<ProcessTreeReading | null> {
    if (!Number.isInteger(rootPid) || rootPid <= 0) return null;
    const atMs = this.nowMs();
    const root = await this.readStat(rootPid);
    if (!root || root.state === 'Z' || root.state === 'X') {
      // The task ended: forget its history so a later process with the same pid starts afresh.
      this.previous.delete(rootPid);
      return null;
    }

    const prev = this.previous.get(rootPid);
    const rescan = !prev || atMs - prev.membersAtMs >= this.rescanMs;
    const stats = rescan ? await this.collectTree(root) : await this.knownMembers(root, prev);
    const live = stats.filter((s) => s.state !== 'Z' && s.state !== 'X');
    const rssKb = await Promise.all(live.map((s) => this.readRssKb(s.pid)));

    const ticksByKey = new Map<string, number>();
    for (const s of live) ticksByKey.set(`${s.pid}:${s.startTicks}`, s.utimeTicks + s.stimeTicks);
    this.previous.set(rootPid, { atMs, ticksByKey, membersAtMs: rescan ? atMs : (prev as TreeState).membersAtMs });

    let cpuPercent: number | null = null;
    if (prev && atMs > prev.atMs) {
      let deltaTicks = 0;
      for (const [key, ticks] of ticksByKey) {
        // A process new to the tree started after the last sample: all its ticks fall inside it.
        const before = prev.ticksByKey.get(key) ?? 0;
        deltaTicks += Math.max(0, ticks - before);
      }
      const seconds = (atMs - prev.atMs) / 1000;
      cpuPercent = (deltaTicks / this.ticksPerSecond / seconds) * 100;
    }

    return {
      rootPid,
      pids: live.map((s) => s.pid).sort((a, b) => a - b),
      // Summed RSS counts pages shared between forked workers more than once; PSS would not, but
      // /proc/PID/smaps_rollup costs far more to read every second.
      rssMb: rssKb.reduce<number>((sum, kb) => sum + (kb ?? 0), 0) / 1024,
      cpuPercent,
    };
  }

  /** The members found by the last walk that still exist as the same processes (pid and start time). */
  private async knownMembers(root: PidStat, prev: TreeState): Promise<PidStat[]> {
    const others = [...prev.ticksByKey.keys()].map((k) => Number(k.slice(0, k.indexOf(':')))).filter((pid) => pid !== root.pid);
    const stats = await Promise.all(others.map((pid) => this.readStat(pid)));
    return [root, ...stats.filter((s): s is PidStat => s !== null && prev.ticksByKey.has(`${s.pid}:${s.startTicks}`))];
  }

  private async collectTree(root: PidStat): Promise<PidStat[]> {
    if (this.strategy !== 'scan') {
      const viaChildren = await this.collectViaChildren(root);
      if (viaChildren) {
        this.used = 'children';
        return viaChildren;
      }
      // Decided once under 'auto': a kernel without children files will not grow them.
      if (this.strategy === 'auto') this.strategy = 'scan';
      else this.once.say('children', `${this.procRoot}/PID/task/*/children is missing; scanning ${this.procRoot} instead.`);
    }
    this.used = 'scan';
    return this.collectViaScan(root);
  }

  /** Walks the tree through children files; null when this kernel does not provide them. */
  private async collectViaChildren(root: PidStat): Promise<PidStat[] | null> {
    const out: PidStat[] = [root];
    const seen = new Set<number>([root.pid]);
    let frontier: PidStat[] = [root];
    let first = true;
    while (frontier.length > 0) {
      const childPids: number[] = [];
      for (const parent of frontier) {
        const kids = await this.readChildren(parent.pid);
        if (kids === null) {
          if (first) return null;
          continue; // The parent exited while we walked; its children were reparented.
        }
        first = false;
        for (const k of kids) {
          if (!seen.has(k)) {
            seen.add(k);
            childPids.push(k);
          }
        }
      }
      const stats = await Promise.all(childPids.map((p) => this.readStat(p)));
      frontier = stats.filter((s): s is PidStat => s !== null);
      out.push(...frontier);
    }
    return out;
  }

  private async readChildren(pid: number): Promise<number[] | null> {
    const taskDir = join(this.procRoot, String(pid), 'task');
    let tids: string[];
    try {
      tids = readdirSync(taskDir);
    } catch {
      return null;
    }
    const lists = tids.map((tid) => {
      try {
        return readFileSync(join(taskDir, tid, 'children'), 'utf8');
      } catch {
        return null;
      }
    });
    if (lists.every((l) => l === null)) return null;
    return lists
      .flatMap((l) => (l ?? '').trim().split(/\s+/))
      .filter((t) => /^\d+$/.test(t))
      .map(Number);
  }

  /** One readdir and one stat read per process; the ppid links then give the tree. */
  private async collectViaScan(root: PidStat): Promise<PidStat[]> {
    let entries: string[];
    try {
      entries = readdirSync(this.procRoot);
    } catch (err) {
      this.once.say('scan', `Could not list ${this.procRoot} (${errnoCode(err)}); process figures cover the root only.`);
      return [root];
    }
    const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number);
    const stats = await Promise.all(pids.map((p) => (p === root.pid ? Promise.resolve(root) : this.readStat(p))));
    const byParent = new Map<number, PidStat[]>();
    for (const s of stats) {
      if (!s) continue;
      const list = byParent.get(s.ppid);
      if (list) list.push(s);
      else byParent.set(s.ppid, [s]);
    }
    const out: PidStat[] = [root];
    const seen = new Set<number>([root.pid]);
    for (let i = 0; i < out.length; i++) {
      for (const child of byParent.get((out[i] as PidStat).pid) ?? []) {
        if (seen.has(child.pid)) continue;
        seen.add(child.pid);
        out.push(child);
      }
    }
    return out;
  }

  private async readStat(pid: number): Promise<PidStat | null> {
    try {
      return parsePidStat(readFileSync(join(this.procRoot, String(pid), 'stat'), 'utf8'));
    } catch {
      return null; // Gone between listing and reading: normal churn, not worth a log line.
    }
  }

  private async readRssKb(pid: number): Promise<number | null> {
    const pageKb = this.statmPageKb();
    try {
      if (pageKb !== null) return parseStatmRssKb(readFileSync(join(this.procRoot, String(pid), 'statm'), 'latin1'), pageKb);
      return parseStatusRssKb(readFileSync(join(this.procRoot, String(pid), 'status'), 'utf8'));
    } catch {
      return null;
    }
  }

  /**
   * The page size when RSS can be read from statm (decided once: this /proc has the page size in
   * self/auxv on a 64-bit system), else null and status is read (a recorded /proc, 32-bit systems).
   */
  private statmPageKb(): number | null {
    if (this.pageKb === undefined) {
      this.pageKb = null;
      if (SIXTY_FOUR_BIT_ARCHES.has(process.arch)) {
        try {
          this.pageKb = pageKbFromAuxv(readFileSync(join(this.procRoot, 'self', 'auxv')), endianness() === 'LE');
        } catch {
          // No auxv here (a recorded /proc): status it is.
        }
      }
    }
    return this.pageKb;
  }

}

