// Parsers for the structured fields of a task record (timeline, git commit, prediction). A history
// file, a shared folder or a message is hostile until parsed: each value is checked and bounded
// here, and one that does not fit is dropped (undefined) rather than failing the whole record,
// because the task's figures are worth keeping without it. Pure: no node, no vscode, no DOM.
import { MAX_TIMELINE_POINTS, OPTIONAL_TIMELINE_COLUMNS, TIMELINE_COLUMNS, type CompactTimeline, type GitCommit, type RunPrediction } from './metrics';

/** The fields of kind `structured` in METRICS_FIELDS. */
export type StructuredField = 'timeline' | 'gitCommit' | 'prediction';

const MAX_GIT_TEXT = 200;

function finiteOrNull(v: unknown): v is number | null {
  return v === null || (typeof v === 'number' && Number.isFinite(v));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A timeline whose columns all have one value per offset, no more than MAX_TIMELINE_POINTS; else undefined. */
export function parseTimeline(value: unknown): CompactTimeline | null | undefined {
  if (value === null) return null;
  if (!isRecord(value)) return undefined;
  const offsets = value.offsetSeconds;
  if (!Array.isArray(offsets) || offsets.length > MAX_TIMELINE_POINTS || !offsets.every((o) => typeof o === 'number' && Number.isFinite(o))) return undefined;
  const out: Record<string, unknown> = { offsetSeconds: [...(offsets as number[])] };
  for (const c of TIMELINE_COLUMNS) {
    const col = value[c];
    if (!Array.isArray(col) || col.length !== offsets.length || !col.every(finiteOrNull)) return undefined;
    out[c] = [...col];
  }
  for (const c of OPTIONAL_TIMELINE_COLUMNS) {
    const col = value[c];
    if (col === undefined) continue;
    if (!Array.isArray(col) || col.length !== offsets.length || !col.every(finiteOrNull)) return undefined;
    out[c] = [...col];
  }
  return out as unknown as CompactTimeline;
}

export function parseGitCommit(value: unknown): GitCommit | null | undefined {
  if (value === null) return null;
  if (!isRecord(value)) return undefined;
  const { hash, branch, dirty } = value;
  if (typeof hash !== 'string' || !/^[0-9a-f]{4,64}$/.test(hash)) return undefined;
  if (branch !== null && (typeof branch !== 'string' || branch.length === 0 || branch.length > MAX_GIT_TEXT)) return undefined;
  if (typeof dirty !== 'boolean') return undefined;
  return { hash, branch, dirty };
}

export function parsePrediction(value: unknown): RunPrediction | null | undefined {
  if (value === null) return null;
  if (!isRecord(value)) return undefined;
  const { peakVramMb, generationTimeSeconds, gpuMemoryMb, exceedsGpuMemory, basedOnTaskCount } = value;
  if (!finiteOrNull(peakVramMb) || !finiteOrNull(generationTimeSeconds) || !finiteOrNull(gpuMemoryMb)) return undefined;
  if (typeof exceedsGpuMemory !== 'boolean' || typeof basedOnTaskCount !== 'number' || !Number.isInteger(basedOnTaskCount) || basedOnTaskCount < 0) return undefined;
  return { peakVramMb, generationTimeSeconds, gpuMemoryMb, exceedsGpuMemory, basedOnTaskCount };
}

/** The parsed value of a structured field; undefined when it is malformed (then the field is left out). */
export function parseStructuredField(key: StructuredField, value: unknown): CompactTimeline | GitCommit | RunPrediction | null | undefined {
  switch (key) {
    case 'timeline':
      return parseTimeline(value);
    case 'gitCommit':
      return parseGitCommit(value);
    case 'prediction':
      return parsePrediction(value);
  }
}
