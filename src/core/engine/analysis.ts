// Pure analysis: completed tasks + thresholds + now -> PerformanceAnalysis. Everything the original
// computed (success rate, mean time, efficiency, bottlenecks, advice, trends) plus percentiles,
// breakdowns and evidence. The steps live beside this file: one pass over the tasks
// (analysisTally), the bottleneck rules and advice (analysisRules), the trend buckets (analysisTrends).
import type {
  BottleneckAnalysis, BreakdownEntry, EfficiencyFactors, Finding, PerformanceAnalysis, PerformanceMetrics, PerformanceTrends, Recommendation, Severity, StatusCounts,
} from '../../shared/metrics';
import { adviceFor, confidenceFor, findBottlenecks, fmt, severityAbove, type RuleTally } from './analysisRules';
import { groupEntry, tallyWindow, type GroupTally } from './analysisTally';
import { trends } from './analysisTrends';
import { findFindings } from './findings';
import type { PerformanceThresholds } from './config';

const HOUR_MS = 3_600_000;

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/** Linear interpolation between closest ranks (the usual "type 7"); `sorted` must be ascending. */
export function percentile(sorted: Float64Array, count: number, q: number): number | null {
  if (count === 0) return null;
  const pos = (count - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

/**
 * What an analysis is assembled from: the window's counts, sums, order statistics and trend
 * buckets. A full pass (tallyWindow) and the kept aggregates (WindowAggregate) both produce one.
 */
export interface WindowSummary {
  count: number;
  statusCounts: StatusCounts;
  successTimeSum: number;
  successTimeCount: number;
  p50GenerationTimeSeconds: number | null;
  p95GenerationTimeSeconds: number | null;
  rules: readonly RuleTally[];
  ownVramShareSum: number;
  ownVramShareCount: number;
  /** Unordered: the analysis orders them (most tasks first, then by key). */
  byModel: Iterable<GroupTally>;
  byResolution: Iterable<GroupTally>;
  /** A resolution key's class: the key itself when any of its tasks was classified, else none. */
  resolutionClass(key: string): string | null;
  failuresByErrorCategory: Record<string, number>;
  trends: PerformanceTrends;
}

/**
 * Analyses tasks that ended and started inside the last `timeWindowHours` before `nowMs`.
 * Running tasks are ignored. Pure: same input, same output.
 */
export function analyzePerformance(tasks: readonly PerformanceMetrics[], thresholds: PerformanceThresholds, nowMs: number, timeWindowHours = 24): PerformanceAnalysis {
  if (typeof timeWindowHours !== 'number' || !Number.isFinite(timeWindowHours) || timeWindowHours <= 0) {
    throw new RangeError(`timeWindowHours must be a number greater than 0 (got ${JSON.stringify(timeWindowHours) ?? String(timeWindowHours)})`);
  }
  const windowStart = nowMs - timeWindowHours * HOUR_MS;
  const tally = tallyWindow(tasks, windowStart);
  const sortedTimes = tally.successTimes.subarray(0, tally.successTimeCount).sort();
  const summary: WindowSummary = {
    ...tally,
    p50GenerationTimeSeconds: percentile(sortedTimes, tally.successTimeCount, 0.5),
    p95GenerationTimeSeconds: percentile(sortedTimes, tally.successTimeCount, 0.95),
    byModel: tally.byModel.values(),
    byResolution: tally.byResolution.values(),
    resolutionClass: (key) => tally.resolutionClass.get(key) ?? null,
    trends: trends(tasks, tally.inWindow, tally.starts, tally.count),
  };
  return analysisFromSummary(summary, thresholds, nowMs, timeWindowHours, (bottlenecks) =>
    findFindings(Array.from(tally.inWindow.subarray(0, tally.count), (i) => tasks[i] as PerformanceMetrics), tasks, bottlenecks));
}

/** Most tasks first, then by key: an order that does not depend on the order the tasks came in. */
function byCountThenKey(a: GroupTally, b: GroupTally): number {
  return b.taskCount - a.taskCount || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** The analysis of a window from its summary; `findings` is given the bottlenecks (or is the findings themselves). */
export function analysisFromSummary(summary: WindowSummary, thresholds: PerformanceThresholds, nowMs: number, timeWindowHours: number, findings: readonly Finding[] | ((bottlenecks: BottleneckAnalysis) => Finding[])): PerformanceAnalysis {
  const windowStart = nowMs - timeWindowHours * HOUR_MS;
  const { succeeded, failed, interrupted } = summary.statusCounts;
  const finished = succeeded + failed + interrupted;
  const successRate = finished === 0 ? null : succeeded / finished;
  const averageGenerationTimeSeconds = summary.successTimeCount === 0 ? null : summary.successTimeSum / summary.successTimeCount;
  const bottleneckAnalysis = findBottlenecks(summary.rules, thresholds);
  const resolutions = resolutionBreakdown(summary, thresholds);
  const recommendations = [
    ...bottleneckAnalysis.findings.flatMap((f) => adviceFor(f.kind, f.severity, f.evidence)),
    ...resolutions.flatMap(({ group, entry }) => generationTimeAdvice(group, entry)),
    ...reliabilityAdvice(successRate, finished, thresholds),
  ];
  // The original's advice in its order, then ranked by severity (a stable sort).
  recommendations.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
  const { resourceEfficiency, factors } = efficiency(summary, successRate, averageGenerationTimeSeconds, thresholds);
  return {
    generatedAt: nowMs,
    windowStart,
    timeWindowHours,
    taskCount: summary.count,
    statusCounts: { ...summary.statusCounts },
    averageGenerationTimeSeconds,
    p50GenerationTimeSeconds: summary.p50GenerationTimeSeconds,
    p95GenerationTimeSeconds: summary.p95GenerationTimeSeconds,
    successRate,
    resourceEfficiency,
    efficiencyFactors: factors,
    bottleneckAnalysis,
    optimizationRecommendations: recommendations.map((r) => r.text),
    recommendations,
    performanceTrends: summary.trends,
    byModelType: [...summary.byModel].sort(byCountThenKey).map((g) => groupEntry(g, null)),
    byResolution: resolutions.map((r) => r.entry),
    failuresByErrorCategory: { ...summary.failuresByErrorCategory },
    findings: typeof findings === 'function' ? findings(bottleneckAnalysis) : [...findings],
  };
}

/** Each resolution key's figures with the configured target of its class (none for an unknown class). */
function resolutionBreakdown(summary: WindowSummary, thresholds: PerformanceThresholds): { group: GroupTally; entry: BreakdownEntry }[] {
  return [...summary.byResolution].sort(byCountThenKey).map((group) => {
    const cls = summary.resolutionClass(group.key);
    const target = cls !== null ? (thresholds.maxGenerationTimeSecondsByResolution[cls] ?? null) : null;
    return { group, entry: groupEntry(group, target) };
  });
}

/** Advice when a resolution's mean successful time is over its target. */
function generationTimeAdvice(group: GroupTally, entry: BreakdownEntry): Recommendation[] {
  const target = entry.targetSeconds;
  const avg = entry.averageGenerationTimeSeconds;
  if (target === null || avg === null || !(avg > target)) return [];
  return [{
    id: `generationTime.${group.key}`,
    category: 'generationTime',
    text: `Generation time for ${group.key} (${fmt(avg)}s) exceeds target (${target}s). Consider optimization.`,
    severity: severityAbove(avg, target, 1.5),
    confidence: confidenceFor(group.timeCount),
    evidence: { metric: `mean successful generation time at ${group.key}`, measuredValue: avg, threshold: target, unit: 's', comparison: '>', taskCount: group.timeCount },
  }];
}

/** Advice when the success rate is under the minimum; critical below 85 % of it. */
function reliabilityAdvice(successRate: number | null, finished: number, thresholds: PerformanceThresholds): Recommendation[] {
  if (successRate === null || !(successRate < thresholds.minSuccessRate)) return [];
  return adviceFor('reliability', successRate < thresholds.minSuccessRate * 0.85 ? 'critical' : 'warning', {
    metric: 'success rate (succeeded / finished, cancelled excluded)',
    measuredValue: successRate,
    threshold: thresholds.minSuccessRate,
    unit: 'ratio',
    comparison: '<',
    taskCount: finished,
  });
}

/** The original's geometric mean of success rate, speed and VRAM headroom (VRAM total from the GPU that ran each task). */
function efficiency(tally: WindowSummary, successRate: number | null, averageGenerationTimeSeconds: number | null, thresholds: PerformanceThresholds): { resourceEfficiency: number | null; factors: EfficiencyFactors } {
  const factors: EfficiencyFactors = { successRate, timeEfficiency: null, vramEfficiency: null };
  if (successRate === null) return { resourceEfficiency: null, factors };
  if (tally.statusCounts.succeeded === 0) return { resourceEfficiency: 0, factors };
  const list: number[] = [successRate];
  if (averageGenerationTimeSeconds !== null) {
    factors.timeEfficiency = Math.min(1, thresholds.efficiencyBaselineSeconds / Math.max(averageGenerationTimeSeconds, 1));
    list.push(factors.timeEfficiency);
  }
  if (tally.ownVramShareCount > 0) {
    factors.vramEfficiency = 1 - Math.min(1, tally.ownVramShareSum / tally.ownVramShareCount);
    list.push(factors.vramEfficiency);
  }
  let product = 1;
  for (const f of list) product *= f;
  return { resourceEfficiency: product ** (1 / list.length), factors };
}
