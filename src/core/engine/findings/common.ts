// What every finding rule shares: robust statistics, a task's configuration and load time, the
// memory of the GPU it ran on, and the builder that bounds a finding's task list. Pure.
import { MAX_FINDING_TASK_IDS, type Confidence, type Finding, type PerformanceMetrics } from '../../../shared/metrics';
import { safeLabel } from '../../../shared/text';
import { resolutionKey } from '../resolution';

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  // A typed array sorts numerically without a comparator call per step.
  const s = Float64Array.from(values).sort();
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Median absolute deviation, scaled by 1.4826 so it estimates a standard deviation for normal noise. */
export function scaledMad(values: readonly number[]): number | null {
  const m = median(values);
  if (m === null) return null;
  return (median(values.map((v) => Math.abs(v - m))) as number) * 1.4826;
}

export function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Least squares y = intercept + slope * x, with R². Null with fewer than 2 distinct x. */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number; r2: number } | null {
  const n = xs.length;
  const mx = mean(xs);
  const my = mean(ys);
  if (n < 2 || mx === null || my === null) return null;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

/** How a configuration reads in a finding: `wan-t2v at 720p`. */
export function configLabel(t: PerformanceMetrics): string {
  return `${safeLabel(t.modelType)} at ${safeLabel(resolutionKey(t.resolution, t.resolutionClass))}`;
}

export function configKey(t: PerformanceMetrics): string {
  return `${t.modelType}\u0000${resolutionKey(t.resolution, t.resolutionClass)}`;
}

/** A phase that loads the model: `model_load`, `load`, `loading`, `load_weights`... */
export const LOAD_PHASE = /(^|[_.:-])load/i;

/** Model loading of a run: its reported load time, else the length of its load phases; null when neither. */
export function loadSeconds(t: PerformanceMetrics): number | null {
  if (t.modelLoadTimeSeconds !== null) return t.modelLoadTimeSeconds;
  const phases = (t.phases ?? []).filter((p) => LOAD_PHASE.test(p.name) && p.endTime !== null);
  if (phases.length === 0) return null;
  return phases.reduce((s, p) => s + ((p.endTime as number) - p.startTime) / 1000, 0);
}

/** The run's length in seconds: its generation time, else start to end; null while unknown. */
export function durationSeconds(t: PerformanceMetrics): number | null {
  if (t.generationTimeSeconds !== null) return t.generationTimeSeconds;
  return t.endTime !== null ? Math.max(0, (t.endTime - t.startTime) / 1000) : null;
}

/**
 * Memory of the one GPU the run used; null when it ran on (or could not be pinned to) several:
 * comparing with the sum of an 80 GB and a 16 GB GPU would call a 90 GB need safe.
 */
export function gpuMemoryMb(t: PerformanceMetrics): number | null {
  return t.gpuIndices.length === 1 && t.vramTotalMb !== null && t.vramTotalMb > 0 ? t.vramTotalMb : null;
}

/** Out-of-memory in any framework's words (`oom`, `out_of_memory`, `CUDA out of memory`). */
export const OOM_CATEGORY = /(^|[^a-z])oom([^a-z]|$)|out[\s_-]*of[\s_-]*memory/i;

export function isFailure(t: PerformanceMetrics): boolean {
  return t.status === 'failed' || t.status === 'interrupted';
}

export function confidenceOf(taskCount: number, strong: boolean): Confidence {
  if (taskCount >= 5 && strong) return 'high';
  return taskCount >= 3 || strong ? 'medium' : 'low';
}

export function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

/** Whole megabytes with thousands separators, the same on every locale. */
export function mb(n: number): string {
  return `${Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')} MB`;
}

/** A finding with its task list bounded (the most recent kept) and its count beside it. */
export function finding(f: Omit<Finding, 'taskIds' | 'taskCount'>, tasks: readonly PerformanceMetrics[]): Finding {
  const sorted = [...tasks].sort((a, b) => a.startTime - b.startTime);
  return { ...f, taskIds: sorted.slice(-MAX_FINDING_TASK_IDS).map((t) => t.taskId), taskCount: tasks.length };
}

export function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
