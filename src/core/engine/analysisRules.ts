// The analysis's judgements: the bottleneck rules (one table, one loop), the advice each flag
// brings, and how severity and confidence are graded. Pure.
import type {
  Bottleneck, BottleneckAnalysis, BottleneckKind, Confidence, Evidence, PerformanceMetrics, Recommendation,
  RecommendationCategory, Severity,
} from '../../shared/metrics';
import type { PerformanceThresholds } from './config';

/** Fewer than 3 tasks is an anecdote; 10 or more is a pattern. */
export function confidenceFor(taskCount: number): Confidence {
  return taskCount < 3 ? 'low' : taskCount < 10 ? 'medium' : 'high';
}

/** Percentages overshoot by 5 % of the threshold, times by half of it, before it is critical. */
export function severityAbove(measured: number, threshold: number, criticalFactor: number): Severity {
  return measured >= threshold * criticalFactor ? 'critical' : 'warning';
}

export function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

/** One bottleneck: what each task contributes, the limit it is held to, and how a finding reads. */
export interface BottleneckRule {
  kind: BottleneckKind;
  /** Where the original's `details` keeps the measured value. */
  detail: keyof BottleneckAnalysis['details'];
  /** The task's figure for this rule, or null when it has none (then it does not count). */
  sample(t: PerformanceMetrics): number | null;
  /** The mean of the samples is multiplied by this (100 turns a ratio into a percent). */
  scale: number;
  threshold(t: PerformanceThresholds): number;
  /** measured >= threshold * criticalFactor is critical, else a warning. */
  criticalFactor: number;
  unit: '%' | 's';
  metric: string;
  summary(measured: number, taskCount: number, threshold: number): string;
}

/** Share of a total, or null when either is unknown or the total is not positive. */
function shareOf(used: number | null, total: number | null): number | null {
  return used !== null && total !== null && total > 0 ? used / total : null;
}

/**
 * The original's four flags, in its order. Memory pressure is a device matter (another process
 * can fill the GPU), so the VRAM and RAM rules use the device-wide peak of the task's own GPU /
 * machine against that device's total.
 */
export const BOTTLENECK_RULES: readonly BottleneckRule[] = [
  {
    kind: 'vram', detail: 'vramUsagePercent', scale: 100, criticalFactor: 1.05, unit: '%',
    sample: (t) => shareOf(t.devicePeakVramUsageMb ?? t.peakVramUsageMb, t.vramTotalMb),
    threshold: (th) => th.maxVramUsagePercent,
    metric: "mean peak VRAM of the task's GPUs / their total",
    summary: (v, n, th) => `Peak VRAM averaged ${fmt(v)}% of the GPU's memory over ${n} task(s), above the ${th}% limit`,
  },
  {
    kind: 'ram', detail: 'ramUsagePercent', scale: 100, criticalFactor: 1.05, unit: '%',
    sample: (t) => shareOf(t.devicePeakRamUsageMb, t.ramTotalMb),
    threshold: (th) => th.maxRamUsagePercent,
    metric: 'mean peak used RAM / total RAM',
    summary: (v, n, th) => `Peak system RAM averaged ${fmt(v)}% of total over ${n} task(s), above the ${th}% limit`,
  },
  {
    kind: 'cpu', detail: 'cpuUsagePercent', scale: 1, criticalFactor: 1.05, unit: '%',
    sample: (t) => t.deviceAverageCpuUsagePercent,
    threshold: (th) => th.maxCpuUsagePercent,
    metric: 'mean device-wide CPU during tasks',
    summary: (v, n, th) => `CPU averaged ${fmt(v)}% during ${n} task(s), above the ${th}% limit`,
  },
  {
    kind: 'modelLoad', detail: 'avgModelLoadTimeSeconds', scale: 1, criticalFactor: 1.5, unit: 's',
    sample: (t) => t.modelLoadTimeSeconds,
    threshold: (th) => th.maxModelLoadTimeSeconds,
    metric: 'mean model load time',
    summary: (v, n, th) => `Model loading averaged ${fmt(v)} s over ${n} task(s), above the ${th} s limit`,
  },
];

/** Sum and count of one rule's samples over the window. */
export interface RuleTally {
  sum: number;
  count: number;
}

/** Each rule against its threshold: the original's four flags and details, each finding with its evidence. */
export function findBottlenecks(tallies: readonly RuleTally[], thresholds: PerformanceThresholds): BottleneckAnalysis {
  const findings: Bottleneck[] = [];
  const details: BottleneckAnalysis['details'] = {};
  BOTTLENECK_RULES.forEach((rule, i) => {
    const { sum, count } = tallies[i] as RuleTally;
    if (count === 0) return;
    const measured = (sum / count) * rule.scale;
    const threshold = rule.threshold(thresholds);
    if (!(measured > threshold)) return;
    details[rule.detail] = measured;
    findings.push({
      kind: rule.kind,
      severity: severityAbove(measured, threshold, rule.criticalFactor),
      confidence: confidenceFor(count),
      summary: rule.summary(measured, count, threshold),
      evidence: { metric: rule.metric, measuredValue: measured, threshold, unit: rule.unit, comparison: '>', taskCount: count },
    });
  });
  return {
    vramBottleneck: details.vramUsagePercent !== undefined,
    ramBottleneck: details.ramUsagePercent !== undefined,
    cpuBottleneck: details.cpuUsagePercent !== undefined,
    modelLoadBottleneck: details.avgModelLoadTimeSeconds !== undefined,
    details,
    findings,
  };
}

type AdviceCategory = Exclude<RecommendationCategory, 'generationTime'>;

/** The original's advice per flag, in its order. */
const ADVICE: Record<AdviceCategory, [string, string][]> = {
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

/** The category's advice, each carrying the flag's severity and evidence. */
export function adviceFor(category: AdviceCategory, severity: Severity, evidence: Evidence): Recommendation[] {
  return ADVICE[category].map(([id, text]) => ({ id, category, text, severity, confidence: confidenceFor(evidence.taskCount), evidence }));
}
