// File helpers shared by the store and by other parts of core (leadership, shared sampling,
// export): atomic replacement through a temporary file, and private modes.
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { open, rename, unlink } from 'node:fs/promises';
import { errnoReason } from './records';

/** History files are the user's alone, whatever the umask. */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

export interface WriteFileAtomicOptions {
  /**
   * Flush to disk before the rename (default true), so a power cut leaves the old file or the new
   * one. Heartbeats and other files rewritten every few seconds may skip it.
   */
  durable?: boolean;
  /** Mode of the new file, set explicitly so the umask cannot widen or narrow it. Default: 0666 less the umask. */
  mode?: number;
}

/**
 * Writes through a temporary file in the same folder and renames it into place, so a crash or a
 * full disk never leaves half a file at `path`. Errors name the path and the reason.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: WriteFileAtomicOptions = {}): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  let fh: FileHandle | null = null;
  try {
    fh = await open(tmp, 'wx', options.mode ?? 0o666);
    if (options.mode !== undefined) await fh.chmod(options.mode);
    await fh.writeFile(data);
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

export class WriteFileError extends Error {
  /** Why, in words (`the folder does not exist`, `the disk is full`, ...). */
  readonly reason: string;
  /** The errno code of the cause (`ENOENT`, `ENOSPC`, ...), for callers that branch on it. */
  readonly code: string | undefined;
  constructor(
    readonly path: string,
    override readonly cause: unknown,
  ) {
    const reason = errnoReason(cause);
    super(`Cannot write "${path}": ${reason}`);
    this.name = 'WriteFileError';
    this.reason = reason;
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}
