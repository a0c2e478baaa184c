// The kept window aggregates against a full analysis: random task sequences (in order, late ones,
// trims to the size limit, reloads, a clock that moves the window past tasks) give the same
// figures field by field (numbers to 1e-9 relative: sums kept by adding and taking away round
// differently), findings aside (they come from the latest full analysis).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzePerformance } from '../../../src/core/engine/analysis';
import { DEFAULT_THRESHOLDS } from '../../../src/core/engine/config';
import { HeldHistory } from '../../../src/core/engine/heldHistory';
import { LiveAnalyses } from '../../../src/core/engine/windowAggregate';
import type { PerformanceAnalysis, PerformanceMetrics } from '../../../src/shared/metrics';
import { seededRandom } from '../helpers/seededRandom';
import { HISTORY_NOW_MS, seededHistory } from './seededHistory';

const HOUR_MS = 3_600_000;

/** Equal, numbers to a relative 1e-9; the path of the first difference in the message. */
function assertClose(actual: unknown, expected: unknown, path: string): void {
  if (typeof actual === 'number' && typeof expected === 'number') {
    const ok = actual === expected || Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(actual), Math.abs(expected));
    assert.ok(ok, `${path}: ${actual} vs ${expected}`);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: not an array`);
    assert.equal(actual.length, expected.length, `${path}: length`);
    expected.forEach((e, i) => assertClose((actual as unknown[])[i], e, `${path}[${i}]`));
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${path}: not an object`);
    assert.deepEqual(Object.keys(actual as object).sort(), Object.keys(expected).sort(), `${path}: keys`);
    for (const [k, v] of Object.entries(expected)) assertClose((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
    return;
  }
  assert.equal(actual, expected, path);
}

function withoutFindings(a: PerformanceAnalysis): Omit<PerformanceAnalysis, 'findings'> {
  const { findings: _, ...rest } = a;
  return rest;
}

function compare(live: LiveAnalyses, held: HeldHistory, now: number, hours: number, what: string): void {
  const full = analyzePerformance(held.all, DEFAULT_THRESHOLDS, now, hours);
  const kept = live.analysis(held.all, DEFAULT_THRESHOLDS, now, hours);
  assert.ok(kept, 'findings were remembered');
  assertClose(withoutFindings(kept), withoutFindings(full), `${what} (${hours} h)`);
  // Pages: the window newest first by start (equal starts: the later held first), with and without a filter.
  const windowStart = now - hours * HOUR_MS;
  const naive = held.all.map((t, i) => ({ t, i })).filter(({ t }) => t.status !== 'running' && t.startTime >= windowStart)
    .sort((a, b) => b.t.startTime - a.t.startTime || b.i - a.i).map(({ t }) => t.taskId);
  const page = live.page(held.all, now, hours, 3, 7, null);
  assert.deepEqual([page.tasks.map((t) => t.taskId), page.total], [naive.slice(3, 10), naive.length], `${what}: page`);
  const failed = new Set(held.all.filter((t) => t.status === 'failed').map((t) => t.taskId));
  const filtered = live.page(held.all, now, hours, 1, 4, (t) => t.status === 'failed');
  const naiveFailed = naive.filter((id) => failed.has(id));
  assert.deepEqual([filtered.tasks.map((t) => t.taskId), filtered.total], [naiveFailed.slice(1, 5), naiveFailed.length], `${what}: filtered page`);
}

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`kept aggregates equal a full analysis over a random sequence (seed ${seed})`, () => {
    const rand = seededRandom(seed * 7919);
    // Two days of tasks in start order: they arrive as the clock passes their start.
    const pool = seededHistory(seed, 400, 48).sort((a, b) => a.startTime - b.startTime);
    const held = new HeldHistory(1_000);
    const live = new LiveAnalyses();
    held.watcher = live;
    let now = (pool[0] as PerformanceMetrics).startTime;
    for (const hours of [1, 24]) live.remember(analyzePerformance(held.all, DEFAULT_THRESHOLDS, now, hours), DEFAULT_THRESHOLDS);
    let late = 0;
    pool.forEach((task, i) => {
      now = Math.max(now, task.startTime) + Math.floor(rand() * 60_000);
      const r = rand();
      if (r < 0.08 && held.count > 0) {
        // Told by another process: a task that started before the newest held one.
        const older = held.all[Math.floor(rand() * held.count)] as PerformanceMetrics;
        held.addRecorded([{ ...task, taskId: `late-${late++}`, startTime: older.startTime - 1 }]);
      } else if (r < 0.12) {
        held.limit(Math.max(10, held.count - Math.floor(rand() * 20)));
        held.push(task);
      } else if (r < 0.14) {
        held.replaceWithLoaded([...held.all, task]);
      } else {
        held.push(task);
      }
      if (i % 3 === 0) compare(live, held, now, 1, `step ${i}`);
      compare(live, held, now, 24, `step ${i}`);
    });
    // The window slides past everything.
    now += 25 * HOUR_MS;
    compare(live, held, now, 24, 'after the last task left the window');
  });
}

test('in-order task ends and a sliding window never rebuild: each end is an update, not a re-read', () => {
  const pool = seededHistory(11, 600, 72).sort((a, b) => a.startTime - b.startTime);
  const held = new HeldHistory(300);
  const live = new LiveAnalyses();
  held.watcher = live;
  let now = (pool[0] as PerformanceMetrics).startTime;
  live.remember(analyzePerformance(held.all, DEFAULT_THRESHOLDS, now, 24), DEFAULT_THRESHOLDS);
  for (const task of pool) {
    now = task.startTime + 1;
    held.push(task); // past 300 the oldest go (trimmed from the window's front)
    compare(live, held, now, 24, task.taskId);
  }
  assert.equal(live.window(24)?.rebuilds, 1, 'built once, then kept');
  assert.ok(held.count === 300 && (held.all[0] as PerformanceMetrics).startTime < HISTORY_NOW_MS);
});

test('a late task, a reload or the clock going back rebuilds, and the figures stay equal', () => {
  const pool = seededHistory(12, 100, 24).sort((a, b) => a.startTime - b.startTime);
  const held = new HeldHistory(1_000);
  const live = new LiveAnalyses();
  held.watcher = live;
  const now = HISTORY_NOW_MS;
  live.remember(analyzePerformance(held.all, DEFAULT_THRESHOLDS, now, 24), DEFAULT_THRESHOLDS);
  for (const t of pool) held.push(t);
  compare(live, held, now, 24, 'in order');
  const built = live.window(24)?.rebuilds ?? 0;
  held.addRecorded([{ ...(pool[50] as PerformanceMetrics), taskId: 'late', status: 'failed', success: false }]);
  compare(live, held, now, 24, 'late');
  held.replaceWithLoaded(held.all.slice(5));
  compare(live, held, now, 24, 'reloaded');
  compare(live, held, now - HOUR_MS, 24, 'clock back');
  assert.equal(live.window(24)?.rebuilds, built + 3);
});

test('without a full analysis for these thresholds there is no kept one (the caller runs the full one)', () => {
  const held = new HeldHistory(10);
  const live = new LiveAnalyses();
  assert.equal(live.analysis(held.all, DEFAULT_THRESHOLDS, HISTORY_NOW_MS, 24), null);
  live.remember(analyzePerformance(held.all, DEFAULT_THRESHOLDS, HISTORY_NOW_MS, 24), DEFAULT_THRESHOLDS);
  assert.notEqual(live.analysis(held.all, DEFAULT_THRESHOLDS, HISTORY_NOW_MS, 24), null);
  assert.equal(live.analysis(held.all, { ...DEFAULT_THRESHOLDS }, HISTORY_NOW_MS, 24), null);
});
