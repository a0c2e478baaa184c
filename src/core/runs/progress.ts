// Reads a run's terminal output as it streams and keeps one steady progress reading for the run.
//
// Recognised bars (README, "Runs are tracked without a step", lists them with examples): tqdm
// (`37/50 [00:12<00:04, 3.1it/s]`, `s/it`, `unit_scale` counts such as `2.00M/5.00M` and `22.0/50.0`,
// bars cut short by a narrow terminal, counters without a total, percent-only `l_bar` bars), rich
// (default columns `━━━╸━━ 43% 0:00:03`, `MofNCompleteColumn`, `track`), Keras 2 and Keras 3
// progbars and `Step 12/50` words. Byte counters and downloads (a unit of B/kB/MB…, a file name as
// the description, "Fetching 3 files") are never a reading.
//
// One steady reading per run, even when bars are nested (epochs and batches, a training bar and an
// evaluation bar): the parser follows one bar at a time, the *outer* one.
//   - A bar drawn on a row below another (tqdm `position>0` and `leave=False` bars, rich's lower
//     rows: their line is followed by a cursor-up before any new text) never takes the reading
//     from the bar it follows.
//   - While the followed bar is unfinished, other bars are ignored (the bar that started first and
//     is still running is the outer one).
//   - Once it has finished, the next bar that starts (not already finished) takes over: a script's
//     phases one after another (loading 7/7, then denoising 0/30).
// A bar is told from another by its total (percent-only bars by their description).
//
// Escape sequences are stripped by a state machine that never holds text back: CSI, OSC (the
// terminal's `ESC ]633;… BEL` marks included), DCS/SOS/PM/APC strings, `ESC ( B`, `ESC 7`, C1
// forms, each cut anywhere by a chunk boundary. The work per chunk is linear in its size: text is
// appended to the current line, and a line is parsed once when it ends; the line still being drawn
// is parsed again only when it has doubled since (or when `latest` is read), so a stream fed one
// character at a time costs a bounded multiple of its length. A bounded tail of cleaned output is
// kept for the shared outcome classifier (out-of-memory messages).
import { outputErrorCategory } from './outcome';

export interface ProgressReading {
  /** Steps done of the followed bar (percent points when `unit` is `percent`). */
  done: number;
  /** Its total (100 when `unit` is `percent`), or null for a bare counter. */
  total: number | null;
  /**
   * Steps per second (tqdm's `it/s`, the inverse of `s/it`, Keras' `40ms/step`), or, for a bar that
   * only shows how long is left, what is left divided by that time; null when unknown.
   */
  ratePerSecond: number | null;
  /** Seconds left as the bar says (tqdm's `<00:04`, Keras' `ETA: 3s`, rich's `0:00:03`), or null. */
  etaSeconds: number | null;
  /** `steps` for a counted bar, `percent` when the bar shows only a percentage. */
  unit: 'steps' | 'percent';
}

/** A reading with what the steadiness rules need to know about its bar. */
interface BarReading {
  reading: ProgressReading;
  /** Tells bars apart: `n:50` (a total), `c:it` (a bare counter), `p:sampling` (percent only). */
  key: string;
  /** A byte counter or a download: never a reading. */
  transfer: boolean;
  /** Where in the line the reading ends (a line still being drawn must show more after it). */
  end: number;
}

/** Longest line kept while waiting for its end; a bar redraw is far shorter. */
const MAX_LINE_CHARS = 4096;
/** Only the end of a longer line is parsed (a bar's numbers sit within a terminal's width). */
const PARSE_WINDOW_CHARS = 2048;
/** Parameters of a CSI sequence longer than this are not a real sequence: it is dropped. */
const MAX_CSI_CHARS = 64;
/** An OSC or DCS string longer than this without its terminator is dropped, not waited for. */
const MAX_STRING_CHARS = 1024;
const DEFAULT_TAIL_CHARS = 64 * 1024;

const SCALE: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Z: 1e21, Y: 1e24 };

function scaled(value: string, scale: string): number {
  return Math.round(Number(value) * (SCALE[scale] ?? 1));
}

/** `00:04`, `1:02:03`, `3s`, `1:05`: seconds, or null for `?` and `-:--:--`. */
function clockSeconds(clock: string | undefined): number | null {
  if (clock === undefined || clock === '?' || clock.startsWith('-')) return null;
  if (clock.endsWith('s')) {
    const n = Number(clock.slice(0, -1));
    return Number.isFinite(n) ? n : null;
  }
  let total = 0;
  for (const part of clock.split(':')) total = total * 60 + Number(part);
  return Number.isFinite(total) ? total : null;
}

// `B`, `kB`, `MiB`, and `iB` left once tqdm's scale letter is split off.
const BYTE_UNIT = /^[KkMGTPEZY]?i?B$/;

/** A tqdm rate `3.10it/s`, `3.20s/it`, `10.7kB/s`, `?it/s`: per second and its unit. */
function tqdmRate(value: string, scale: string, numerator: string, denominator: string): { perSecond: number | null; unit: string } {
  // `3.20s/it`: seconds per unit.
  if (numerator === 's' && denominator !== 's') {
    const n = value === '?' ? NaN : Number(value) * (SCALE[scale] ?? 1);
    return { perSecond: Number.isFinite(n) && n > 0 ? 1 / n : null, unit: denominator };
  }
  const n = value === '?' ? NaN : Number(value) * (SCALE[scale] ?? 1);
  return { perSecond: Number.isFinite(n) && n > 0 ? n : null, unit: numerator };
}

/** Keras' `40ms/step`, `2s/step`, `500us/step` as steps per second. */
function kerasRate(value: string, unit: string): number | null {
  const seconds = Number(value) * (unit === 'ms' ? 1e-3 : unit === 'us' ? 1e-6 : 1);
  return Number.isFinite(seconds) && seconds > 0 ? 1 / seconds : null;
}

/** What is left divided by the time left, when a bar gives only the time left. */
function rateFromEta(done: number, total: number | null, eta: number | null): number | null {
  if (total === null || eta === null || eta <= 0 || done >= total) return null;
  return (total - done) / eta;
}

// A description that names a file (`model_index.json:`) or a download.
const TRANSFER_DESCRIPTION = /\S\.[A-Za-z][A-Za-z0-9]{1,11}\b|\b(?:[Ff]etching|[Dd]ownloading|[Uu]ploading)\b|\bfiles\b/;

function letters(description: string): string {
  return description.toLowerCase().replace(/[^a-z]+/g, ' ').trim();
}

// `n/total` with tqdm's `unit_scale` forms (`2.00M/5.00M`, `22.0/50.0`).
// Whole numbers only: not `5` of `5.00M`, not a version or a path.
const COUNT = /(?<![\w./])(\d+(?:\.\d+)?)([kMGTPEZY]?)\/(\d+(?:\.\d+)?)([kMGTPEZY]?)(?![\w./])/g;
// tqdm's left part before the count: `{desc}: {pct}%|{bar}| `.
const TQDM_LBAR_BEFORE = /(\d{1,3})%\|[^|]*\|\s*$/;
// tqdm's bracket after the count: `[elapsed<remaining, rate]`, possibly cut by a narrow terminal.
const TQDM_BRACKET = / \[(\d+(?::\d\d)+)(?:<(\?|\d+(?::\d\d)+)(?=[,\]]))?(?:<(?:\?|[\d:]+))?(?:,\s*(\?|\d+(?:\.\d+)?)([kMGTPEZY]?)([A-Za-z]*)\/([^\s\],/]+)(?=[,\]]))?/y;
// Keras 2: `25/50 [=====>....] - ETA: 3s` or, at the end, `50/50 [====] - 2s 40ms/step`.
const KERAS2_AFTER = / \[[=>.]*\](?: - ETA: (\d+:\d\d:\d\d|\d+:\d\d|\d+s)(?=\s|$)| - \d+s (\d+)(s|ms|us)\/\w+)?/y;
// Keras 3: `25/50 ━━━━━━━━ 3s 40ms/step` (the time is the ETA until the last step).
const KERAS3_AFTER = / [━]+(?: (\d+:\d\d:\d\d|\d+:\d\d|\d+s) (\d+)(s|ms|us)\/\w+)?/y;
// rich's bar before `MofNCompleteColumn`, and the time remaining after it.
const RICH_BAR_BEFORE = /[━╸╺]\s*$/;
const RICH_TIME_AFTER = /\s+(\d+:\d\d:\d\d|-:--:--)/y;
const STEP_WORD_BEFORE = /\b[Ss]teps?\s*[:=]?\s*$/;
// tqdm without a total: `37it [00:12, 3.10it/s]`, `1.55GB [00:10, 155MB/s]`.
const TQDM_NO_TOTAL = /(?:^|[\s|:])(\d+(?:\.\d+)?)([kMGTPEZY]?)([A-Za-z]*) \[(\d+(?::\d\d)+)(?:,\s*(\?|\d+(?:\.\d+)?)([kMGTPEZY]?)([A-Za-z]*)\/([^\s\],/]+))?(?=[,\]])/g;
// Keras without a target: `     37/Unknown`.
const KERAS_UNKNOWN = /(?:^|\s)(\d+)\/Unknown\b/g;
const STEP_OF = /\b[Ss]teps?\s*[:=]?\s*(\d+)\s+of\s+(\d+)\b/g;
// Percent-only bars: tqdm's `Sampling:  40%|████` and rich's `━━━╸━━  43% 0:00:03`.
const TQDM_PERCENT = /(\d{1,3})%\|/g;
const RICH_PERCENT = /[━╸╺]\s+(\d{1,3})%(?:\s+(\d+:\d\d:\d\d|-:--:--))?/g;

function tqdmDescription(line: string, lbarAt: number): string {
  return line.slice(0, lbarAt).replace(/:\s*$/, '').trim();
}

/** Every bar reading of one line, in order; the caller keeps the last. */
function readBars(line: string): BarReading | null {
  let best: BarReading | null = null;
  const take = (r: BarReading): void => {
    if (!best || r.end >= best.end) best = r;
  };
  for (const m of line.matchAll(COUNT)) {
    const start = m.index ?? 0;
    const end = start + m[0].length;
    const before = line.slice(Math.max(0, start - 512), start);
    const doneRaw = m[1] as string;
    const totalRaw = m[3] as string;
    const done = scaled(doneRaw, m[2] as string);
    const total = scaled(totalRaw, m[4] as string);
    if (!Number.isSafeInteger(done) || !Number.isSafeInteger(total) || total === 0 || done > total) continue;
    // Only tqdm's unit_scale writes decimals or a scale: `22.0/50.0`, `2.00M/5.00M`.
    const plainIntegers = !/[.kMGTPEZY]/.test(m[0]);
    const key = `n:${total}`;

    const lbar = TQDM_LBAR_BEFORE.exec(before);
    TQDM_BRACKET.lastIndex = end;
    const bracket = TQDM_BRACKET.exec(line);
    if (lbar || bracket) {
      let rate: { perSecond: number | null; unit: string } = { perSecond: null, unit: '' };
      if (bracket && bracket[3] !== undefined) rate = tqdmRate(bracket[3], bracket[4] as string, bracket[5] as string, bracket[6] as string);
      const eta = bracket ? clockSeconds(bracket[2]) : null;
      const lbarAt = lbar ? start - before.length + (lbar.index ?? 0) : -1;
      const description = lbarAt >= 0 ? tqdmDescription(line, lbarAt) : line.slice(0, start);
      const transfer = BYTE_UNIT.test(rate.unit) || TRANSFER_DESCRIPTION.test(description);
      // Narrow bars end after the count (`10/50 `) or inside the bracket (`[00:00<`).
      take({ reading: { done, total, ratePerSecond: rate.perSecond, etaSeconds: eta, unit: 'steps' }, key, transfer, end: bracket ? bracket.index + bracket[0].length : end });
      continue;
    }
    if (!plainIntegers) continue;
    KERAS2_AFTER.lastIndex = end;
    const k2 = KERAS2_AFTER.exec(line);
    if (k2) {
      const eta = clockSeconds(k2[1]);
      const rate = k2[2] !== undefined ? kerasRate(k2[2], k2[3] as string) : rateFromEta(done, total, eta);
      take({ reading: { done, total, ratePerSecond: rate, etaSeconds: eta, unit: 'steps' }, key, transfer: false, end: k2.index + k2[0].length });
      continue;
    }
    KERAS3_AFTER.lastIndex = end;
    const k3 = KERAS3_AFTER.exec(line);
    if (k3) {
      // At the last step Keras 3 shows the time taken where the ETA was.
      const eta = done < total ? clockSeconds(k3[1]) : null;
      const rate = k3[2] !== undefined ? kerasRate(k3[2], k3[3] as string) : null;
      take({ reading: { done, total, ratePerSecond: rate, etaSeconds: eta, unit: 'steps' }, key, transfer: false, end: k3.index + k3[0].length });
      continue;
    }
    if (RICH_BAR_BEFORE.test(before)) {
      RICH_TIME_AFTER.lastIndex = end;
      const time = RICH_TIME_AFTER.exec(line);
      // A count must be followed by something before the line end to be whole (`4/10` of `4/100`).
      if (!time && end < line.length && !/\s/.test(line[end] as string)) continue;
      const eta = time ? clockSeconds(time[1]) : null;
      take({ reading: { done, total, ratePerSecond: rateFromEta(done, total, eta), etaSeconds: eta, unit: 'steps' }, key, transfer: false, end: time ? time.index + time[0].length : end });
      continue;
    }
    if (STEP_WORD_BEFORE.test(before) && (end === line.length || /\W/.test(line[end] as string))) {
      take({ reading: { done, total, ratePerSecond: null, etaSeconds: null, unit: 'steps' }, key, transfer: false, end });
    }
  }
  for (const m of line.matchAll(STEP_OF)) {
    const done = Number(m[1]);
    const total = Number(m[2]);
    if (!Number.isSafeInteger(done) || !Number.isSafeInteger(total) || total === 0 || done > total) continue;
    take({ reading: { done, total, ratePerSecond: null, etaSeconds: null, unit: 'steps' }, key: `n:${total}`, transfer: false, end: (m.index ?? 0) + m[0].length });
  }
  if (best) return best;
  for (const m of line.matchAll(TQDM_NO_TOTAL)) {
    const done = scaled(m[1] as string, m[2] as string);
    if (!Number.isSafeInteger(done)) continue;
    const countUnit = m[3] as string;
    const rate = m[5] !== undefined ? tqdmRate(m[5], m[6] as string, m[7] as string, m[8] as string) : { perSecond: null, unit: countUnit };
    const start = m.index ?? 0;
    const transfer = BYTE_UNIT.test(countUnit) || BYTE_UNIT.test(rate.unit) || TRANSFER_DESCRIPTION.test(line.slice(0, start));
    take({ reading: { done, total: null, ratePerSecond: rate.perSecond, etaSeconds: null, unit: 'steps' }, key: `c:${countUnit || rate.unit}`, transfer, end: start + m[0].length });
  }
  for (const m of line.matchAll(KERAS_UNKNOWN)) {
    const done = Number(m[1]);
    if (!Number.isSafeInteger(done)) continue;
    take({ reading: { done, total: null, ratePerSecond: null, etaSeconds: null, unit: 'steps' }, key: 'c:keras', transfer: false, end: (m.index ?? 0) + m[0].length });
  }
  if (best) return best;
  for (const m of line.matchAll(TQDM_PERCENT)) {
    const pct = Number(m[1]);
    if (pct > 100) continue;
    const at = m.index ?? 0;
    const description = tqdmDescription(line, at);
    take({ reading: { done: pct, total: 100, ratePerSecond: null, etaSeconds: null, unit: 'percent' }, key: `p:${letters(description)}`, transfer: TRANSFER_DESCRIPTION.test(description), end: at + m[0].length });
  }
  for (const m of line.matchAll(RICH_PERCENT)) {
    const pct = Number(m[1]);
    if (pct > 100) continue;
    const at = m.index ?? 0;
    const glyph = line.search(/[━╸╺]/);
    const description = line.slice(0, glyph >= 0 && glyph <= at ? glyph : at).trim();
    const eta = clockSeconds(m[2]);
    // `43%` alone at the line's end may still grow (`4` of `43%` is not cut, but the time is due).
    take({ reading: { done: pct, total: 100, ratePerSecond: rateFromEta(pct, 100, eta), etaSeconds: eta, unit: 'percent' }, key: `p:${letters(description)}`, transfer: TRANSFER_DESCRIPTION.test(description), end: at + m[0].length });
  }
  return best;
}

/** The progress reading a line shows (its last bar), or null; byte counters and downloads give none. */
export function parseProgressLine(line: string): ProgressReading | null {
  const r = readBars(line);
  return r && !r.transfer ? r.reading : null;
}

function isFinished(r: ProgressReading): boolean {
  return r.total !== null && r.done >= r.total;
}

function sameReading(a: ProgressReading | null, b: ProgressReading | null): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.done === b.done && a.total === b.total && a.ratePerSecond === b.ratePerSecond && a.etaSeconds === b.etaSeconds && a.unit === b.unit;
}

export interface ProgressParserOptions {
  /** Characters of cleaned output kept for the outcome classifier. */
  tailChars?: number;
}

const enum Esc {
  None,
  /** After ESC. */
  Escape,
  /** In `ESC [` parameters. */
  Csi,
  /** In `ESC ( B`-style intermediates. */
  Intermediate,
  /** In an OSC/DCS/SOS/PM/APC string. */
  String,
  /** ESC seen inside a string (`ESC \` ends it). */
  StringEscape,
}

// Characters the scanner must look at; everything between them is plain text.
const SPECIAL = /[\x00-\x1f\x7f-\x9f]/g;

/** Feed it chunks as they arrive; read `latest` and `errorCategory()` at any time. */
export class ProgressParser {
  // Escape-sequence state, kept across chunks.
  private esc = Esc.None;
  private escChars = 0;
  private csiParams = '';
  // The line being drawn, and one that ended with `\r` and waits to learn whether a cursor-up
  // follows it (then it was a lower row: a nested bar), with its reading.
  private line = '';
  private held: string | null = null;
  private heldReading: BarReading | null = null;
  /** Length of the line being drawn when it was last read; it is read again once doubled. */
  private parsedLineLength = 0;
  private dirty = false;
  // The followed bar, its last committed reading, and the reading of the line still drawn.
  private currentKey: string | null = null;
  private currentReading: ProgressReading | null = null;
  private provisional: ProgressReading | null = null;
  private shown: ProgressReading | null = null;
  private largest: number | null = null;
  private tailText = '';
  private readonly tailLimit: number;
  /** Characters handed to the line parser so far (the tests hold it to a multiple of the input). */
  parsedChars = 0;
  /** Counts changes of `latest`, so a caller can tell a new reading from the same one. */
  readings = 0;

  constructor(options: ProgressParserOptions = {}) {
    this.tailLimit = options.tailChars ?? DEFAULT_TAIL_CHARS;
  }

  /** The followed bar's newest reading (the line still being drawn included), or null before any. */
  get latest(): ProgressReading | null {
    if (this.dirty) this.evaluateLine();
    return this.shown;
  }

  /**
   * The largest total the followed bars have had (a run's main loop is usually its longest bar);
   * byte counters, downloads and percent-only bars never count.
   */
  get largestTotal(): number | null {
    const shown = this.latest;
    if (shown && shown.unit === 'steps' && shown.total !== null && (this.largest === null || shown.total > this.largest)) return shown.total;
    return this.largest;
  }

  /** Adds a chunk; returns true when `latest` changed, or may have (a line still being drawn). */
  push(chunk: string): boolean {
    const before = this.readings;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.esc === Esc.None) {
        SPECIAL.lastIndex = i;
        const m = SPECIAL.exec(chunk);
        const stop = m ? m.index : n;
        if (stop > i) this.text(chunk.slice(i, stop));
        if (!m) break;
        i = stop;
      }
      this.control(chunk.charCodeAt(i));
      i++;
    }
    // The line still being drawn is read when it has doubled since last read (so the work stays
    // linear in the output), else when `latest` is read.
    if (this.dirty && this.line.length >= 2 * this.parsedLineLength) this.evaluateLine();
    return this.readings !== before || this.dirty;
  }

  private text(s: string): void {
    if (this.held !== null) this.commitHeld(false);
    this.line += s;
    if (this.line.length > 2 * MAX_LINE_CHARS) {
      this.line = this.line.slice(-MAX_LINE_CHARS);
      this.parsedLineLength = 0;
    }
    this.dirty = true;
    this.addTail(s);
  }

  /** A character that is not plain text: a control, or part of an escape sequence. */
  private control(c: number): void {
    switch (this.esc) {
      case Esc.None:
        if (c === 0x1b) this.startEscape(Esc.Escape);
        else if (c === 0x9b) this.startEscape(Esc.Csi);
        else if (c === 0x9d || c === 0x90 || c === 0x98 || c === 0x9e || c === 0x9f) this.startEscape(Esc.String);
        else if (c === 0x0d) {
          this.endLine();
          this.addTail('\r');
        } else if (c === 0x0a) {
          this.endLine();
          // A line feed moves down: the line above was not a lower row.
          if (this.held !== null) this.commitHeld(false);
          this.addTail('\n');
        } else if (c === 0x09) this.text(' ');
        // Other C0 and C1 controls (backspace, bell, shift) draw nothing.
        return;
      case Esc.Escape:
        if (c === 0x5b) this.esc = Esc.Csi;
        else if (c === 0x5d || c === 0x50 || c === 0x58 || c === 0x5e || c === 0x5f) this.esc = Esc.String;
        else if (c >= 0x20 && c <= 0x2f) this.esc = Esc.Intermediate;
        else if (c === 0x1b) this.startEscape(Esc.Escape);
        else if (c >= 0x30 && c <= 0x7e) {
          // `ESC 7`, `ESC 8`, `ESC c`… end here; `ESC M` (reverse index) moves up a row.
          this.esc = Esc.None;
          if (c === 0x4d) this.cursorUp();
        } else this.notASequence(c);
        return;
      case Esc.Csi:
        if (c >= 0x40 && c <= 0x7e) {
          this.esc = Esc.None;
          // `ESC [ n A` (cursor up) and `ESC [ n F` (up to a line start).
          if ((c === 0x41 || c === 0x46) && /^\d*$/.test(this.csiParams)) this.cursorUp();
          // Absolute moves (`H`, `f`, `G`, `d`: Windows' ConPTY redraws with them instead of `\r`)
          // end the line drawn, like a carriage return.
          else if ((c === 0x48 || c === 0x66 || c === 0x47 || c === 0x64) && /^[\d;]*$/.test(this.csiParams)) this.endLine();
        } else if (c >= 0x20 && c <= 0x3f && ++this.escChars <= MAX_CSI_CHARS) {
          if (this.csiParams.length < 16) this.csiParams += String.fromCharCode(c);
        } else this.notASequence(c);
        return;
      case Esc.Intermediate:
        if (c >= 0x20 && c <= 0x2f) return;
        // `ESC ( B` and the like end with their final character.
        if (c >= 0x30 && c <= 0x7e) this.esc = Esc.None;
        else this.notASequence(c);
        return;
      case Esc.String:
        if (c === 0x07 || c === 0x9c || c === 0x18 || c === 0x1a) this.esc = Esc.None;
        else if (c === 0x1b) this.esc = Esc.StringEscape;
        // An unterminated string is dropped, not waited for: what follows is read as output.
        else if (++this.escChars > MAX_STRING_CHARS) this.esc = Esc.None;
        return;
      case Esc.StringEscape:
        // `ESC \` ends the string; any other ESC starts a new sequence (terminals do the same).
        this.esc = Esc.None;
        if (c !== 0x5c) {
          this.startEscape(Esc.Escape);
          this.control(c);
        }
        return;
    }
  }

  /** A broken sequence is dropped; the character that broke it is read as itself. */
  private notASequence(c: number): void {
    this.esc = Esc.None;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) this.control(c);
    else this.text(String.fromCharCode(c));
  }

  private startEscape(state: Esc): void {
    this.esc = state;
    this.escChars = 0;
    this.csiParams = '';
  }

  /** `\r` or `\n`: the line is drawn; whether it was a lower row is known from what follows. */
  private endLine(): void {
    if (this.held !== null) this.commitHeld(false);
    if (this.line.length === 0) return;
    this.held = this.line;
    this.heldReading = this.parse(this.line, false);
    this.line = '';
    this.parsedLineLength = 0;
    this.dirty = false;
    this.showLine(this.heldReading);
  }

  /** The cursor went up: the line just drawn was a lower row (a nested bar). */
  private cursorUp(): void {
    if (this.line.length > 0) this.endLine();
    if (this.held !== null) this.commitHeld(true);
  }

  private commitHeld(lowerRow: boolean): void {
    const r = this.heldReading;
    this.held = null;
    this.heldReading = null;
    this.provisional = null;
    if (r) this.commit(r, lowerRow);
    this.refreshShown();
  }

  private parse(line: string, stillDrawn: boolean): BarReading | null {
    const window = line.length > PARSE_WINDOW_CHARS ? line.slice(-PARSE_WINDOW_CHARS) : line;
    this.parsedChars += window.length;
    if (!/\d/.test(window)) return null;
    const r = readBars(window);
    if (!r || r.transfer) return null;
    // A line still being drawn is read only up to a reading with something after it (`4/10` may
    // be the start of `4/100`, `00:0` of `00:04`), and never as percent-only: tqdm's `40%|███|`
    // comes before its count.
    if (stillDrawn && (r.end >= window.length || r.reading.unit === 'percent')) return null;
    return r;
  }

  private commit(r: BarReading, lowerRow: boolean): void {
    if (this.currentKey === null || this.currentKey === r.key) {
      this.follow(r);
      return;
    }
    // A lower row never takes the reading from the bar it is drawn under.
    if (lowerRow) return;
    // While the followed bar runs it is the outer one; once it has finished, the next bar that
    // starts takes over (one already finished, such as rich's last frame of an inner row, does not).
    const current = this.currentReading;
    if (current && !isFinished(current)) return;
    if (isFinished(r.reading)) return;
    this.follow(r);
  }

  private follow(r: BarReading): void {
    this.currentKey = r.key;
    this.currentReading = r.reading;
    if (r.reading.unit === 'steps' && r.reading.total !== null && (this.largest === null || r.reading.total > this.largest)) this.largest = r.reading.total;
  }

  /** Reads the line still being drawn. */
  private evaluateLine(): void {
    this.dirty = false;
    this.parsedLineLength = this.line.length;
    this.showLine(this.line.length > 0 ? this.parse(this.line, true) : null);
  }

  /** A reading of a line not committed yet shows only when it continues the followed bar. */
  private showLine(r: BarReading | null): void {
    this.provisional = r && (this.currentKey === null || this.currentKey === r.key) ? r.reading : null;
    this.refreshShown();
  }

  private refreshShown(): void {
    const next = this.provisional ?? this.currentReading;
    if (sameReading(next, this.shown)) return;
    this.shown = next;
    this.readings++;
  }

  private addTail(text: string): void {
    this.tailText += text;
    if (this.tailText.length > 2 * this.tailLimit) this.tailText = this.tailText.slice(-this.tailLimit);
  }

  /** The last `tailChars` characters of cleaned output. */
  tail(): string {
    return this.tailText.length > this.tailLimit ? this.tailText.slice(-this.tailLimit) : this.tailText;
  }

  /** `out_of_memory` when the output's tail says so (the shared classifier), else null. */
  errorCategory(): string | null {
    return outputErrorCategory(this.tail());
  }
}
