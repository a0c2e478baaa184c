// `model-perf import`: merges an export (this product's JSON or CSV, or the original Python module's
// JSON with snake_case keys) into the history, so a user with two machines can combine them.
//
// The file is hostile until parsed. It is read as a stream (a chunk at a time, never whole), each
// record is bounded in size and depth, parsed by the history's own record parser (parseRecord) and
// then checked for plausibility (lengths, control characters, impossible numbers and times). Records
// that pass go to a spool file next to the history, not to memory; only when the whole file has been
// read, and (unless `partial`) nothing was rejected, are they appended to the history. Records
// already in the history, or twice in the file (same task id and start time), are skipped and
// counted. Every rejected record is reported with where it is and why.
//
// The parts: importReader.ts reads the file and tells its format, importJson.ts and importCsv.ts
// cut it into records, importRecords.ts maps and checks each record, importSpool.ts holds the
// accepted ones until they are appended. This module ties them together and keeps the report.
import { constants as fsConstants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { describeFsError } from '../util/errors';
import type { HistoryStore } from './historyStore';
import { FileFormatError, ImportError } from './importErrors';
import { readExport, type ImportFormat } from './importReader';
import { safeText, toTask, type ImportKeyStyle } from './importRecords';
import { Spool, appendImported } from './importSpool';
import { recordKey } from './records';

export { ImportError } from './importErrors';
export { MAX_RECORD_CHARS, implausibility, safeText } from './importRecords';

/** Problems kept for the report; the rest are only counted. */
const DEFAULT_MAX_PROBLEMS = 1000;

export interface ImportProblem {
  /** Where: `metrics[3], line 40`, `line 12` (CSV), or `file`. */
  where: string;
  reason: string;
}

export interface ImportReport {
  file: string;
  format: ImportFormat | null;
  /** Key styles seen among the records. */
  keyStyles: ImportKeyStyle[];
  /** Records found in the file (good, duplicate and rejected). */
  records: number;
  /** Appended to the history. */
  imported: number;
  /** Skipped: already in the history, or earlier in the same file (same task id and start time). */
  duplicates: number;
  rejected: number;
  /** The first problems (rejected records and file-level errors), in file order. */
  problems: ImportProblem[];
  /** Problems beyond those kept. */
  problemsOmitted: number;
  /** Why reading stopped before the end, if it did (the records after that point were not read). */
  fileError: string | null;
  /** Field names that are no task field and were ignored (at most 20). */
  ignoredFields: string[];
  /** True when records were appended (false: the history is as it was). */
  written: boolean;
}

export interface ImportOptions {
  /** Import the good records even when others are rejected or the file is cut off. */
  partial: boolean;
  nowMs: number;
  /** Where the spool of accepted records lives while the file is read (the history's folder). */
  spoolDir: string;
  maxProblems?: number;
  /**
   * Called with every problem as it is found, the ones past `maxProblems` too, so that all of them
   * can be listed without being held; awaited (a slow terminal holds the import back, not memory).
   */
  onProblem?: (problem: ImportProblem) => void | Promise<void>;
  /** Bytes read at a time (tests use tiny ones to cut records, characters and CRLFs anywhere). */
  readChunkBytes?: number;
}

/** What the importer needs of the store (`iterate`, where there, keeps only keys in memory). */
export type ImportTarget = Pick<HistoryStore, 'load' | 'append' | 'appendMany'> & Partial<Pick<HistoryStore, 'iterate'>>;

/** The keys of the tasks already in the history, streamed where the store can: never the tasks themselves. */
async function existingKeys(store: ImportTarget, nowMs: number): Promise<Set<string>> {
  const keys = new Set<string>();
  if (store.iterate) for await (const t of store.iterate({ nowMs })) keys.add(recordKey(t));
  else for (const t of (await store.load(nowMs)).tasks) keys.add(recordKey(t));
  return keys;
}

/** Opens `path` for reading without blocking on a pipe, and checks that it is a regular file. */
async function openInput(path: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    // O_NONBLOCK: opening a named pipe with no writer would otherwise wait for ever.
    fh = await open(path, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImportError(path, `cannot read "${path}": ${code === 'ENOENT' ? 'no such file' : describeFsError(err)}`, err);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ImportError(path, `cannot import "${path}": it is ${st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a named pipe' : 'not a regular file'}; give an export file (JSON or CSV)`);
    return { fh, size: st.size };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Imports `filePath` into `store`. Throws ImportError when the file cannot be opened; otherwise
 * returns a report (rejected records and a cut-off file are reported, not thrown).
 */
export async function importHistory(filePath: string, store: ImportTarget, options: ImportOptions): Promise<ImportReport> {
  const maxProblems = options.maxProblems ?? DEFAULT_MAX_PROBLEMS;
  const report: ImportReport = {
    file: filePath,
    format: null,
    keyStyles: [],
    records: 0,
    imported: 0,
    duplicates: 0,
    rejected: 0,
    problems: [],
    problemsOmitted: 0,
    fileError: null,
    ignoredFields: [],
    written: false,
  };
  const problem = async (where: string, reason: string): Promise<void> => {
    const p = { where, reason: safeText(reason, 300) };
    if (report.problems.length < maxProblems) report.problems.push(p);
    else report.problemsOmitted++;
    await options.onProblem?.(p);
  };
  const { fh, size } = await openInput(filePath);
  let spool: Spool | null = null;
  try {
    const existing = await existingKeys(store, options.nowMs);
    spool = await Spool.create(options.spoolDir);
    const styles = new Set<ImportKeyStyle>();
    const ignored = new Set<string>();

    const accept = async (value: unknown, where: string): Promise<void> => {
      report.records++;
      const result = toTask(value, options.nowMs);
      if (!result.ok) {
        report.rejected++;
        await problem(where, result.reason);
        return;
      }
      styles.add(result.style);
      for (const f of result.ignored) if (ignored.size < 20) ignored.add(safeText(f, 60));
      const key = recordKey(result.task);
      if (existing.has(key)) {
        report.duplicates++;
        return;
      }
      existing.add(key);
      await (spool as Spool).add(result.task);
    };

    try {
      await readExport(
        fh,
        size,
        {
          format: (format) => {
            report.format = format;
          },
          record: accept,
          unreadable: async (where, reason) => {
            report.records++;
            report.rejected++;
            await problem(where, reason);
          },
          ignoredColumn: (name) => {
            if (ignored.size < 20) ignored.add(safeText(name, 60));
          },
        },
        options.readChunkBytes,
      );
    } catch (err) {
      if (!(err instanceof FileFormatError)) throw err;
      report.fileError = err.message;
      await problem('file', err.message);
    }
    report.keyStyles = [...styles];
    report.ignoredFields = [...ignored];
    const clean = report.rejected === 0 && report.fileError === null;
    if ((clean || options.partial) && spool.count > 0) {
      const progress = { appended: 0 };
      try {
        await appendImported(store, spool.tasks(), progress);
      } catch (err) {
        // The history may refuse midway (disk full, lock held): say how far it got. Importing the
        // same file again is safe: the tasks already appended are skipped as duplicates.
        const why = err instanceof Error ? err.message : String(err);
        throw new ImportError(filePath, `${progress.appended} of ${spool.count} task(s) were imported, then: ${why}. Run the same import again to add the rest (those already in are skipped).`, err);
      }
      report.imported = progress.appended;
      report.written = report.imported > 0;
    }
    return report;
  } finally {
    await fh.close().catch(() => undefined);
    await spool?.remove();
  }
}
