// Pure analysis: completed tasks + thresholds + now -> PerformanceAnalysis. Everything the original
// computed (success rate, mean time, efficiency, bottlenecks, advice, trends) plus percentiles,
// breakdowns and evidence. The steps live beside this file: one pass over the tasks
// (analysisTally), the bottleneck rules and advice (analysisRules), the trend buckets (analysisTrends).
import type { BreakdownEntry, EfficiencyFactors, PerformanceAnalysis, PerformanceMetrics, Recommendation, Severity } from '../../shared/metrics';
import { adviceFor, confidenceFor, findBottlenecks, fmt, severityAbove } from './analysisRules';
import { groupEntry, tallyWindow, type GroupTally, type WindowTally } from './analysisTally';
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
 * Analyses tasks that ended and started inside the last `timeWindowHours` before `nowMs`.
 * Running tasks are ignored. Pure: same input, same output.
 */
export function analyzePerformance(tasks: readonly PerformanceMetrics[], thresholds: PerformanceThresholds, nowMs: number, timeWindowHours = 24): PerformanceAnalysis {
  if (typeof timeWindowHours !== 'number' || !Number.isFinite(timeWindowHours) || timeWindowHours <= 0) {
    throw new RangeError(`timeWindowHours must be a number greater than 0 (got ${JSON.stringify(timeWindowHours) ?? String(timeWindowHours)})`);
  }
  const windowStart = nowMs - timeWindowHours * HOUR_MS;
  const tally = tallyWindow(tasks, windowStart);
  const { succeeded, failed, interrupted } = tally.statusCounts;
  const finished = succeeded + failed + interrupted;
  const successRate = finished === 0 ? null : succeeded / finished;
  const averageGenerationTimeSeconds = tally.successTimeCount === 0 ? null : tally.successTimeSum / tally.successTimeCount;
  const sortedTimes = tally.successTimes.subarray(0, tally.successTimeCount).sort();
  const bottleneckAnalysis = findBottlenecks(tally.rules, thresholds);
  const resolutions = resolutionBreakdown(tally, thresholds);
  const recommendations = [
    ...bottleneckAnalysis.findings.flatMap((f) => adviceFor(f.kind, f.severity, f.evidence)),
    ...resolutions.flatMap(({ group, entry }) => generationTimeAdvice(group, entry)),
    ...reliabilityAdvice(successRate, finished, thresholds),
  ];
  // The original's advice in its order, then ranked by severity (a stable sort).
  recommendations.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
  const { resourceEfficiency, factors } = efficiency(tally, successRate, averageGenerationTimeSeconds, thresholds);
  return {
    generatedAt: nowMs,
    windowStart,
    timeWindowHours,
    taskCount: tally.count,
    statusCounts: tally.statusCounts,
    averageGenerationTimeSeconds,
    p50GenerationTimeSeconds: percentile(sortedTimes, tally.successTimeCount, 0.5),
    p95GenerationTimeSeconds: percentile(sortedTimes, tally.successTimeCount, 0.95),
    successRate,
    resourceEfficiency,
    efficiencyFactors: factors,
    bottleneckAnalysis,
    optimizationRecommendations: recommendations.map((r) => r.text),
    recommendations,
    performanceTrends: trends(tasks, tally.inWindow, tally.starts, tally.count),
    byModelType: [...tally.byModel.values()].map((g) => groupEntry(g, null)),
    byResolution: resolutions.map((r) => r.entry),
    failuresByErrorCategory: tally.failuresByErrorCategory,
    findings: findFindings(Array.from(tally.inWindow.subarray(0, tally.count), (i) => tasks[i] as PerformanceMetrics), tasks, bottleneckAnalysis),
  };
}

/** Each resolution key's figures with the configured target of its class (none for an unknown class). */
function resolutionBreakdown(tally: WindowTally, thresholds: PerformanceThresholds): { group: GroupTally; entry: BreakdownEntry }[] {
  return [...tally.byResolution.values()].map((group) => {
    const cls = tally.resolutionClass.get(group.key) ?? null;
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
function efficiency(tally: WindowTally, successRate: number | null, averageGenerationTimeSeconds: number | null, thresholds: PerformanceThresholds): { resourceEfficiency: number | null; factors: EfficiencyFactors } {
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
