// The spool/append step of an import: accepted records go to a private file next to the history
// while the export is read (memory stays flat however large it is), and only once the whole file
// has been read are they appended to the history. (The history store's own spool, storeSpool.ts,
// keeps records whose append failed: a different thing.)
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { PerformanceMetrics } from '../../shared/metrics';
import { describeFsError } from '../util/errors';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../util/privateFiles';
import type { HistoryStore } from './historyStore';
import { ImportError } from './importErrors';

const SPOOL_BATCH_BYTES = 256 * 1024;

/** How much of the spool is appended at once: one lock and one write per day segment for each. */
const APPEND_BATCH_CHARS = 4 * 1024 * 1024;

/**
 * Appends the accepted tasks to the history: the one place the store is written. With the
 * store's `appendMany`, in batches of about 4 MB of records (one lock, one write per segment each);
 * otherwise one `append` a task.
 */
export async function appendImported(store: Pick<HistoryStore, 'append' | 'appendMany'>, tasks: AsyncIterable<SpooledTask>, progress: { appended: number }): Promise<void> {
  const appendMany = store.appendMany?.bind(store);
  if (!appendMany) {
    for await (const { task } of tasks) {
      await store.append(task);
      progress.appended++;
    }
    return;
  }
  let batch: PerformanceMetrics[] = [];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    const b = batch;
    batch = [];
    bytes = 0;
    await appendMany(b, (n) => (progress.appended += n));
  };
  for await (const { task, chars } of tasks) {
    batch.push(task);
    bytes += chars;
    if (bytes >= APPEND_BATCH_CHARS) await flush();
  }
  if (batch.length > 0) await flush();
}

/** A task read back from the spool, with the length of its line. */
interface SpooledTask {
  task: PerformanceMetrics;
  chars: number;
}

/** Accepted records, one history line each, in a file: memory stays flat however large the import. */
export class Spool {
  private fh: FileHandle | null = null;
  private pending: string[] = [];
  private pendingChars = 0;
  count = 0;

  private constructor(readonly path: string) {}

  static async create(dir: string): Promise<Spool> {
    const spool = new Spool(join(dir, `import-${process.pid}-${randomBytes(4).toString('hex')}.spool`));
    try {
      await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
      spool.fh = await open(spool.path, 'wx', PRIVATE_FILE_MODE);
    } catch (err) {
      throw new ImportError(spool.path, `cannot create the import spool "${spool.path}": ${describeFsError(err)}; nothing was imported`, err);
    }
    return spool;
  }

  async add(task: PerformanceMetrics): Promise<void> {
    const line = `${JSON.stringify(task)}\n`;
    this.pending.push(line);
    this.pendingChars += line.length;
    this.count++;
    if (this.pendingChars >= SPOOL_BATCH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0 || !this.fh) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    try {
      await this.fh.writeFile(text);
    } catch (err) {
      throw new ImportError(this.path, `cannot write the import spool "${this.path}": ${describeFsError(err)}; nothing was imported`, err);
    }
  }

  async *tasks(): AsyncGenerator<SpooledTask> {
    await this.flush();
    await this.fh?.close();
    this.fh = null;
    const lines = createInterface({ input: createReadStream(this.path, { encoding: 'utf8' }), crlfDelay: Infinity });
    // Written above from tasks that passed every check, in a private file: not checked twice (that
    // doubled the cost of an import). A line that does not parse, or a count that differs, is a damaged disk.
    let read = 0;
    for await (const line of lines) {
      if (line === '') continue;
      let task: PerformanceMetrics;
      try {
        task = JSON.parse(line) as PerformanceMetrics;
      } catch {
        throw new Error(`the import spool "${this.path}" was damaged while importing (line ${read + 1})`);
      }
      read++;
      yield { task, chars: line.length };
    }
    if (read !== this.count) throw new Error(`the import spool "${this.path}" holds ${read} of the ${this.count} accepted tasks: it was damaged while importing`);
  }

  async remove(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
    await unlink(this.path).catch(() => undefined);
  }
}
