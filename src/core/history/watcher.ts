// Change notification for the history: fs.watch of the segment folder (and of the storage folder,
// for the old single file) wakes a check of the files' sizes; grown files are read from where the
// last check stopped, so a reader sees only the new tail. Shrunk or replaced files (compaction,
// clear) are reported as `rewritten`: read again what you show.
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { PerformanceMetrics } from '../../shared/metrics';
import type { StoreWarning } from './records';
import { classifiedLines, segmentDayStart } from './segments';
import { OneAtATime } from '../util/oneAtATime';

export type HistoryChange = { kind: 'appended'; tasks: PerformanceMetrics[] } | { kind: 'rewritten' };

export interface WatchSource {
  historyDir: string;
  legacyFile: string;
  /** True (and forgotten) when this process wrote the record itself. */
  isOwn: (task: PerformanceMetrics) => boolean;
  warn: (w: StoreWarning) => void;
}

interface Seen {
  /** Offset up to which complete lines were read. */
  offset: number;
  ino: number;
}

const DEBOUNCE_MS = 100;

/**
 * Whether a change of `name` in the storage folder may concern the history. That folder also holds
 * the sampler lock and the published sample, rewritten every second or two: only the old single
 * file and the segment folder wake a check there (an event without a name checks anyway).
 */
export function storageEventMatters(source: Pick<WatchSource, 'historyDir' | 'legacyFile'>, name: string | null): boolean {
  return name === null || name === basename(source.legacyFile) || name === basename(source.historyDir);
}

export class HistoryWatcher {
  private readonly seen = new Map<string, Seen>();
  private watchers: FSWatcher[] = [];
  private poll: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private readonly checks = new OneAtATime(() => this.doCheck(), () => this.disposed);
  private disposed = false;
  private readonly ready: Promise<void>;

  constructor(
    private readonly source: WatchSource,
    private readonly listener: (change: HistoryChange) => void,
    private readonly pollMs: number,
  ) {
    this.ready = this.snapshot();
  }

  /** Resolves once the starting sizes are known: changes after this are reported. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  start(): void {
    this.arm();
    this.poll = setInterval(() => this.schedule(), this.pollMs);
    this.poll.unref?.();
  }

  private readonly armed = new Set<string>();

  /** Watches each folder once it exists (the segment folder appears with the first write). */
  private arm(): void {
    for (const dir of [this.source.historyDir, dirname(this.source.legacyFile)]) {
      if (this.armed.has(dir) || this.disposed) continue;
      const inStorage = dir !== this.source.historyDir;
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (!inStorage || storageEventMatters(this.source, typeof name === 'string' ? name : null)) this.schedule();
        });
        w.on('error', () => this.armed.delete(dir));
        this.watchers.push(w);
        this.armed.add(dir);
      } catch {
        // Not there yet: the poll covers it, and each check tries again.
      }
    }
  }

  dispose(): void {
    this.disposed = true;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.poll) clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
  }

  private schedule(): void {
    if (this.disposed || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.check();
    }, DEBOUNCE_MS);
    this.debounce.unref?.();
  }

  private async files(): Promise<Map<string, { size: number; ino: number }>> {
    const out = new Map<string, { size: number; ino: number }>();
    const names = await readdir(this.source.historyDir).catch(() => [] as string[]);
    const paths = names.filter((n) => segmentDayStart(n) !== null).map((n) => join(this.source.historyDir, n));
    paths.push(this.source.legacyFile);
    for (const p of paths) {
      const st = await stat(p).catch(() => null);
      if (st) out.set(p, { size: st.size, ino: st.ino });
    }
    return out;
  }

  private async snapshot(): Promise<void> {
    for (const [p, f] of await this.files()) this.seen.set(p, { offset: await this.completeEnd(p, f.size), ino: f.ino });
  }

  /** The end of the last complete line at or before `size` (a line still being written waits). */
  private async completeEnd(path: string, size: number, from = 0): Promise<number> {
    let end = from;
    for await (const l of classifiedLines(path, from, size)) if (l.raw.terminated) end = l.raw.offset + l.raw.length + 1;
    return end;
  }

  /** Checks sizes now and reports what changed; also what the fs.watch and the poll call. */
  async check(): Promise<void> {
    await this.ready;
    return this.checks.run();
  }

  private async doCheck(): Promise<void> {
    this.arm();
    const now = await this.files();
    let rewritten = false;
    const appended: PerformanceMetrics[] = [];
    for (const p of [...this.seen.keys()]) if (!now.has(p)) {
      this.seen.delete(p);
      rewritten = true;
    }
    for (const [p, f] of now) {
      const prev = this.seen.get(p);
      if (prev && (prev.ino !== f.ino || f.size < prev.offset)) {
        rewritten = true;
        this.seen.set(p, { offset: await this.completeEnd(p, f.size), ino: f.ino });
        continue;
      }
      const from = prev?.offset ?? 0;
      if (f.size === from) continue;
      let end = from;
      for await (const l of classifiedLines(p, from, f.size)) {
        if (!l.raw.terminated) break;
        end = l.raw.offset + l.raw.length + 1;
        if (l.parsed?.kind === 'task' && !this.source.isOwn(l.parsed.task)) appended.push(l.parsed.task);
      }
      this.seen.set(p, { offset: end, ino: f.ino });
    }
    if (this.disposed) return;
    if (rewritten) this.listener({ kind: 'rewritten' });
    else if (appended.length > 0) this.listener({ kind: 'appended', tasks: appended });
  }
}
