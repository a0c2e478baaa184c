// The on-disk layout: one segment file per UTC day of completion under `history/`, each with a
// small summary beside it (bytes, counts, latest end) that stays valid while the segment's size
// matches. See docs/storage.md for why.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PerformanceMetrics } from '../../shared/metrics';
import { parseLineBytes, type Parsed } from './records';
import { readLines, type RawLine } from './lines';

export const HISTORY_DIR_NAME = 'history';
/** The single file of builds before segments; migrated on the first write, read until then. */
export const LEGACY_FILE_NAME = 'history.jsonl';
export const SPOOL_DIR_NAME = 'spool';
export const QUARANTINE_FILE_NAME = 'quarantine.lines';
export const QUARANTINE_LOG_NAME = 'quarantine.txt';
/** Present while a migration is under way: the segments' sizes before it, so a crash can be undone. */
export const MIGRATION_FILE_NAME = 'migration.json';
export const DAY_MS = 86_400_000;

const SEGMENT_RE = /^(\d{4})-(\d{2})-(\d{2})\.jsonl$/;

/** The segment a finished task goes to: the UTC day it ended (completion order within a day). */
export function segmentNameFor(task: Pick<PerformanceMetrics, 'startTime' | 'endTime'>): string {
  return segmentNameOfDay(task.endTime ?? task.startTime);
}

function segmentNameOfDay(ms: number): string {
  const safe = Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 253_402_300_799_000) : 0;
  return `${new Date(safe).toISOString().slice(0, 10)}.jsonl`;
}

/** Start of the segment's day in ms, or null for a name that is not a segment. */
export function segmentDayStart(name: string): number | null {
  const m = SEGMENT_RE.exec(name);
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isFinite(ms) && segmentNameOfDay(ms) === name ? ms : null;
}

export function summaryName(segment: string): string {
  return segment.replace(/\.jsonl$/, '.summary.json');
}

/** Segment names, oldest first. */
export async function listSegments(historyDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(historyDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((n) => segmentDayStart(n) !== null).sort();
}

export interface SegmentSummary {
  /** Size of the segment this summary describes; a different size means it is out of date. */
  bytes: number;
  tasks: number;
  newerSchema: number;
  unreadable: number;
  /** True when the last line has no newline. */
  torn: boolean;
}

export async function readSummary(historyDir: string, segment: string): Promise<SegmentSummary | null> {
  try {
    const v = JSON.parse(await readFile(join(historyDir, summaryName(segment)), 'utf8')) as Record<string, unknown>;
    const n = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
    if (!n(v.bytes) || !n(v.tasks) || !n(v.newerSchema) || !n(v.unreadable) || typeof v.torn !== 'boolean') return null;
    return { bytes: v.bytes, tasks: v.tasks, newerSchema: v.newerSchema, unreadable: v.unreadable, torn: v.torn };
  } catch {
    return null;
  }
}

export interface ClassifiedLine {
  raw: RawLine;
  /** null for a blank line. */
  parsed: Parsed | null;
  /** Why the line cannot be read; null for tasks, newer-schema records and blank lines. */
  unreadable: string | null;
}

export function classify(raw: RawLine): ClassifiedLine {
  if (!raw.terminated) return { raw, parsed: null, unreadable: 'the last line is cut off (a write was interrupted)' };
  if (raw.bytes === null) return { raw, parsed: null, unreadable: `the line is ${raw.length} bytes long, more than the 4 MiB a record may take` };
  const parsed = parseLineBytes(raw.bytes);
  if (parsed === null) return { raw, parsed: null, unreadable: null };
  return { raw, parsed, unreadable: parsed.kind === 'bad' ? parsed.reason : null };
}

export async function* classifiedLines(path: string, start = 0, end?: number): AsyncGenerator<ClassifiedLine> {
  try {
    for await (const raw of readLines(path, start, end)) yield classify(raw);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
}

const START_KEY = Buffer.from('"startTime":');

/**
 * The task's start time read straight from the line's bytes, without parsing it, or null. A
 * quote inside a JSON string is escaped, so the key pattern only matches a key; the first match
 * is the record's own (this product writes it before the phases, which have their own).
 * Used only to skip records that a time window leaves out; everything kept is fully parsed.
 */
export function quickStartTime(bytes: Buffer): number | null {
  const at = bytes.indexOf(START_KEY);
  if (at < 0) return null;
  let i = at + START_KEY.length;
  let n = 0;
  let digits = 0;
  for (; i < bytes.length && digits < 16; i++, digits++) {
    const c = bytes[i] as number;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
  }
  const next = bytes[i];
  // Only a plain integer followed by the end of the value; anything else is left to the parser.
  if (digits === 0 || (next !== 0x2c && next !== 0x7d)) return null;
  return n;
}

/** Counts a segment's lines by kind, streaming. */
export async function scanSummary(path: string, bytes: number): Promise<SegmentSummary> {
  const s: SegmentSummary = { bytes, tasks: 0, newerSchema: 0, unreadable: 0, torn: false };
  for await (const l of classifiedLines(path, 0, bytes)) {
    if (!l.raw.terminated) s.torn = true;
    if (l.unreadable !== null) s.unreadable++;
    else if (l.parsed?.kind === 'task') s.tasks++;
    else if (l.parsed?.kind === 'newerSchema') s.newerSchema++;
  }
  return s;
}
