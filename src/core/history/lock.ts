// The history lock: one writer at a time across windows and CLI runs. The lock file is created
// with its contents in one step (written aside, then hard-linked into place), so a lock file that
// is empty or not JSON was never a live lock of this build: it is broken at once, with a log line.
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { HistoryStoreError } from './records';
import { describeFsError } from '../util/errors';

export interface LockOptions {
  file: string;
  pid: number;
  hostname: string;
  alive: (pid: number) => boolean;
  /** How long to wait for another process's lock before giving up. */
  timeoutMs: number;
  /** A lock (of a live-looking owner, or on another machine) older than this is broken. */
  staleMs: number;
  /**
   * An empty lock younger than this may be an older build between creating and writing it
   * (those wrote in two steps); older, it is the remains of a failed write.
   */
  emptyGraceMs: number;
  log: (message: string) => void;
  now?: () => number;
}

interface LockInfo {
  pid: number;
  hostname: string;
}

type LockState = { kind: 'gone' } | { kind: 'held'; info: LockInfo; mtimeMs: number } | { kind: 'garbage'; why: string; mtimeMs: number };

async function readLock(file: string): Promise<LockState> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, { mtimeMs }] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
  } catch {
    return { kind: 'gone' };
  }
  if (text.length === 0) return { kind: 'garbage', why: 'it is empty', mtimeMs };
  try {
    const info = JSON.parse(text) as Record<string, unknown>;
    if (typeof info === 'object' && info !== null && Number.isInteger(info.pid) && typeof info.hostname === 'string') {
      return { kind: 'held', info: { pid: info.pid as number, hostname: info.hostname }, mtimeMs };
    }
    return { kind: 'garbage', why: 'it names no owner', mtimeMs };
  } catch {
    return { kind: 'garbage', why: 'it is not valid JSON', mtimeMs };
  }
}

async function tryCreate(o: LockOptions): Promise<boolean> {
  const body = JSON.stringify({ pid: o.pid, hostname: o.hostname, at: (o.now ?? Date.now)() });
  const aside = `${o.file}.new-${o.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(aside, body, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    throw new HistoryStoreError(`Cannot create the history lock "${o.file}": ${describeFsError(err)}`, err);
  }
  try {
    await link(aside, o.file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // No hard links here (some network and FUSE file systems): create and write in two steps.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') return createDirect(o, body);
    throw new HistoryStoreError(`Cannot create the history lock "${o.file}": ${describeFsError(err)}`, err);
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}

async function createDirect(o: LockOptions, body: string): Promise<boolean> {
  try {
    const fh = await open(o.file, 'wx', 0o600);
    try {
      await fh.write(body);
    } finally {
      await fh.close();
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new HistoryStoreError(`Cannot create the history lock "${o.file}": ${describeFsError(err)}`, err);
  }
}

/** Why the lock at `o.file` may be broken now, or null while its owner may still be using it. */
function breakReason(o: LockOptions, state: LockState, nowMs: number): string | null {
  if (state.kind === 'gone') return null;
  if (state.kind === 'garbage') {
    if (state.why === 'it is empty' && nowMs - state.mtimeMs < o.emptyGraceMs) return null;
    return `${state.why} (left by a write that failed, e.g. on a full disk)`;
  }
  const { info } = state;
  if (info.hostname === o.hostname && info.pid !== o.pid && !o.alive(info.pid)) return `its owner, process ${info.pid}, is no longer running`;
  if (nowMs - state.mtimeMs > o.staleMs) return `it is older than ${Math.round(o.staleMs / 1000)} s`;
  return null;
}

export async function withLock<T>(o: LockOptions, fn: () => Promise<T>): Promise<T> {
  const now = o.now ?? Date.now;
  const deadline = now() + o.timeoutMs;
  for (;;) {
    if (await tryCreate(o)) break;
    const state = await readLock(o.file);
    const why = breakReason(o, state, now());
    if (why !== null) {
      // Move it aside before deleting so only one waiter breaks a given lock.
      const aside = `${o.file}.stale-${o.pid}-${randomBytes(4).toString('hex')}`;
      const moved = await rename(o.file, aside).then(
        () => true,
        () => false,
      );
      if (moved) {
        await unlink(aside).catch(() => undefined);
        o.log(`Broke the history lock "${o.file}": ${why}.`);
      }
      continue;
    }
    if (now() > deadline) {
      throw new HistoryStoreError(`Timed out after ${o.timeoutMs} ms waiting for the history lock "${o.file}". If no Model Perf window or CLI is writing history, delete that file.`);
    }
    await new Promise<void>((resolve) => setTimeout(resolve, 1 + Math.random() * 4));
  }
  try {
    return await fn();
  } finally {
    await unlink(o.file).catch(() => undefined);
  }
}
