import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzePerformance, percentile } from '../../../src/core/engine/analysis';
import { validateConfig } from '../../../src/core/engine/config';
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import { makeTask } from './fakes';

const T0 = Date.UTC(2026, 0, 1);
const NOW = T0 + 2 * 3_600_000;
const thresholds = validateConfig().thresholds;

function close(actual: number | null, expected: number, eps = 1e-9): void {
  assert.ok(actual !== null && Math.abs(actual - expected) < eps, `expected ${expected}, got ${actual}`);
}

/** Four tasks over every threshold of the original, values chosen to be checked by hand. */
function overloadedHistory(): PerformanceMetrics[] {
  const base = { vramTotalMb: 24_000, ramTotalMb: 32_000 };
  return [
    makeTask({ ...base, taskId: 'A', startTime: T0 + 1, resolution: '720p', resolutionClass: '720p', generationTimeSeconds: 400, modelLoadTimeSeconds: 40, deviceAverageCpuUsagePercent: 95, devicePeakRamUsageMb: 28_000, devicePeakVramUsageMb: 22_000, peakVramUsageMb: 20_000 }),
    makeTask({ ...base, taskId: 'B', startTime: T0 + 2, resolution: '1280x720', resolutionClass: '720p', generationTimeSeconds: 350, modelLoadTimeSeconds: 35, deviceAverageCpuUsagePercent: 92, devicePeakRamUsageMb: 27_500, devicePeakVramUsageMb: 22_500, peakVramUsageMb: 21_000 }),
    makeTask({ ...base, taskId: 'C', startTime: T0 + 3, resolution: '1080p', resolutionClass: '1080p', generationTimeSeconds: 1000, modelLoadTimeSeconds: null, deviceAverageCpuUsagePercent: 91, devicePeakRamUsageMb: 27_800, devicePeakVramUsageMb: 21_800, peakVramUsageMb: 19_000 }),
    makeTask({ ...base, taskId: 'D', startTime: T0 + 4, resolution: '1080p', resolutionClass: '1080p', status: 'failed', success: false, errorCategory: 'oom', generationTimeSeconds: 50, modelLoadTimeSeconds: 31, deviceAverageCpuUsagePercent: 94, devicePeakRamUsageMb: 28_100, devicePeakVramUsageMb: 22_100, peakVramUsageMb: 22_000 }),
  ];
}

test('empty window: unknowns are null, collections empty, nothing flagged', () => {
  const a = analyzePerformance([], thresholds, NOW);
  assert.equal(a.taskCount, 0);
  assert.equal(a.successRate, null);
  assert.equal(a.averageGenerationTimeSeconds, null);
  assert.equal(a.p50GenerationTimeSeconds, null);
  assert.equal(a.resourceEfficiency, null);
  assert.deepEqual(a.optimizationRecommendations, []);
  assert.deepEqual(a.recommendations, []);
  assert.deepEqual(a.bottleneckAnalysis, { vramBottleneck: false, ramBottleneck: false, cpuBottleneck: false, modelLoadBottleneck: false, details: {}, findings: [] });
  assert.deepEqual(a.performanceTrends.successRate, []);
  assert.deepEqual(a.byModelType, []);
  assert.deepEqual(a.failuresByErrorCategory, {});
  assert.equal(a.windowStart, NOW - 24 * 3_600_000);
});

test('one task: its own figures, efficiency 1 when fast and no GPU known', () => {
  const a = analyzePerformance([makeTask({ startTime: T0, generationTimeSeconds: 120 })], thresholds, NOW);
  assert.equal(a.taskCount, 1);
  assert.equal(a.successRate, 1);
  assert.equal(a.averageGenerationTimeSeconds, 120);
  assert.equal(a.p50GenerationTimeSeconds, 120);
  assert.equal(a.p95GenerationTimeSeconds, 120);
  assert.deepEqual(a.efficiencyFactors, { successRate: 1, timeEfficiency: 1, vramEfficiency: null });
  assert.equal(a.resourceEfficiency, 1);
  assert.deepEqual(a.performanceTrends.bucketTaskCounts, [1]);
  assert.deepEqual(a.performanceTrends.generationTimeSeconds, [120]);
  assert.deepEqual(a.optimizationRecommendations, []);
});

test("the original's thresholds flag what the original flags, with evidence and severity", () => {
  const a = analyzePerformance(overloadedHistory(), thresholds, NOW);
  const b = a.bottleneckAnalysis;
  assert.equal(b.vramBottleneck, true);
  assert.equal(b.ramBottleneck, true);
  assert.equal(b.cpuBottleneck, true);
  assert.equal(b.modelLoadBottleneck, true);
  close(b.details.vramUsagePercent ?? null, (88_400 / 4 / 24_000) * 100); // 92.083 %
  close(b.details.ramUsagePercent ?? null, (111_400 / 4 / 32_000) * 100); // 87.031 %
  close(b.details.cpuUsagePercent ?? null, 93);
  close(b.details.avgModelLoadTimeSeconds ?? null, 106 / 3);
  const vram = b.findings.find((f) => f.kind === 'vram');
  assert.ok(vram);
  assert.equal(vram.severity, 'warning');
  assert.equal(vram.confidence, 'medium');
  assert.deepEqual({ ...vram.evidence, measuredValue: Math.round(vram.evidence.measuredValue * 1000) / 1000 }, {
    metric: "mean peak VRAM of the task's GPUs / their total",
    measuredValue: 92.083,
    threshold: 90,
    unit: '%',
    comparison: '>',
    taskCount: 4,
  });
  assert.equal(vram.summary, "Peak VRAM averaged 92.1% of the GPU's memory over 4 task(s), above the 90% limit");
  assert.equal(b.findings.find((f) => f.kind === 'modelLoad')?.evidence.taskCount, 3);

  assert.equal(a.successRate, 0.75);
  assert.deepEqual(a.statusCounts, { succeeded: 3, failed: 1, cancelled: 0, interrupted: 0 });
  close(a.averageGenerationTimeSeconds, 1750 / 3);
  assert.equal(a.p50GenerationTimeSeconds, 400);
  close(a.p95GenerationTimeSeconds, 940); // 400 + 0.9 * (1000 - 400)
  assert.deepEqual(a.failuresByErrorCategory, { oom: 1 });

  // Ranked: the success-rate group is critical (0.75 < 0.95 * 0.85), the rest are warnings in the original's order.
  assert.deepEqual(a.optimizationRecommendations, [
    'Investigate and fix causes of generation failures',
    'Enable fallback mechanisms for better reliability',
    'Review error logs for common failure patterns',
    'Enable model quantization to reduce VRAM usage',
    'Use model offloading to CPU when not actively generating',
    'Reduce batch size or resolution for lower VRAM requirements',
    'Consider upgrading GPU memory if consistently hitting limits',
    'Close unnecessary applications to free system RAM',
    'Enable model offloading to reduce RAM usage',
    'Consider increasing system RAM if consistently high usage',
    'Reduce CPU thread count for model processing',
    'Close CPU-intensive background applications',
    'Consider upgrading CPU for better performance',
    'Use SSD storage for faster model loading',
    'Keep frequently used models loaded in memory',
    'Enable model caching to avoid repeated loading',
    'Generation time for 1080p (1000.0s) exceeds target (900s). Consider optimization.',
    'Generation time for 720p (375.0s) exceeds target (300s). Consider optimization.',
  ]);
  assert.deepEqual(a.recommendations.map((r) => r.severity).slice(0, 4), ['critical', 'critical', 'critical', 'warning']);
  const rel = a.recommendations[0];
  assert.ok(rel);
  assert.deepEqual(rel.evidence, { metric: 'success rate (succeeded / finished, cancelled excluded)', measuredValue: 0.75, threshold: 0.95, unit: 'ratio', comparison: '<', taskCount: 4 });
  const gen720 = a.recommendations.find((r) => r.id === 'generationTime.720p');
  assert.deepEqual(gen720?.evidence, { metric: 'mean successful generation time at 720p', measuredValue: 375, threshold: 300, unit: 's', comparison: '>', taskCount: 2 });
  assert.equal(gen720?.confidence, 'low');

  // Efficiency: geometric mean of success rate, time factor and VRAM factor, by hand.
  const time = 300 / (1750 / 3);
  const vramEff = 1 - (20_000 / 24_000 + 21_000 / 24_000 + 19_000 / 24_000) / 3;
  close(a.efficiencyFactors.timeEfficiency, time);
  close(a.efficiencyFactors.vramEfficiency, vramEff);
  close(a.resourceEfficiency, Math.cbrt(0.75 * time * vramEff));

  // Breakdowns: 1280x720 and 720p are one class; most tasks first, then by key.
  assert.deepEqual(
    a.byResolution.map((r) => [r.key, r.taskCount, r.successRate, r.averageGenerationTimeSeconds, r.targetSeconds]),
    [
      ['1080p', 2, 0.5, 1000, 900],
      ['720p', 2, 1, 375, 300],
    ],
  );
  assert.deepEqual(a.byModelType.map((r) => [r.key, r.taskCount, r.failed]), [['wan-t2v', 4, 1]]);
});

test('values exactly at the thresholds are not flagged (strictly above / below, as the original)', () => {
  const t = makeTask({ startTime: T0, vramTotalMb: 24_000, ramTotalMb: 32_000, devicePeakVramUsageMb: 21_600, devicePeakRamUsageMb: 27_200, deviceAverageCpuUsagePercent: 90, modelLoadTimeSeconds: 30, generationTimeSeconds: 300 });
  const a = analyzePerformance([t], thresholds, NOW);
  assert.deepEqual(a.bottleneckAnalysis.findings, []);
  assert.deepEqual(a.optimizationRecommendations, []);
});

test('a 1280x720 task gets the 720p target (the original gave it none); targets are configurable', () => {
  const t = makeTask({ startTime: T0, resolution: '1280x720', resolutionClass: '720p', generationTimeSeconds: 400 });
  assert.deepEqual(analyzePerformance([t], thresholds, NOW).optimizationRecommendations, ['Generation time for 720p (400.0s) exceeds target (300s). Consider optimization.']);
  const relaxed = validateConfig({ thresholds: { maxGenerationTimeSecondsByResolution: { HD: 500 } } }).thresholds;
  assert.deepEqual(analyzePerformance([t], relaxed, NOW).optimizationRecommendations, []);
  const critical = makeTask({ startTime: T0, generationTimeSeconds: 451 });
  assert.equal(analyzePerformance([critical], thresholds, NOW).recommendations[0]?.severity, 'critical');
});

test('cancelled tasks are not failures; interrupted ones are; window and status filters apply', () => {
  const tasks = [
    makeTask({ taskId: 'old', startTime: NOW - 25 * 3_600_000, generationTimeSeconds: 9999 }),
    makeTask({ taskId: 'ok', startTime: T0, generationTimeSeconds: 100 }),
    makeTask({ taskId: 'c', startTime: T0, status: 'cancelled', success: false, generationTimeSeconds: 5 }),
    makeTask({ taskId: 'i', startTime: T0, status: 'interrupted', success: false, generationTimeSeconds: null }),
    makeTask({ taskId: 'f', startTime: T0, status: 'failed', success: false }),
    makeTask({ taskId: 'r', startTime: T0, status: 'running', success: false }),
  ];
  const a = analyzePerformance(tasks, thresholds, NOW);
  assert.equal(a.taskCount, 4);
  assert.deepEqual(a.statusCounts, { succeeded: 1, failed: 1, cancelled: 1, interrupted: 1 });
  close(a.successRate, 1 / 3);
  assert.equal(a.averageGenerationTimeSeconds, 100);
  assert.deepEqual(a.failuresByErrorCategory, { unknown: 1, interrupted: 1 });
  const wide = analyzePerformance(tasks, thresholds, NOW, 48);
  assert.equal(wide.taskCount, 5);
  assert.equal(wide.averageGenerationTimeSeconds, (9999 + 100) / 2);
  // All failed: efficiency 0 as in the original.
  assert.equal(analyzePerformance([makeTask({ startTime: T0, status: 'failed', success: false })], thresholds, NOW).resourceEfficiency, 0);
  // Only cancelled: nothing finished, so no rate and no efficiency.
  const onlyCancelled = analyzePerformance([tasks[2] as PerformanceMetrics], thresholds, NOW);
  assert.equal(onlyCancelled.successRate, null);
  assert.equal(onlyCancelled.resourceEfficiency, null);
});

test('trends: ten equal-count buckets in start order, null where a bucket has no value', () => {
  // Stored out of order, as completion order would leave them.
  const tasks = Array.from({ length: 25 }, (_, i) => makeTask({ taskId: `t${i}`, startTime: T0 + i * 1000, generationTimeSeconds: i, peakVramUsageMb: i < 2 ? null : 100 })).reverse();
  const tr = analyzePerformance(tasks, thresholds, NOW).performanceTrends;
  assert.deepEqual(tr.bucketTaskCounts, [2, 3, 2, 3, 2, 3, 2, 3, 2, 3]);
  assert.deepEqual(tr.bucketStartTimes, [0, 2, 5, 7, 10, 12, 15, 17, 20, 22].map((i) => T0 + i * 1000));
  assert.deepEqual(tr.generationTimeSeconds, [0.5, 3, 5.5, 8, 10.5, 13, 15.5, 18, 20.5, 23]);
  assert.deepEqual(tr.successRate, Array(10).fill(1));
  assert.deepEqual(tr.peakVramUsageMb, [null, ...Array(9).fill(100)]);
  assert.deepEqual(tr.averageCpuUsagePercent, Array(10).fill(null));
  // Equal starts share one bucket instead of leaving nine empty ones.
  const same = analyzePerformance(Array.from({ length: 30 }, () => makeTask({ startTime: T0 })), thresholds, NOW).performanceTrends;
  assert.deepEqual(same.bucketTaskCounts, [30]);
});

test('percentile interpolates between closest ranks', () => {
  const a = new Float64Array([1, 2, 3, 4]);
  assert.equal(percentile(a, 4, 0.5), 2.5);
  assert.equal(percentile(a, 4, 0), 1);
  assert.equal(percentile(a, 4, 1), 4);
  close(percentile(a, 4, 0.95), 3.85);
  assert.equal(percentile(a, 0, 0.5), null);
});

test('a bad window is an error naming the value', () => {
  assert.throws(() => analyzePerformance([], thresholds, NOW, 0), { name: 'RangeError', message: 'timeWindowHours must be a number greater than 0 (got 0)' });
  assert.throws(() => analyzePerformance([], thresholds, NOW, Number.NaN), { message: 'timeWindowHours must be a number greater than 0 (got null)' });
});

// The time it takes is a target of `npm run bench --check` (analysis of 100 000 tasks < 50 ms), not
// of a unit test: a loaded machine would fail a wall-clock assertion here.
test('100 000 tasks are analysed in one pass: counts, means and ten trend buckets', () => {
  const n = 100_000;
  const tasks: PerformanceMetrics[] = new Array(n);
  let ok = 0;
  let timeSum = 0;
  for (let i = 0; i < n; i++) {
    const success = i % 7 !== 0;
    const g = 100 + (i % 500);
    if (success) {
      ok++;
      timeSum += g;
    }
    tasks[i] = makeTask({
      taskId: `t${i}`,
      startTime: T0 + ((i * 7919) % n) * 50,
      status: success ? 'succeeded' : 'failed',
      success,
      errorCategory: success ? null : ['oom', 'timeout', 'crash'][i % 3] ?? null,
      modelType: ['t2v', 'i2v', 'ti2v'][i % 3] as string,
      resolution: ['720p', '1280x720', '1080p', '480p'][i % 4] as string,
      resolutionClass: ['720p', '720p', '1080p', '480p'][i % 4] as string,
      generationTimeSeconds: g,
      peakVramUsageMb: 10_000 + (i % 1000),
      devicePeakVramUsageMb: 12_000,
      vramTotalMb: 24_000,
      deviceAverageCpuUsagePercent: 40,
      devicePeakRamUsageMb: 8000,
      ramTotalMb: 32_000,
      modelLoadTimeSeconds: 10,
    });
  }
  const result = analyzePerformance(tasks, thresholds, T0 + n * 50);
  assert.equal(result.taskCount, n);
  close(result.successRate, ok / n);
  close(result.averageGenerationTimeSeconds, timeSum / ok, 1e-6);
  assert.equal(result.performanceTrends.bucketTaskCounts.reduce((s, c) => s + c, 0), n);
  assert.equal(result.performanceTrends.bucketTaskCounts.length, 10);
  assert.deepEqual(result.byResolution.map((r) => r.key).sort(), ['1080p', '480p', '720p']);
});
