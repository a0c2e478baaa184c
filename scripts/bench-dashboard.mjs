// The dashboard's cost as the history grows: a window's engine holding N finished tasks over 30
// days (1 000 and 100 000), a task ends, and the dashboard builds what it posts for that (the
// analysis of its widest window, 30 days, from the aggregates kept task by task, and the history
// table's first page) and serialises it, as dashboardPanel's postAnalysis(live) does. Median of 21
// task ends, each in the same process after two warm-up ends; the ratio of the two sizes is the row
// (target close to 1: a task end should not cost in proportion to the history). The full analysis
// still runs, coalesced (at most one per 5 s while a dashboard is shown, for the findings): its
// cost is measured too (median of 5) and reported beside it, not hidden in the ratio.
//
//   node scripts/bench-dashboard.mjs [--sizes 1000,100000] [--json]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleEngine } from './benchEngine.mjs';

const DAY_MS = 86_400_000;

function task(i, n, nowMs) {
  const res = ['720p', '1080p', '480p'][i % 3];
  const startTime = nowMs - 30 * DAY_MS + Math.floor((i / n) * (30 * DAY_MS - 3_600_000));
  const ok = i % 17 !== 0;
  return {
    taskId: `bench-${i}`, modelType: ['wan-t2v', 'sdxl', 'hunyuan'][i % 3], resolution: res, resolutionClass: res, steps: 30,
    status: ok ? 'succeeded' : 'failed', success: ok, errorCategory: ok ? null : 'oom', startTime, endTime: startTime + 60_000 + (i % 600) * 1000,
    generationTimeSeconds: 60 + (i % 600), modelLoadTimeSeconds: 5, peakVramUsageMb: 8000 + (i % 4000), averageVramUsageMb: 7000, peakRamUsageMb: 9000,
    averageCpuUsagePercent: 40, vramScope: 'processTree', ramScope: 'processTree', cpuScope: 'processTree', gpuIndices: [0], vramTotalMb: 24_576, ramTotalMb: 65_536,
    averageGpuUtilizationPercent: 90, peakGpuUtilizationPercent: 99, devicePeakVramUsageMb: null, deviceAverageVramUsageMb: null, devicePeakRamUsageMb: null,
    deviceAverageRamUsageMb: null, deviceAverageCpuUsagePercent: null, peakTemperatureCelsius: 70, processTreePeakRamUsageMb: null, processTreeAverageRamUsageMb: null,
    processTreeAverageCpuUsagePercent: null, processTreePeakVramUsageMb: null, processTreeAverageVramUsageMb: null, rootPid: null, sampleCount: 60,
    optimizationsApplied: ['xformers'], quantizationUsed: null, offloadUsed: false,
  };
}

async function measure(E, n) {
  const nowMs = Date.now();
  const store = new E.MemoryHistoryStore();
  for (let i = 0; i < n; i++) await store.append(task(i, n, nowMs));
  const sampler = { sample: async () => ({ timestamp: Date.now(), cpuUsagePercent: 10, ramUsageMb: 1000, ramTotalMb: 65_536, diskUsagePercent: null }) };
  const monitor = new E.PerformanceMonitor({ maxHistorySize: n + 100, enableGpuMonitoring: false }, { historyStore: store, systemSampler: sampler, gitCommitReader: null });
  await monitor.ready();
  const source = E.dashboardSource({ monitor, isMonitoring: false, latestSnapshot: () => null });
  // The panel opens with a full analysis (it also gives the findings the kept one carries).
  JSON.stringify({ type: 'analysis', ...E.buildAnalysisView(source, 720) });
  const times = [];
  for (let i = 0; i < 23; i++) {
    const id = `end-${i}`;
    monitor.startTaskMonitoring(id, 'sdxl', '720p', 30);
    const t0 = performance.now();
    await monitor.completeTaskMonitoring(id, true);
    const view = E.buildAnalysisView(source, 720, undefined, true);
    JSON.stringify({ type: 'analysis', ...view });
    if (i >= 2) times.push(performance.now() - t0);
  }
  const full = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    JSON.stringify({ type: 'analysis', ...E.buildAnalysisView(source, 720) });
    full.push(performance.now() - t0);
  }
  await monitor.dispose();
  times.sort((a, b) => a - b);
  full.sort((a, b) => a - b);
  return { tasks: n, medianMs: times[Math.floor(times.length / 2)], minMs: times[0], maxMs: times[times.length - 1], fullMedianMs: full[2] };
}

async function main() {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const at = args.indexOf('--sizes');
  const sizes = at >= 0 ? args[at + 1].split(',').map(Number) : [1000, 100_000];
  const dir = await mkdtemp(join(tmpdir(), 'mpm-bench-dashboard-'));
  try {
    const engine = await bundleEngine(dir, 'engine', [
      "export { PerformanceMonitor } from './src/core/engine/monitor';",
      "export { MemoryHistoryStore } from './src/core/history/historyStore';",
      "export { dashboardSource } from './src/host/dashboardSource';",
      "export { buildAnalysisView } from './src/host/dashboardData';",
    ]);
    const E = await import(pathToFileURL(engine).href);
    const results = [];
    for (const n of sizes) {
      const r = await measure(E, n);
      results.push(r);
      if (!json) {
        console.log(`dashboard update after a task end, ${n} tasks held: median ${r.medianMs.toFixed(2)} ms (min ${r.minMs.toFixed(2)}, max ${r.maxMs.toFixed(2)})`);
        console.log(`  coalesced full analysis (at most one per 5 s while shown), ${n} tasks held: median ${r.fullMedianMs.toFixed(2)} ms`);
      }
    }
    const small = results[0];
    const big = results[results.length - 1];
    const ratio = big.medianMs / small.medianMs;
    if (json) console.log(JSON.stringify({ results, ratio }));
    else console.log(`ratio ${big.tasks} ÷ ${small.tasks}: ${ratio.toFixed(2)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
