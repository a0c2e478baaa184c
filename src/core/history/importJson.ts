// The JSON reader of an import: a streaming scanner that cuts the task list of an export (`{...,
// "metrics": [...]}`, or a bare list of records) into one text per record, a chunk of text at a
// time, without ever holding the file. Every record and top-level value is bounded in size and
// depth; structural damage stops reading (FileFormatError) with the line where it is.
import { EXPORT_SCHEMA_VERSION } from './exporter';
import { FileFormatError } from './importErrors';
import { MAX_RECORD_CHARS, safeText } from './importRecords';
import { HISTORY_SCHEMA_VERSION } from './records';

/** Deepest nesting inside one record: a task is two levels deep (phases); 32 leaves room for nothing hostile. */
const MAX_RECORD_DEPTH = 32;
/** Top-level values other than the task list (the analysis, the machine) are skipped past this size. */
const MAX_TOP_VALUE_CHARS = 64 * 1024;
const MAX_KEY_CHARS = 1024;

export interface RawRecord {
  text: string | null;
  /** Why the text was not kept (too large, too deep). */
  refused: string | null;
  index: number;
  line: number;
}

interface Capture {
  purpose: 'record' | 'top' | 'key';
  kind: 'container' | 'string' | 'scalar';
  parts: string[];
  chars: number;
  limit: number;
  refused: string | null;
  depth: number;
  inString: boolean;
  escape: boolean;
  line: number;
}

type JsonState = 'start' | 'keyFirst' | 'key' | 'colon' | 'value' | 'comma' | 'itemFirst' | 'item' | 'itemComma' | 'done';

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

export class JsonExportScanner {
  line = 1;
  private state: JsonState = 'start';
  private mode: 'document' | 'list' | null = null;
  private cap: Capture | null = null;
  private key = '';
  private readonly seenKeys = new Set<string>();
  private index = 0;
  /** Small top-level scalars kept for checks (versions, counts). */
  readonly topValues = new Map<string, unknown>();
  sawList = false;

  constructor(private readonly onRecord: (r: RawRecord) => void) {}

  private fail(message: string): never {
    throw new FileFormatError(`line ${this.line}: ${message}`);
  }

  feed(text: string): void {
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (this.cap) {
        i = this.capture(text, i);
        continue;
      }
      const c = text.charCodeAt(i);
      if (isSpace(c)) {
        if (c === 10) this.line++;
        i++;
        continue;
      }
      i = this.step(text, i, c);
    }
  }

  private startCapture(purpose: Capture['purpose'], text: string, i: number, c: number, limit: number): number {
    const kind = c === 123 || c === 91 ? 'container' : c === 34 ? 'string' : 'scalar';
    if (kind === 'scalar' && (c === 44 || c === 93 || c === 125 || c === 58)) this.fail(`expected a value, found ${JSON.stringify(text[i])}`);
    this.cap = { purpose, kind, parts: [], chars: 0, limit, refused: null, depth: 0, inString: false, escape: false, line: this.line };
    return i;
  }

  /** Consumes one structural character (or starts a capture) in the current state. */
  private step(text: string, i: number, c: number): number {
    switch (this.state) {
      case 'start':
        if (c === 123) {
          this.mode = 'document';
          this.state = 'keyFirst';
        } else if (c === 91) {
          this.mode = 'list';
          this.sawList = true;
          this.state = 'itemFirst';
        } else this.fail('not a JSON export (it must start with "{" or "[")');
        return i + 1;
      case 'keyFirst':
      case 'key':
        if (c === 125 && this.state === 'keyFirst') {
          this.state = 'done';
          return i + 1;
        }
        if (c !== 34) this.fail('expected a key in quotes');
        return this.startCapture('key', text, i, c, MAX_KEY_CHARS);
      case 'colon':
        if (c !== 58) this.fail('expected ":" after a key');
        this.state = 'value';
        return i + 1;
      case 'value':
        if (this.key === 'metrics') {
          if (c !== 91) this.fail('"metrics" must be a list of tasks');
          this.sawList = true;
          this.state = 'itemFirst';
          return i + 1;
        }
        return this.startCapture('top', text, i, c, MAX_TOP_VALUE_CHARS);
      case 'comma':
        if (c === 44) this.state = 'key';
        else if (c === 125) this.state = 'done';
        else this.fail('expected "," or "}" after a value');
        return i + 1;
      case 'itemFirst':
        if (c === 93) {
          this.endList();
          return i + 1;
        }
        return this.startCapture('record', text, i, c, MAX_RECORD_CHARS);
      case 'item':
        return this.startCapture('record', text, i, c, MAX_RECORD_CHARS);
      case 'itemComma':
        if (c === 44) this.state = 'item';
        else if (c === 93) this.endList();
        else this.fail('expected "," or "]" after a task');
        return i + 1;
      case 'done':
        this.fail('unexpected text after the end of the JSON document');
    }
  }

  private endList(): void {
    this.state = this.mode === 'list' ? 'done' : 'comma';
  }

  /** Scans a value being captured from `i`; returns where scanning stopped (the end of text, or just past the value). */
  private capture(text: string, start: number): number {
    const cap = this.cap as Capture;
    const n = text.length;
    let i = start;
    let end = -1;
    if (cap.kind === 'scalar') {
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c === 44 || c === 93 || c === 125 || isSpace(c)) {
          end = i;
          break;
        }
      }
    } else {
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c === 10) this.line++;
        if (cap.inString) {
          if (cap.escape) cap.escape = false;
          else if (c === 92) cap.escape = true;
          else if (c === 34) {
            cap.inString = false;
            if (cap.kind === 'string') {
              end = i + 1;
              break;
            }
          }
        } else if (c === 34) {
          // The opening quote of a string value, or of a string inside a container.
          cap.inString = true;
        } else if (c === 123 || c === 91) {
          cap.depth++;
          if (cap.depth > MAX_RECORD_DEPTH && cap.refused === null) cap.refused = `nested more than ${MAX_RECORD_DEPTH} levels deep`;
        } else if (c === 125 || c === 93) {
          cap.depth--;
          if (cap.depth === 0) {
            end = i + 1;
            break;
          }
        }
      }
    }
    const stop = end < 0 ? n : end;
    const taken = stop - start;
    if (cap.refused === null && cap.chars + taken > cap.limit) cap.refused = `larger than ${cap.limit} characters`;
    if (cap.refused === null) cap.parts.push(text.slice(start, stop));
    cap.chars += taken;
    if (end >= 0) this.finishCapture(cap);
    return stop;
  }

  private finishCapture(cap: Capture): void {
    this.cap = null;
    const raw = cap.refused === null ? cap.parts.join('') : null;
    if (cap.purpose === 'key') {
      if (raw === null) this.fail(`a key is ${cap.refused}`);
      let key: unknown;
      try {
        key = JSON.parse(raw);
      } catch {
        this.fail('a key is not a valid JSON string');
      }
      this.key = key as string;
      if (this.seenKeys.has(this.key)) this.fail(`the key ${JSON.stringify(safeText(this.key, 60))} appears twice`);
      this.seenKeys.add(this.key);
      this.state = 'colon';
      return;
    }
    if (cap.purpose === 'top') {
      if (raw !== null && cap.kind !== 'container') {
        try {
          this.topValues.set(this.key, JSON.parse(raw));
        } catch {
          this.fail(`the value of ${JSON.stringify(safeText(this.key, 60))} is not valid JSON`);
        }
      }
      this.state = 'comma';
      return;
    }
    this.onRecord({ text: raw, refused: cap.refused, index: this.index++, line: cap.line });
    this.state = 'itemComma';
  }

  finish(): void {
    if (this.cap || this.state !== 'done') this.fail('the file ends before the JSON document does: it was cut off, or is not a complete export');
    if (!this.sawList) this.fail('no "metrics" list: not an export of model-perf or of the original performance monitor');
    const version = this.topValues.get('schema_version');
    if (typeof version === 'number' && version > EXPORT_SCHEMA_VERSION) this.fail(`written by a newer version of model-perf (schema_version ${version}); update model-perf to import it`);
    const historyVersion = this.topValues.get('history_schema_version');
    if (typeof historyVersion === 'number' && historyVersion > HISTORY_SCHEMA_VERSION) this.fail(`written by a newer version of model-perf (history_schema_version ${historyVersion}); update model-perf to import it`);
  }

  /** True for an export document (`{..., "metrics": [...]}`), false for a bare list of records. */
  get isDocument(): boolean {
    return this.mode === 'document';
  }
}

/** The value of one record the scanner cut out, or why it has none (too large, too deep, not JSON). */
export function recordValue(r: RawRecord): { ok: true; value: unknown } | { ok: false; reason: string } {
  if (r.text === null) return { ok: false, reason: `the record is ${r.refused ?? 'unreadable'}` };
  try {
    return { ok: true, value: JSON.parse(r.text) };
  } catch (err) {
    // Python's json module writes NaN and Infinity, which JSON does not have.
    const why = /(?:^|[\s:,[])-?(?:NaN|Infinity)\s*[,}\]]/.test(r.text) ? 'holds NaN or Infinity, which JSON does not allow' : err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `not valid JSON (${why})` };
  }
}
