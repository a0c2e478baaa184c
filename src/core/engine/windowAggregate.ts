// A window's analysis kept up to date task by task, so the dashboard's update after a task end
// does not re-read the window. What it keeps: the window's finished tasks in start order (a deque:
// new ones come at the back, the window's slide takes them from the front), counts and sums per
// status, model type, resolution key, error category and bottleneck rule, the successful times as
// a sorted multiset (p50, p95), a running maximum per group (monotonic deques), and prefix sums in
// start order from which the ten equal-count trend buckets are read with a few binary searches.
// Anything else (a task older than the window's newest arriving, one leaving from the middle, the
// clock going back, a reload) marks it stale and the next read rebuilds it from the held tasks.
// Findings are not kept here: they need the runs themselves and are recomputed off the hot path.
// Pure (no clock, no I/O).
import type { Finding, PerformanceAnalysis, PerformanceMetrics, PerformanceTrends, StatusCounts } from '../../shared/metrics';
import { analysisFromSummary, percentile, type WindowSummary } from './analysis';
import { BOTTLENECK_RULES, type RuleTally } from './analysisRules';
import { newGroup, type GroupTally } from './analysisTally';
import type { PerformanceThresholds } from './config';
import type { HeldHistoryWatcher } from './heldHistory';
import { resolutionKey } from './resolution';

const TREND_BUCKETS = 10;

/** A sorted multiset of numbers: binary search plus one block move per change. */
class SortedValues {
  private values = new Float64Array(64);
  count = 0;

  add(v: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    const at = this.upperBound(v);
    this.values.copyWithin(at + 1, at, this.count);
    this.values[at] = v;
    this.count++;
  }

  /** Replaces the contents with `values` (any order): one sort, not one insertion each. */
  reset(values: Float64Array): void {
    this.values = new Float64Array(Math.max(64, values.length * 2));
    this.values.set(values.sort());
    this.count = values.length;
  }

  remove(v: number): void {
    const at = this.upperBound(v) - 1;
    if (at < 0 || this.values[at] !== v) return;
    this.values.copyWithin(at, at + 1, this.count);
    this.count--;
  }

  percentile(q: number): number | null {
    return percentile(this.values, this.count, q);
  }

  private upperBound(v: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.values[mid] as number) <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** A group's counts plus what a sliding maximum needs: its successful times, oldest first, none dominated by a newer one. */
interface KeptGroup extends GroupTally {
  maxTasks: PerformanceMetrics[];
  maxValues: number[];
  maxHead: number;
  classified: number;
}

/** Prefix sums in start order; index i holds the sum over the deque's first i tasks since the last compaction. */
const COLUMNS = ['ok', 'finished', 'timeSum', 'timeN', 'vramSum', 'vramN', 'cpuSum', 'cpuN'] as const;
type Column = (typeof COLUMNS)[number];

function addTo(col: number[], v: number): void {
  col.push((col[col.length - 1] as number) + v);
}

/** Appends one task's part to each prefix column (the trend buckets' sums). */
function pushPrefix(p: Record<Column, number[]>, t: PerformanceMetrics): void {
  const add = addTo;
  const ok = t.status === 'succeeded';
  const time = ok && t.generationTimeSeconds !== null;
  add(p.ok, ok ? 1 : 0);
  add(p.finished, t.status === 'cancelled' ? 0 : 1);
  add(p.timeSum, time ? (t.generationTimeSeconds as number) : 0);
  add(p.timeN, time ? 1 : 0);
  add(p.vramSum, t.peakVramUsageMb ?? 0);
  add(p.vramN, t.peakVramUsageMb !== null ? 1 : 0);
  add(p.cpuSum, t.deviceAverageCpuUsagePercent ?? 0);
  add(p.cpuN, t.deviceAverageCpuUsagePercent !== null ? 1 : 0);
}

export class WindowAggregate {
  private tasks: PerformanceMetrics[] = [];
  private head = 0;
  private prefix: Record<Column, number[]> = emptyPrefix();
  private windowStart = Number.NEGATIVE_INFINITY;
  private stale = true;
  /** While rebuilding: the successful times, sorted once at the end instead of inserted one by one. */
  private bulkTimes: number[] | null = null;
  private statusCounts: StatusCounts = { succeeded: 0, failed: 0, cancelled: 0, interrupted: 0 };
  private readonly successTimes = new SortedValues();
  private successTimeSum = 0;
  private rules: RuleTally[] = BOTTLENECK_RULES.map(() => ({ sum: 0, count: 0 }));
  private ownVramShareSum = 0;
  private ownVramShareCount = 0;
  private byModel = new Map<string, KeptGroup>();
  private byResolution = new Map<string, KeptGroup>();
  private failures = new Map<string, number>();
  /** How many times the aggregate was rebuilt from every held task (for tests and the benchmark). */
  rebuilds = 0;

  constructor(readonly windowHours: number) {}

  /** The held history changed in a way this cannot follow: rebuild on the next read. */
  invalidate(): void {
    this.stale = true;
  }

  /** A task joined the held history. */
  added(t: PerformanceMetrics): void {
    if (this.stale || t.status === 'running' || !(t.startTime >= this.windowStart)) return;
    const last = this.tasks[this.tasks.length - 1];
    if (this.tasks.length > this.head && last !== undefined && t.startTime < last.startTime) {
      this.stale = true;
      return;
    }
    this.push(t);
  }

  /** Tasks left the held history (the oldest, trimmed to the size limit). */
  removed(gone: readonly PerformanceMetrics[]): void {
    for (const t of gone) {
      if (this.stale) return;
      if (t.status === 'running' || !(t.startTime >= this.windowStart)) continue;
      if (this.tasks[this.head] === t) this.shift();
      else this.stale = true;
    }
  }

  /**
   * The summary of the tasks started at or after `windowStart`: the window slides forward by
   * dropping tasks from the front; a stale aggregate (or a window moved back) is rebuilt from `all`.
   */
  summary(all: readonly PerformanceMetrics[], windowStart: number): WindowSummary {
    this.moveTo(all, windowStart);
    return {
      count: this.tasks.length - this.head,
      statusCounts: { ...this.statusCounts },
      successTimeSum: this.successTimeSum,
      successTimeCount: this.successTimes.count,
      p50GenerationTimeSeconds: this.successTimes.percentile(0.5),
      p95GenerationTimeSeconds: this.successTimes.percentile(0.95),
      rules: this.rules.map((r) => ({ ...r })),
      ownVramShareSum: this.ownVramShareSum,
      ownVramShareCount: this.ownVramShareCount,
      byModel: [...this.byModel.values()].map(groupView),
      byResolution: [...this.byResolution.values()].map(groupView),
      resolutionClass: (key) => ((this.byResolution.get(key)?.classified ?? 0) > 0 ? key : null),
      failuresByErrorCategory: Object.fromEntries(this.failures),
      trends: this.trends(),
    };
  }

  /**
   * The window's tasks newest first (by start), skipping `offset` of those `match` accepts (all
   * without one) and taking at most `limit`; `total` counts every match. Without a filter it reads
   * only the page; with one it reads the window.
   */
  page(all: readonly PerformanceMetrics[], windowStart: number, offset: number, limit: number, match: ((t: PerformanceMetrics) => boolean) | null): { tasks: PerformanceMetrics[]; total: number } {
    this.moveTo(all, windowStart);
    const out: PerformanceMetrics[] = [];
    if (match === null) {
      const end = this.tasks.length - offset;
      for (let i = end - 1; i >= this.head && i >= end - limit; i--) out.push(this.tasks[i] as PerformanceMetrics);
      return { tasks: out, total: this.tasks.length - this.head };
    }
    let total = 0;
    for (let i = this.tasks.length - 1; i >= this.head; i--) {
      const t = this.tasks[i] as PerformanceMetrics;
      if (!match(t)) continue;
      if (total >= offset && out.length < limit) out.push(t);
      total++;
    }
    return { tasks: out, total };
  }

  private moveTo(all: readonly PerformanceMetrics[], windowStart: number): void {
    if (this.stale || windowStart < this.windowStart) this.rebuild(all, windowStart);
    while (this.head < this.tasks.length && (this.tasks[this.head] as PerformanceMetrics).startTime < windowStart) this.shift();
    this.windowStart = windowStart;
    this.compact();
  }

  /** Every count and sum again from `all`: one pass, plus one sort of the starts and one of the times. */
  private rebuild(all: readonly PerformanceMetrics[], windowStart: number): void {
    this.rebuilds++;
    this.tasks = all.filter((t) => t.status !== 'running' && t.startTime >= windowStart).sort((a, b) => a.startTime - b.startTime);
    this.head = 0;
    this.prefix = emptyPrefix();
    this.statusCounts = { succeeded: 0, failed: 0, cancelled: 0, interrupted: 0 };
    this.successTimeSum = 0;
    this.rules = BOTTLENECK_RULES.map(() => ({ sum: 0, count: 0 }));
    this.ownVramShareSum = 0;
    this.ownVramShareCount = 0;
    this.byModel = new Map();
    this.byResolution = new Map();
    this.failures = new Map();
    this.windowStart = windowStart;
    this.stale = false;
    const kept = this.tasks;
    this.tasks = [];
    this.bulkTimes = [];
    for (const t of kept) this.push(t);
    this.successTimes.reset(Float64Array.from(this.bulkTimes));
    this.bulkTimes = null;
  }

  private push(t: PerformanceMetrics): void {
    this.tasks.push(t);
    pushPrefix(this.prefix, t);
    this.count(t, 1);
  }

  private shift(): void {
    const t = this.tasks[this.head] as PerformanceMetrics;
    this.head++;
    this.count(t, -1);
  }

  /** Drops what the front has left once it is most of the arrays. */
  private compact(): void {
    if (this.head < 1024 || this.head * 2 < this.tasks.length) return;
    this.tasks = this.tasks.slice(this.head);
    for (const c of COLUMNS) this.prefix[c] = this.prefix[c].slice(this.head);
    this.head = 0;
  }

  /** Adds (+1) or takes away (-1) one task's part of every count and sum. */
  private count(t: PerformanceMetrics, d: 1 | -1): void {
    const mg = groupFor(this.byModel, t.modelType);
    const rk = resolutionKey(t.resolution, t.resolutionClass);
    const rg = groupFor(this.byResolution, rk);
    if (t.resolutionClass !== null) rg.classified += d;
    mg.taskCount += d;
    rg.taskCount += d;
    const status = t.status as Exclude<PerformanceMetrics['status'], 'running'>;
    this.statusCounts[status] += d;
    mg[status] += d;
    rg[status] += d;
    if (status === 'succeeded') this.countSuccess(t, d, mg, rg);
    else if (status !== 'cancelled') {
      const category = t.errorCategory ?? (status === 'interrupted' ? 'interrupted' : 'unknown');
      const n = (this.failures.get(category) ?? 0) + d;
      if (n > 0) this.failures.set(category, n);
      else this.failures.delete(category);
    }
    for (let r = 0; r < BOTTLENECK_RULES.length; r++) {
      const v = (BOTTLENECK_RULES[r] as (typeof BOTTLENECK_RULES)[number]).sample(t);
      if (v === null) continue;
      const acc = this.rules[r] as RuleTally;
      acc.sum += d * v;
      acc.count += d;
    }
    if (mg.taskCount === 0) this.byModel.delete(mg.key);
    if (rg.taskCount === 0) this.byResolution.delete(rg.key);
  }

  private countSuccess(t: PerformanceMetrics, d: 1 | -1, mg: KeptGroup, rg: KeptGroup): void {
    const g = t.generationTimeSeconds;
    if (g !== null) {
      if (this.bulkTimes) this.bulkTimes.push(g);
      else if (d > 0) this.successTimes.add(g);
      else this.successTimes.remove(g);
      this.successTimeSum += d * g;
      for (const group of [mg, rg]) {
        group.timeSum += d * g;
        group.timeCount += d;
        if (d > 0) pushMax(group, t, g);
        else if (group.maxTasks[group.maxHead] === t) group.maxHead++;
        group.timeMax = group.maxHead < group.maxValues.length ? (group.maxValues[group.maxHead] as number) : null;
      }
    }
    if (t.peakVramUsageMb !== null && t.vramTotalMb !== null && t.vramTotalMb > 0) {
      this.ownVramShareSum += d * (t.peakVramUsageMb / t.vramTotalMb);
      this.ownVramShareCount += d;
    }
  }

  /** Ten equal-count buckets by start, as trends() makes them, read from the prefix sums. */
  private trends(): PerformanceTrends {
    const out: PerformanceTrends = { bucketStartTimes: [], bucketTaskCounts: [], generationTimeSeconds: [], successRate: [], peakVramUsageMb: [], averageCpuUsagePercent: [] };
    const m = this.tasks.length - this.head;
    if (m === 0) return out;
    const buckets = Math.min(TREND_BUCKETS, m);
    const edges: number[] = [];
    for (let k = 0; k < buckets; k++) edges.push((this.tasks[this.head + Math.floor((k * m) / buckets)] as PerformanceMetrics).startTime);
    const p = this.prefix;
    const sum = (c: Column, a: number, b: number): number => (p[c][b] as number) - (p[c][a] as number);
    const mean = (s: Column, n: Column, a: number, b: number): number | null => {
      const count = sum(n, a, b);
      return count ? sum(s, a, b) / count : null;
    };
    for (let k = 0; k < buckets; k++) {
      const a = k === 0 ? this.head : this.lowerBound(edges[k] as number);
      const b = k === buckets - 1 ? this.tasks.length : this.lowerBound(edges[k + 1] as number);
      if (b <= a) continue;
      out.bucketStartTimes.push(edges[k] as number);
      out.bucketTaskCounts.push(b - a);
      out.generationTimeSeconds.push(mean('timeSum', 'timeN', a, b));
      out.successRate.push(mean('ok', 'finished', a, b));
      out.peakVramUsageMb.push(mean('vramSum', 'vramN', a, b));
      out.averageCpuUsagePercent.push(mean('cpuSum', 'cpuN', a, b));
    }
    return out;
  }

  /** The first position (from the head) whose start is at or after `start`. */
  private lowerBound(start: number): number {
    let lo = this.head;
    let hi = this.tasks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.tasks[mid] as PerformanceMetrics).startTime < start) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function emptyPrefix(): Record<Column, number[]> {
  return { ok: [0], finished: [0], timeSum: [0], timeN: [0], vramSum: [0], vramN: [0], cpuSum: [0], cpuN: [0] };
}

function groupFor(groups: Map<string, KeptGroup>, key: string): KeptGroup {
  let g = groups.get(key);
  if (!g) groups.set(key, (g = { ...newGroup(key), maxTasks: [], maxValues: [], maxHead: 0, classified: 0 }));
  return g;
}

/** A newer time at least as high makes every older, lower one irrelevant to the maximum. */
function pushMax(g: KeptGroup, t: PerformanceMetrics, v: number): void {
  while (g.maxValues.length > g.maxHead && (g.maxValues[g.maxValues.length - 1] as number) <= v) {
    g.maxValues.pop();
    g.maxTasks.pop();
  }
  g.maxValues.push(v);
  g.maxTasks.push(t);
  if (g.maxHead > 64 && g.maxHead * 2 > g.maxValues.length) {
    g.maxValues = g.maxValues.slice(g.maxHead);
    g.maxTasks = g.maxTasks.slice(g.maxHead);
    g.maxHead = 0;
  }
}

function groupView(g: KeptGroup): GroupTally {
  return {
    key: g.key, taskCount: g.taskCount, succeeded: g.succeeded, failed: g.failed, cancelled: g.cancelled, interrupted: g.interrupted,
    timeSum: g.timeSum, timeCount: g.timeCount, timeMax: g.timeMax,
  };
}

const HOUR_MS = 3_600_000;
/** Windows kept at once (the dashboard offers four); asking for another drops them all. */
const MAX_KEPT_WINDOWS = 8;

/**
 * The kept aggregates of the windows asked for, following the held history, and each window's
 * findings as of its latest full analysis (they need the runs, so they are not kept per task).
 */
export class LiveAnalyses implements HeldHistoryWatcher {
  private readonly windows = new Map<number, WindowAggregate>();
  private readonly findings = new Map<number, { thresholds: PerformanceThresholds; findings: readonly Finding[] }>();

  added(task: PerformanceMetrics): void {
    for (const w of this.windows.values()) w.added(task);
  }

  removed(tasks: readonly PerformanceMetrics[]): void {
    for (const w of this.windows.values()) w.removed(tasks);
  }

  reset(): void {
    for (const w of this.windows.values()) w.invalidate();
  }

  /** Remembers a full analysis's findings for its window. */
  remember(analysis: PerformanceAnalysis, thresholds: PerformanceThresholds): void {
    this.findings.set(analysis.timeWindowHours, { thresholds, findings: analysis.findings });
  }

  /**
   * The window's analysis from its kept aggregates, with the findings of its latest full analysis
   * (null when there is none for these thresholds: the caller runs the full one).
   */
  analysis(all: readonly PerformanceMetrics[], thresholds: PerformanceThresholds, nowMs: number, windowHours: number): PerformanceAnalysis | null {
    const known = this.findings.get(windowHours);
    if (!known || known.thresholds !== thresholds) return null;
    return analysisFromSummary(this.kept(windowHours).summary(all, nowMs - windowHours * HOUR_MS), thresholds, nowMs, windowHours, known.findings);
  }

  /** A page of the window's tasks, newest first (WindowAggregate.page). */
  page(all: readonly PerformanceMetrics[], nowMs: number, windowHours: number, offset: number, limit: number, match: ((t: PerformanceMetrics) => boolean) | null): { tasks: PerformanceMetrics[]; total: number } {
    return this.kept(windowHours).page(all, nowMs - windowHours * HOUR_MS, offset, limit, match);
  }

  private kept(windowHours: number): WindowAggregate {
    let w = this.windows.get(windowHours);
    if (!w) {
      if (this.windows.size >= MAX_KEPT_WINDOWS) this.windows.clear();
      this.windows.set(windowHours, (w = new WindowAggregate(windowHours)));
    }
    return w;
  }

  /** The kept aggregate of a window, if any (tests and the benchmark read its rebuild count). */
  window(windowHours: number): WindowAggregate | undefined {
    return this.windows.get(windowHours);
  }
}
