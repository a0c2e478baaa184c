// One sampler per machine: every window's engine (and the CLI's `watch`) competes for a lock file
// in the shared storage folder. The holder heartbeats it and samples the GPU; the others read what
// it publishes. When the holder stops heartbeating (window closed, process killed), another takes
// over within `staleMs`. A heartbeat from the future (more than MAX_CLOCK_SKEW_MS ahead) is stale,
// not fresh for ever; a lock file larger than a record can be is not read.
import { randomBytes } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../ports';
import { isProcessAlive } from '../util/process';
import { isFreshTimestamp } from './freshness';
import { ensurePrivateDir, OversizedFileError, PRIVATE_FILE_MODE, readBoundedText, tighten, writePrivateFileAtomic } from '../util/privateFiles';
import { LIVE_FILE_NAME } from './sharedSampling';

export const LEADER_FILE_NAME = 'leader.lock';
/** A lock record is about 100 bytes; a larger file is not one (and is not read whole). */
export const MAX_LEADER_FILE_BYTES = 4096;

export type Role = 'leader' | 'follower' | 'stopped';

/**
 * A holder whose heartbeat is this old is replaced. A holder that is gone (its pid dead) is
 * replaced at the next check whatever its heartbeat says, so this only bounds a holder that is
 * alive but stuck; the holder beats three times per this time (every 10 s), which is all an idle
 * window writes. It was 15 s (a beat every 5 s): each beat is a read and an atomic rewrite, a tenth
 * of a millisecond of an idle window's CPU per second, for a case (a stuck holder) that 30 s serves
 * as well. Either way holders of both versions stay fresh to each other.
 */
const LOCK_STALE_MS = 30_000;

export interface LeaderRecord {
  pid: number;
  token: string;
  /** Epoch ms of the holder's last heartbeat. */
  heartbeatAt: number;
}

export interface LeaderLockOptions {
  dir: string;
  clock: Clock;
  /** A holder silent for this long is replaced (default LOCK_STALE_MS). */
  staleMs?: number;
  /** How often the holder heartbeats and a follower checks (default 1000 ms). */
  heartbeatMs?: number;
  pid?: number;
  isAlive?: (pid: number) => boolean;
  onLog?: (message: string) => void;
}

/** Parses the lock file's content; null for anything that is not a well-formed record. */
export function parseLeaderRecord(text: string): LeaderRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (!Number.isInteger(v.pid) || (v.pid as number) <= 0) return null;
  if (typeof v.token !== 'string' || !/^[0-9a-f]{16,64}$/.test(v.token)) return null;
  if (typeof v.heartbeatAt !== 'number' || !Number.isFinite(v.heartbeatAt)) return null;
  return { pid: v.pid as number, token: v.token, heartbeatAt: v.heartbeatAt };
}

/** Who samples, as a SharedSampling needs to know it: a competing LeaderLock or a LockObserver. */
export interface RoleSource {
  readonly role: Role;
  onRoleChange(listener: (role: Role) => void): () => void;
}

/** The holder's record; null when the file is corrupt or too large; undefined when there is none. */
async function readLeaderFile(file: string, onOversized?: (err: OversizedFileError) => void): Promise<LeaderRecord | null | undefined> {
  try {
    return parseLeaderRecord(await readBoundedText(file, MAX_LEADER_FILE_BYTES));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (err instanceof OversizedFileError) {
      onOversized?.(err);
      return null;
    }
    throw err;
  }
}

/**
 * Watches the lock without competing for it, for short-lived readers such as `model-perf watch`:
 * `follower` while a window holds a fresh lock (read its samples), else `leader` (sample here).
 * It never writes, so a window can always take the lock.
 */
export class LockObserver implements RoleSource {
  private current: Role = 'stopped';
  private timer: TimerHandle | null = null;
  private readonly listeners = new Set<(role: Role) => void>();
  private readonly file: string;

  constructor(private readonly options: Omit<LeaderLockOptions, 'pid' | 'onLog'>) {
    this.file = join(options.dir, LEADER_FILE_NAME);
  }

  get role(): Role {
    return this.current;
  }

  onRoleChange(listener: (role: Role) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Looks once, then every heartbeat. Resolves with the role found. */
  async start(): Promise<Role> {
    await this.check();
    return this.current;
  }

  stop(): void {
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private async check(): Promise<void> {
    const holder = await readLeaderFile(this.file).catch(() => undefined);
    const now = this.options.clock.now();
    const isAlive = this.options.isAlive ?? isProcessAlive;
    const fresh = holder != null && isFreshTimestamp(holder.heartbeatAt, now, this.options.staleMs ?? LOCK_STALE_MS) && isAlive(holder.pid);
    const role: Role = fresh ? 'follower' : 'leader';
    if (role !== this.current) {
      this.current = role;
      for (const l of [...this.listeners]) l(role);
    }
    this.timer = this.options.clock.setTimeout(() => void this.check(), this.options.heartbeatMs ?? 1000);
    this.timer.unref?.();
  }
}

export class LeaderLock implements RoleSource {
  private readonly file: string;
  private readonly token = randomBytes(16).toString('hex');
  private readonly staleMs: number;
  private readonly heartbeatMs: number;
  private readonly leaderBeatMs: number;
  private readonly pid: number;
  private readonly isAlive: (pid: number) => boolean;
  private readonly onLog: (message: string) => void;
  private readonly listeners = new Set<(role: Role) => void>();
  private currentRole: Role = 'stopped';
  private timer: TimerHandle | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private loggedFailure = false;
  private loggedOversized = false;

  constructor(private readonly options: LeaderLockOptions) {
    this.file = join(options.dir, LEADER_FILE_NAME);
    this.staleMs = options.staleMs ?? LOCK_STALE_MS;
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    // The holder rewrites the lock no more often than readers need: three beats per stale window
    // (a reader calls the lock stale after staleMs), never faster than followers check.
    this.leaderBeatMs = Math.max(this.heartbeatMs, Math.floor(this.staleMs / 3));
    this.pid = options.pid ?? process.pid;
    this.isAlive = options.isAlive ?? isProcessAlive;
    this.onLog = options.onLog ?? (() => {});
  }

  get role(): Role {
    return this.currentRole;
  }

  /** Resolves when the check or heartbeat in flight (if any) has finished. */
  whenIdle(): Promise<void> {
    return this.inFlight;
  }

  onRoleChange(listener: (role: Role) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Competes for the lock once, then keeps heartbeating or watching. Resolves with the role. */
  async start(): Promise<Role> {
    if (this.currentRole !== 'stopped') return this.currentRole;
    // Silently a follower until the first check decides: listeners hear only real changes.
    this.currentRole = 'follower';
    try {
      // The storage folder is private (0700) whatever the umask; so are the files shared in it.
      await ensurePrivateDir(this.options.dir, this.onLog);
      await tighten(this.file, PRIVATE_FILE_MODE, 'sampler lock', this.onLog);
      await tighten(join(this.options.dir, LIVE_FILE_NAME), PRIVATE_FILE_MODE, 'shared sample file', this.onLog);
    } catch (err) {
      this.reportFailure(err);
      return this.currentRole;
    }
    await this.runTick();
    return this.currentRole;
  }

  /** Stops the timer and, if this process holds the lock, releases it at once for the others. */
  async stop(): Promise<void> {
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
    const wasLeader = this.currentRole === 'leader';
    this.setRole('stopped');
    if (wasLeader) {
      const holder = await this.readHolder().catch(() => null);
      if (holder?.token === this.token) await unlink(this.file).catch(() => undefined);
    }
  }

  private setRole(role: Role): void {
    if (role === this.currentRole) return;
    this.currentRole = role;
    for (const l of this.listeners) l(role);
  }

  private runTick(): Promise<void> {
    this.inFlight = this.tick()
      .catch((err: unknown) => this.reportFailure(err))
      .finally(() => {
        if (this.currentRole === 'stopped') return;
        this.timer = this.options.clock.setTimeout(() => void this.runTick(), this.currentRole === 'leader' ? this.leaderBeatMs : this.heartbeatMs);
        this.timer.unref?.();
      });
    return this.inFlight;
  }

  private async tick(): Promise<void> {
    const holder = await this.readHolder();
    const now = this.options.clock.now();
    if (holder?.token === this.token) {
      await writePrivateFileAtomic(this.file, JSON.stringify({ pid: this.pid, token: this.token, heartbeatAt: now }));
      this.loggedFailure = false;
      this.setRole('leader');
      return;
    }
    if (this.currentRole === 'leader') this.onLog('Another window took over GPU sampling; this window now reads its figures.');
    const free = holder == null || !isFreshTimestamp(holder.heartbeatAt, now, this.staleMs) || !this.isAlive(holder.pid);
    if (!free) {
      this.setRole('follower');
      return;
    }
    if (holder !== undefined) await unlink(this.file).catch(() => undefined);
    try {
      const fh = await open(this.file, 'wx', PRIVATE_FILE_MODE);
      try {
        await fh.writeFile(JSON.stringify({ pid: this.pid, token: this.token, heartbeatAt: now }));
      } finally {
        await fh.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        this.setRole('follower'); // another window won this round
        return;
      }
      throw err;
    }
    this.loggedFailure = false;
    this.setRole('leader');
  }

  /** A lock that cannot be used must not leave the window blind: it samples on its own. */
  private reportFailure(err: unknown): void {
    if (!this.loggedFailure) this.onLog(`Sampler lock at ${this.file} failed: ${err instanceof Error ? err.message : String(err)}; this window samples on its own until it works again.`);
    this.loggedFailure = true;
    this.setRole('leader'); // better two samplers than none
  }

  private readHolder(): Promise<LeaderRecord | null | undefined> {
    return readLeaderFile(this.file, (err) => {
      if (!this.loggedOversized) this.onLog(`Sampler lock: ${err.message}; it is replaced.`);
      this.loggedOversized = true;
    });
  }
}
