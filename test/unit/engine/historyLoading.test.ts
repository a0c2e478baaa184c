// How much of the history the engine reads, and when: the first sample never waits for the
// history, and a read-only face reads only the window it shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { MemoryHistoryStore, type LoadOptions, type LoadResult } from '../../../src/core/history/historyStore';
import type { SystemPerformanceSnapshot } from '../../../src/shared/snapshot';
import { FakeClock, flushPromises } from '../helpers/fakeClock';
import { FakeGpuProvider, FakeSystemSampler, makeTask } from './fakes';

/** A store whose load the test releases, and that records what each load asked for. */
class GatedStore extends MemoryHistoryStore {
  readonly asked: LoadOptions[] = [];
  private release: (() => void) | null = null;
  gate = false;
  override async load(nowMs?: number, options: LoadOptions = {}): Promise<LoadResult> {
    this.asked.push(options);
    if (this.gate) await new Promise<void>((resolve) => (this.release = resolve));
    return super.load(nowMs, options);
  }
  open(): void {
    this.gate = false;
    this.release?.();
  }
}

test('the first sample is taken while the history is still loading', async () => {
  const clock = new FakeClock();
  const store = new GatedStore();
  await store.append(makeTask({ taskId: 'old' }));
  store.gate = true;
  const monitor = new PerformanceMonitor({}, { clock, systemSampler: new FakeSystemSampler(), gpuProvider: new FakeGpuProvider(true, () => clock.now()), historyStore: store });
  const snapshots: SystemPerformanceSnapshot[] = [];
  monitor.on('snapshot', (s) => snapshots.push(s));
  let started = false;
  const start = monitor.startMonitoring().then(() => (started = true));
  for (let i = 0; i < 20 && snapshots.length === 0; i++) await flushPromises();
  assert.equal(snapshots.length, 1, 'a snapshot before the history is in');
  assert.equal(started, false, 'startMonitoring still waits for the history');
  assert.deepEqual(monitor.getHistory(), []);
  store.open();
  await start;
  assert.deepEqual(monitor.getHistory().map((t) => t.taskId), ['old']);
  await monitor.dispose();
});

test('a window read asks the store for that window only, and holds only its tasks', async () => {
  const clock = new FakeClock(Date.UTC(2026, 5, 1));
  const store = new GatedStore();
  const hour = 3_600_000;
  await store.append(makeTask({ taskId: 'two-days-ago', startTime: clock.now() - 48 * hour, endTime: clock.now() - 47 * hour }));
  await store.append(makeTask({ taskId: 'an-hour-ago', startTime: clock.now() - hour, endTime: clock.now() - hour / 2 }));
  const monitor = new PerformanceMonitor({ maxHistorySize: 1000 }, { clock, historyStore: store });
  const report = await monitor.loadHistoryWindow(24);
  assert.equal(report.error, null);
  assert.deepEqual(store.asked, [{ sinceMs: clock.now() - 24 * hour, lastN: 1000 }]);
  assert.deepEqual(monitor.getHistory().map((t) => t.taskId), ['an-hour-ago']);
  assert.equal(monitor.getPerformanceAnalysis(24).taskCount, 1);
  await assert.rejects(monitor.loadHistoryWindow(-1));
  await monitor.dispose();
});
