// Replacing a file whole or not at all: written through a temporary file in the same folder and
// renamed into place, so a crash or a full disk never leaves half a file. The target must be a
// regular file or absent: a rename over a named pipe, a device or a symbolic link would replace
// that thing with a file (the link's target left stale, /dev/null gone as root), so those are
// refused with the reason. An existing file keeps its permission bits (a 0600 export stays private).
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { lstat, open, readlink, rename, unlink } from 'node:fs/promises';
import { describeFsError } from './errors';

export interface WriteFileAtomicOptions {
  /**
   * Flush to disk before the rename (default true), so a power cut leaves the old file or the new
   * one. Heartbeats and other files rewritten every few seconds may skip it.
   */
  durable?: boolean;
  /** Permission bits of a new file (default: 0666 less the umask). An existing file keeps its own. */
  mode?: number;
  /** Give the file `mode` even when it replaces one with other bits (private files of the storage folder). */
  forceMode?: boolean;
}

/** Text or bytes, or a sequence of chunks written one after the other (never joined in memory). */
export type AtomicWriteData = string | Uint8Array | Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;

/** Why the target was refused: not an errno, so callers can tell it from a failing disk. */
type TargetRefusal = 'ESYMLINK' | 'ENOTREG';

export class WriteFileError extends Error {
  /** Why, in words (`the folder does not exist`, `the disk is full`, ...). */
  readonly reason: string;
  /** The errno code of the cause (`ENOENT`, `ENOSPC`, ...), or a TargetRefusal, for callers that branch on it. */
  readonly code: string | undefined;
  constructor(
    readonly path: string,
    override readonly cause: unknown,
    reason?: string,
  ) {
    const why = reason ?? describeFsError(cause);
    super(`Cannot write "${path}": ${why}`);
    this.name = 'WriteFileError';
    this.reason = why;
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

function refusal(code: TargetRefusal, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = code;
  return err;
}

/**
 * What is at `path` now: null when nothing (or a regular file, whose mode is returned), else a
 * refusal. lstat, not stat: a symbolic link is refused even when it points at a regular file,
 * because the rename would replace the link, not the file it names.
 */
async function inspectTarget(path: string): Promise<{ mode: number | null; uid: number; gid: number } | null> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (st.isFile()) return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  if (st.isSymbolicLink()) {
    const target = await readlink(path).catch(() => null);
    throw refusal(
      'ESYMLINK',
      `it is a symbolic link${target !== null ? ` (to ${JSON.stringify(target)})` : ''}; replacing it would replace the link, not the file it points to. Give the target's own path, or remove the link first`,
    );
  }
  const what = st.isFIFO()
    ? 'a named pipe (FIFO)'
    : st.isCharacterDevice() || st.isBlockDevice()
      ? 'a device file'
      : st.isSocket()
        ? 'a socket'
        : st.isDirectory()
          ? 'a folder'
          : 'not a regular file';
  throw refusal('ENOTREG', `it is ${what}; only a regular file or a new path can be written. Choose another path`);
}

/** Gathers small chunks into writes of about this size: few system calls, little memory. */
const WRITE_BATCH_BYTES = 256 * 1024;

async function writeChunks(fh: FileHandle, data: AtomicWriteData): Promise<void> {
  if (typeof data === 'string' || data instanceof Uint8Array) {
    await fh.writeFile(data);
    return;
  }
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const buf = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    // FileHandle.write may write less than asked (a full pipe or disk): loop until all is out.
    let offset = 0;
    while (offset < buf.length) {
      const { bytesWritten } = await fh.write(buf, offset, buf.length - offset);
      if (bytesWritten <= 0) throw new Error(`the write made no progress after ${offset} bytes`);
      offset += bytesWritten;
    }
  };
  for await (const chunk of data) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    pending.push(buf);
    pendingBytes += buf.length;
    if (pendingBytes >= WRITE_BATCH_BYTES) await flush();
  }
  await flush();
}

/**
 * Writes `data` to a temporary file next to `path` and renames it into place. Throws WriteFileError
 * naming the path and the reason; the temporary file is removed on failure. The target check and the
 * rename are two steps, so something created at `path` in between is replaced: the check guards
 * against mistakes and leftovers, not against a racing attacker with write access to the folder.
 */
export async function writeFileAtomic(path: string, data: AtomicWriteData, options: WriteFileAtomicOptions = {}): Promise<void> {
  let existing: Awaited<ReturnType<typeof inspectTarget>>;
  try {
    existing = await inspectTarget(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new WriteFileError(path, err, code === 'ESYMLINK' || code === 'ENOTREG' ? (err as Error).message : undefined);
  }
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  let fh: FileHandle | null = null;
  try {
    // 'wx' (O_EXCL) never follows a link planted at the temporary name.
    fh = await open(tmp, 'wx', options.mode ?? 0o666);
    if (existing?.mode != null && !(options.forceMode && options.mode !== undefined)) {
      await fh.chmod(existing.mode);
      // Root replacing another user's file hands it back to that user; anyone else cannot and need not.
      if (process.getuid?.() === 0 && (existing.uid !== 0 || existing.gid !== 0)) await fh.chown(existing.uid, existing.gid);
    } else if (options.mode !== undefined) {
      // open() applies the umask; an explicit mode is meant as given.
      await fh.chmod(options.mode);
    }
    await writeChunks(fh, data);
    if (options.durable !== false) await fh.sync();
    await fh.close();
    fh = null;
    await rename(tmp, path);
  } catch (err) {
    if (fh) await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw new WriteFileError(path, err);
  }
}
