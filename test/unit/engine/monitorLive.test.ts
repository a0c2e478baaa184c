// Live changes to a running monitor: settings applied without losing running tasks, history
// cleared, tasks ended as interrupted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { HISTORY_DIR_NAME, JsonlHistoryStore, MemoryHistoryStore, segmentNameFor } from '../../../src/core/history/historyStore';
import { ConfigError } from '../../../src/core/engine/config';
import { FakeClock } from '../helpers/fakeClock';
import { FakeGpuProvider, FakeSystemSampler, makeTask } from './fakes';

function setup() {
  const clock = new FakeClock();
  const system = new FakeSystemSampler();
  const gpuProvider = new FakeGpuProvider(true, () => clock.now());
  const store = new MemoryHistoryStore();
  const monitor = new PerformanceMonitor({}, { clock, systemSampler: system, gpuProvider, historyStore: store });
  return { clock, system, gpuProvider, store, monitor };
}

test('reconfigure: a new interval restarts the loop and the GPU provider; a running task keeps its figures', async () => {
  const { clock, system, gpuProvider, monitor } = setup();
  await monitor.startMonitoring();
  monitor.startTaskMonitoring('t1', 'sdxl', '720p', 30);
  await clock.advance(3000);
  const before = system.calls;
  await monitor.reconfigure({ monitoringIntervalMs: 5000 });
  assert.equal(monitor.config.monitoringIntervalMs, 5000);
  assert.equal(gpuProvider.stops, 1);
  assert.equal(gpuProvider.starts, 2);
  const afterRestart = system.calls;
  await clock.advance(4000);
  assert.equal(system.calls, afterRestart, 'no sample before the new interval has passed');
  await clock.advance(1000);
  assert.equal(system.calls, afterRestart + 1);
  assert.ok(afterRestart > before);
  const done = await monitor.completeTaskMonitoring('t1');
  assert.ok(done.sampleCount >= 6, `samples before and after the change count (${done.sampleCount})`);
  assert.ok(Math.abs((done.generationTimeSeconds ?? 0) - 8) < 0.001);
  await monitor.dispose();
});

test('reconfigure: thresholds apply at once without a restart; a bad value changes nothing', async () => {
  const { clock, gpuProvider, monitor } = setup();
  await monitor.startMonitoring();
  await monitor.reconfigure({ thresholds: { maxVramUsagePercent: 70 } });
  assert.equal(monitor.config.thresholds.maxVramUsagePercent, 70);
  assert.equal(monitor.config.thresholds.maxRamUsagePercent, 85, 'other thresholds stay');
  assert.equal(gpuProvider.starts, 1, 'no restart for a threshold');
  await assert.rejects(monitor.reconfigure({ monitoringIntervalMs: 10 }), (err: unknown) => err instanceof ConfigError && /"monitoringIntervalMs" must be a number between 250 and 60000 \(got 10\)/.test(err.message));
  assert.equal(monitor.config.monitoringIntervalMs, 1000);
  assert.equal(monitor.isMonitoring, true);
  await clock.advance(1000);
  await monitor.dispose();
});

test('reconfigure: switching GPU monitoring off stops the provider and says why', async () => {
  const { monitor, gpuProvider } = setup();
  await monitor.startMonitoring();
  assert.equal(monitor.getGpuAvailability().available, true);
  await monitor.reconfigure({ enableGpuMonitoring: false });
  assert.equal(gpuProvider.running, false);
  assert.equal(monitor.getGpuAvailability().available, false);
  assert.match(monitor.getGpuAvailability().reason ?? '', /GPU monitoring is off/);
  await monitor.dispose();
});

test('reconfigure: a new history store (another storage folder) is loaded', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-live-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const other = new JsonlHistoryStore(dir, { retentionDays: 90, retentionMaxTasks: 1000 });
  await other.append(makeTask({ taskId: 'from-cli', startTime: Date.UTC(2026, 0, 1) - 60_000, endTime: Date.UTC(2026, 0, 1) - 1000 }));
  const { monitor } = setup();
  const changes: number[] = [];
  monitor.on('historyChanged', (e) => changes.push(e.count));
  await monitor.ready();
  assert.equal(monitor.getHistory().length, 0);
  await monitor.reconfigure({ storageDir: dir }, { historyStore: other });
  assert.deepEqual(monitor.getHistory().map((x) => x.taskId), ['from-cli']);
  assert.deepEqual(changes, [0, 1]);
  await monitor.dispose();
});

test('clearHistory empties the shared file and the memory, keeps newer-schema records, and running tasks go on', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-clear-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new JsonlHistoryStore(dir, { retentionDays: 90, retentionMaxTasks: 1000 });
  const clock = new FakeClock();
  const monitor = new PerformanceMonitor({}, { clock, systemSampler: new FakeSystemSampler(), historyStore: store });
  await monitor.startMonitoring();
  monitor.startTaskMonitoring('a', 'm', '720p', 1);
  await monitor.completeTaskMonitoring('a');
  const future = JSON.stringify({ schemaVersion: 99, task: { taskId: 'future' } });
  const [first] = monitor.getHistory();
  assert.ok(first);
  const segment = join(dir, HISTORY_DIR_NAME, segmentNameFor(first));
  await writeFile(segment, `${await readFile(segment, 'utf8')}${future}\n`);
  monitor.startTaskMonitoring('b', 'm', '720p', 1);
  assert.equal(await monitor.clearHistory(), 1);
  assert.deepEqual(monitor.getHistory(), []);
  assert.equal(await readFile(segment, 'utf8'), `${future}\n`);
  assert.deepEqual(monitor.getActiveTasks().map((x) => x.taskId), ['b']);
  await monitor.completeTaskMonitoring('b');
  assert.deepEqual(monitor.getHistory().map((x) => x.taskId), ['b']);
  await monitor.dispose();
});

test('interruptTaskMonitoring records the task as interrupted, a failure with its category', async () => {
  const { clock, monitor, store } = setup();
  await monitor.startMonitoring();
  monitor.startTaskMonitoring('run', 'wan', '1080p', 50);
  await clock.advance(2500);
  const m = await monitor.interruptTaskMonitoring('run', 'signal SIGINT');
  assert.equal(m.status, 'interrupted');
  assert.equal(m.success, false);
  assert.equal(m.errorCategory, 'signal SIGINT');
  assert.equal(m.generationTimeSeconds, 2.5);
  assert.equal(store.tasks[0]?.status, 'interrupted');
  await assert.rejects(monitor.interruptTaskMonitoring('run'), /interruptTaskMonitoring: no task "run" is being monitored/);
  await monitor.dispose();
});
