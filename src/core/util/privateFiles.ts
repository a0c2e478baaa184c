// The storage folder and the files this layer owns in it (leader.lock, live-sample.json) hold what
// one user's tools share: nobody else may read or change them. The folder is created 0700 and the
// files 0600 whatever the umask (umask only removes bits, so asking for these modes is enough);
// a folder or file found more open is tightened, with a log line. Reads of these small files are
// bounded, so a huge or hostile file costs a few kilobytes, never its whole size.
import { chmod, mkdir, open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { rename, unlink, writeFile } from 'node:fs';
import { WriteFileError } from './atomicWrite';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Modes mean nothing to Windows' ACLs: nothing is checked or changed there. */
const modesApply = process.platform !== 'win32';

/** Bits of `mode` that let others (group or anyone) in. */
const openBits = (mode: number): number => mode & 0o077;

const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(3, '0');

/**
 * Creates `dir` (and missing parents) as 0700, or tightens an existing one that others can read,
 * write or enter. Never throws for the tightening: a folder we cannot chmod (not ours) is logged.
 */
export async function ensurePrivateDir(dir: string, log: (message: string) => void): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (modesApply) await tighten(dir, PRIVATE_DIR_MODE, 'folder', log);
}

/** Tightens `path` to `mode` when others have access; absent files are fine. Logs what it did. */
export async function tighten(path: string, mode: number, what: string, log: (message: string) => void): Promise<void> {
  if (!modesApply) return;
  let current: number;
  try {
    current = (await stat(path)).mode;
  } catch {
    return; // absent: created private when it is written
  }
  if (openBits(current) === 0) return;
  try {
    await chmod(path, mode);
    log(`The ${what} ${path} was open to other users (mode ${octal(current)}); now ${octal(mode)}, readable by you only.`);
  } catch (err) {
    log(`The ${what} ${path} is open to other users (mode ${octal(current)}) and could not be made private: ${err instanceof Error ? err.message : String(err)}`);
  }
}

let tmpCounter = 0;

function writeNew(path: string, data: string): Promise<void> {
  return new Promise((resolve, reject) => writeFile(path, data, { flag: 'wx', mode: PRIVATE_FILE_MODE }, (err) => (err ? reject(err) : resolve())));
}

/**
 * Replaces `path` whole with `data` as a 0600 file (the umask can only narrow it): readers see the
 * old file or the new one. These files (the lock's heartbeat, the published sample) are rewritten
 * every second or two for as long as a window is open, so the write is kept cheap: callback fs (no
 * FileHandle objects to create and collect), no random name (a per-process counter; a leftover of a
 * dead process that had our pid is removed and the write tried once more), no flush to disk.
 */
export async function writePrivateFileAtomic(path: string, data: string): Promise<void> {
  tmpCounter = (tmpCounter + 1) % 1_000_000_000;
  const tmp = `${path}.tmp-${process.pid}-${tmpCounter}`;
  const remove = (): Promise<void> => new Promise((resolve) => unlink(tmp, () => resolve()));
  try {
    try {
      await writeNew(tmp, data);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      await remove();
      await writeNew(tmp, data);
    }
    await new Promise<void>((resolve, reject) => rename(tmp, path, (err) => (err ? reject(err) : resolve())));
  } catch (err) {
    await remove();
    throw new WriteFileError(path, err);
  }
}

/** A file larger than the limit of a bounded read. */
export class OversizedFileError extends Error {
  constructor(
    readonly path: string,
    readonly sizeBytes: number,
    readonly maxBytes: number,
  ) {
    super(`${basename(path)} is ${sizeBytes} bytes, more than the ${maxBytes} bytes such a file can hold; it was not read`);
    this.name = 'OversizedFileError';
  }
}

/**
 * The text of `path` if it holds at most `maxBytes`; OversizedFileError otherwise. Reads at most
 * `maxBytes + 1` bytes whatever the file's size (a file growing past the limit while read is
 * caught too; one growing less may come back cut, which its parser then refuses).
 * ENOENT and other errors are thrown as they are.
 */
export async function readBoundedText(path: string, maxBytes: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    if (size > maxBytes) throw new OversizedFileError(path, size, maxBytes);
    // Room for the size seen plus some growth, never more than the limit plus one byte.
    const buffer = Buffer.alloc(Math.min(size + 4096, maxBytes + 1));
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await fh.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) throw new OversizedFileError(path, length, maxBytes);
    return buffer.toString('utf8', 0, length);
  } finally {
    await fh.close();
  }
}
