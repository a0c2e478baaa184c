// The CSV reader of an import: RFC 4180 rows as this product's export writes them (CRLF, quotes
// doubled, a formula guard before cells that start like a formula), scanned a chunk of text at a
// time; the header row names the columns (either style of field name), and each row becomes a
// record object for toTask by the kinds of its columns.
import { METRICS_FIELDS, type MetricsField } from '../../shared/metrics';
import { FileFormatError } from './importErrors';
import { MAX_RECORD_CHARS, PROTOTYPE_KEYS, columnField, safeText } from './importRecords';

const MAX_CSV_COLUMNS = 256;

export interface CsvRow {
  cells: string[];
  line: number;
  refused: string | null;
}

export class CsvScanner {
  line = 1;
  private cells: string[] = [];
  private cell = '';
  private rowChars = 0;
  /** Line where the current row starts; -1 between rows. */
  private rowLine = -1;
  private refused: string | null = null;
  /** 0: start of a cell; 1: in an unquoted cell; 2: in quotes; 3: just after a quote inside quotes; 4: after a closing quote. */
  private state = 0;
  private lastWasCr = false;

  constructor(private readonly onRow: (row: CsvRow) => void) {}

  private add(text: string): void {
    if (this.refused !== null) return;
    this.rowChars += text.length;
    if (this.rowChars > MAX_RECORD_CHARS) {
      this.refused = `larger than ${MAX_RECORD_CHARS} characters`;
      this.cells = [];
      this.cell = '';
      return;
    }
    this.cell += text;
  }

  private endCell(): void {
    if (this.refused === null) {
      if (this.cells.length >= MAX_CSV_COLUMNS) {
        this.refused = `has more than ${MAX_CSV_COLUMNS} cells`;
        this.cells = [];
      } else this.cells.push(this.cell);
    }
    this.cell = '';
    this.state = 0;
  }

  private endRow(): void {
    this.endCell();
    const blank = this.refused === null && this.cells.length === 1 && this.cells[0] === '';
    if (!blank) this.onRow({ cells: this.cells, line: this.rowLine, refused: this.refused });
    this.cells = [];
    this.rowChars = 0;
    this.refused = null;
  }

  feed(text: string): void {
    const n = text.length;
    let runStart = -1; // start of plain characters not yet added to the cell
    const flushRun = (to: number): void => {
      if (runStart >= 0 && to > runStart) this.add(text.slice(runStart, to));
      runStart = -1;
    };
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      const wasCr = this.lastWasCr;
      this.lastWasCr = false;
      if (c === 10) this.line++;
      if (c === 10 && wasCr && this.rowLine === -1) continue; // the LF of a CRLF that ended the row
      // The first character of a row says where it starts (a row may span lines inside quotes).
      if (this.rowLine === -1) this.rowLine = this.line;
      if (this.state === 2) {
        if (c === 34) {
          flushRun(i);
          this.state = 3;
        } else if (runStart < 0) runStart = i;
        continue;
      }
      if (this.state === 3) {
        if (c === 34) {
          // A doubled quote is one quote of the text.
          this.add('"');
          this.state = 2;
          continue;
        }
        this.state = 4;
      }
      if (c === 44) {
        flushRun(i);
        this.endCell();
      } else if (c === 13 || c === 10) {
        flushRun(i);
        // CRLF is one row end (its LF is skipped above); a lone CR or LF ends a row too.
        if (c === 13) this.lastWasCr = true;
        this.endRow();
        this.rowLine = -1;
      } else if (this.state === 4) {
        if (this.refused === null) this.refused = 'has text after a closing quote';
      } else if (c === 34 && this.state === 0) {
        this.state = 2;
      } else if (c === 34) {
        if (this.refused === null) this.refused = 'has a quote inside an unquoted cell';
      } else {
        this.state = 1;
        if (runStart < 0) runStart = i;
      }
    }
    flushRun(n);
  }

  finish(): void {
    if (this.state === 2) throw new FileFormatError(`line ${this.rowLine}: the file ends inside a quoted cell: it was cut off`);
    if (this.cells.length > 0 || this.cell !== '' || this.state !== 0) this.endRow();
  }
}

/** A CSV cell back to what csvCell wrote it from: the formula guard (a leading quote) removed. */
function unguard(cell: string): string {
  return /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A number cell: a number, or the text itself so that the record parser rejects it by name. */
function numberCell(cell: string): unknown {
  return DECIMAL.test(cell) ? Number(cell) : cell;
}

function phaseCell(item: string): unknown {
  const at = item.lastIndexOf('@');
  const times = at >= 0 ? /^(\d+)-(\d*)$/.exec(item.slice(at + 1)) : null;
  if (!times) return item;
  return { name: item.slice(0, at), startTime: Number(times[1]), endTime: times[2] === '' ? null : Number(times[2]) };
}

/** One CSV row as a record object for toTask, by the kinds of the columns. */
function csvRecord(columns: readonly (MetricsField | null)[], cells: readonly string[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  columns.forEach((field, i) => {
    if (field === null) return;
    const raw = cells[i] as string;
    switch (METRICS_FIELDS[field]) {
      case 'text':
      case 'status':
        record[field] = unguard(raw);
        break;
      case 'nullableText':
      case 'scope':
        record[field] = raw === '' ? null : unguard(raw);
        break;
      case 'number':
      case 'optionalNumber':
        if (raw !== '') record[field] = numberCell(raw);
        break;
      case 'nullableNumber':
        record[field] = raw === '' ? null : numberCell(raw);
        break;
      case 'boolean':
        record[field] = raw === 'true' ? true : raw === 'false' ? false : raw;
        break;
      case 'numberList':
        record[field] = raw === '' ? [] : raw.split(';').map(numberCell);
        break;
      case 'textList':
        record[field] = raw === '' ? [] : unguard(raw).split(';');
        break;
      case 'phases':
        if (raw !== '') record[field] = unguard(raw).split(';').map(phaseCell);
        break;
    }
  });
  return record;
}

const CSV_REQUIRED: readonly MetricsField[] = ['taskId', 'modelType', 'resolution', 'steps', 'startTime', 'status', 'success'];

/**
 * The task field of each column named by the header row (null: a column that is no task field,
 * passed to `onIgnored`). A header that is refused, names a column twice or a prototype key, or
 * lacks a required column is structural damage.
 */
export function csvColumns(row: CsvRow, onIgnored: (name: string) => void): (MetricsField | null)[] {
  if (row.refused !== null) throw new FileFormatError(`line ${row.line}: the header row ${row.refused}`);
  const seen = new Set<string>();
  const columns = row.cells.map((name) => {
    if (PROTOTYPE_KEYS.has(name)) throw new FileFormatError(`line ${row.line}: the header has a column named ${JSON.stringify(name)}, which no task field has`);
    if (seen.has(name)) throw new FileFormatError(`line ${row.line}: the header names the column ${JSON.stringify(safeText(name, 60))} twice`);
    seen.add(name);
    const field = columnField(name);
    if (field === null) onIgnored(name);
    return field;
  });
  const missing = CSV_REQUIRED.filter((f) => !columns.includes(f));
  if (missing.length > 0) throw new FileFormatError(`line ${row.line}: the header has no ${missing.join(', ')} column${missing.length > 1 ? 's' : ''}: not a CSV export of model-perf`);
  return columns;
}

/** The record object of one row under `columns`, or why the row has none. */
export function csvRowValue(columns: readonly (MetricsField | null)[], row: CsvRow): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
  if (row.refused !== null || row.cells.length !== columns.length) return { ok: false, reason: row.refused !== null ? `the row ${row.refused}` : `the row has ${row.cells.length} cells, the header ${columns.length}` };
  return { ok: true, value: csvRecord(columns, row.cells) };
}
