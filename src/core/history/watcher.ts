// Change notification for the history: fs.watch of the segment folder (and of the storage folder,
// for the old single file) wakes a check of the files' sizes; grown files are read from where the
// last check stopped, so a reader sees only the new tail. Shrunk or replaced files (compaction,
// clear) are reported as `rewritten`: read again what you show.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { PerformanceMetrics } from '../../shared/metrics';
import type { StoreWarning } from './records';
import { classifiedLines, segmentDayStart } from './segments';
import { OneAtATime } from '../util/oneAtATime';
import { FolderWatch } from '../util/folderWatch';

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
  private readonly folders: FolderWatch;
  private readonly checks = new OneAtATime(() => this.doCheck(), () => this.disposed);
  private disposed = false;
  private readonly ready: Promise<void>;

  constructor(
    private readonly source: WatchSource,
    private readonly listener: (change: HistoryChange) => void,
    pollMs: number,
  ) {
    this.ready = this.snapshot();
    const storage = dirname(source.legacyFile);
    // The storage folder also holds the sampler lock and the published sample, rewritten every few
    // seconds: only the old single file and the segment folder wake a check there.
    this.folders = new FolderWatch({
      dirs: [source.historyDir, storage],
      matters: (dir, name) => dir !== storage || storageEventMatters(source, name),
      look: () => void this.check(),
      fastPollMs: pollMs,
    });
  }

  /** Resolves once the starting sizes are known: changes after this are reported. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  start(): void {
    this.folders.start();
  }

  dispose(): void {
    this.disposed = true;
    this.folders.dispose();
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
