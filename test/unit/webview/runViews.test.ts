// A failed run's last minute and two runs side by side, from each task's kept compact timeline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompactTimeline } from '../../../src/shared/metrics';
import { buildComparison } from '../../../src/host/dashboardData';
import type { DashboardDataSource } from '../../../src/host/dashboardPanel';
import { MAX_TASK_PHASES, parseFromWebview, parseToWebview } from '../../../src/shared/protocol';
import { alignedSeries, compareRows, keptTimeline, lastMinute, postMortemFacts } from '../../../webview/runViewModel';
import { NOW, task } from './fixtures';

/** 3 minutes at one point per 5 s, then the last minute at 1 s: VRAM climbing to the GPU's 24 GB. */
function oomTimeline(): CompactTimeline {
  const offsets = [...Array.from({ length: 24 }, (_, i) => i * 5), ...Array.from({ length: 60 }, (_, i) => 121 + i)];
  return {
    offsetSeconds: offsets,
    gpuUtilizationPercent: offsets.map((o) => (o > 170 ? 5 : 96)),
    deviceVramMb: offsets.map((o) => (o <= 120 ? 18_000 : Math.min(24_400, 18_000 + (o - 120) * 110))),
    ownVramMb: offsets.map((o) => (o <= 120 ? 17_000 : Math.min(23_400, 17_000 + (o - 120) * 110))),
    cpuCores: offsets.map(() => 1.2),
    ramMb: offsets.map(() => 9000),
  };
}

const start = NOW - 600_000;
const failed = task({
  taskId: 'wan-1080', modelType: 'wan-t2v', resolution: '1920x1080', startTime: start, endTime: start + 180_000, status: 'failed', success: false,
  errorCategory: 'out_of_memory', vramTotalMb: 24_564, timeline: oomTimeline(),
  phases: [{ name: 'model_load', startTime: start, endTime: start + 30_000 }, { name: 'vae_decode', startTime: start + 150_000, endTime: null }],
});

test("post-mortem: the last minute of the kept timeline at full rate, with memory against the GPU's and the phase it died in", () => {
  const { xs, columns } = lastMinute(failed);
  assert.equal(xs.length, 60, 'the last minute at 1 s: 60 points');
  assert.equal(xs[0], start + 121_000);
  assert.equal(xs[xs.length - 1], start + 180_000);
  assert.equal(columns.deviceVramMb[columns.deviceVramMb.length - 1], 24_400);
  const facts = Object.fromEntries(postMortemFacts(failed).map((f) => [f.label, f.value]));
  assert.equal(facts.Ended, 'Failed (out_of_memory)');
  assert.equal(facts['GPU memory at the end'], '23.8 GB of 24.0 GB (99%)');
  assert.equal(facts['Phase at the end'], 'vae_decode');
  assert.equal(facts['Samples in the last minute'], '60');
  assert.equal(facts["The run's CPU, mean"], '1.20 cores');
  // A task without a kept timeline (older records): no post-mortem, not an empty one.
  assert.deepEqual(postMortemFacts({ ...failed, timeline: undefined }), []);
  // The same kept timeline draws the task's chart once the machine's samples of its period are gone.
  const kept = keptTimeline(failed);
  assert.equal(kept?.xs.length, 84);
  assert.equal(kept?.cpuPercent[0], 120, 'cores as % of one core');
  assert.equal(keptTimeline({ ...failed, timeline: null }), null);
});

test('compare: configuration, commit, time, peaks and phases side by side, differences marked with B against A', () => {
  const a = task({ taskId: 'a', steps: 30, generationTimeSeconds: 100, peakVramUsageMb: 20_000, gitCommit: { hash: 'abc1234', branch: 'main', dirty: false }, phases: [{ name: 'denoise', startTime: NOW - 3_600_000, endTime: NOW - 3_540_000 }], timeline: oomTimeline() });
  const b = task({ taskId: 'b', steps: 30, generationTimeSeconds: 130, peakVramUsageMb: 20_000, gitCommit: { hash: 'def5678', branch: 'main', dirty: true }, startTime: NOW - 1_800_000, endTime: NOW - 1_670_000, phases: [{ name: 'denoise', startTime: NOW - 1_800_000, endTime: NOW - 1_710_000 }] });
  const rows = Object.fromEntries(compareRows(a, b).map((r) => [r.label, r]));
  assert.deepEqual([rows.Time?.a, rows.Time?.b, rows.Time?.delta, rows.Time?.differs], ['1 min 40 s', '2 min 10 s', '+30 s (+30%)', true]);
  assert.deepEqual([rows['Git commit']?.a, rows['Git commit']?.b], ['abc1234 (main)', 'def5678 (main), uncommitted changes']);
  assert.equal(rows['Peak VRAM']?.differs, false);
  assert.equal(rows.Task?.differs, false, 'which runs they are is never a highlighted difference');
  assert.equal(rows['Peak VRAM']?.delta, '');
  assert.equal(rows.Steps?.differs, false);
  assert.deepEqual([rows['Phase denoise']?.a, rows['Phase denoise']?.b, rows['Phase denoise']?.delta], ['1 min 00 s', '1 min 30 s', '+30 s (+50%)']);
  // Both series from one origin: B's first point lands where A's does.
  assert.equal(alignedSeries(a, 0, 'vram')[0]?.x, 0);
  assert.equal(alignedSeries(a, 0, 'vram')[0]?.y, 17_000, "the run's own memory where it is attributed");
  assert.deepEqual(alignedSeries(b, 0, 'gpu'), [], 'no timeline: nothing drawn');
});

test('the compare messages: exactly two task references from the page; the host answers with two tasks or nulls', () => {
  const ok = parseFromWebview({ type: 'compareTasks', tasks: [{ taskId: 'a', startTime: 1 }, { taskId: 'b', startTime: 2 }] });
  assert.ok(ok.ok);
  for (const bad of [[{ taskId: 'a', startTime: 1 }], [{ taskId: 'a', startTime: 1 }, { taskId: 'b', startTime: 2 }, { taskId: 'c', startTime: 3 }], [{ taskId: 'a', startTime: 1 }, { taskId: 'b', startTime: 2, extra: 1 }], 'ab']) {
    assert.equal(parseFromWebview({ type: 'compareTasks', tasks: bad }).ok, false, JSON.stringify(bad));
  }
  const answer = parseToWebview({ type: 'comparison', tasks: [JSON.parse(JSON.stringify(failed)), null] });
  assert.ok(answer.ok, answer.ok ? '' : answer.error);
  assert.equal(parseToWebview({ type: 'comparison', tasks: [null] }).ok, false);
});

test('the host answers a comparison with both tasks (phases bounded, timelines kept), null for one gone, in the order asked', () => {
  const a = task({ taskId: 'a', startTime: NOW - 7_200_000, endTime: NOW - 7_100_000, timeline: oomTimeline() });
  const b = task({ taskId: 'b', startTime: NOW - 3_600_000, endTime: NOW - 3_500_000, phases: Array.from({ length: 500 }, (_, i) => ({ name: `p${i}`, startTime: NOW - 3_600_000 + i, endTime: NOW - 3_600_000 + i + 1 })) });
  const source = { history: () => [a, b], activeTasks: () => [] } as unknown as DashboardDataSource;
  const [ga, gb] = buildComparison(source, [{ taskId: 'b', startTime: b.startTime }, { taskId: 'a', startTime: a.startTime }]);
  assert.equal(ga?.taskId, 'b');
  assert.ok((ga?.phases?.length ?? 0) <= MAX_TASK_PHASES, 'phases bounded for the protocol');
  assert.deepEqual(gb?.timeline, a.timeline);
  const [gone] = buildComparison(source, [{ taskId: 'a', startTime: a.startTime + 1 }, { taskId: 'b', startTime: b.startTime }]);
  assert.equal(gone, null, 'the same id at another start is another run');
  assert.ok(parseToWebview({ type: 'comparison', tasks: buildComparison(source, [{ taskId: 'a', startTime: a.startTime }, { taskId: 'b', startTime: b.startTime }]) }).ok);
});
