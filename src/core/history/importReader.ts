// Reading an export file for the import: its bytes a chunk at a time, never further than the size
// seen at the start, decoded as strict UTF-8; the format told by the first text (`{` or `[` is
// JSON, anything else CSV); each chunk fed to that format's scanner. The records a chunk holds are
// handled before the next chunk is read: at most a chunk of text and one record in memory.
import type { FileHandle } from 'node:fs/promises';
import type { MetricsField } from '../../shared/metrics';
import { CsvScanner, csvColumns, csvRowValue, type CsvRow } from './importCsv';
import { FileFormatError } from './importErrors';
import { JsonExportScanner, recordValue, type RawRecord } from './importJson';

/** Small enough that the records found in one read (at worst one per two bytes) stay few. */
const READ_CHUNK_BYTES = 64 * 1024;

export type ImportFormat = 'json' | 'csv';

/** Where the reader hands what it finds, in file order. */
export interface ExportSink {
  /** The file's format, as soon as its first text says it. */
  format(format: ImportFormat): void;
  /** A record's value, for toTask; `where` is `metrics[3], line 40` (JSON) or `line 12` (CSV). */
  record(value: unknown, where: string): Promise<void>;
  /** A record that cannot even be read as a value (too large, too deep, not JSON, a bad row). */
  unreadable(where: string, reason: string): Promise<void>;
  /** A CSV column that is no task field. */
  ignoredColumn(name: string): void;
}

/**
 * Reads the export in `fh` (`size` bytes) and hands its records to `sink`. Structural damage
 * throws FileFormatError, after the records found before it have been handed on.
 */
export async function readExport(fh: FileHandle, size: number, sink: ExportSink, readChunkBytes?: number): Promise<void> {
  let pending: (() => Promise<void>)[] = [];
  let format: ImportFormat | null = null;
  let json: JsonExportScanner | null = null;
  let csv: CsvScanner | null = null;
  let columns: (MetricsField | null)[] | null = null;
  const onRecord = (r: RawRecord): void => {
    const where = `${json?.isDocument ? 'metrics' : ''}[${r.index}], line ${r.line}`;
    pending.push(async () => {
      const read = recordValue(r);
      if (read.ok) await sink.record(read.value, where);
      else await sink.unreadable(where, read.reason);
    });
  };
  const onRow = (row: CsvRow): void => {
    if (columns === null) {
      columns = csvColumns(row, (name) => sink.ignoredColumn(name));
      return;
    }
    const cols = columns;
    const where = `line ${row.line}`;
    pending.push(async () => {
      const read = csvRowValue(cols, row);
      if (read.ok) await sink.record(read.value, where);
      else await sink.unreadable(where, read.reason);
    });
  };
  const handlePending = async (): Promise<void> => {
    const work = pending;
    pending = [];
    for (const w of work) await w();
  };

  const decoder = new TextDecoder('utf-8', { fatal: true });
  const chunkBytes = Math.max(1, readChunkBytes ?? READ_CHUNK_BYTES);
  const buffer = Buffer.allocUnsafe(chunkBytes);
  let position = 0;
  let blankLines = 0;
  // Read no further than the size seen at the start: a file that grows while read ends there.
  while (position < size) {
    const { bytesRead } = await fh.read(buffer, 0, Math.min(chunkBytes, size - position), position);
    if (bytesRead === 0) break;
    position += bytesRead;
    let text: string;
    try {
      text = decoder.decode(buffer.subarray(0, bytesRead), { stream: true });
    } catch {
      throw new FileFormatError(`the file is not valid UTF-8 text (in the bytes ${position - bytesRead} to ${position})`);
    }
    if (format === null) {
      const first = /\S/.exec(text);
      if (!first) {
        // Leading blank reads: only their lines matter, for the line numbers after them.
        for (let k = text.indexOf('\n'); k >= 0; k = text.indexOf('\n', k + 1)) blankLines++;
        continue;
      }
      format = first[0] === '{' || first[0] === '[' ? 'json' : 'csv';
      sink.format(format);
      if (format === 'json') json = new JsonExportScanner(onRecord);
      else csv = new CsvScanner(onRow);
      (json ?? (csv as CsvScanner)).line += blankLines;
    }
    try {
      if (json) json.feed(text);
      else csv?.feed(text);
    } finally {
      // Records found before a structural error still count.
      await handlePending();
    }
  }
  try {
    decoder.decode();
  } catch {
    throw new FileFormatError('the file is not valid UTF-8 text (it ends inside a character)');
  }
  if (format === null) throw new FileFormatError('the file is empty');
  try {
    if (json) json.finish();
    else csv?.finish();
  } finally {
    await handlePending();
  }
}
