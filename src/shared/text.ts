// Text that comes from outside (CLI arguments, the Python helper, API callers, history files) and
// is later printed to a terminal or shown in the dashboard. Two dangers: control characters and
// escape sequences (a task id that clears the screen, retitles the terminal or hides text), and
// size (a 130 000-character task id stored and echoed whole). Pure: no node, no vscode, no DOM.
//
// The limits, in UTF-16 code units (what String.length counts):
//   task id                      200  (ids are keys: too long or with control characters is refused)
//   model type, resolution       100  (labels: cleaned and cut)
//   error text / error category 2000  (cleaned and cut)

export const MAX_TASK_ID_CHARS = 200;
export const MAX_LABEL_CHARS = 100;
export const MAX_ERROR_TEXT_CHARS = 2000;

/** What replaces a control character that is not whitespace: visible, and harmless to a terminal. */
export const REPLACEMENT = '\uFFFD';
const ELLIPSIS = '\u2026';

// ESC sequences, removed whole (they are formatting, never content):
//   CSI  ESC [ params intermediates final          (colours, cursor moves, clear screen)
//   OSC/DCS/SOS/PM/APC  ESC ] P X ^ _ ... up to BEL or ESC \ (terminal title, hyperlinks)
//   two-character ESC x                            (reset, charset selection)
// and the same introduced by their single-character C1 forms (U+009B CSI, U+009D OSC, ...).
const ESCAPE_SEQUENCE = /(?:\u001b\[|\u009b)[\u0030-\u003f]*[\u0020-\u002f]*[\u0040-\u007e]?|(?:\u001b[\]PX^_]|[\u009d\u0090\u0098\u009e\u009f])[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|\u001b[\u0020-\u002f]*[\u0030-\u007e]?/g;
// Whitespace controls become a space, so "a\nb" stays two words on one line.
const WHITESPACE_CONTROL = /[\t\n\v\f\r\u0085\u2028\u2029]/g;
// C0, DEL, C1, and the bidirectional overrides and isolates that reorder what a terminal shows.
const OTHER_CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const ANY_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** True when `text` holds a control character, an escape sequence or a bidirectional override. */
export function hasControlCharacters(text: string): boolean {
  return ANY_CONTROL.test(text);
}

/** `text` with escape sequences removed, whitespace controls as spaces and other controls as U+FFFD. */
export function neutralizeControls(text: string): string {
  if (!ANY_CONTROL.test(text)) return text;
  return text.replace(ESCAPE_SEQUENCE, '').replace(WHITESPACE_CONTROL, ' ').replace(OTHER_CONTROL, REPLACEMENT);
}

/** `text` cut to at most `maxChars` (ending in "…" when cut), never splitting a surrogate pair. */
export function truncateText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  if (maxChars <= 0) return '';
  let end = maxChars - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // a high surrogate whose partner would be cut off
  return `${text.slice(0, end)}${ELLIPSIS}`;
}

/**
 * Display-safe and bounded: controls neutralised, then cut to `maxChars`. A very long input is cut
 * roughly first, so cleaning a 100 MB string costs no more than cleaning a short one.
 */
export function safeText(text: string, maxChars: number): string {
  const rough = text.length > maxChars * 4 + 64 ? text.slice(0, maxChars * 4 + 64) : text;
  return truncateText(neutralizeControls(rough), maxChars);
}

/** A model type or resolution as stored and shown. */
export function safeLabel(text: string): string {
  return safeText(text, MAX_LABEL_CHARS);
}

/** An error text or category as stored and shown. */
export function safeErrorText(text: string): string {
  return safeText(text, MAX_ERROR_TEXT_CHARS);
}

/**
 * Why `taskId` cannot be a task id, or null when it can. An id is a key (a task is completed by
 * the same id it was started with), so it is refused rather than silently changed.
 */
export function taskIdProblem(taskId: string): string | null {
  if (taskId.trim() === '') return 'a task id must not be empty';
  if (taskId.length > MAX_TASK_ID_CHARS) return `a task id is at most ${MAX_TASK_ID_CHARS} characters (got ${taskId.length})`;
  if (hasControlCharacters(taskId)) return 'a task id must not contain control characters or escape sequences';
  return null;
}

/** A task id for display: always safe, even for one read from an old or hostile history file. */
export function safeTaskId(taskId: string): string {
  return safeText(taskId, MAX_TASK_ID_CHARS);
}

/** Longest phase name, as the engine accepts them (PHASE_NAME in core/engine/monitor.ts). */
const MAX_PHASE_NAME_CHARS = 64;

interface RecordText {
  taskId: string;
  modelType: string;
  resolution: string;
  errorCategory?: string | null;
  quantizationUsed?: string | null;
  optimizationsApplied?: readonly string[];
  phases?: readonly { name: string }[];
}

/**
 * The text fields of a history record made safe, for the history parser (one call on each parsed
 * record): id, labels, error category, quantization, optimisations and phase names neutralised and
 * bounded; everything else is returned unchanged. A record read back may come from an old version,
 * another tool or a hand edit, so it is not trusted to have passed the engine's checks.
 */
export function safeRecordText<T extends RecordText>(record: T): T {
  const { errorCategory, quantizationUsed, optimizationsApplied, phases } = record;
  return {
    ...record,
    taskId: safeTaskId(record.taskId),
    modelType: safeLabel(record.modelType),
    resolution: safeLabel(record.resolution),
    ...(typeof errorCategory === 'string' ? { errorCategory: safeErrorText(errorCategory) } : {}),
    ...(typeof quantizationUsed === 'string' ? { quantizationUsed: safeLabel(quantizationUsed) } : {}),
    ...(Array.isArray(optimizationsApplied) ? { optimizationsApplied: optimizationsApplied.map((o) => safeLabel(o)) } : {}),
    ...(Array.isArray(phases) ? { phases: phases.map((p) => ({ ...p, name: safeText(p.name, MAX_PHASE_NAME_CHARS) })) } : {}),
  };
}
