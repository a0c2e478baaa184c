// Pure analysis: completed tasks + thresholds + now -> PerformanceAnalysis. Everything the original
// computed (success rate, mean time, efficiency, bottlenecks, advice, trends) plus percentiles,
// breakdowns and evidence. One pass over the tasks and one typed-array sort, so 100 000 tasks stay cheap.
import type {
  Bottleneck,
  BottleneckAnalysis,
  BreakdownEntry,
  Confidence,
  Evidence,
  PerformanceAnalysis,
  PerformanceMetrics,
  PerformanceTrends,
  Recommendation,
  RecommendationCategory,
  Severity,
} from '../../shared/metrics';
import type { PerformanceThresholds } from './config';
import { resolutionKey } from './resolution';

const HOUR_MS = 3_600_000;
const TREND_BUCKETS = 10;

/** Fewer than 3 tasks is an anecdote; 10 or more is a pattern. */
export function confidenceFor(taskCount: number): Confidence {
  return taskCount < 3 ? 'low' : taskCount < 10 ? 'medium' : 'high';
}

/** Percentages overshoot by 5 % of the threshold, times by half of it, before it is critical. */
function severityAbove(measured: number, threshold: number, criticalFactor: number): Severity {
  return measured >= threshold * criticalFactor ? 'critical' : 'warning';
}

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

interface GroupAcc {
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

function newGroup(key: string): GroupAcc {
  return { key, taskCount: 0, succeeded: 0, failed: 0, cancelled: 0, interrupted: 0, timeSum: 0, timeCount: 0, timeMax: null };
}

function groupEntry(g: GroupAcc, targetSeconds: number | null): BreakdownEntry {
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

function emptyTrends(): PerformanceTrends {
  return { bucketStartTimes: [], bucketTaskCounts: [], generationTimeSeconds: [], successRate: [], peakVramUsageMb: [], averageCpuUsagePercent: [] };
}

const ADVICE: Record<Exclude<RecommendationCategory, 'generationTime'>, [string, string][]> = {
  vram: [
    ['vram.quantize', 'Enable model quantization to reduce VRAM usage'],
    ['vram.offload', 'Use model offloading to CPU when not actively generating'],
    ['vram.reduceBatch', 'Reduce batch size or resolution for lower VRAM requirements'],
    ['vram.upgrade', 'Consider upgrading GPU memory if consistently hitting limits'],
  ],
  ram: [
    ['ram.closeApps', 'Close unnecessary applications to free system RAM'],
    ['ram.offload', 'Enable model offloading to reduce RAM usage'],
    ['ram.upgrade', 'Consider increasing system RAM if consistently high usage'],
  ],
  cpu: [
    ['cpu.threads', 'Reduce CPU thread count for model processing'],
    ['cpu.background', 'Close CPU-intensive background applications'],
    ['cpu.upgrade', 'Consider upgrading CPU for better performance'],
  ],
  modelLoad: [
    ['modelLoad.ssd', 'Use SSD storage for faster model loading'],
    ['modelLoad.keepLoaded', 'Keep frequently used models loaded in memory'],
    ['modelLoad.cache', 'Enable model caching to avoid repeated loading'],
  ],
  reliability: [
    ['reliability.investigate', 'Investigate and fix causes of generation failures'],
    ['reliability.fallback', 'Enable fallback mechanisms for better reliability'],
    ['reliability.logs', 'Review error logs for common failure patterns'],
  ],
};

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
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
  const n = tasks.length;
  const inWindow = new Int32Array(n);
  const starts = new Float64Array(n);
  const successTimes = new Float64Array(n);
  let m = 0;
  let nSuccessTimes = 0;
  let succeeded = 0;
  let failed = 0;
  let cancelled = 0;
  let interrupted = 0;
  let successTimeSum = 0;
  // Memory pressure is a device matter (another process can fill the GPU), so the VRAM and RAM
  // flags use the device-wide peak of the task's own GPU / machine against that device's total.
  let vramRatioSum = 0;
  let vramRatioCount = 0;
  let ramRatioSum = 0;
  let ramRatioCount = 0;
  let cpuSum = 0;
  let cpuCount = 0;
  let loadSum = 0;
  let loadCount = 0;
  // Efficiency rewards a task for needing little VRAM itself: its own share where known.
  let effVramSum = 0;
  let effVramCount = 0;
  const byModel = new Map<string, GroupAcc>();
  const byRes = new Map<string, GroupAcc>();
  const resClass = new Map<string, string | null>();
  const failures: Record<string, number> = {};

  for (let i = 0; i < n; i++) {
    const t = tasks[i] as PerformanceMetrics;
    const status = t.status;
    if (status === 'running' || t.startTime < windowStart) continue;
    inWindow[m] = i;
    starts[m] = t.startTime;
    m++;
    let mg = byModel.get(t.modelType);
    if (!mg) byModel.set(t.modelType, (mg = newGroup(t.modelType)));
    const rk = resolutionKey(t.resolution, t.resolutionClass);
    let rg = byRes.get(rk);
    if (!rg) {
      byRes.set(rk, (rg = newGroup(rk)));
      resClass.set(rk, t.resolutionClass);
    }
    mg.taskCount++;
    rg.taskCount++;
    if (status === 'succeeded') {
      succeeded++;
      mg.succeeded++;
      rg.succeeded++;
      const g = t.generationTimeSeconds;
      if (g !== null) {
        successTimes[nSuccessTimes++] = g;
        successTimeSum += g;
        mg.timeSum += g;
        mg.timeCount++;
        if (mg.timeMax === null || g > mg.timeMax) mg.timeMax = g;
        rg.timeSum += g;
        rg.timeCount++;
        if (rg.timeMax === null || g > rg.timeMax) rg.timeMax = g;
      }
      if (t.peakVramUsageMb !== null && t.vramTotalMb !== null && t.vramTotalMb > 0) {
        effVramSum += t.peakVramUsageMb / t.vramTotalMb;
        effVramCount++;
      }
    } else if (status === 'cancelled') {
      cancelled++;
      mg.cancelled++;
      rg.cancelled++;
    } else {
      if (status === 'failed') {
        failed++;
        mg.failed++;
        rg.failed++;
      } else {
        interrupted++;
        mg.interrupted++;
        rg.interrupted++;
      }
      const category = t.errorCategory ?? (status === 'interrupted' ? 'interrupted' : 'unknown');
      failures[category] = (failures[category] ?? 0) + 1;
    }
    const dv = t.devicePeakVramUsageMb ?? t.peakVramUsageMb;
    if (dv !== null && t.vramTotalMb !== null && t.vramTotalMb > 0) {
      vramRatioSum += dv / t.vramTotalMb;
      vramRatioCount++;
    }
    if (t.devicePeakRamUsageMb !== null && t.ramTotalMb !== null && t.ramTotalMb > 0) {
      ramRatioSum += t.devicePeakRamUsageMb / t.ramTotalMb;
      ramRatioCount++;
    }
    if (t.deviceAverageCpuUsagePercent !== null) {
      cpuSum += t.deviceAverageCpuUsagePercent;
      cpuCount++;
    }
    if (t.modelLoadTimeSeconds !== null) {
      loadSum += t.modelLoadTimeSeconds;
      loadCount++;
    }
  }

  const finished = succeeded + failed + interrupted;
  const successRate = finished === 0 ? null : succeeded / finished;
  const averageGenerationTimeSeconds = nSuccessTimes === 0 ? null : successTimeSum / nSuccessTimes;
  const sortedTimes = successTimes.subarray(0, nSuccessTimes).sort();

  // Bottlenecks: the original's four flags and details, each finding with its evidence.
  const findings: Bottleneck[] = [];
  const details: BottleneckAnalysis['details'] = {};
  const vramPct = vramRatioCount ? (vramRatioSum / vramRatioCount) * 100 : null;
  if (vramPct !== null && vramPct > thresholds.maxVramUsagePercent) {
    details.vramUsagePercent = vramPct;
    findings.push({
      kind: 'vram',
      severity: severityAbove(vramPct, thresholds.maxVramUsagePercent, 1.05),
      confidence: confidenceFor(vramRatioCount),
      summary: `Peak VRAM averaged ${fmt(vramPct)}% of the GPU's memory over ${vramRatioCount} task(s), above the ${thresholds.maxVramUsagePercent}% limit`,
      evidence: { metric: "mean peak VRAM of the task's GPUs / their total", measuredValue: vramPct, threshold: thresholds.maxVramUsagePercent, unit: '%', comparison: '>', taskCount: vramRatioCount },
    });
  }
  const ramPct = ramRatioCount ? (ramRatioSum / ramRatioCount) * 100 : null;
  if (ramPct !== null && ramPct > thresholds.maxRamUsagePercent) {
    details.ramUsagePercent = ramPct;
    findings.push({
      kind: 'ram',
      severity: severityAbove(ramPct, thresholds.maxRamUsagePercent, 1.05),
      confidence: confidenceFor(ramRatioCount),
      summary: `Peak system RAM averaged ${fmt(ramPct)}% of total over ${ramRatioCount} task(s), above the ${thresholds.maxRamUsagePercent}% limit`,
      evidence: { metric: 'mean peak used RAM / total RAM', measuredValue: ramPct, threshold: thresholds.maxRamUsagePercent, unit: '%', comparison: '>', taskCount: ramRatioCount },
    });
  }
  const cpuPct = cpuCount ? cpuSum / cpuCount : null;
  if (cpuPct !== null && cpuPct > thresholds.maxCpuUsagePercent) {
    details.cpuUsagePercent = cpuPct;
    findings.push({
      kind: 'cpu',
      severity: severityAbove(cpuPct, thresholds.maxCpuUsagePercent, 1.05),
      confidence: confidenceFor(cpuCount),
      summary: `CPU averaged ${fmt(cpuPct)}% during ${cpuCount} task(s), above the ${thresholds.maxCpuUsagePercent}% limit`,
      evidence: { metric: 'mean device-wide CPU during tasks', measuredValue: cpuPct, threshold: thresholds.maxCpuUsagePercent, unit: '%', comparison: '>', taskCount: cpuCount },
    });
  }
  const loadS = loadCount ? loadSum / loadCount : null;
  if (loadS !== null && loadS > thresholds.maxModelLoadTimeSeconds) {
    details.avgModelLoadTimeSeconds = loadS;
    findings.push({
      kind: 'modelLoad',
      severity: severityAbove(loadS, thresholds.maxModelLoadTimeSeconds, 1.5),
      confidence: confidenceFor(loadCount),
      summary: `Model loading averaged ${fmt(loadS)} s over ${loadCount} task(s), above the ${thresholds.maxModelLoadTimeSeconds} s limit`,
      evidence: { metric: 'mean model load time', measuredValue: loadS, threshold: thresholds.maxModelLoadTimeSeconds, unit: 's', comparison: '>', taskCount: loadCount },
    });
  }
  const bottleneckAnalysis: BottleneckAnalysis = {
    vramBottleneck: details.vramUsagePercent !== undefined,
    ramBottleneck: details.ramUsagePercent !== undefined,
    cpuBottleneck: details.cpuUsagePercent !== undefined,
    modelLoadBottleneck: details.avgModelLoadTimeSeconds !== undefined,
    details,
    findings,
  };

  // Recommendations: the original's advice, in its order, then ranked by severity (stable sort).
  const recommendations: Recommendation[] = [];
  const advise = (category: Exclude<RecommendationCategory, 'generationTime'>, severity: Severity, evidence: Evidence): void => {
    for (const [id, text] of ADVICE[category]) recommendations.push({ id, category, text, severity, confidence: confidenceFor(evidence.taskCount), evidence });
  };
  for (const f of findings) advise(f.kind, f.severity, f.evidence);

  const byResolution: BreakdownEntry[] = [];
  for (const g of byRes.values()) {
    const cls = resClass.get(g.key) ?? null;
    const target = cls !== null ? (thresholds.maxGenerationTimeSecondsByResolution[cls] ?? null) : null;
    const entry = groupEntry(g, target);
    byResolution.push(entry);
    const avg = entry.averageGenerationTimeSeconds;
    if (target !== null && avg !== null && avg > target) {
      recommendations.push({
        id: `generationTime.${g.key}`,
        category: 'generationTime',
        text: `Generation time for ${g.key} (${fmt(avg)}s) exceeds target (${target}s). Consider optimization.`,
        severity: severityAbove(avg, target, 1.5),
        confidence: confidenceFor(g.timeCount),
        evidence: { metric: `mean successful generation time at ${g.key}`, measuredValue: avg, threshold: target, unit: 's', comparison: '>', taskCount: g.timeCount },
      });
    }
  }
  if (successRate !== null && successRate < thresholds.minSuccessRate) {
    advise('reliability', successRate < thresholds.minSuccessRate * 0.85 ? 'critical' : 'warning', {
      metric: 'success rate (succeeded / finished, cancelled excluded)',
      measuredValue: successRate,
      threshold: thresholds.minSuccessRate,
      unit: 'ratio',
      comparison: '<',
      taskCount: finished,
    });
  }
  recommendations.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);

  // Efficiency: the original's geometric mean; VRAM total comes from the GPU that ran each task.
  let resourceEfficiency: number | null = null;
  const factors = { successRate, timeEfficiency: null as number | null, vramEfficiency: null as number | null };
  if (finished > 0) {
    if (succeeded === 0) resourceEfficiency = 0;
    else {
      const list: number[] = [successRate as number];
      if (averageGenerationTimeSeconds !== null) {
        factors.timeEfficiency = Math.min(1, thresholds.efficiencyBaselineSeconds / Math.max(averageGenerationTimeSeconds, 1));
        list.push(factors.timeEfficiency);
      }
      if (effVramCount > 0) {
        factors.vramEfficiency = 1 - Math.min(1, effVramSum / effVramCount);
        list.push(factors.vramEfficiency);
      }
      let product = 1;
      for (const f of list) product *= f;
      resourceEfficiency = product ** (1 / list.length);
    }
  }

  return {
    generatedAt: nowMs,
    windowStart,
    timeWindowHours,
    taskCount: m,
    statusCounts: { succeeded, failed, cancelled, interrupted },
    averageGenerationTimeSeconds,
    p50GenerationTimeSeconds: percentile(sortedTimes, nSuccessTimes, 0.5),
    p95GenerationTimeSeconds: percentile(sortedTimes, nSuccessTimes, 0.95),
    successRate,
    resourceEfficiency,
    efficiencyFactors: factors,
    bottleneckAnalysis,
    optimizationRecommendations: recommendations.map((r) => r.text),
    recommendations,
    performanceTrends: m === 0 ? emptyTrends() : trends(tasks, inWindow, starts, m),
    byModelType: [...byModel.values()].map((g) => groupEntry(g, null)),
    byResolution,
    failuresByErrorCategory: failures,
  };
}

/**
 * About ten equal-count buckets by start time. Bucket edges come from one sort of the start times;
 * equal starts share a bucket, and buckets left empty by ties are dropped rather than shown as gaps.
 */
function trends(tasks: readonly PerformanceMetrics[], inWindow: Int32Array, starts: Float64Array, m: number): PerformanceTrends {
  const buckets = Math.min(TREND_BUCKETS, m);
  const sorted = starts.subarray(0, m).slice().sort();
  const edges = new Float64Array(buckets);
  for (let k = 0; k < buckets; k++) edges[k] = sorted[Math.floor((k * m) / buckets)] as number;
  const count = new Float64Array(buckets);
  const okCount = new Float64Array(buckets);
  const finishedCount = new Float64Array(buckets);
  const timeSum = new Float64Array(buckets);
  const timeN = new Float64Array(buckets);
  const vramSum = new Float64Array(buckets);
  const vramN = new Float64Array(buckets);
  const cpuSum = new Float64Array(buckets);
  const cpuN = new Float64Array(buckets);
  for (let j = 0; j < m; j++) {
    const t = tasks[inWindow[j] as number] as PerformanceMetrics;
    const s = starts[j] as number;
    let k = buckets - 1;
    while (k > 0 && (edges[k] as number) > s) k--;
    count[k]++;
    if (t.status === 'succeeded') {
      okCount[k]++;
      finishedCount[k]++;
      if (t.generationTimeSeconds !== null) {
        timeSum[k] += t.generationTimeSeconds;
        timeN[k]++;
      }
    } else if (t.status !== 'cancelled') finishedCount[k]++;
    if (t.peakVramUsageMb !== null) {
      vramSum[k] += t.peakVramUsageMb;
      vramN[k]++;
    }
    if (t.deviceAverageCpuUsagePercent !== null) {
      cpuSum[k] += t.deviceAverageCpuUsagePercent;
      cpuN[k]++;
    }
  }
  const out = emptyTrends();
  for (let k = 0; k < buckets; k++) {
    if (count[k] === 0) continue;
    out.bucketStartTimes.push(edges[k] as number);
    out.bucketTaskCounts.push(count[k] as number);
    out.generationTimeSeconds.push(timeN[k] ? (timeSum[k] as number) / (timeN[k] as number) : null);
    out.successRate.push(finishedCount[k] ? (okCount[k] as number) / (finishedCount[k] as number) : null);
    out.peakVramUsageMb.push(vramN[k] ? (vramSum[k] as number) / (vramN[k] as number) : null);
    out.averageCpuUsagePercent.push(cpuN[k] ? (cpuSum[k] as number) / (cpuN[k] as number) : null);
  }
  return out;
}
