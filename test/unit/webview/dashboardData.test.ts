// The host's reshaping of engine data into dashboard payloads: chart columns line up, unknown
// stays null, a task's timeline comes from full-rate samples or roll-ups, and the table is capped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MinuteRollup } from '../../../src/core/engine/snapshotRing';
import { activeTaskInfo, buildAnalysisView, buildHistoryPage, buildTaskDetail, CoalescedRefresh, NO_HISTORY_FILTER, seriesFromRollups, seriesFromSnapshots, taskTimeline } from '../../../src/host/dashboardData';
import type { DashboardDataSource } from '../../../src/host/dashboardPanel';
import { HISTORY_PAGE_ROWS, parseToWebview } from '../../../src/shared/protocol';
import { FakeClock } from '../helpers/fakeClock';
import { gpuReading, NOW, snapshot, task } from './fixtures';

test('snapshot columns: one GPU entry per device, missing readings are null', () => {
  const snaps = [
    snapshot(NOW - 2000, { gpus: [gpuReading(0, { utilizationPercent: 10 })] }),
    snapshot(NOW - 1000, { cpuUsagePercent: null, gpus: [gpuReading(1, { utilizationPercent: 30 }), gpuReading(0, { utilizationPercent: null })] }),
  ];
  const s = seriesFromSnapshots('5m', snaps);
  assert.deepEqual(s.timestamps, [NOW - 2000, NOW - 1000]);
  assert.deepEqual(s.cpuUsagePercent, [20, null]);
  assert.deepEqual(s.gpus.map((g) => g.index), [0, 1]);
  assert.deepEqual(s.gpus[0]?.utilizationPercent, [10, null]);
  assert.deepEqual(s.gpus[1]?.utilizationPercent, [null, 30], 'a GPU absent from a sample is unknown there, not 0');
  // The VRAM column is each reading's own share (what the chart draws), not MiB for the page to divide.
  assert.deepEqual(s.gpus[0]?.vramUsedPercent, [snaps[0]?.gpus[0]?.vramUsedPercent, snaps[1]?.gpus[1]?.vramUsedPercent]);
  assert.deepEqual(s.gpus[1]?.vramUsedPercent, [null, snaps[1]?.gpus[0]?.vramUsedPercent]);
  assert.ok(parseToWebview({ type: 'series', series: s }).ok);
  const none = seriesFromSnapshots('1h', []);
  assert.deepEqual(none.timestamps, []);
  assert.deepEqual(none.gpus, []);
});

function rollup(minuteStart: number, over: Partial<MinuteRollup> = {}): MinuteRollup {
  return {
    minuteStart, sampleCount: 60, averageCpuUsagePercent: 30, peakCpuUsagePercent: 50, averageRamUsageMb: 9000, peakRamUsageMb: 9500,
    averageGpuUsagePercent: 70, peakGpuUsagePercent: 90, averageVramUsageMb: 12_000, peakVramUsageMb: 13_000, vramTotalMb: 24_564,
    peakTemperatureCelsius: 70, ...over,
  };
}

test('roll-up columns: per-minute means, GPUs merged, none when no GPU was ever seen', () => {
  const s = seriesFromRollups('24h', [rollup(NOW - 120_000), rollup(NOW - 60_000, { averageCpuUsagePercent: null })], 32_000);
  assert.equal(s.resolution, 'minute');
  assert.deepEqual(s.cpuUsagePercent, [30, null]);
  assert.equal(s.gpus.length, 1);
  assert.equal(s.gpus[0]?.name, 'All GPUs');
  assert.deepEqual(s.gpus[0]?.vramUsedPercent, [(12_000 / 24_564) * 100, (12_000 / 24_564) * 100]);
  const noTotal = seriesFromRollups('24h', [rollup(NOW, { vramTotalMb: null })], null);
  assert.deepEqual(noTotal.gpus[0]?.vramUsedPercent, [null], 'no known total: the share is unknown');
  const cpuOnly = seriesFromRollups('24h', [rollup(NOW, { averageGpuUsagePercent: null, averageVramUsageMb: null })], null);
  assert.deepEqual(cpuOnly.gpus, []);
});

test('a task timeline uses full-rate samples of its own GPUs while the ring holds its start', () => {
  const t = task({ startTime: NOW - 3000, endTime: NOW - 1000, gpuIndices: [1] });
  const snaps = [NOW - 4000, NOW - 3000, NOW - 2000, NOW - 1000, NOW].map((ts) => snapshot(ts, { gpus: [gpuReading(0, { vramUsedMb: 1 }), gpuReading(1, { vramUsedMb: 5000, utilizationPercent: 80 })] }));
  const tl = taskTimeline(t, snaps, []);
  assert.equal(tl.resolution, 'sample');
  assert.deepEqual(tl.timestamps, [NOW - 3000, NOW - 2000, NOW - 1000]);
  assert.deepEqual(tl.vramUsedMb, [5000, 5000, 5000]);
  assert.deepEqual(tl.gpuUtilizationPercent, [80, 80, 80]);
});

test('an older task falls back to roll-ups, and to nothing past what the engine keeps', () => {
  const t = task({ startTime: NOW - 3_600_000 * 5, endTime: NOW - 3_600_000 * 5 + 150_000 });
  const snaps = [snapshot(NOW - 1000)];
  const first = Math.floor(t.startTime / 60_000) * 60_000;
  const tl = taskTimeline(t, snaps, [rollup(first - 60_000), rollup(first), rollup(first + 60_000), rollup(first + 120_000), rollup(first + 600_000)]);
  assert.equal(tl.resolution, 'minute');
  assert.deepEqual(tl.timestamps, [first, first + 60_000, first + 120_000]);
  assert.equal(taskTimeline(t, snaps, []).resolution, 'none');
});

test('active tasks: current VRAM of their GPUs, unknown when no sample yet', () => {
  const t = task({ status: 'running', endTime: null, gpuIndices: [0] });
  assert.equal(activeTaskInfo(t, snapshot(NOW, { gpus: [gpuReading(0, { vramUsedMb: 7000 }), gpuReading(1)] }), null).currentVramMb, 7000);
  assert.equal(activeTaskInfo(t, null, 40).currentVramMb, null);
  assert.equal(activeTaskInfo(t, null, 40).progressPercent, 40);
  assert.equal(activeTaskInfo(t, snapshot(NOW, { gpus: [gpuReading(0, { vramUsedMb: null })] }), null).currentVramMb, null);
});

test('history pages are newest first, bounded, filtered by the host, and a page past the end is the last one', () => {
  const many = Array.from({ length: HISTORY_PAGE_ROWS * 2 + 5 }, (_, i) => task({ taskId: `t${i}`, startTime: NOW - 1e9 + i * 1000, modelType: i % 2 ? 'flux' : 'sdxl' }));
  const source = { history: () => many } as unknown as DashboardDataSource;
  const first = buildHistoryPage(source, 24, 0, NO_HISTORY_FILTER);
  assert.equal(first.rows.length, HISTORY_PAGE_ROWS);
  assert.equal(first.rows[0]?.taskId, `t${HISTORY_PAGE_ROWS * 2 + 4}`);
  assert.deepEqual([first.totalRows, first.matching, first.offset], [many.length, many.length, 0]);
  const last = buildHistoryPage(source, 24, HISTORY_PAGE_ROWS * 2, NO_HISTORY_FILTER);
  assert.deepEqual(last.rows.map((r) => r.taskId), ['t4', 't3', 't2', 't1', 't0']);
  const beyond = buildHistoryPage(source, 24, 9_999_999, NO_HISTORY_FILTER);
  assert.equal(beyond.offset, HISTORY_PAGE_ROWS * 2, 'past the end: the last page');
  const flux = buildHistoryPage(source, 24, 0, { ...NO_HISTORY_FILTER, modelType: 'flux' });
  assert.equal(flux.matching, HISTORY_PAGE_ROWS + 2);
  assert.ok(flux.rows.every((r) => r.modelType === 'flux'));
  assert.equal(parseToWebview({ type: 'historyPage', windowHours: 24, page: first }).ok, true);
});

test('the analysis view counts the kept tasks without asking for all of them', () => {
  const inWindow = [task({ taskId: 'a' }), task({ taskId: 'b' })];
  const asked: (number | null)[] = [];
  const source = {
    analysis: () => ({}) as never,
    history: (hours: number | null) => {
      asked.push(hours);
      return inWindow;
    },
    historyCount: () => 100_000,
  } as unknown as DashboardDataSource;
  const { analysis, totalTaskCount } = buildAnalysisView(source, 24);
  assert.equal(totalTaskCount, 100_000);
  assert.equal(analysis.totalRows, 2);
  assert.deepEqual(asked, [24], 'only the window is copied, never the whole history');
});


test('the full analysis after task ends is coalesced: at most one per interval, requests meanwhile join it, none after dispose', async () => {
  const clock = new FakeClock();
  const runs: number[] = [];
  const refresh = new CoalescedRefresh(clock, 5_000, () => runs.push(clock.now()));
  const t0 = clock.now();
  refresh.request(); // none ran before: at once
  await clock.advance(0);
  assert.deepEqual(runs, [t0]);
  for (let i = 0; i < 40; i++) {
    refresh.request(); // a task end every 250 ms for 10 s
    await clock.advance(250);
  }
  await clock.advance(5_000);
  assert.deepEqual(runs.map((t) => t - t0), [0, 5_000, 10_000], 'forty ends in 10 s: one full analysis per 5 s');
  refresh.ran(); // a full state was just posted
  refresh.request();
  await clock.advance(4_999);
  assert.equal(runs.length, 3);
  await clock.advance(1);
  assert.equal(runs.length, 4);
  refresh.request();
  refresh.dispose();
  await clock.advance(10_000);
  assert.equal(runs.length, 4, 'a closed panel runs nothing');
  assert.equal(clock.pending, 0);
});

test('a task chosen in the table is found in the window in place, without copying the whole history', () => {
  const t = task({ taskId: 'chosen', startTime: NOW - 5_000 });
  const source = {
    historyPage: (_h: number, _o: number, _l: number, match: ((x: typeof t) => boolean) | null) => ({ tasks: [t].filter((x) => match === null || match(x)), total: 1 }),
    history: () => {
      throw new Error('the whole history was copied');
    },
    activeTasks: () => [],
    recentSnapshots: () => [],
    minuteRollups: () => [],
  } as unknown as DashboardDataSource;
  assert.equal(buildTaskDetail(source, 'chosen', NOW - 5_000, 24)?.task.taskId, 'chosen');
  assert.throws(() => buildTaskDetail(source, 'other', NOW - 5_000, 24), /copied/, 'not in the window: every kept task is searched');
});
