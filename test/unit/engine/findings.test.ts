// Findings: each kind fires on its scenario with numbers checkable by hand, and stays silent on
// the healthy counterpart. Tasks are synthetic records (makeTask) with synthetic timelines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzePerformance } from '../../../src/core/engine/analysis';
import { DEFAULT_THRESHOLDS } from '../../../src/core/engine/config';
import { findFindings } from '../../../src/core/engine/findings';
import { pixelsOf, predictRun } from '../../../src/core/engine/findings/historyKinds';
import type { CompactTimeline, Finding, PerformanceMetrics } from '../../../src/shared/metrics';
import { makeTask } from './fakes';

const T0 = Date.UTC(2026, 0, 1);
const NOW = T0 + 20 * 3_600_000;

function timeline(points: number, util: (i: number) => number, cores: (i: number) => number): CompactTimeline {
  const idx = Array.from({ length: points }, (_, i) => i);
  return {
    offsetSeconds: idx.map((i) => i * 5),
    gpuUtilizationPercent: idx.map(util),
    deviceVramMb: idx.map(() => 20_000),
    ownVramMb: idx.map(() => 18_000),
    cpuCores: idx.map(cores),
    ramMb: idx.map(() => 8000),
  };
}

function run(i: number, overrides: Partial<PerformanceMetrics> = {}): PerformanceMetrics {
  const startTime = T0 + i * 600_000;
  const g = overrides.generationTimeSeconds ?? 100;
  return makeTask({ taskId: `r${i}`, startTime, endTime: startTime + g * 1000, generationTimeSeconds: g, gpuIndices: [0], vramTotalMb: 81_920, ...overrides });
}

function analyze(tasks: PerformanceMetrics[]): Finding[] {
  return analyzePerformance(tasks, DEFAULT_THRESHOLDS, NOW, 24).findings;
}

const kinds = (fs: Finding[]): string[] => fs.map((f) => f.kind);
const ev = (f: Finding, label: string): number => {
  const e = f.evidence.find((x) => x.label.startsWith(label));
  assert.ok(e, `evidence "${label}" in ${f.evidence.map((x) => x.label).join(' | ')}`);
  return e.value;
};

test('gpuStarved: GPU at 10 % in 16 of 20 samples while one core is busy; gpuIdle when the CPU idles too', () => {
  // 20 points: 4 busy (90 %), 16 idle (10 %) -> 80 % of samples under 30 %; the tree holds 1.0 core meanwhile.
  const starved = [1, 2].map((i) => run(i, { timeline: timeline(20, (k) => (k < 4 ? 90 : 10), () => 1.0) }));
  const f = analyze(starved);
  assert.deepEqual(kinds(f), ['gpuStarved']);
  const s = f[0] as Finding;
  assert.equal(ev(s, 'share of samples'), 80);
  assert.equal(ev(s, 'mean GPU utilisation'), 10);
  assert.equal(ev(s, "the run's own processes' CPU"), 1);
  // 100 s runs, 80 % low: 80 s each, 160 s over both; half of it is the gain.
  assert.equal(ev(s, 'time the GPU sat'), 160);
  assert.equal(s.expectedGainSeconds, 80);
  assert.deepEqual(s.taskIds, ['r1', 'r2']);
  assert.match(s.nextStep, /num_workers/);
  assert.match(s.summary, /wan-t2v at 720p/);

  const idle = [1, 2].map((i) => run(i, { timeline: timeline(20, (k) => (k < 4 ? 90 : 10), () => 0.1) }));
  assert.deepEqual(kinds(analyze(idle)), ['gpuIdle']);
});

test('gpuStarved ignores the model-load phase, and a well-fed GPU gives no finding', () => {
  // The first 16 samples (0..75 s) are a load phase: only 4 busy points remain, under MIN_POINTS... so use 30 points.
  const withLoad = run(1, {
    timeline: timeline(30, (k) => (k < 16 ? 5 : 95), () => 1.0),
    phases: [{ name: 'model_load', startTime: T0 + 600_000, endTime: T0 + 600_000 + 80_000 }, { name: 'denoise', startTime: T0 + 680_000, endTime: null }],
  });
  assert.deepEqual(kinds(analyze([withLoad])), []);
  const wellFed = [1, 2, 3].map((i) => run(i, { timeline: timeline(40, () => 97, () => 1.2) }));
  assert.deepEqual(kinds(analyze(wellFed)), []);
  // A run that never held GPU memory does not use the GPU: its idle GPU is no finding.
  assert.deepEqual(kinds(analyze([run(1, { processTreePeakVramUsageMb: 0, timeline: timeline(20, () => 0, () => 1) })])), []);
});

test('oomRisk: fitted VRAM per pixel predicts 1080p does not fit an 80 GB GPU; 720p is the largest that fits', () => {
  // Peak = 10 000 MB + 40 000 MB per megapixel: 480p (853x480 = 409 440 px) 26 378; 540p 960x540 = 518 400 px -> 30 736; 720p (1280x720 = 921 600 px) 46 864.
  const mp = (w: number, h: number): number => (w * h) / 1e6;
  const ok = [
    run(1, { resolution: '854x480', resolutionClass: '480p', peakVramUsageMb: 10_000 + 40_000 * mp(854, 480) }),
    run(2, { resolution: '960x540', resolutionClass: '540p', peakVramUsageMb: 10_000 + 40_000 * mp(960, 540) }),
    run(3, { resolution: '1280x720', resolutionClass: '720p', peakVramUsageMb: 10_000 + 40_000 * mp(1280, 720) }),
  ];
  // 1920x1080 = 2 073 600 px -> 10 000 + 82 944 = 92 944 MB > 81 920 MB.
  const oom = [4, 5, 6].map((i) => run(i, { resolution: '1920x1080', resolutionClass: '1080p', status: 'failed', success: false, errorCategory: 'out_of_memory', generationTimeSeconds: 30 }));
  const f = analyze([...ok, ...oom]);
  const o = f.find((x) => x.kind === 'oomRisk') as Finding;
  assert.ok(o, kinds(f).join());
  assert.equal(f[0], o, 'ranked first: three failed runs');
  assert.equal(Math.round(ev(o, 'predicted peak VRAM')), 92_944);
  assert.equal(ev(o, 'memory of the GPU'), 81_920);
  assert.equal(Math.round(ev(o, 'VRAM per megapixel')), 40_000);
  assert.equal(Math.round(ev(o, 'VRAM at zero pixels')), 10_000);
  // 1920x1080 needs 92 944 MB; 1280x720 46 864 MB: 720 is the largest standard short side that fits.
  assert.equal(ev(o, 'largest short side'), 720);
  assert.equal(ev(o, 'runs that failed'), 3);
  assert.equal(o.severity, 'critical');
  assert.deepEqual(o.taskIds, ['r4', 'r5', 'r6']);
  assert.match(o.nextStep, /720p or below/);
  // The out-of-memory failure cluster at 1080p is the same story: merged, not shown twice.
  assert.ok(!kinds(f).includes('failureCluster'), kinds(f).join());
  assert.equal(ev(o, 'failed runs at resolution 1080p'), 3);
});

test('oomRisk stays silent when the prediction fits, and compares with the GPU the run used, not the sum of all', () => {
  const mp = (w: number, h: number): number => (w * h) / 1e6;
  const ok = [
    run(1, { resolution: '854x480', resolutionClass: '480p', peakVramUsageMb: 10_000 + 40_000 * mp(854, 480) }),
    run(2, { resolution: '960x540', resolutionClass: '540p', peakVramUsageMb: 10_000 + 40_000 * mp(960, 540) }),
    run(3, { resolution: '1280x720', resolutionClass: '720p', peakVramUsageMb: 10_000 + 40_000 * mp(1280, 720) }),
  ];
  assert.deepEqual(kinds(analyze(ok)), []);
  // 1080p on a run pinned to no single GPU (80 + 16 GB summed): no memory to compare with, no claim.
  const multi = run(4, { resolution: '1920x1080', resolutionClass: '1080p', gpuIndices: [0, 1], vramTotalMb: 81_920 + 16_384 });
  const withFit = [...ok.map((t) => ({ ...t, gpuIndices: [0, 1], vramTotalMb: 98_304 })), multi];
  assert.deepEqual(kinds(analyze(withFit)).filter((k) => k === 'oomRisk'), []);
});

test('predictRun: peak from the fit and median time of the same configuration', () => {
  const mp = (w: number, h: number): number => (w * h) / 1e6;
  const hist = [
    run(1, { resolution: '854x480', resolutionClass: '480p', peakVramUsageMb: 10_000 + 40_000 * mp(854, 480) }),
    run(2, { resolution: '1280x720', resolutionClass: '720p', peakVramUsageMb: 10_000 + 40_000 * mp(1280, 720), generationTimeSeconds: 90 }),
    run(3, { resolution: '1280x720', resolutionClass: '720p', peakVramUsageMb: 10_000 + 40_000 * mp(1280, 720), generationTimeSeconds: 110 }),
  ];
  const p = predictRun(hist, 'wan-t2v', '1920x1080', '1080p', 20);
  assert.ok(p);
  assert.equal(p.peakVramMb, 92_944);
  assert.equal(p.gpuMemoryMb, 81_920);
  assert.equal(p.exceedsGpuMemory, true);
  assert.equal(p.generationTimeSeconds, null);
  const q = predictRun(hist, 'wan-t2v', '1280x720', '720p', 20);
  assert.equal(q?.generationTimeSeconds, 100);
  assert.equal(q?.exceedsGpuMemory, false);
  assert.equal(predictRun(hist, 'other-model', '720p', '720p', 20), null);
  assert.equal(pixelsOf('1280x720x81', '720p'), 1280 * 720 * 81);
  assert.equal(pixelsOf('720p', '720p'), 1280 * 720);
  assert.equal(pixelsOf('weird', null), null);
});

test('failureCluster: 4 of 4 runs killed at 1080p against 0 of 6 elsewhere; none when failures are spread', () => {
  const good = [1, 2, 3, 4, 5, 6].map((i) => run(i));
  const bad = [7, 8, 9, 10].map((i) => run(i, { resolution: '1080p', resolutionClass: '1080p', status: 'failed', success: false, errorCategory: 'killed', generationTimeSeconds: 50 }));
  const f = analyze([...good, ...bad]);
  const c = f.find((x) => x.kind === 'failureCluster') as Finding;
  assert.ok(c, kinds(f).join());
  assert.equal(ev(c, 'failed runs at resolution 1080p'), 4);
  assert.equal(ev(c, 'runs at resolution 1080p'), 4);
  assert.equal(ev(c, 'failed runs elsewhere'), 0);
  assert.equal(ev(c, 'runs elsewhere'), 6);
  assert.equal(c.expectedGainSeconds, 200);
  assert.match(c.nextStep, /dmesg/);
  // One failure at each of three resolutions among runs that mostly succeed there: no cluster.
  const spread = [
    ...[1, 2, 3].map((i) => run(i)),
    ...[4, 5, 6].map((i) => run(i, { resolution: '1080p', resolutionClass: '1080p' })),
    ...[7, 8, 9].map((i) => run(i, { resolution: '480p', resolutionClass: '480p' })),
    run(10, { status: 'failed', success: false, errorCategory: 'a' }),
    run(11, { resolution: '1080p', resolutionClass: '1080p', status: 'failed', success: false, errorCategory: 'b' }),
    run(12, { resolution: '480p', resolutionClass: '480p', status: 'failed', success: false, errorCategory: 'c' }),
  ];
  assert.deepEqual(kinds(analyze(spread)).filter((k) => k === 'failureCluster'), []);
});

test('failureCluster by time of day: 4 of 4 runs killed at night against 0 of 8 in the afternoon, counts per part of the day; silent when failures come at any hour', () => {
  // Local clock times: the pattern is about the user's night, whatever the machine's time zone.
  const at = (hour: number, minute: number): number => new Date(2026, 0, 1, hour, minute).getTime();
  const now = at(23, 0);
  const mk = (id: string, start: number, failed: boolean): PerformanceMetrics => makeTask({
    taskId: id, startTime: start, endTime: start + 100_000, generationTimeSeconds: 100, gpuIndices: [0], vramTotalMb: 81_920,
    ...(failed ? { status: 'failed', success: false, errorCategory: 'killed' } : {}),
  });
  const day = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => mk(`day${i}`, at(13 + Math.floor(i / 2), (i % 2) * 30), false));
  const night = [0, 1, 2, 3].map((i) => mk(`night${i}`, at(1 + Math.floor(i / 2), (i % 2) * 30), true));
  const f = analyzePerformance([...night, ...day], DEFAULT_THRESHOLDS, now, 24).findings;
  const c = f.find((x) => x.kind === 'failureCluster') as Finding;
  assert.ok(c, kinds(f).join());
  assert.match(c.summary, /^4 of 4 run\(s\) started at night \(00-06 h\) failed \(100% killed\), against 0 of 8 elsewhere$/);
  assert.equal(ev(c, 'failed runs started at night'), 4);
  assert.equal(ev(c, 'failed runs started in the afternoon'), 0);
  assert.equal(ev(c, 'runs elsewhere'), 8);
  assert.match(c.nextStep, /cron|journalctl/);
  assert.deepEqual(c.taskIds, ['night0', 'night1', 'night2', 'night3']);

  const spread = [
    ...[0, 1, 2, 3, 4, 5].map((i) => mk(`d${i}`, at(13 + Math.floor(i / 2), (i % 2) * 30), i < 2)),
    ...[0, 1, 2, 3, 4, 5].map((i) => mk(`n${i}`, at(1 + Math.floor(i / 2), (i % 2) * 30), i < 2)),
  ];
  // All killed, so the category is still named, but no hour is blamed.
  const spreadFindings = analyzePerformance(spread, DEFAULT_THRESHOLDS, now, 24).findings.filter((x) => x.kind === 'failureCluster');
  assert.deepEqual(spreadFindings.map((x) => x.summary), ['4 of 4 failures are killed']);
});

test('regression: 5 runs at ~100 s then 4 at ~130 s; the first slow run and its commit named; none within noise', () => {
  const times = [100, 101, 99, 100, 102, 130, 131, 129, 130];
  const tasks = times.map((g, i) => run(i, { generationTimeSeconds: g, gitCommit: { hash: i < 5 ? 'aaaa111' : 'bbbb222', branch: 'main', dirty: false } }));
  const f = analyze(tasks);
  const r = f.find((x) => x.kind === 'regression') as Finding;
  assert.ok(r, kinds(f).join());
  assert.equal(ev(r, 'median generation time before'), 100);
  assert.equal(ev(r, 'median generation time since'), 130);
  assert.equal(ev(r, 'runs before'), 5);
  assert.equal(ev(r, 'runs since'), 4);
  // MAD of 100,101,99,100,102 about 100 is 1 -> 1.4826 s.
  assert.equal(ev(r, 'scaled MAD'), 1.4826);
  assert.equal(Math.round(ev(r, 'slowdown')), 30);
  assert.equal(r.expectedGainSeconds, 120);
  assert.match(r.summary, /task "r5" at commit bbbb222 \(main\)/);
  assert.match(r.nextStep, /git diff aaaa111 bbbb222/);
  assert.deepEqual(r.taskIds, ['r5', 'r6', 'r7', 'r8']);
  // The same runs within noise (±3 s, under 5 % of 100 s): silent.
  const noisy = [100, 103, 98, 101, 99, 102, 100, 97, 103].map((g, i) => run(i, { generationTimeSeconds: g }));
  assert.deepEqual(kinds(analyze(noisy)).filter((k) => k === 'regression'), []);
  // Fast and slow runs alternating from the start (bimodal): three early runs can look tight by chance, but it is no change.
  const scattered = [100, 600, 101, 650, 90, 700, 120, 620, 80, 610].map((g, i) => run(i, { generationTimeSeconds: g }));
  assert.deepEqual(kinds(analyze(scattered)).filter((k) => k === 'regression'), []);
  // Only 2 runs after the change: not enough to claim it.
  const short = [100, 101, 99, 100, 102, 130, 131].map((g, i) => run(i, { generationTimeSeconds: g }));
  assert.deepEqual(kinds(analyze(short)).filter((k) => k === 'regression'), []);
});

test('loadDominated: loading 60 s of 80 s runs; slowModelLoad from the original flag merges into it', () => {
  const tasks = [1, 2, 3].map((i) => run(i, { generationTimeSeconds: 80, modelLoadTimeSeconds: 60 }));
  const f = analyze(tasks);
  assert.deepEqual(kinds(f), ['loadDominated']);
  const l = f[0] as Finding;
  assert.equal(ev(l, 'median model load time'), 60);
  assert.equal(ev(l, 'median share'), 75);
  assert.equal(l.expectedGainSeconds, 120);
  // From phases when no load time is reported; a short load is silent.
  const phased = [1, 2].map((i) => run(i, { generationTimeSeconds: 100, phases: [{ name: 'model_load', startTime: T0 + i * 600_000, endTime: T0 + i * 600_000 + 10_000 }] }));
  assert.deepEqual(kinds(analyze(phased)), []);
});

test('the original four are findings with one step for the configuration that triggered them', () => {
  const tasks = [1, 2, 3].map((i) => run(i, { devicePeakVramUsageMb: 78_000, peakVramUsageMb: 78_000, quantizationUsed: null }));
  const f = analyze(tasks);
  assert.deepEqual(kinds(f), ['vramPressure']);
  assert.match((f[0] as Finding).nextStep, /Load wan-t2v quantized/);
  assert.equal(Math.round(ev(f[0] as Finding, 'the same at wan-t2v at 720p')), Math.round((78_000 / 81_920) * 100));
  // The original keys and texts stay in the analysis.
  const a = analyzePerformance(tasks, DEFAULT_THRESHOLDS, NOW, 24);
  assert.ok(a.optimizationRecommendations.includes('Enable model quantization to reduce VRAM usage'));
  const ram = [1, 2].map((i) => run(i, { devicePeakRamUsageMb: 15_000, ramTotalMb: 16_000, processTreePeakRamUsageMb: 2000 }));
  const r = analyze(ram);
  assert.deepEqual(kinds(r), ['ramPressure']);
  assert.match((r[0] as Finding).nextStep, /Other processes held 13,000 MB/);
});

test('never more than a handful, ranked by expected gain', () => {
  const many: PerformanceMetrics[] = [];
  for (let m = 0; m < 8; m++) for (let i = 0; i < 3; i++) many.push(run(m * 10 + i, { modelType: `m${m}`, generationTimeSeconds: 80 + m, modelLoadTimeSeconds: 60 + m }));
  const f = findFindings(many, many, analyzePerformance(many, DEFAULT_THRESHOLDS, NOW, 24).bottleneckAnalysis);
  assert.equal(f.length, 5);
  const gains = f.map((x) => x.expectedGainSeconds);
  assert.deepEqual(gains, [...gains].sort((a, b) => b - a));
  assert.equal(f[0]?.summary.startsWith('m7'), true);
});
