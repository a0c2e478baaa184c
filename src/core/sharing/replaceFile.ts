// Atomic replacement of a small shared file (the sampler lock's heartbeat, the published live
// sample), written every second or two for as long as a window is open, so it is kept cheap:
// callback fs rather than fs/promises (no FileHandle objects to create, track and collect) and
// no random temporary name (a per-process counter; the 'wx' flag refuses a leftover of a dead
// process that had our pid, which is removed and the write tried once more). Readers see the old
// file or the new one, never a part: the text is written beside the file and renamed over it.
import { rename, unlink, writeFile } from 'node:fs';
import { WriteFileError } from '../history/historyStore';

let counter = 0;

function writeNew(path: string, data: string): Promise<void> {
  return new Promise((resolve, reject) => writeFile(path, data, { flag: 'wx' }, (err) => (err ? reject(err) : resolve())));
}

function renameOver(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => rename(from, to, (err) => (err ? reject(err) : resolve())));
}

function remove(path: string): Promise<void> {
  return new Promise((resolve) => unlink(path, () => resolve()));
}

/** Replaces `path` with `data` atomically; rejects with a WriteFileError that says why. */
export async function replaceFile(path: string, data: string): Promise<void> {
  counter = (counter + 1) % 1_000_000_000;
  const tmp = `${path}.tmp-${process.pid}-${counter}`;
  try {
    try {
      await writeNew(tmp, data);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      await remove(tmp);
      await writeNew(tmp, data);
    }
    await renameOver(tmp, path);
  } catch (err) {
    await remove(tmp);
    throw new WriteFileError(path, err);
  }
}
