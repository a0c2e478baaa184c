// Following a shared folder cheaply: fs.watch wakes a look as soon as something changes, and a poll
// covers what the watch cannot see. The poll's pace depends on what the watch can be trusted with:
// fast (a few seconds) while a folder is not watched yet (it does not exist), on a filesystem whose
// change events miss other machines' writes (NFS, SMB, FUSE, 9p/WSL drives) or on a platform where
// we cannot tell, and whenever the owner says it must look anyway (a process may die without a
// word, and no event tells that); slow (a minute: a safety net against a dropped event) otherwise.
// An idle window used to look at three folders every 5 s, most of what it cost between samples.
import { existsSync, statfs, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

/** Slow pace: the safety net when the watch covers every change. */
export const SLOW_POLL_MS = 60_000;

/**
 * statfs `f_type` of Linux filesystems whose inotify events cover every writer (all writers are
 * local processes): ext2/3/4, xfs, btrfs, tmpfs, overlayfs, zfs, f2fs, bcachefs, ramfs, jfs,
 * reiserfs. Anything else (nfs 0x6969, smb/cifs, fuse, 9p, ceph, lustre, ...) polls fast.
 */
const LOCAL_FS_TYPES = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x794c7630, 0x2fc12fc1, 0xf2f52010, 0xca451a4e, 0x858458f6, 0x3153464a, 0x52654973]);

/** Whether fs.watch sees every change of `dir`'s filesystem (Linux, a local filesystem type). */
export function changeEventsTrusted(dir: string, platform: NodeJS.Platform = process.platform): Promise<boolean> {
  if (platform !== 'linux') return Promise.resolve(false);
  return new Promise((resolve) => statfs(dir, (err, s) => resolve(!err && LOCAL_FS_TYPES.has(s.type))));
}

export interface FolderWatchOptions {
  /** Folders to watch; each is watched from the first look that finds it. */
  dirs: readonly string[];
  /** Called (debounced) when a watched folder changed, and at every poll. */
  look: () => void;
  /** Which events matter (default: all). `name` is null when the platform gives none. */
  matters?: (dir: string, name: string | null) => boolean;
  /** Pace while the watch cannot be trusted (see the header). */
  fastPollMs: number;
  /** Pace when it can. Default SLOW_POLL_MS (never faster than fastPollMs). */
  slowPollMs?: number;
  /** True while the owner must look at the fast pace whatever the watch sees. */
  mustPoll?: () => boolean;
  /** Events within this many ms fold into one look. Default 100. */
  debounceMs?: number;
  /** Tests: whether a folder's change events can be trusted. Default changeEventsTrusted. */
  trusted?: (dir: string) => Promise<boolean>;
}

export class FolderWatch {
  private readonly watchers = new Map<string, { watcher: FSWatcher; trusted: boolean }>();
  /** Folders found missing at the last arm(). */
  private readonly missing = new Set<string>();
  /** The folders, parents before children: a parent's watch is on before a child is looked for. */
  private readonly dirs: readonly string[];
  private poll: NodeJS.Timeout | null = null;
  private pollDueAt = Number.POSITIVE_INFINITY;
  private debounce: NodeJS.Timeout | null = null;
  private disposed = false;

  constructor(private readonly options: FolderWatchOptions) {
    this.dirs = [...options.dirs].sort((a, b) => a.length - b.length);
  }

  /** Watches what exists and starts the poll (the first poll comes after a pace, not now). */
  start(): void {
    void this.arm().then(() => this.schedulePoll());
  }

  /** The pace the next poll will wait: fast unless every folder is watched on a trusted filesystem. */
  get pollMs(): number {
    const fast = this.options.fastPollMs;
    const slow = Math.max(fast, this.options.slowPollMs ?? SLOW_POLL_MS);
    if (this.options.mustPoll?.()) return fast;
    for (const dir of this.dirs) {
      if (this.watchers.get(dir)?.trusted) continue;
      // Not there yet, inside a folder watched here: its creation wakes that watch (let its name through `matters`).
      if (this.missing.has(dir) && this.watchers.get(dirname(dir))?.trusted) continue;
      return fast;
    }
    return slow;
  }

  dispose(): void {
    this.disposed = true;
    for (const w of this.watchers.values()) w.watcher.close();
    this.watchers.clear();
    if (this.poll) clearTimeout(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
    this.poll = null;
    this.debounce = null;
  }

  /**
   * Watches each folder not watched yet that exists now (one whose watch failed is tried again).
   * The watches begin synchronously; the promise resolves once their filesystems are known.
   */
  async arm(): Promise<void> {
    const added: Array<[string, { watcher: FSWatcher; trusted: boolean }]> = [];
    for (const dir of this.dirs) {
      if (this.watchers.has(dir) || this.disposed) continue;
      // Looked for first: a watch of a missing folder throws, and building that error every poll
      // was a measurable part of an idle window's CPU.
      if (!existsSync(dir)) {
        this.missing.add(dir);
        continue;
      }
      this.missing.delete(dir);
      let watcher: FSWatcher;
      try {
        watcher = watch(dir, { persistent: false }, (_event, name) => {
          if (this.options.matters?.(dir, typeof name === 'string' ? name : null) ?? true) this.wake();
        });
      } catch {
        continue; // Not there yet: the fast poll covers it and tries again.
      }
      const entry = { watcher, trusted: false };
      this.watchers.set(dir, entry);
      watcher.on('error', () => {
        watcher.close();
        if (this.watchers.get(dir) === entry) this.watchers.delete(dir);
      });
      added.push([dir, entry]);
    }
    const trusted = this.options.trusted ?? changeEventsTrusted;
    await Promise.all(added.map(async ([dir, entry]) => void (entry.trusted = await trusted(dir))));
  }

  /**
   * A change was seen: one look after the debounce, however many events come meanwhile. Folders
   * that appeared meanwhile (a parent's event) are watched before the look, as at each poll.
   */
  wake(): void {
    if (this.disposed || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.arm().then(() => {
        if (!this.disposed) this.options.look();
      });
    }, this.options.debounceMs ?? 100);
    this.debounce.unref?.();
  }

  /** The owner's `mustPoll` may have turned true: brings the next poll forward to the fast pace. */
  paceChanged(): void {
    if (this.poll && Date.now() + this.pollMs < this.pollDueAt) this.schedulePoll();
  }

  private schedulePoll(): void {
    if (this.disposed) return;
    if (this.poll) clearTimeout(this.poll);
    const ms = this.pollMs;
    this.pollDueAt = Date.now() + ms;
    this.poll = setTimeout(() => {
      this.poll = null;
      this.pollDueAt = Number.POSITIVE_INFINITY;
      // The pace after this poll counts the folders it has just watched.
      void this.arm().then(() => {
        if (this.disposed) return;
        this.options.look();
        this.schedulePoll();
      });
    }, ms);
    this.poll.unref?.();
  }
}
