// The analysis's trends: about ten equal-count buckets of the window's tasks by start time. Pure.
import type { PerformanceMetrics, PerformanceTrends } from '../../shared/metrics';

const TREND_BUCKETS = 10;

function emptyTrends(): PerformanceTrends {
  return { bucketStartTimes: [], bucketTaskCounts: [], generationTimeSeconds: [], successRate: [], peakVramUsageMb: [], averageCpuUsagePercent: [] };
}

/**
 * About ten equal-count buckets by start time. Bucket edges come from one sort of the start times;
 * equal starts share a bucket, and buckets left empty by ties are dropped rather than shown as gaps.
 * `inWindow` and `starts` hold the window's tasks in their first `m` entries.
 */
export function trends(tasks: readonly PerformanceMetrics[], inWindow: Int32Array, starts: Float64Array, m: number): PerformanceTrends {
  if (m === 0) return emptyTrends();
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
  const mean = (sum: Float64Array, n: Float64Array, k: number): number | null => (n[k] ? (sum[k] as number) / (n[k] as number) : null);
  for (let k = 0; k < buckets; k++) {
    if (count[k] === 0) continue;
    out.bucketStartTimes.push(edges[k] as number);
    out.bucketTaskCounts.push(count[k] as number);
    out.generationTimeSeconds.push(mean(timeSum, timeN, k));
    out.successRate.push(mean(okCount, finishedCount, k));
    out.peakVramUsageMb.push(mean(vramSum, vramN, k));
    out.averageCpuUsagePercent.push(mean(cpuSum, cpuN, k));
  }
  return out;
}
