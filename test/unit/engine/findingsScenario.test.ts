// Findings through the whole engine: the fake GPU and a synthetic process tree drive real monitor
// sampling (fake clock), the task's timeline is recorded, and the analysis diagnoses it. Then the
// CLI prints the same findings from a history on disk, readably and as JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferStream, runCli, type CliIo } from '../../../src/cli/cli';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { normalizeResolution } from '../../../src/core/engine/resolution';
import { JsonlHistoryStore, MemoryHistoryStore } from '../../../src/core/history/historyStore';
import type { PerformanceAnalysis, PerformanceMetrics } from '../../../src/shared/metrics';
import type { GpuReading } from '../../../src/shared/snapshot';
import { checkPerformanceAnalysis } from '../../../src/shared/protocol';
import { FakeClock } from '../helpers/fakeClock';
import { FakeGpuProvider, FakeProcessSampler, FakeSystemSampler, gpu, makeTask } from './fakes';

/** Runs one 100 s task sampled every second: GPU at `util` %, the tree at `cpuPercent` (100 = one core). */
async function runTask(util: number, cpuPercent: number, gpuFigures: (t: number) => Partial<GpuReading> = () => ({})): Promise<{ task: PerformanceMetrics; analysis: PerformanceAnalysis }> {
  const clock = new FakeClock();
  const gpuProvider = new FakeGpuProvider(true, () => clock.now());
  const start = clock.now();
  Object.defineProperty(gpuProvider, 'gpus', { get: () => [gpu(0, { uuid: 'GPU-0', utilizationPercent: util, vramUsedMb: 20_000, vramTotalMb: 81_920, ...gpuFigures(clock.now() - start) })] });
  gpuProvider.processes = [{ pid: 601, gpuUuid: 'GPU-0', usedMemoryMb: 18_000 }];
  const procs = new FakeProcessSampler();
  procs.trees.set(600, { rootPid: 600, pids: [600, 601], rssMb: 6000, cpuPercent });
  const monitor = new PerformanceMonitor({ monitoringIntervalMs: 1000 }, { clock, systemSampler: new FakeSystemSampler(), gpuProvider, processSampler: procs, historyStore: new MemoryHistoryStore(), gitCommitReader: null });
  await monitor.startMonitoring();
  monitor.startTaskMonitoring('s1', 'wan-t2v', '1280x720', 30, { rootPid: 600 });
  await clock.advance(100_000);
  const task = await monitor.completeTaskMonitoring('s1');
  const analysis = monitor.getPerformanceAnalysis(24);
  await monitor.dispose();
  return { task, analysis };
}

test('engine: a GPU at 5 % while the tree keeps one core busy is gpuStarved; at 95 % nothing is found', async () => {
  const starved = await runTask(5, 100);
  const tl = starved.task.timeline;
  assert.ok(tl && tl.offsetSeconds.length >= 90, String(tl?.offsetSeconds.length));
  assert.equal(tl.cpuCores[5], 1);
  assert.equal(tl.ownVramMb[5], 18_000);
  assert.deepEqual(starved.analysis.findings.map((f) => f.kind), ['gpuStarved']);
  const f = starved.analysis.findings[0];
  assert.equal(f?.evidence.find((e) => e.label.startsWith('share of samples'))?.value, 100);
  assert.equal(f?.evidence.find((e) => e.label.startsWith("the run's own"))?.value, 1);
  assert.deepEqual(f?.taskIds, ['s1']);
  // The dashboard's guard accepts the analysis with its findings.
  assert.doesNotThrow(() => checkPerformanceAnalysis(JSON.parse(JSON.stringify(starved.analysis)), 'analysis'));

  const fed = await runTask(95, 100);
  assert.deepEqual(fed.analysis.findings, []);
});

test('engine: clocks held by heat and the power cap for 40 of 100 s is throttled, with the cause and the share; no reasons, no finding', async () => {
  // 0x44 = hw_thermal_slowdown + sw_power_cap for the first 40 s, then 0 (nothing holds the clocks); 0x1 (idle) is no throttling.
  const hot = await runTask(97, 100, (t) => ({ clockEventReasons: t < 40_000 ? 0x44 : t < 50_000 ? 0x1 : 0, smClockMhz: t < 40_000 ? 1710 : 2610, smClockMaxMhz: 3105 }));
  const tl = hot.task.timeline;
  assert.ok(tl?.throttledPercent && tl.throttleReasons, 'the timeline carries the throttle columns');
  assert.equal(tl.throttledPercent[5], 100);
  assert.equal(tl.throttleReasons[5], 0x44);
  assert.equal(tl.throttledPercent[60], 0);
  assert.deepEqual(hot.analysis.findings.map((f) => f.kind), ['throttled']);
  const f = hot.analysis.findings[0];
  // 40 of the run's 100 s, checkable by hand: 40 samples of 1 s throttled.
  const share = f?.evidence.find((e) => e.label.startsWith('share of the run time'))?.value ?? 0;
  assert.ok(Math.abs(share - 40) <= 1.5, String(share));
  assert.ok(Math.abs((f?.evidence.find((e) => e.label === 'time with hw_thermal_slowdown active')?.value ?? 0) - 40) <= 1.5);
  assert.match(f?.summary ?? '', /held down by heat \(hw_thermal_slowdown: clocks halved\)/);
  assert.equal(f?.severity, 'critical', 'a hardware slowdown halves the clocks');
  assert.match(f?.nextStep ?? '', /fans|heatsink|airflow/);
  assert.doesNotThrow(() => checkPerformanceAnalysis(JSON.parse(JSON.stringify(hot.analysis)), 'analysis'));

  // Idle reasons only, or a driver that does not report them: silent, and no throttle columns kept.
  const idle = await runTask(97, 100, () => ({ clockEventReasons: 0x1 }));
  assert.deepEqual(idle.analysis.findings, []);
  const silent = await runTask(97, 100);
  assert.deepEqual(silent.analysis.findings, []);
  assert.equal(silent.task.timeline?.throttledPercent, undefined);
  // Below the threshold (10 of 100 s): silent.
  const brief = await runTask(97, 100, (t) => ({ clockEventReasons: t < 10_000 ? 0x4 : 0 }));
  assert.deepEqual(brief.analysis.findings, []);
});

function io(home: string): CliIo & { out: BufferStream; err: BufferStream } {
  const out = new BufferStream();
  const err = new BufferStream();
  return {
    out, err, stdout: out, stderr: err, env: { MODEL_PERF_HOME: home }, cwd: home,
    onStopSignal: () => () => undefined, terminalSignalsReachChildren: () => false, childStdin: 'ignore',
  };
}

test('CLI: analyze prints the findings first; analyze --json carries them with kind and evidence', async () => {
  const home = await mkdtemp(join(tmpdir(), 'model-perf-findings-'));
  try {
    const store = new JsonlHistoryStore(home, { retentionDays: 3650, retentionMaxTasks: 100_000 });
    const now = Date.now();
    // 3 runs: 60 s of 80 s loading each (75 %).
    for (let i = 0; i < 3; i++) {
      const start = now - 3_600_000 + i * 600_000;
      await store.append(makeTask({ taskId: `load${i}`, modelType: 'flux', startTime: start, endTime: start + 80_000, generationTimeSeconds: 80, modelLoadTimeSeconds: 60 }));
    }
    const text = io(home);
    assert.equal(await runCli(['analyze'], text), 0, text.err.text);
    const out = text.out.text;
    assert.match(out, /Findings \(most worth fixing first\):\n {2}1\. loadDominated \[critical, medium confidence\] flux: loading the model takes 75% of each run \(median 60\.0 s of 80\.0 s, 3 runs\)/);
    assert.match(out, /\n {5}evidence: median model load time 1 min 0 s; median run time 1 min 20 s; median share of the run spent loading 75 %\n/);
    assert.match(out, /\n {5}goes away when: loading takes under 50% of a typical run\n/);
    assert.match(out, /next step: Keep flux loaded between generations/);
    assert.match(out, /runs: load0, load1, load2/);
    assert.ok(out.indexOf('Findings') < out.indexOf('Success rate'), 'findings lead the report');

    const json = io(home);
    assert.equal(await runCli(['analyze', '--json'], json), 0);
    const parsed = JSON.parse(json.out.text) as PerformanceAnalysis;
    assert.equal(parsed.findings[0]?.kind, 'loadDominated');
    assert.deepEqual(parsed.findings[0]?.evidence.map((e) => [e.label, e.value, e.unit]).slice(0, 2), [['median model load time', 60, 's'], ['median run time', 80, 's']]);
    // The original keys and texts are still there.
    assert.ok(parsed.optimizationRecommendations.includes('Keep frequently used models loaded in memory'));
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('a run started with a configuration the history can predict carries its predicted peak VRAM and time', async () => {
  const clock = new FakeClock();
  const store = new MemoryHistoryStore();
  const mp = (w: number, h: number): number => (w * h) / 1e6;
  const base = clock.now() - 3_600_000;
  // Peak = 10 000 MB + 40 000 MB per megapixel on an 80 GB GPU; 720p took 90 and 110 s.
  const runs: [string, number, number][] = [['854x480', 854, 480], ['1280x720', 1280, 720], ['1280x720', 1280, 720]];
  for (const [i, [res, w, h]] of runs.entries()) {
    await store.append(makeTask({ taskId: `p${i}`, resolution: res, resolutionClass: normalizeResolution(res), startTime: base + i * 1000, generationTimeSeconds: 90 + 20 * (i - 1), peakVramUsageMb: 10_000 + 40_000 * mp(w, h), gpuIndices: [0], vramTotalMb: 81_920 }));
  }
  const monitor = new PerformanceMonitor({}, { clock, systemSampler: new FakeSystemSampler(), historyStore: store, gitCommitReader: null });
  await monitor.ready();
  const big = monitor.startTaskMonitoring('big', 'wan-t2v', '1920x1080', 20);
  // 10 000 + 40 000 x 2.0736 = 92 944 MB > 81 920 MB; no 1080p run yet: no time.
  assert.deepEqual(big.prediction, { peakVramMb: 92_944, generationTimeSeconds: null, gpuMemoryMb: 81_920, exceedsGpuMemory: true, basedOnTaskCount: 3 });
  const fits = monitor.startTaskMonitoring('fits', 'wan-t2v', '1280x720', 20);
  assert.deepEqual(fits.prediction, { peakVramMb: 46_864, generationTimeSeconds: 100, gpuMemoryMb: 81_920, exceedsGpuMemory: false, basedOnTaskCount: 3 });
  assert.equal(monitor.startTaskMonitoring('unknown', 'other', '720p', 20).prediction, null);
  await monitor.dispose();
});
