// The figures every face shows and none computes: a GPU's VRAM share (set where its reading is
// built), a task's VRAM now and its progress total. One definition each, in src/shared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressStepsPercent, progressStepsTotal } from '../../../src/shared/metrics';
import { parseToWebview } from '../../../src/shared/protocol';
import { gpuReading, taskGpuUtilizationPercent, taskVramUsedMb, usedPercent } from '../../../src/shared/snapshot';
import { sampleState } from '../webview/fixtures';

test('usedPercent: unknown, non-finite or a total that is not positive gives null, never 0', () => {
  assert.equal(usedPercent(50, 200), 25);
  assert.equal(usedPercent(0, 200), 0);
  for (const [used, total] of [[null, 100], [50, null], [50, 0], [50, -1], [Number.NaN, 100], [50, Number.POSITIVE_INFINITY], [undefined, 100]] as const) {
    assert.equal(usedPercent(used, total), null, `${used} of ${total}`);
  }
});

test('a GPU reading carries its VRAM share, derived from its own figures when it is built', () => {
  const r = gpuReading({ index: 0, name: 'GPU', vramUsedMb: 6144, vramTotalMb: 24_576 });
  assert.equal(r.vramUsedPercent, 25);
  assert.equal(gpuReading({ index: 1, name: 'GPU', vramUsedMb: 6144 }).vramUsedPercent, null);
  assert.equal(gpuReading({ index: 2, name: 'GPU', vramUsedMb: 6144, vramTotalMb: 0 }).vramUsedPercent, null);
  // A figure given as undefined (a provider's optional field) is unknown, not dropped.
  assert.equal(gpuReading({ index: 3, name: 'GPU', vramUsedMb: undefined, vramTotalMb: 100 }).vramUsedMb, null);
  // The interface's order, whichever fields a provider knew: JSON output reads the same everywhere.
  assert.deepEqual(Object.keys(r), [
    'index', 'uuid', 'name', 'utilizationPercent', 'memoryUtilizationPercent', 'vramUsedMb', 'vramTotalMb', 'vramUsedPercent',
    'temperatureCelsius', 'powerDrawWatts', 'powerLimitWatts', 'smClockMhz', 'smClockMaxMhz', 'clockEventReasons', 'performanceState', 'mig',
  ]);
});

test("a task's VRAM now sums its own GPUs' known figures, every GPU when it names none", () => {
  const gpus = [gpuReading({ index: 0, name: 'a', vramUsedMb: 1000 }), gpuReading({ index: 1, name: 'b', vramUsedMb: 3000 }), gpuReading({ index: 2, name: 'c' })];
  assert.equal(taskVramUsedMb(gpus, [1]), 3000);
  assert.equal(taskVramUsedMb(gpus, []), 4000);
  assert.equal(taskVramUsedMb(gpus, [2]), null);
  assert.equal(taskVramUsedMb(gpus, [7]), null);
  assert.equal(taskVramUsedMb([], []), null);
  const util = [gpuReading({ index: 0, name: 'a', utilizationPercent: 20 }), gpuReading({ index: 1, name: 'b', utilizationPercent: 60 }), gpuReading({ index: 2, name: 'c' })];
  assert.equal(taskGpuUtilizationPercent(util, []), 40, 'the mean of the GPUs that report one');
  assert.equal(taskGpuUtilizationPercent(util, [1, 2]), 60);
  assert.equal(taskGpuUtilizationPercent(util, [2]), null);
});

test("a task's progress counts to its bar's total, else its declared steps, else nothing", () => {
  assert.equal(progressStepsTotal({ steps: 30, stepsTotal: 50 }), 50);
  assert.equal(progressStepsTotal({ steps: 30, stepsTotal: null }), 30);
  assert.equal(progressStepsTotal({ steps: 30 }), 30);
  assert.equal(progressStepsTotal({ steps: 0, stepsTotal: null }), null);
  assert.equal(progressStepsPercent({ steps: 40, stepsCompleted: 10 }), 25);
  assert.equal(progressStepsPercent({ steps: 40, stepsTotal: 8, stepsCompleted: 10 }), 100);
  assert.equal(progressStepsPercent({ steps: 40, stepsCompleted: null }), null);
  assert.equal(progressStepsPercent({ steps: 0, stepsCompleted: 5 }), null);
  assert.equal(progressStepsPercent({ steps: 10, stepsTotal: 0, stepsCompleted: 5 }), null);
});

test('the webview protocol checks the VRAM share: kept when a number or null, a message with anything else is rejected', () => {
  const state = sampleState();
  const ok = parseToWebview({ type: 'snapshot', snapshot: state.latest, activeTasks: [] });
  assert.ok(ok.ok && ok.msg.type === 'snapshot');
  assert.equal(ok.ok && ok.msg.type === 'snapshot' ? ok.msg.snapshot.gpus[0]?.vramUsedPercent : 'missing', state.latest?.gpus[0]?.vramUsedPercent);
  for (const bad of ['32', Number.NaN, undefined, {}]) {
    const latest = structuredClone(state.latest);
    (latest?.gpus[0] as unknown as Record<string, unknown>).vramUsedPercent = bad;
    const r = parseToWebview({ type: 'snapshot', snapshot: latest, activeTasks: [] });
    assert.equal(r.ok, false, `vramUsedPercent ${String(bad)}`);
    assert.match(r.ok ? '' : r.error, /gpus\[0\]\.vramUsedPercent/);
  }
  const series = structuredClone(state.series);
  (series.gpus[0] as { vramUsedPercent: unknown[] }).vramUsedPercent = [1];
  assert.equal(parseToWebview({ type: 'series', series }).ok, false, 'a VRAM column shorter than the timestamps');
});
