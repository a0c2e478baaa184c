// The analysis's one pass over the tasks: which are in the window, counts per status, model type
// and resolution, the successful times, and each bottleneck rule's sum. Typed arrays, so 100 000
// tasks stay cheap. Pure.
import type { BreakdownEntry, PerformanceMetrics, StatusCounts } from '../../shared/metrics';
import { BOTTLENECK_RULES, type BottleneckRule, type RuleTally } from './analysisRules';
import { resolutionKey } from './resolution';

/** Counts and times of one model type or one resolution key. */
export interface GroupTally {
  key: string;
  taskCount: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  interrupted: number;
  timeSum: number;
  timeCount: number;
  timeMax: number | null;
}

export interface WindowTally {
  /** Indices into `tasks` of the tasks in the window, and their starts (first `count` entries). */
  inWindow: Int32Array;
  starts: Float64Array;
  count: number;
  statusCounts: StatusCounts;
  /** Generation times of successful tasks (first `successTimeCount` entries), and their sum. */
  successTimes: Float64Array;
  successTimeCount: number;
  successTimeSum: number;
  /** One per BOTTLENECK_RULES entry, in its order. */
  rules: RuleTally[];
  /** Efficiency rewards a task for needing little VRAM itself: successful tasks' own peak share. */
  ownVramShareSum: number;
  ownVramShareCount: number;
  byModel: Map<string, GroupTally>;
  byResolution: Map<string, GroupTally>;
  /** A resolution key's class: the key itself when any of its tasks was classified (resolutionKey), else null. */
  resolutionClass: Map<string, string | null>;
  failuresByErrorCategory: Record<string, number>;
}

export function newGroup(key: string): GroupTally {
  return { key, taskCount: 0, succeeded: 0, failed: 0, cancelled: 0, interrupted: 0, timeSum: 0, timeCount: 0, timeMax: null };
}

function addTime(g: GroupTally, seconds: number): void {
  g.timeSum += seconds;
  g.timeCount++;
  if (g.timeMax === null || seconds > g.timeMax) g.timeMax = seconds;
}

export function groupEntry(g: GroupTally, targetSeconds: number | null): BreakdownEntry {
  const finished = g.succeeded + g.failed + g.interrupted;
  return {
    key: g.key,
    taskCount: g.taskCount,
    succeeded: g.succeeded,
    failed: g.failed,
    cancelled: g.cancelled,
    interrupted: g.interrupted,
    successRate: finished === 0 ? null : g.succeeded / finished,
    averageGenerationTimeSeconds: g.timeCount === 0 ? null : g.timeSum / g.timeCount,
    maxGenerationTimeSeconds: g.timeMax,
    targetSeconds,
  };
}

function groupOf(groups: Map<string, GroupTally>, key: string): GroupTally {
  let g = groups.get(key);
  if (!g) groups.set(key, (g = newGroup(key)));
  return g;
}

/** Finished tasks that started at or after `windowStart`; running tasks are skipped. */
export function tallyWindow(tasks: readonly PerformanceMetrics[], windowStart: number): WindowTally {
  const n = tasks.length;
  const out: WindowTally = {
    inWindow: new Int32Array(n),
    starts: new Float64Array(n),
    count: 0,
    statusCounts: { succeeded: 0, failed: 0, cancelled: 0, interrupted: 0 },
    successTimes: new Float64Array(n),
    successTimeCount: 0,
    successTimeSum: 0,
    rules: BOTTLENECK_RULES.map(() => ({ sum: 0, count: 0 })),
    ownVramShareSum: 0,
    ownVramShareCount: 0,
    byModel: new Map(),
    byResolution: new Map(),
    resolutionClass: new Map(),
    failuresByErrorCategory: {},
  };
  const rules = BOTTLENECK_RULES;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const t = tasks[i] as PerformanceMetrics;
    const status = t.status;
    if (status === 'running' || t.startTime < windowStart) continue;
    out.inWindow[m] = i;
    out.starts[m] = t.startTime;
    m++;
    const rk = resolutionKey(t.resolution, t.resolutionClass);
    const mg = groupOf(out.byModel, t.modelType);
    let rg = out.byResolution.get(rk);
    if (!rg) {
      out.byResolution.set(rk, (rg = newGroup(rk)));
      out.resolutionClass.set(rk, null);
    }
    if (t.resolutionClass !== null) out.resolutionClass.set(rk, t.resolutionClass);
    if (status === 'succeeded') {
      out.statusCounts.succeeded++;
      countSuccess(out, t, mg, rg);
    } else if (status === 'cancelled') {
      out.statusCounts.cancelled++;
      mg.cancelled++;
      rg.cancelled++;
    } else {
      countFailure(out, t, status, mg, rg);
    }
    mg.taskCount++;
    rg.taskCount++;
    for (let r = 0; r < rules.length; r++) {
      const v = (rules[r] as BottleneckRule).sample(t);
      if (v === null) continue;
      const acc = out.rules[r] as RuleTally;
      acc.sum += v;
      acc.count++;
    }
  }
  out.count = m;
  return out;
}

function countSuccess(out: WindowTally, t: PerformanceMetrics, mg: GroupTally, rg: GroupTally): void {
  mg.succeeded++;
  rg.succeeded++;
  const g = t.generationTimeSeconds;
  if (g !== null) {
    out.successTimes[out.successTimeCount++] = g;
    out.successTimeSum += g;
    addTime(mg, g);
    addTime(rg, g);
  }
  if (t.peakVramUsageMb !== null && t.vramTotalMb !== null && t.vramTotalMb > 0) {
    out.ownVramShareSum += t.peakVramUsageMb / t.vramTotalMb;
    out.ownVramShareCount++;
  }
}

function countFailure(out: WindowTally, t: PerformanceMetrics, status: 'failed' | 'interrupted', mg: GroupTally, rg: GroupTally): void {
  if (status === 'failed') {
    out.statusCounts.failed++;
    mg.failed++;
    rg.failed++;
  } else {
    out.statusCounts.interrupted++;
    mg.interrupted++;
    rg.interrupted++;
  }
  const category = t.errorCategory ?? (status === 'interrupted' ? 'interrupted' : 'unknown');
  out.failuresByErrorCategory[category] = (out.failuresByErrorCategory[category] ?? 0) + 1;
}
