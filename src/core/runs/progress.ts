// Reads a run's terminal output as it streams: strips ANSI and OSC sequences (the terminal's
// `ESC ]633;C BEL` marks included, even when split between chunks), follows tqdm-style bars
// redrawn with `\r` (`37/50 [00:12<00:04, 3.1it/s]`, `s/it`, percentages) and keeps a bounded
// tail for the shared outcome classifier (out-of-memory messages). Memory stays bounded whatever
// the run prints.
import { outputErrorCategory } from './outcome';

export interface ProgressReading {
  /** Steps done of the bar seen last. */
  done: number;
  /** Its total, or null for a bar without one (a bare counter). */
  total: number | null;
  /** Steps per second (tqdm's `it/s`, or the inverse of `s/it`), or null. */
  ratePerSecond: number | null;
  /** Seconds left as the bar says (tqdm's `<00:04`), or null. */
  etaSeconds: number | null;
}

/** Longest partial line kept while waiting for its end (a bar redraw is far shorter). */
const MAX_PENDING_CHARS = 8 * 1024;
/** An unterminated escape sequence longer than this is dropped rather than held. */
const MAX_ESCAPE_CHARS = 256;
const DEFAULT_TAIL_CHARS = 64 * 1024;

// CSI (`ESC [ ... final`), OSC (`ESC ] ... BEL` or `ESC \`), other two-character escapes, and
// the C1 single-byte forms.
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b(?![[\]PX^_])[@-_]|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07]*\x07/g;
const OTHER_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]/g;

// tqdm: `37/50 [00:12<00:04, 3.10it/s]`, `1/5 [00:02<?, ?it/s]`, `3/50 [00:10<02:30,  3.21s/it]`.
const TQDM = /(\d+)\/(\d+) \[(?:\d+:)*\d+<((?:\d+:)*\d+|\?)(?:,\s*(\?|[\d.]+)([kMG]?)\s*([^\]\s,]*))?/g;
// tqdm without a total: `37it [00:12, 3.10it/s]`.
const TQDM_NO_TOTAL = /(\d+)(?:it|[a-z]+) \[(?:\d+:)*\d+,\s*(\?|[\d.]+)([kMG]?)\s*([^\]\s,]*)\]/g;
// `Step 12/50`, `step 12 of 50`, `Epoch 3/10` is not a step.
const STEP_WORD = /\b[Ss]teps?\s*[:=]?\s*(\d+)\s*(?:\/|of)\s*(\d+)\b/g;

function seconds(clock: string): number | null {
  if (clock === '?') return null;
  let total = 0;
  for (const part of clock.split(':')) total = total * 60 + Number(part);
  return Number.isFinite(total) ? total : null;
}

function rate(value: string | undefined, scale: string | undefined, unit: string | undefined): number | null {
  if (value === undefined || value === '?') return null;
  const n = Number(value) * (scale === 'k' ? 1e3 : scale === 'M' ? 1e6 : scale === 'G' ? 1e9 : 1);
  if (!Number.isFinite(n) || n <= 0) return null;
  // `3.21s/it` is seconds per step; `3.10it/s` (or `steps/s`) is steps per second.
  if (unit && /^s\//.test(unit)) return 1 / n;
  return n;
}

/** The last progress reading a line shows, or null. */
export function parseProgressLine(line: string): ProgressReading | null {
  let best: ProgressReading | null = null;
  for (const m of line.matchAll(TQDM)) {
    const done = Number(m[1]);
    const total = Number(m[2]);
    if (!Number.isSafeInteger(done) || !Number.isSafeInteger(total) || done > total) continue;
    best = { done, total, ratePerSecond: rate(m[4], m[5], m[6]), etaSeconds: seconds(m[3] as string) };
  }
  if (best) return best;
  for (const m of line.matchAll(TQDM_NO_TOTAL)) {
    const done = Number(m[1]);
    if (!Number.isSafeInteger(done)) continue;
    best = { done, total: null, ratePerSecond: rate(m[2], m[3], m[4]), etaSeconds: null };
  }
  if (best) return best;
  for (const m of line.matchAll(STEP_WORD)) {
    const done = Number(m[1]);
    const total = Number(m[2]);
    if (!Number.isSafeInteger(done) || !Number.isSafeInteger(total) || total === 0 || done > total) continue;
    best = { done, total, ratePerSecond: null, etaSeconds: null };
  }
  return best;
}

export interface ProgressParserOptions {
  /** Characters of cleaned output kept for the outcome classifier. */
  tailChars?: number;
}

/** Feed it chunks as they arrive; read `latest` and `errorCategory()` at any time. */
export class ProgressParser {
  private carry = '';
  private pending = '';
  private tailParts: string[] = [];
  private tailLength = 0;
  private readonly tailLimit: number;
  /** The newest progress reading, or null before any bar was seen. */
  latest: ProgressReading | null = null;
  /** Counts readings, so a caller can tell a new one from the same one. */
  readings = 0;
  /** The largest bar total seen (a run's main loop is usually its longest bar). */
  largestTotal: number | null = null;

  constructor(options: ProgressParserOptions = {}) {
    this.tailLimit = options.tailChars ?? DEFAULT_TAIL_CHARS;
  }

  /** Adds a chunk; returns true when it changed `latest`. */
  push(chunk: string): boolean {
    let text = this.carry + chunk;
    this.carry = '';
    // An escape sequence cut by the chunk boundary waits for the next chunk.
    const esc = Math.max(text.lastIndexOf('\x1b'), text.lastIndexOf('\x9b'), text.lastIndexOf('\x9d'));
    if (esc >= 0 && text.length - esc <= MAX_ESCAPE_CHARS) {
      const rest = text.slice(esc);
      ANSI.lastIndex = 0;
      const m = ANSI.exec(rest);
      if (!m || m.index !== 0) {
        this.carry = rest;
        text = text.slice(0, esc);
      }
    }
    const clean = text.replace(ANSI, '').replace(OTHER_CONTROL, '');
    this.addTail(clean);
    const parts = (this.pending + clean).split(/\r\n|\r|\n/);
    let pending = parts.pop() ?? '';
    let changed = false;
    for (const line of parts) changed = this.consider(line) || changed;
    // A redrawn bar is not ended until the next redraw: read the partial line too (reading is
    // idempotent), so the latest state shows at once.
    if (pending.length > MAX_PENDING_CHARS) pending = pending.slice(-MAX_PENDING_CHARS);
    changed = this.consider(pending) || changed;
    this.pending = pending;
    return changed;
  }

  private consider(line: string): boolean {
    if (line.length === 0 || !/\d/.test(line)) return false;
    const reading = parseProgressLine(line.length > MAX_PENDING_CHARS ? line.slice(-MAX_PENDING_CHARS) : line);
    if (!reading) return false;
    const prev = this.latest;
    if (prev && prev.done === reading.done && prev.total === reading.total && prev.ratePerSecond === reading.ratePerSecond && prev.etaSeconds === reading.etaSeconds) return false;
    this.latest = reading;
    this.readings++;
    if (reading.total !== null && (this.largestTotal === null || reading.total > this.largestTotal)) this.largestTotal = reading.total;
    return true;
  }

  private addTail(text: string): void {
    if (text.length === 0) return;
    this.tailParts.push(text.length > this.tailLimit ? text.slice(-this.tailLimit) : text);
    this.tailLength += Math.min(text.length, this.tailLimit);
    while (this.tailParts.length > 1 && this.tailLength - (this.tailParts[0] as string).length >= this.tailLimit) {
      this.tailLength -= (this.tailParts.shift() as string).length;
    }
  }

  /** The last `tailChars` characters of cleaned output. */
  tail(): string {
    const all = this.tailParts.join('');
    return all.length > this.tailLimit ? all.slice(-this.tailLimit) : all;
  }

  /** `out_of_memory` when the output's tail says so (the shared classifier), else null. */
  errorCategory(): string | null {
    return outputErrorCategory(this.tail());
  }
}
