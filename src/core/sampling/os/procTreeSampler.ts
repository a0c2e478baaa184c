// Linux RAM and CPU of a task's whole process tree, read from /proc without a shell. Descendants
// come from /proc/PID/task/*/children where the kernel has it (CONFIG_PROC_CHILDREN), else from one
// scan of every /proc/*/stat per sample; CPU % comes from utime+stime tick deltas between samples.
// The /proc files are read synchronously: procfs text is generated in memory (no disk to wait
// for), and through fs/promises each small file costs five thread-pool round trips (open, fstat,
// read, read, close). Each member's stat and statm stay open and are read again from offset 0: a
// followed tree costs two system calls per process each second.
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import type { ProcessSampler, ProcessTreeReading } from '../../ports';
import { OnceLog, errnoCode } from '../../util/onceLog';
import { skipBlanks, skipDigits } from '../../util/scan';
import { onProcfsSync, rereadProcText } from './procFile';

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
   * known members' stat and statm are read: finding descendants costs a read of every thread's
   * children file (a PyTorch process has dozens of threads), or of every process's stat on
   * kernels without those files. While walks find the same members the wait doubles, up to
   * rescanMaxMs; a change, or a member gone, brings it back to rescanMs.
   */
  rescanMs?: number;
  /** The longest wait between two walks of a tree whose members stay the same (default 20000 ms). */
  rescanMaxMs?: number;
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

/** Fields of /proc/PID/stat (numbered from 1, as proc(5) does) read by parsePidStat. */
const FIELD_PPID = 4;
const FIELD_UTIME = 14;
const FIELD_STIME = 15;
const FIELD_STARTTIME = 22;

/**
 * Parses /proc/PID/stat. The command name sits in parentheses and may itself hold spaces and
 * parentheses, so the fields are counted from the last `)`. A scan that slices only the numbers
 * it keeps: this runs for every process of every followed tree each second.
 */
export function parsePidStat(text: string): PidStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pidText = text.slice(0, open).trim();
  const pid = Number(pidText);
  if (pidText === '' || !Number.isInteger(pid) || pid <= 0) return null;
  let state = '';
  let ppid = -1;
  let utimeTicks = -1;
  let stimeTicks = -1;
  let startTicks = -1;
  let i = close + 1;
  for (let field = 3; field <= FIELD_STARTTIME; field++) {
    const start = skipBlanks(text, i);
    let end = start;
    while (end < text.length && text.charCodeAt(end) > 0x20) end++;
    if (end === start) break; // the line ended
    i = end;
    if (field === 3) {
      state = text.slice(start, end);
      continue;
    }
    if (field !== FIELD_PPID && field !== FIELD_UTIME && field !== FIELD_STIME && field !== FIELD_STARTTIME) continue;
    // Counters are unsigned decimals; anything else (a sign, a letter) makes the line unreadable.
    if (skipDigits(text, start) !== end) return null;
    const value = Number(text.slice(start, end));
    if (field === FIELD_PPID) ppid = value;
    else if (field === FIELD_UTIME) utimeTicks = value;
    else if (field === FIELD_STIME) stimeTicks = value;
    else startTicks = value;
  }
  if (ppid < 0 || utimeTicks < 0 || stimeTicks < 0 || startTicks < 0) return null;
  return { pid, comm: text.slice(open + 1, close), state: state || '?', ppid, utimeTicks, stimeTicks, startTicks };
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

/** One member of a walked tree, as last read. */
interface Member {
  startTicks: number;
  ticks: number;
}

interface TreeState {
  atMs: number;
  /** Ticks per pid; a member whose start time changed is a reused pid, not the old process. */
  members: Map<number, Member>;
  /** When the members were last found by walking the tree. */
  membersAtMs: number;
  /** How long after membersAtMs the next walk is due. */
  rescanEveryMs: number;
}

/** At most this many processes' files are kept open (a tree of a few hundred workers reads the rest afresh). */
const MAX_KEPT_PROCESSES = 256;
/** A root not sampled for this long (its task ended) is forgotten, and its members' descriptors closed. */
const FORGET_ROOT_AFTER_MS = 60_000;
/** /proc/PID/stat is about 300 bytes (a 16-byte command name and 50 numbers), statm about 40. */
const PROC_BUFFER_BYTES = 4096;

/** The per-process files read each sample; RSS comes from statm, exact where stat's rss field is not. */
type PidFile = 'stat' | 'statm';

/** A tree member's open descriptors (null: not open, or failed and to be opened again). */
interface KeptFiles {
  stat: number | null;
  statm: number | null;
}

export class ProcTreeSampler implements ProcessSampler {
  private readonly procRoot: string;
  private readonly ticksPerSecond: number;
  private readonly nowMs: () => number;
  private readonly rescanMs: number;
  private readonly rescanMaxMs: number;
  private treeWalks = 0;
  private readonly once: OnceLog;
  private strategy: 'auto' | 'children' | 'scan';
  private readonly previous = new Map<number, TreeState>();
  private used: 'children' | 'scan' | null = null;
  /**
   * Open stat and statm descriptors of tree members, read again from offset 0 each sample: one
   * system call per file instead of open, fstat, read, read, close. Only on procfs (decided once):
   * a recorded /proc's files are read afresh. A descriptor outlives nothing it names: once the
   * process exits its reads fail with ESRCH, even if the pid is reused.
   */
  private readonly kept = new Map<number, KeptFiles>();
  private onProcfs: boolean | undefined = undefined;
  private readonly buffer = Buffer.allocUnsafe(PROC_BUFFER_BYTES);
  /** Page size in kB for stat's rss field (null: read status instead); undefined until first needed. */
  private pageKb: number | null | undefined = undefined;

  /** How the last tree was found (for the log and tests); null before the first sample. */
  get lastStrategy(): 'children' | 'scan' | null {
    return this.used;
  }

  /** How many times a tree's members were looked for (tests). */
  get walks(): number {
    return this.treeWalks;
  }

  /** How many per-process descriptors are open now (tests). */
  get keptDescriptors(): number {
    let n = 0;
    for (const files of this.kept.values()) n += (files.stat === null ? 0 : 1) + (files.statm === null ? 0 : 1);
    return n;
  }

  constructor(options: ProcTreeSamplerOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.ticksPerSecond = options.ticksPerSecond ?? 100;
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.strategy = options.strategy ?? 'auto';
    this.once = new OnceLog(options.onLog ?? (() => {}));
    this.rescanMs = options.rescanMs ?? 5000;
    this.rescanMaxMs = Math.max(this.rescanMs, options.rescanMaxMs ?? 20_000);
  }

  // Synchronous inside (procfs text is generated in memory: see the file's head); a promise at the port.
  async sampleTree(rootPid: number): Promise<ProcessTreeReading | null> {
    return this.sampleTreeNow(rootPid);
  }

  /** Closes every kept descriptor. The sampler still works afterwards (it opens them again). */
  dispose(): void {
    for (const files of this.kept.values()) closeFiles(files);
    this.kept.clear();
  }

  private sampleTreeNow(rootPid: number): ProcessTreeReading | null {
    if (!Number.isInteger(rootPid) || rootPid <= 0) return null;
    const atMs = this.nowMs();
    const root = this.readStat(rootPid);
    if (!root || root.state === 'Z' || root.state === 'X') {
      // The task ended: forget its history so a later process with the same pid starts afresh.
      if (this.previous.delete(rootPid)) this.sweep(atMs);
      return null;
    }

    const prev = this.previous.get(rootPid);
    const rescanEveryMs = prev?.rescanEveryMs ?? this.rescanMs;
    const rescan = !prev || atMs - prev.membersAtMs >= rescanEveryMs;
    if (rescan) this.treeWalks++;
    const stats = rescan ? this.collectTree(root) : this.knownMembers(root, prev);
    const pageKb = this.rssPageKb();
    const members = new Map<number, Member>();
    const pids: number[] = [];
    let rssKb = 0;
    let deltaTicks = 0;
    for (const s of stats) {
      if (s.state === 'Z' || s.state === 'X') continue;
      const ticks = s.utimeTicks + s.stimeTicks;
      members.set(s.pid, { startTicks: s.startTicks, ticks });
      pids.push(s.pid);
      // Summed RSS counts pages shared between forked workers more than once; PSS would not, but
      // /proc/PID/smaps_rollup costs far more to read every second.
      rssKb += this.readRssKb(s.pid, pageKb) ?? 0;
      if (prev) {
        // A process new to the tree started after the last sample: all its ticks fall inside it.
        const before = prev.members.get(s.pid);
        deltaTicks += Math.max(0, ticks - (before !== undefined && before.startTicks === s.startTicks ? before.ticks : 0));
      }
    }
    // A walk that found the same members waits twice as long for the next; a change brings the
    // wait back, and a member gone (a worker replaced, often) has the next sample walk at once.
    let membersAtMs = atMs;
    let nextEveryMs = this.rescanMs;
    if (prev && rescan && sameMembers(prev.members, members)) nextEveryMs = Math.min(this.rescanMaxMs, rescanEveryMs * 2);
    else if (prev && !rescan) {
      membersAtMs = members.size === prev.members.size ? prev.membersAtMs : Number.NEGATIVE_INFINITY;
      nextEveryMs = members.size === prev.members.size ? rescanEveryMs : this.rescanMs;
    }
    this.previous.set(rootPid, { atMs, members, membersAtMs, rescanEveryMs: nextEveryMs });
    if (rescan) this.sweep(atMs);

    let cpuPercent: number | null = null;
    if (prev && atMs > prev.atMs) cpuPercent = (deltaTicks / this.ticksPerSecond / ((atMs - prev.atMs) / 1000)) * 100;
    return { rootPid, pids: pids.sort((a, b) => a - b), rssMb: rssKb / 1024, cpuPercent };
  }

  /**
   * Forgets roots not sampled for a minute (their tasks ended) and closes the descriptors of
   * processes no remembered tree holds. Runs when membership may have changed (a walk, a root gone).
   */
  private sweep(atMs: number): void {
    for (const [root, state] of this.previous) if (atMs - state.atMs > FORGET_ROOT_AFTER_MS) this.previous.delete(root);
    for (const [pid, files] of this.kept) {
      let held = false;
      for (const state of this.previous.values()) {
        if (state.members.has(pid)) {
          held = true;
          break;
        }
      }
      if (!held) {
        closeFiles(files);
        this.kept.delete(pid);
      }
    }
  }

  /** The members found by the last walk that still exist as the same processes (pid and start time). */
  private knownMembers(root: PidStat, prev: TreeState): PidStat[] {
    const out: PidStat[] = [root];
    for (const [pid, member] of prev.members) {
      if (pid === root.pid) continue;
      const s = this.readStat(pid);
      if (s !== null && s.startTicks === member.startTicks) out.push(s);
    }
    return out;
  }

  private collectTree(root: PidStat): PidStat[] {
    if (this.strategy !== 'scan') {
      const viaChildren = this.collectViaChildren(root);
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
  private collectViaChildren(root: PidStat): PidStat[] | null {
    const out: PidStat[] = [root];
    const seen = new Set<number>([root.pid]);
    let frontier: PidStat[] = [root];
    let first = true;
    while (frontier.length > 0) {
      const next: PidStat[] = [];
      for (const parent of frontier) {
        const kids = this.readChildren(parent.pid);
        if (kids === null) {
          if (first) return null;
          continue; // The parent exited while we walked; its children were reparented.
        }
        first = false;
        for (const k of kids) {
          if (seen.has(k)) continue;
          seen.add(k);
          const s = this.readStat(k);
          if (s !== null) next.push(s);
        }
      }
      frontier = next;
      out.push(...next);
    }
    return out;
  }

  /** The children of every thread of `pid`; null when the kernel has no children files. */
  private readChildren(pid: number): number[] | null {
    const taskDir = join(this.procRoot, String(pid), 'task');
    let tids: string[];
    try {
      tids = readdirSync(taskDir);
    } catch {
      return null;
    }
    let any = false;
    const kids: number[] = [];
    for (const tid of tids) {
      let list: string;
      try {
        list = readFileSync(join(taskDir, tid, 'children'), 'latin1');
      } catch {
        continue;
      }
      any = true;
      for (const t of list.split(' ')) {
        const token = t.trim();
        if (token !== '' && skipDigits(token, 0) === token.length) kids.push(Number(token));
      }
    }
    return any ? kids : null;
  }

  /** One readdir and one stat read per process; the ppid links then give the tree. */
  private collectViaScan(root: PidStat): PidStat[] {
    let entries: string[];
    try {
      entries = readdirSync(this.procRoot);
    } catch (err) {
      this.once.say('scan', `Could not list ${this.procRoot} (${errnoCode(err)}); process figures cover the root only.`);
      return [root];
    }
    const byParent = new Map<number, PidStat[]>();
    for (const e of entries) {
      if (e === '' || skipDigits(e, 0) !== e.length) continue;
      const pid = Number(e);
      // Every process is read here once, so none is kept open: only the tree's members are.
      const s = pid === root.pid ? root : this.readStatOnce(pid);
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

  /** A member's stat through its kept descriptor (opened on first use); null when it is gone. */
  private readStat(pid: number): PidStat | null {
    const text = this.readPidFile(pid, 'stat');
    return text === null ? null : parsePidStat(text);
  }

  private readStatOnce(pid: number): PidStat | null {
    const text = this.readAfresh(pid, 'stat');
    return text === null ? null : parsePidStat(text);
  }

  /** A member's RSS in kB: statm in pages where the page size is known, else status's VmRSS. */
  private readRssKb(pid: number, pageKb: number | null): number | null {
    if (pageKb === null) {
      const status = this.readAfresh(pid, 'status');
      return status === null ? null : parseStatusRssKb(status);
    }
    const text = this.readPidFile(pid, 'statm');
    return text === null ? null : parseStatmRssKb(text, pageKb);
  }

  /** A per-process file read whole, nothing kept open; null when the process is gone. */
  private readAfresh(pid: number, file: PidFile | 'status'): string | null {
    try {
      return readFileSync(this.pidPath(pid, file), 'utf8');
    } catch {
      return null; // Gone between listing and reading: normal churn, not worth a log line.
    }
  }

  /**
   * One per-process file's text: through its kept descriptor on procfs (opened on first use,
   * opened again once after a failed read: the pid may name a new process), else read afresh.
   * Null when the process is gone.
   */
  private readPidFile(pid: number, file: PidFile): string | null {
    if (!this.procfs()) return this.readAfresh(pid, file);
    const files = this.kept.get(pid);
    const held = files?.[file] ?? null;
    if (files !== undefined && held !== null) {
      try {
        return rereadProcText(held, this.buffer);
      } catch {
        // ESRCH: that process exited. The pid may already name another one: look again afresh.
        closeQuietly(held);
        files[file] = null;
      }
    }
    let fd: number;
    try {
      fd = openSync(this.pidPath(pid, file), 'r');
    } catch {
      return null;
    }
    let text: string | null = null;
    try {
      text = rereadProcText(fd, this.buffer);
    } catch {
      // It exited between the open and the read.
    }
    if (text !== null && files !== undefined) files[file] = fd;
    else if (text !== null && this.kept.size < MAX_KEPT_PROCESSES) this.kept.set(pid, file === 'stat' ? { stat: fd, statm: null } : { stat: null, statm: fd });
    else closeQuietly(fd);
    return text;
  }

  private pidPath(pid: number, file: PidFile | 'status'): string {
    return `${this.procRoot}/${pid}/${file}`;
  }

  private procfs(): boolean {
    this.onProcfs ??= onProcfsSync(this.procRoot);
    return this.onProcfs;
  }

  /**
   * The page size when RSS can be read from statm (decided once: this /proc has the page size in
   * self/auxv on a 64-bit system), else null and status is read (a recorded /proc, 32-bit systems).
   * Not stat's rss field: since Linux 6.2 it is a per-CPU counter read without summing, off by up
   * to a few hundred kB here (2 cores) and by more with more cores, where statm and status sum it.
   */
  private rssPageKb(): number | null {
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

function sameMembers(a: ReadonlyMap<number, Member>, b: ReadonlyMap<number, Member>): boolean {
  if (a.size !== b.size) return false;
  for (const [pid, member] of b) if (a.get(pid)?.startTicks !== member.startTicks) return false;
  return true;
}

function closeFiles(files: KeptFiles): void {
  if (files.stat !== null) closeQuietly(files.stat);
  if (files.statm !== null) closeQuietly(files.statm);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
}
