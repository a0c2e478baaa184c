// A helper channel that stays the same across sessions of one workspace, so a terminal VS Code
// restores after a reload (its environment saved with it) still reaches the extension: the same
// token (kept by the host in its secret storage) and the same socket path (a private folder named
// after the workspace). Pure node; the host decides the key and where the token is kept.
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, rmdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** 32 random bytes as 64 lowercase hex digits, like the per-session token. */
export function newHelperToken(): string {
  return randomBytes(32).toString('hex');
}

/** True for a token this code could have made (what secret storage hands back is checked too). */
export function isHelperToken(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}

/** A short, stable, file-name-safe digest of a workspace's identity (its storage URI). */
export function workspaceKey(identity: string): string {
  return createHash('sha256').update(identity).digest('hex').slice(0, 16);
}

/**
 * The stable socket path of a workspace: `<tmp>/model-perf-<uid>-<key>/helper.sock`. Short enough
 * for a Unix socket (at most 104 bytes on macOS) where the workspace storage folder is not.
 */
export function stableSocketPath(key: string, base = tmpdir()): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join(base, `model-perf-${uid}-${key}`, 'helper.sock');
}

export class EndpointError extends Error {}

/** Whether something listens at a Unix socket path (a live extension host of the same workspace). */
function listening(path: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (alive: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Makes `socketPath` ready to listen on: its folder exists, is a real folder (not a link), ours,
 * and private (no access for group or others), and no socket is left there, except a live one,
 * which is refused. A stale socket (the host that made it crashed) is removed. Throws
 * EndpointError with the reason when the path cannot be used safely; the caller then falls back
 * to a fresh private folder.
 */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  const folder = join(socketPath, '..');
  try {
    await mkdir(folder, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new EndpointError(`cannot create ${folder}: ${(err as Error).message}`);
  }
  // Someone else may have made the folder first in a shared /tmp: trust it only if it is ours and private.
  const info = await lstat(folder);
  if (!info.isDirectory() || info.isSymbolicLink()) throw new EndpointError(`${folder} is not a plain folder`);
  if (typeof process.getuid === 'function' && info.uid !== process.getuid()) throw new EndpointError(`${folder} belongs to another user`);
  if ((info.mode & 0o077) !== 0) throw new EndpointError(`${folder} is open to other users (mode ${(info.mode & 0o777).toString(8)})`);
  let existing;
  try {
    existing = await lstat(socketPath);
  } catch {
    return;
  }
  if (!existing.isSocket()) throw new EndpointError(`${socketPath} exists and is not a socket`);
  if (await listening(socketPath)) throw new EndpointError(`another process already listens at ${socketPath}`);
  await unlink(socketPath);
}

/** The socket's inode after listening, so a later cleanup removes only the socket it made. */
export async function socketInode(socketPath: string): Promise<number | null> {
  try {
    return (await lstat(socketPath)).ino;
  } catch {
    return null;
  }
}

/**
 * Removes the socket at `socketPath` if it is still the one with inode `ino` (a newer host's is
 * left), then its folder if empty (a newer host's socket in it makes that fail, harmlessly).
 */
export async function removeOwnSocket(socketPath: string, ino: number | null): Promise<void> {
  if (ino === null) return;
  try {
    if ((await lstat(socketPath)).ino === ino) await unlink(socketPath);
  } catch {
    // Gone already.
  }
  await rmdir(join(socketPath, '..')).catch(() => undefined);
}
