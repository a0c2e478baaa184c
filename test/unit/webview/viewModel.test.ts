// The dashboard's view model: every figure a user reads is formatted here, unknown values read
// N/A (never 0), and the history table sorts and filters as a user expects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzePerformance } from '../../../src/core/engine/analysis';
import { DEFAULT_THRESHOLDS } from '../../../src/core/engine/config';
import type { HistoryRow } from '../../../src/shared/protocol';
import { historyRow } from '../../../src/host/dashboardData';
import {
  DEFAULT_QUERY, NA, decimate, distinctValues, efficiencyExplanation, formatDateTime, formatElapsed, formatEvidence, formatEvidenceValue, formatFindingEvidence,
  formatMb, formatMbOf, formatPercent, formatRatio, formatRelative, formatSeconds, formatTick, formatWindow,
  queryRows, rowResolution, timeTicks,
} from '../../../webview/viewModel';
import { HOSTILE, NOW, sampleTasks, task } from './fixtures';

test('unknown values read N/A, never 0', () => {
  for (const v of [null, undefined, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.equal(formatPercent(v), NA);
    assert.equal(formatRatio(v), NA);
    assert.equal(formatMb(v), NA);
    assert.equal(formatSeconds(v), NA);
    assert.equal(formatDateTime(v), NA);
    assert.equal(formatRelative(v, NOW), NA);
  }
  assert.equal(formatPercent(0), '0%');
  assert.equal(formatRatio(0), '0.0%');
  assert.equal(formatMb(0), '0 MB');
  assert.equal(formatSeconds(0), '0.0 s');
});

test('percents, ratios and memory sizes', () => {
  assert.equal(formatPercent(42.4), '42%');
  assert.equal(formatPercent(42.46, 1), '42.5%');
  assert.equal(formatRatio(5 / 6), '83.3%');
  assert.equal(formatRatio(1), '100.0%');
  assert.equal(formatMb(812.4), '812 MB');
  assert.equal(formatMb(18_636.8), '18.2 GB');
  assert.equal(formatMbOf(18_636.8, 24_576), '18.2 / 24.0 GB');
  assert.equal(formatMbOf(null, 24_576), 'N/A / 24.0 GB');
  assert.equal(formatMbOf(900, null), '900 MB');
});

test('durations and elapsed times', () => {
  assert.equal(formatSeconds(4.25), '4.3 s');
  assert.equal(formatSeconds(42.4), '42 s');
  assert.equal(formatSeconds(185), '3 min 05 s');
  assert.equal(formatSeconds(3720), '1 h 02 min');
  assert.equal(formatSeconds(2 * 86_400 + 3 * 3600), '2 d 03 h');
  assert.equal(formatSeconds(-1), NA);
  assert.equal(formatElapsed(NOW - 65_500, NOW), '1 min 05 s');
  assert.equal(formatElapsed(NOW + 5000, NOW), '0.0 s', 'a start in the future (clock skew) is not negative');
});

test('relative times, windows and axis ticks', () => {
  assert.equal(formatRelative(NOW - 10_000, NOW), 'just now');
  assert.equal(formatRelative(NOW - 5 * 60_000, NOW), '5 min ago');
  assert.equal(formatRelative(NOW - 3 * 3_600_000, NOW), '3 h ago');
  assert.equal(formatRelative(NOW - 2 * 86_400_000, NOW), '2 d ago');
  assert.match(formatRelative(NOW - 30 * 86_400_000, NOW), /^\d{4}-\d{2}-\d{2}$/);
  assert.deepEqual([1, 24, 168, 720].map(formatWindow), ['1 h', '24 h', '7 d', '30 d']);
  assert.match(formatTick(NOW + 20_000, 300_000), /^\d{2}:\d{2}:\d{2}$/);
  assert.match(formatTick(NOW, 300_000), /^\d{2}:\d{2}$/, "a whole minute drops the seconds");
  assert.match(formatTick(NOW, 3_600_000), /^\d{2}:\d{2}$/);
  assert.match(formatTick(NOW, 7 * 86_400_000), /^[A-Z][a-z]{2} \d{1,2}$/);
});

test('evidence reads as measured value against threshold, with the task count', () => {
  const text = formatEvidence({ metric: 'mean peak VRAM of the task\'s GPUs', measuredValue: 93.04, threshold: 90, unit: '%', comparison: '>', taskCount: 12 });
  assert.equal(text, 'mean peak VRAM of the task\'s GPUs: 93.0%, above the 90.0% threshold · 12 tasks');
  const rate = formatEvidence({ metric: 'success rate', measuredValue: 0.8, threshold: 0.95, unit: 'ratio', comparison: '<', taskCount: 1 });
  assert.equal(rate, 'success rate: 80.0%, below the 95.0% threshold · 1 task');
  assert.match(formatEvidence({ metric: 'load', measuredValue: 45, threshold: 30, unit: 's', comparison: '>', taskCount: 3 }), /45 s, above the 30 s threshold/);
});

test('the efficiency line explains the factors of this window, or why there is none', () => {
  const empty = analyzePerformance([], DEFAULT_THRESHOLDS, NOW, 24);
  assert.match(efficiencyExplanation(empty, 300), /once a task has finished/);
  const failedOnly = analyzePerformance([task({ status: 'failed', success: false })], DEFAULT_THRESHOLDS, NOW, 24);
  assert.match(efficiencyExplanation(failedOnly, 300), /0% because no task in this window succeeded/);
  const a = analyzePerformance(sampleTasks(), DEFAULT_THRESHOLDS, NOW, 24);
  const line = efficiencyExplanation(a, 300);
  assert.match(line, /^Geometric mean of success rate 75\.0%, speed \d+\.\d% \(5 min 00 s baseline ÷ mean time, at most 100%\)/);
  assert.ok(!line.includes('\n'), 'one line');
});

function rows(): HistoryRow[] {
  return sampleTasks().map(historyRow);
}

test('history rows sort by any column, unknown values last in both directions', () => {
  const r = rows();
  assert.deepEqual(queryRows(r, DEFAULT_QUERY).map((x) => x.taskId), [HOSTILE, 'c', 'b', 'a'], 'newest first by default');
  const byTime = queryRows(r, { ...DEFAULT_QUERY, sortKey: 'generationTimeSeconds', descending: false });
  assert.deepEqual(byTime.map((x) => x.generationTimeSeconds), [100, 100, 100, 300]);
  const byVramDesc = queryRows(r, { ...DEFAULT_QUERY, sortKey: 'peakVramUsageMb', descending: true });
  assert.equal(byVramDesc[0]?.taskId, 'a');
  assert.ok(byVramDesc.slice(1).every((x) => x.peakVramUsageMb === null));
  const byVramAsc = queryRows(r, { ...DEFAULT_QUERY, sortKey: 'peakVramUsageMb', descending: false });
  assert.equal(byVramAsc[0]?.taskId, 'a', 'unknown stays last when ascending too');
  const byModel = queryRows(r, { ...DEFAULT_QUERY, sortKey: 'modelType', descending: false });
  assert.deepEqual(byModel.map((x) => x.modelType), [HOSTILE, 'flux', 'wan-t2v', 'wan-t2v']);
});

test('history rows filter by model type, resolution and outcome', () => {
  const r = rows();
  assert.deepEqual(queryRows(r, { ...DEFAULT_QUERY, modelType: 'flux' }).map((x) => x.taskId), ['b']);
  assert.deepEqual(queryRows(r, { ...DEFAULT_QUERY, status: 'failed' }).map((x) => x.taskId), ['c']);
  assert.deepEqual(queryRows(r, { ...DEFAULT_QUERY, resolution: HOSTILE }).map((x) => x.taskId), [HOSTILE], 'an unrecognised resolution groups by its own text');
  assert.deepEqual(queryRows(r, { ...DEFAULT_QUERY, modelType: 'flux', status: 'failed' }), []);
  assert.deepEqual(queryRows([], DEFAULT_QUERY), [], 'empty history is an empty table');
  assert.deepEqual(distinctValues(r, (x) => x.modelType), [HOSTILE, 'flux', 'wan-t2v']);
  assert.deepEqual(distinctValues(r, rowResolution), [HOSTILE, '1080p', '720p']);
});

test('decimation keeps every point when few, and gaps as gaps', () => {
  const xs = [0, 1, 2, 3, 4];
  const ys = [1, null, 3, 4, null];
  assert.deepEqual(decimate(xs, ys, 0, 4, 100), [{ x: 0, y: 1 }, { x: 1, y: null }, { x: 2, y: 3 }, { x: 3, y: 4 }, { x: 4, y: null }]);
  assert.deepEqual(decimate(xs, ys, 0, 4, 100, (y) => y * 10).map((p) => p.y), [10, null, 30, 40, null]);
});

test('decimation of 3600 points to 100 columns keeps peaks, troughs and every gap', () => {
  const xs = Array.from({ length: 3600 }, (_, i) => i * 1000);
  const ys: (number | null)[] = xs.map((_, i) => (i === 1234 ? 99 : i === 2345 ? 1 : 50));
  for (let i = 3000; i < 3010; i++) ys[i] = null;
  const out = decimate(xs, ys, 0, 3_599_000, 100);
  assert.ok(out.length < 600, `decimated to ${out.length} points`);
  assert.ok(out.some((p) => p.y === 99), 'the peak survives');
  assert.ok(out.some((p) => p.y === 1), 'the trough survives');
  const gaps = out.filter((p) => p.y === null);
  assert.equal(gaps.length, 1, 'ten unknown samples in a row are one gap');
  assert.equal(gaps[0]?.x, 3_000_000);
  assert.ok(!out.some((p) => p.y === 0), 'no unknown value became 0');
  for (let i = 1; i < out.length; i++) assert.ok((out[i] as { x: number }).x >= (out[i - 1] as { x: number }).x, 'x stays ascending');
});

test('decimation starts one point before the window so the line reaches the left edge', () => {
  const out = decimate([0, 10, 20, 30], [1, 2, 3, 4], 15, 30, 100);
  assert.deepEqual(out.map((p) => p.x), [10, 20, 30]);
});

test('time axis ticks fall on round local times', () => {
  const min = Date.UTC(2026, 0, 10, 12, 3, 17);
  const five = timeTicks(min, min + 300_000, 6, 0);
  assert.ok(five.length >= 4 && five.length <= 6);
  assert.ok(five.every((t) => t % 60_000 === 0), 'whole minutes for 5 min');
  const hour = timeTicks(min, min + 3_600_000, 6, 0);
  assert.ok(hour.every((t) => t % 600_000 === 0), 'every 10 min for an hour');
  const day = timeTicks(min, min + 86_400_000, 6, -120);
  assert.ok(day.every((t) => (t + 120 * 60_000) % (4 * 3_600_000) === 0 || (t + 120 * 60_000) % (6 * 3_600_000) === 0), 'aligned to local hours (UTC+2)');
  assert.deepEqual(timeTicks(min, min, 6, 0), []);
  for (let i = 1; i < hour.length; i++) assert.ok((hour[i] as number) > (hour[i - 1] as number));
});

test('a finding\'s evidence reads in its unit: whole MB and runs, cores to 0.01, percent and seconds as elsewhere', () => {
  assert.equal(formatFindingEvidence({ label: 'predicted peak VRAM', value: 92_943.6, unit: 'MB' }), 'predicted peak VRAM 92,944 MB');
  assert.equal(formatFindingEvidence({ label: 'runs since', value: 4, unit: 'runs' }), 'runs since 4 runs');
  assert.equal(formatFindingEvidence({ label: "the run's own processes' CPU", value: 1, unit: 'cores' }), "the run's own processes' CPU 1.00 cores");
  assert.equal(formatFindingEvidence({ label: 'slowdown', value: 30, unit: '%' }), `slowdown ${formatEvidenceValue(30, '%')}`);
});
