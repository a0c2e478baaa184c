// What the parts of the history store share: its paths, the process it runs in, the file
// operations a test may replace, and where warnings and log lines go. JsonlHistoryStore builds one
// and hands it to the modules beside it (segment writes, spool, migration, retention, running
// markers, reading), so each of them can be read and changed on its own.
import type { FileHandle } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { describeFsError } from '../util/errors';
import { PRIVATE_DIR_MODE } from '../util/privateFiles';
import { HistoryStoreError, type StoreWarning } from './records';

/** The few file operations a test replaces to inject faults (a full disk) where no small disk exists. */
export interface StoreFsPort {
  open: (path: string, flags: string, mode?: number) => Promise<FileHandle>;
}

export interface StoreContext {
  /** The storage folder. */
  readonly dir: string;
  readonly historyDir: string;
  readonly legacyFile: string;
  readonly spoolDir: string;
  readonly quarantineFile: string;
  readonly runningDir: string;
  readonly pid: number;
  readonly host: string;
  readonly alive: (pid: number) => boolean;
  /** Whether a task's run (its root process, started by then) still goes on after its owner died. */
  readonly runGoing: (rootPid: number, taskStartMs: number) => boolean;
  readonly fs: StoreFsPort;
  /** Keys of records this process wrote, so its own change notifications can be skipped. */
  readonly ownAppends: Set<string>;
  /** Keys of spooled records moved into the history by this process: their markers are not interruptions. */
  readonly flushedSpool: Set<string>;
  /** Called once per skipped line or marker. */
  warn(warning: StoreWarning): void;
  /** Things a user may want in the log: a broken lock, a migration, tightened modes. */
  log(message: string): void;
}

/** Rewrites and migration write in batches of about this size. */
export const WRITE_BATCH_BYTES = 1024 * 1024;
export const NEWLINE_BUF = Buffer.from('\n');

export async function ensureDir(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (err) {
    throw new HistoryStoreError(`Cannot create the history folder "${path}": ${describeFsError(err)}. Set MODEL_PERF_HOME or the storage folder setting to a writable folder.`, err);
  }
}
