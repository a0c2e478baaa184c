// A history reload (another window or the CLI wrote the file) runs while this window's own tasks
// start or finish. Recovery must only take the markers of tasks nobody is running: a task of
// ours that is finishing (out of the active set, marker not yet removed) or starting (marker
// written after the reload listed what is active) is not "interrupted". Either mistake recorded
// the task twice and told listeners it ended twice, the second time as interrupted (the host
// test "the helper with a wrong token is refused" then received the previous run's task).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { JsonlHistoryStore } from '../../../src/core/history/historyStore';
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import { FakeClock } from '../helpers/fakeClock';
import { FakeSystemSampler } from '../engine/fakes';
import { waitUntil } from '../helpers/waitUntil';

/** The real file store, with a hook the test runs at one chosen moment of one call. */
class HookedStore extends JsonlHistoryStore {
  beforeAppend: (() => Promise<void>) | null = null;
  beforeRecover: (() => Promise<void>) | null = null;

  override async append(task: PerformanceMetrics): Promise<void> {
    const hook = this.beforeAppend;
    this.beforeAppend = null;
    if (hook) await hook();
    return super.append(task);
  }

  override async recoverInterrupted(nowMs: number, activeTaskIds: ReadonlySet<string>): Promise<PerformanceMetrics[]> {
    const hook = this.beforeRecover;
    this.beforeRecover = null;
    if (hook) await hook();
    return super.recoverInterrupted(nowMs, activeTaskIds);
  }
}

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-recovery-race-'));
  const store = new HookedStore(dir, { retentionDays: 90, retentionMaxTasks: 1000 });
  const clock = new FakeClock();
  const monitor = new PerformanceMonitor({}, { clock, systemSampler: new FakeSystemSampler(), historyStore: store });
  const ended: PerformanceMetrics[] = [];
  monitor.on('taskEnded', (m) => ended.push(m));
  t.after(async () => {
    await monitor.dispose();
    await rm(dir, { recursive: true, force: true });
  });
  await monitor.startMonitoring();
  return { dir, store, monitor, ended, clock };
}

const markers = async (dir: string) => (await readdir(join(dir, 'running')).catch(() => [])).filter((n) => n.endsWith('.json'));

test('a reload while our task is finishing does not record it again as interrupted', async (t) => {
  const { dir, store, monitor, ended, clock } = await setup(t);
  monitor.startTaskMonitoring('run-1', 'm', '720p', 3);
  await waitUntil('the running marker', async () => (await markers(dir)).length === 1);
  // The task has left the active set; its marker is removed only after the append.
  store.beforeAppend = async () => {
    const report = await monitor.reloadHistory();
    assert.deepEqual(report.recovered.map((x) => [x.taskId, x.status]), []);
  };
  const done = await monitor.completeTaskMonitoring('run-1', true);
  assert.equal(done.status, 'succeeded');
  assert.deepEqual(ended.map((x) => [x.taskId, x.status]), [['run-1', 'succeeded']]);
  assert.deepEqual((await store.load(clock.now())).tasks.map((x) => [x.taskId, x.status]), [['run-1', 'succeeded']]);
  assert.deepEqual(await markers(dir), []);
});

test('a reload that lists the active tasks before ours starts leaves ours running', async (t) => {
  const { dir, store, monitor, ended, clock } = await setup(t);
  // The reload takes its view of the active tasks, then our task starts and writes its marker
  // before the reload reads the folder.
  store.beforeRecover = async () => {
    monitor.startTaskMonitoring('run-2', 'm', '720p', 3);
    await waitUntil('the running marker', async () => (await markers(dir)).length === 1);
  };
  const report = await monitor.reloadHistory();
  assert.deepEqual(report.recovered.map((x) => x.taskId), []);
  assert.equal(ended.length, 0, "nothing ended");
  assert.deepEqual(monitor.getActiveTasks().map((x) => x.taskId), ['run-2']);
  assert.equal((await markers(dir)).length, 1, 'the marker of the running task stays');
  await monitor.completeTaskMonitoring('run-2', true);
  assert.deepEqual(ended.map((x) => [x.taskId, x.status]), [['run-2', 'succeeded']]);
  assert.deepEqual((await store.load(clock.now())).tasks.map((x) => [x.taskId, x.status]), [['run-2', 'succeeded']]);
});

test('a marker of our pid for a task we do not run is still recovered (an earlier process with our pid)', async (t) => {
  const { store, monitor, ended, clock } = await setup(t);
  const now = clock.now();
  await store.markRunning({ ...monitor.startTaskMonitoring('probe', 'm', '720p', 1), taskId: 'left over' }, now);
  const report = await monitor.reloadHistory();
  assert.deepEqual(report.recovered.map((x) => [x.taskId, x.status]), [['left over', 'interrupted']]);
  assert.deepEqual(ended.map((x) => x.taskId), ['left over']);
  assert.deepEqual(monitor.getActiveTasks().map((x) => x.taskId), ['probe']);
});
