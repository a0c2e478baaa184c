// Pure parsing of `nvidia-smi --query-gpu=... --format=csv,noheader,nounits` lines and of
// `--query-compute-apps` lines. No I/O here: the provider feeds lines, tests feed recorded fixtures.
// Every value the tool could not give ([N/A], [Not Supported], garbage) becomes null, never 0.
import { gpuReading, type GpuReading } from '../../../shared/snapshot';
import type { GpuProcessUsage } from '../../ports';
import { skipDigits } from '../../util/scan';

/** The query names this project asks for, in the order they appear on a line. */
export const NVIDIA_QUERY_FIELDS = [
  'index',
  'uuid',
  'name',
  'utilization.gpu',
  'utilization.memory',
  'memory.used',
  'memory.total',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'clocks.sm',
  'pstate',
  'mig.mode.current',
  'clocks.max.sm',
  'clocks_event_reasons.active',
] as const;

/**
 * Older names a driver may know instead of a field above: drivers before R535 call the clock event
 * reasons `clocks_throttle_reasons.*`. The provider asks for the older name when the newer one is refused.
 */
export const NVIDIA_FIELD_FALLBACKS = { 'clocks_event_reasons.active': 'clocks_throttle_reasons.active' } as const;

export type NvidiaQueryField = (typeof NVIDIA_QUERY_FIELDS)[number] | (typeof NVIDIA_FIELD_FALLBACKS)[keyof typeof NVIDIA_FIELD_FALLBACKS];

/**
 * Fields whose absence the monitor can live with: an older driver that rejects one of these fails
 * the whole query, so the provider drops the rejected one and asks again.
 */
export const OPTIONAL_NVIDIA_FIELDS: ReadonlySet<NvidiaQueryField> = new Set<NvidiaQueryField>([
  'utilization.memory',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'clocks.sm',
  'pstate',
  'mig.mode.current',
  'clocks.max.sm',
  'clocks_event_reasons.active',
  'clocks_throttle_reasons.active',
]);

/** The compute-apps query; gpu_uuid lets a process be tied to its device on multi-GPU machines. */
const NVIDIA_COMPUTE_APPS_FIELDS = ['pid', 'gpu_uuid', 'used_memory'] as const;

export type GpuLineResult =
  | { ok: true; reading: GpuReading }
  | { ok: false; reason: string };

/** Longest GPU name kept; a longer one is hostile or broken output, not a product name. */
const MAX_NAME_CHARS = 96;

/** Markers nvidia-smi prints in place of a value it cannot read. */
function isUnknownMarker(value: string): boolean {
  const v = value.trim();
  if (v === '' || v === 'N/A' || v === 'Unknown' || v === 'Unknown Error') return true;
  // `[N/A]`, `[Not Supported]`, `[Unknown Error]`, `[GPU is lost]`, `[Insufficient Permissions]`, ...
  return /^\[[^\]]*\]$/.test(v);
}

const MINUS = 0x2d;
const DOT = 0x2e;

/** `-?digits(.digits)?`, checked by a scan: the common case of every streamed value, no RegExp. */
function isPlainDecimal(v: string): boolean {
  const start = v.charCodeAt(0) === MINUS ? 1 : 0;
  const whole = skipDigits(v, start);
  if (whole === start) return false;
  if (whole === v.length) return true;
  if (v.charCodeAt(whole) !== DOT) return false;
  const end = skipDigits(v, whole + 1);
  return end > whole + 1 && end === v.length;
}

/** A plain decimal number, or null. Rejects `12abc`, `0x10`, `Infinity`, `1e309` and friends. */
export function parseNumberField(value: string): number | null {
  const v = value.trim();
  if (isPlainDecimal(v)) {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  if (isUnknownMarker(v)) return null;
  // Without `nounits` (or from a hand-run command) values carry units; accept and drop known ones.
  const m = /^(-?\d+(?:\.\d+)?)(?:\s*(?:MiB|W|%|C|MHz))?$/.exec(v);
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isFinite(n) ? n : null;
}

function nonNegative(n: number | null): number | null {
  return n !== null && n >= 0 ? n : null;
}

function percent(n: number | null): number | null {
  return n !== null && n >= 0 && n <= 100 ? n : null;
}

/** Strips control characters and caps the length, so a name cannot break a log line or the UI. */
export function sanitizeText(value: string, maxChars = MAX_NAME_CHARS): string {
  const cleaned = value.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g, '').trim();
  return cleaned.length > maxChars ? cleaned.slice(0, maxChars) : cleaned;
}

/**
 * Splits one CSV line. nvidia-smi separates values with ", " and never quotes them; a GPU name with
 * a comma would shift every later column, which the column count check then rejects.
 */
function splitCsv(line: string): string[] {
  return line.split(',').map((s) => s.trim());
}

/** Where each figure sits in a fields list (-1: not asked for); one plan per list, kept. */
interface ColumnPlan {
  index: number;
  uuid: number;
  name: number;
  pstate: number;
  reasons: number;
  mig: number;
  util: number;
  memUtil: number;
  memUsed: number;
  memTotal: number;
  temperature: number;
  powerDraw: number;
  powerLimit: number;
  smClock: number;
  smClockMax: number;
}

const planCache = new WeakMap<readonly NvidiaQueryField[], ColumnPlan>();

function planOf(fields: readonly NvidiaQueryField[]): ColumnPlan {
  let plan = planCache.get(fields);
  if (!plan) {
    const at = (f: NvidiaQueryField): number => fields.indexOf(f);
    const reasons = at('clocks_event_reasons.active');
    plan = {
      index: at('index'),
      uuid: at('uuid'),
      name: at('name'),
      pstate: at('pstate'),
      reasons: reasons >= 0 ? reasons : at('clocks_throttle_reasons.active'),
      mig: at('mig.mode.current'),
      util: at('utilization.gpu'),
      memUtil: at('utilization.memory'),
      memUsed: at('memory.used'),
      memTotal: at('memory.total'),
      temperature: at('temperature.gpu'),
      powerDraw: at('power.draw'),
      powerLimit: at('power.limit'),
      smClock: at('clocks.sm'),
      smClockMax: at('clocks.max.sm'),
    };
    planCache.set(fields, plan);
  }
  return plan;
}

/**
 * The checked form of the text columns (uuid, name), which stay the same from tick to tick: each
 * distinct raw text is checked once. Bounded: cleared when a hostile stream fills it.
 */
const textCache = new Map<string, { uuid: string | null; name: string }>();
const TEXT_CACHE_LIMIT = 256;

function checkedText(uuidText: string | null, nameText: string | null): { uuid: string | null; name: string } {
  const key = `${uuidText ?? ''}\u0000${nameText ?? ''}`;
  let hit = textCache.get(key);
  if (!hit) {
    const uuid = uuidText !== null && /^(GPU|MIG)-[0-9A-Za-z-/]{1,80}$/.test(uuidText) ? uuidText : null;
    const name = nameText !== null && !isUnknownMarker(nameText) ? sanitizeText(nameText) : '';
    if (textCache.size >= TEXT_CACHE_LIMIT) textCache.clear();
    hit = { uuid, name };
    textCache.set(key, hit);
  }
  return hit;
}

/** Column `i`'s text, or null when the list does not ask for it. */
function col(cols: readonly string[], i: number): string | null {
  return i < 0 ? null : (cols[i] as string);
}

function numberAt(cols: readonly string[], i: number): number | null {
  return i < 0 ? null : parseNumberField(cols[i] as string);
}

/** `P0`..`P15` as nvidia-smi prints the performance state. */
function isPerformanceState(v: string): boolean {
  return v.length >= 2 && v.length <= 3 && v.charCodeAt(0) === 0x50 && skipDigits(v, 1) === v.length;
}

/**
 * Parses one line of `--query-gpu=<fields> --format=csv,noheader,nounits` output. Columns are
 * matched by name (the provider may drop fields a driver rejects), never by position.
 */
export function parseGpuLine(line: string, fields: readonly NvidiaQueryField[]): GpuLineResult {
  const trimmed = line.trim();
  if (trimmed === '') return { ok: false, reason: 'empty line' };
  const cols = splitCsv(trimmed);
  if (cols.length !== fields.length) {
    return { ok: false, reason: `expected ${fields.length} columns, got ${cols.length}` };
  }
  const plan = planOf(fields);
  const indexText = col(cols, plan.index);
  if (indexText === null || indexText.length === 0 || indexText.length > 4 || skipDigits(indexText, 0) !== indexText.length) {
    return { ok: false, reason: 'no GPU index in the first column' };
  }
  const { uuid, name } = checkedText(col(cols, plan.uuid), col(cols, plan.name));
  const pstateText = col(cols, plan.pstate);
  const performanceState = pstateText !== null && isPerformanceState(pstateText) ? pstateText : null;
  const reasonsText = col(cols, plan.reasons);
  const migText = col(cols, plan.mig);
  const mig = (migText !== null && migText.toLowerCase() === 'enabled') || (uuid !== null && uuid.startsWith('MIG-'));

  const reading = gpuReading({
    index: Number(indexText),
    uuid,
    name: name || `GPU ${indexText}`,
    utilizationPercent: percent(numberAt(cols, plan.util)),
    memoryUtilizationPercent: percent(numberAt(cols, plan.memUtil)),
    vramUsedMb: nonNegative(numberAt(cols, plan.memUsed)),
    vramTotalMb: nonNegative(numberAt(cols, plan.memTotal)),
    temperatureCelsius: temperature(numberAt(cols, plan.temperature)),
    powerDrawWatts: nonNegative(numberAt(cols, plan.powerDraw)),
    powerLimitWatts: nonNegative(numberAt(cols, plan.powerLimit)),
    smClockMhz: nonNegative(numberAt(cols, plan.smClock)),
    smClockMaxMhz: nonNegative(numberAt(cols, plan.smClockMax)),
    clockEventReasons: reasonsText === null ? null : parseReasonMask(reasonsText),
    performanceState,
    mig,
  });
  // A line whose every value is unknown (a lost GPU) is kept: the device showing as unknown tells
  // the user more than the device vanishing from the list.
  return { ok: true, reading };
}

/**
 * The clock event reasons bitmask (`0x0000000000000044`) as a number, or null for a marker or
 * anything else. Only the low 32 bits are kept: every reason NVML defines lies there, and a number
 * above 2^53 would lose bits.
 */
export function parseReasonMask(value: string): number | null {
  const v = value.trim();
  if (!/^0x[0-9a-f]{1,16}$/i.test(v)) return null;
  return Number(BigInt(v) & 0xffffffffn);
}

function temperature(n: number | null): number | null {
  // Below -50 or above 150 °C is a sensor error, not a temperature.
  return n !== null && n > -50 && n < 150 ? n : null;
}

/** Parses a whole `--query-gpu` output (the one-shot probe), keeping valid lines and counting rejects. */
export function parseGpuOutput(
  text: string,
  fields: readonly NvidiaQueryField[],
): { readings: GpuReading[]; rejected: Array<{ line: string; reason: string }> } {
  const readings: GpuReading[] = [];
  const rejected: Array<{ line: string; reason: string }> = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const r = parseGpuLine(line, fields);
    if (r.ok) readings.push(r.reading);
    else rejected.push({ line: sanitizeText(line, 200), reason: r.reason });
  }
  return { readings, rejected };
}

/**
 * Parses `--query-compute-apps=pid,gpu_uuid,used_memory --format=csv,noheader,nounits` output.
 * Lines that are not a process (messages such as "No running processes found") are skipped.
 * In WSL2 and some containers used_memory reads [N/A]: the process is listed with null memory.
 */
export function parseComputeApps(text: string): GpuProcessUsage[] {
  const out: GpuProcessUsage[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const usage = parseComputeAppsLine(raw);
    if (usage) out.push(usage);
  }
  return out;
}

/** One compute-apps line as a process, or null for anything else (a header, a message, garbage). */
export function parseComputeAppsLine(raw: string): GpuProcessUsage | null {
  const line = raw.trim();
  if (line === '') return null;
  const cols = splitCsv(line);
  if (cols.length !== NVIDIA_COMPUTE_APPS_FIELDS.length) return null;
  const [pidText, uuidText, memText] = cols as [string, string, string];
  if (!/^\d{1,10}$/.test(pidText)) return null;
  const pid = Number(pidText);
  if (pid <= 0 || pid > 0x7fffffff) return null;
  return {
    pid,
    gpuUuid: /^(GPU|MIG)-[0-9A-Za-z-/]{1,80}$/.test(uuidText) ? uuidText : null,
    usedMemoryMb: nonNegative(parseNumberField(memText)),
  };
}

/**
 * The header nvidia-smi prints before each block of a looping compute-apps query (asked for with
 * a header for exactly this reason): a block may hold no process at all, so without it an empty
 * tick could not be told from a silent tool. Its first column is the first field's name.
 */
export function isComputeAppsHeader(raw: string): boolean {
  const line = raw.trim();
  return line.startsWith(`${NVIDIA_COMPUTE_APPS_FIELDS[0]},`) || line === NVIDIA_COMPUTE_APPS_FIELDS[0];
}

/** Builds the `--query-gpu` argument list for a long-lived (`loopMs`) or one-shot query. */
export function gpuQueryArgs(fields: readonly NvidiaQueryField[], loopMs?: number): string[] {
  const args = [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits'];
  if (loopMs !== undefined) args.push(`-lms`, String(Math.max(1, Math.round(loopMs))));
  return args;
}

export function computeAppsArgs(): string[] {
  return [`--query-compute-apps=${NVIDIA_COMPUTE_APPS_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];
}

/**
 * The long-lived per-process query: like `computeAppsArgs` but looping every `loopMs`, and WITH the
 * header, which marks where each block starts (see isComputeAppsHeader).
 */
export function computeAppsStreamArgs(loopMs: number): string[] {
  return [`--query-compute-apps=${NVIDIA_COMPUTE_APPS_FIELDS.join(',')}`, '--format=csv,nounits', '-lms', String(Math.max(1, Math.round(loopMs)))];
}
