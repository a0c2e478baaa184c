import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import type { MonitorErrorEvent, MonitorPorts } from '../../../src/core/engine/monitorTypes';
import { TaskStateError } from '../../../src/core/engine/taskArguments';
import { JsonlHistoryStore, MemoryHistoryStore } from '../../../src/core/history/historyStore';
import { ConfigError, type MonitorConfigInput } from '../../../src/core/engine/config';
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import type { GpuAvailability, SystemPerformanceSnapshot } from '../../../src/shared/snapshot';
import { FakeClock, flushPromises } from '../helpers/fakeClock';
import { FakeGpuProvider, FakeProcessSampler, FakeStreamingGpuProvider, FakeSystemSampler, gpu } from './fakes';

const DEAD_PID = 2 ** 22 + 12_345;

function setup(config: MonitorConfigInput = {}, ports: MonitorPorts = {}) {
  const clock = new FakeClock();
  const system = new FakeSystemSampler();
  const gpuProvider = new FakeGpuProvider(true, () => clock.now());
  const store = new MemoryHistoryStore();
  const monitor = new PerformanceMonitor(config, { clock, systemSampler: system, gpuProvider, historyStore: store, ...ports });
  const errors: MonitorErrorEvent[] = [];
  const snapshots: SystemPerformanceSnapshot[] = [];
  const gpuEvents: GpuAvailability[] = [];
  monitor.on('error', (e) => errors.push(e));
  monitor.on('snapshot', (s) => snapshots.push(s));
  monitor.on('gpuAvailabilityChanged', (a) => gpuEvents.push(a));
  return { clock, system, gpuProvider, store, monitor, errors, snapshots, gpuEvents };
}

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-monitor-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a bad config is refused by the constructor with the key named', () => {
  assert.throws(() => new PerformanceMonitor({ monitoringIntervalMs: 'abc' as unknown as number }, { historyStore: new MemoryHistoryStore() }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, 'modelPerf config: "monitoringIntervalMs" must be a number between 250 and 60000 (got "abc")');
    return true;
  });
});

test('the loop samples at once, then every interval (1 s by default), on chained timers', async () => {
  const { clock, monitor, snapshots, system, gpuEvents } = setup();
  assert.deepEqual(monitor.getCurrentSystemStatus(), {
    error: 'No system data available yet: no sample has been taken',
    activeTasks: 0,
    gpuAvailability: { provider: 'nvidia', available: false, reason: 'GPU monitoring has not started yet' },
  });
  await monitor.startMonitoring();
  assert.equal(snapshots.length, 1);
  assert.deepEqual(gpuEvents, [{ provider: 'nvidia', available: true, reason: null }]);
  assert.equal(clock.pending, 1); // exactly one timer: the next sample
  await clock.advance(3000);
  assert.equal(snapshots.length, 4);
  assert.deepEqual(snapshots.map((s) => s.timestamp - (snapshots[0] as SystemPerformanceSnapshot).timestamp), [0, 1000, 2000, 3000]);
  assert.equal(system.maxInFlight, 1);
  const status = monitor.getCurrentSystemStatus();
  assert.ok(!('error' in status));
  assert.equal(status.cpuUsagePercent, 10);
  assert.equal(status.ramUsageMb, 4000);
  assert.equal(status.gpuUsagePercent, 50); // kernel utilisation, not VRAM
  assert.equal(status.vramUsagePercent, (1000 / 24_000) * 100);
  assert.equal(status.vramAvailableMb, 23_000);
  assert.equal(status.gpus.length, 1);
  assert.equal(status.activeTasks, 0);
  assert.equal(monitor.getRecentSnapshots().length, 4);
  assert.equal(monitor.getMinuteRollups().length, 1);
  await monitor.stopMonitoring();
});

/** A monitor over a provider whose readings the test sends; `at` lists each sample's time from the clock's start. */
async function startWithStreamingGpu() {
  const clock = new FakeClock();
  const gpuProvider = new FakeStreamingGpuProvider(true, () => clock.now());
  const monitor = new PerformanceMonitor({}, { clock, systemSampler: new FakeSystemSampler(), gpuProvider, historyStore: new MemoryHistoryStore() });
  const at: number[] = [];
  monitor.on('snapshot', (s) => at.push(s.timestamp - clock.startedAt));
  await monitor.startMonitoring();
  return { clock, gpuProvider, monitor, at };
}

test('with a streaming GPU provider the loop samples as readings arrive, its timer only a safety net for when they stop', async () => {
  const { clock, gpuProvider, monitor, at } = await startWithStreamingGpu();
  assert.ok(gpuProvider.listening);
  const fired = clock.fired;
  const arriveAt = async (ms: number, event: 'reading' | 'stopped' = 'reading') => {
    await clock.advance(ms - (clock.now() - clock.startedAt));
    gpuProvider.arrive(event);
    await flushPromises();
  };
  // The stream's readings come 300 ms after the loop's first sample, then every second.
  await arriveAt(300); // too soon after the sample at 0: left for the next reading
  for (const t of [1300, 2300, 3300, 4300]) await arriveAt(t);
  assert.deepEqual(at, [0, 1300, 2300, 3300, 4300], 'one sample per reading, none of the loop\'s own');
  assert.equal(clock.fired, fired, 'no timer fired: one wake-up per interval, the reading\'s');
  assert.equal(clock.pending, 1, 'one timer, the safety net, set once and not moved');

  // The stream stalls without a word: the safety net samples ten intervals after the last
  // sample, then the loop keeps time itself.
  await clock.advance(16_300 - 4300);
  assert.deepEqual(at.slice(5), [14_300, 15_300, 16_300]);
  // Readings come back (the first under half an interval after a sample: left for the next).
  await arriveAt(16_700);
  await arriveAt(17_700);
  await arriveAt(18_700);
  assert.deepEqual(at.slice(8), [17_700, 18_700]);

  // The provider says its readings stopped: the loop's own timer at once, from the last sample.
  await arriveAt(19_000, 'stopped');
  await clock.advance(21_000 - 19_000);
  assert.deepEqual(at.slice(10), [19_700, 20_700]);

  await monitor.stopMonitoring();
  assert.equal(gpuProvider.listening, false, 'the listener goes with the loop');
  const count = at.length;
  gpuProvider.arrive('reading');
  await flushPromises();
  assert.equal(at.length, count);
});

test('a GPU lost while readings were followed: the loop keeps time itself at once', async () => {
  const { clock, gpuProvider, monitor, at } = await startWithStreamingGpu();
  await clock.advance(600);
  gpuProvider.arrive('reading');
  await flushPromises();
  gpuProvider.present = false; // its next read is null and it says why
  await clock.advance(1000);
  gpuProvider.arrive('reading');
  await flushPromises();
  await clock.advance(2000);
  assert.deepEqual(at, [0, 600, 1600, 2600, 3600], 'the sample that found the GPU gone, then every second');
  await monitor.stopMonitoring();
});

test('never two samples at once: requests during a slow sample share one queued sample', async () => {
  const { monitor, system } = setup();
  let release!: () => void;
  system.gate = new Promise<void>((r) => (release = r));
  const first = monitor.sampleNow();
  assert.equal(monitor.sampleNow(), first); // not started yet: shares it
  await flushPromises(); // now in flight, held by the gate
  const queued = [monitor.sampleNow(), monitor.sampleNow(), monitor.sampleNow()];
  await flushPromises();
  assert.equal(system.calls, 1);
  assert.notEqual(queued[0], first);
  release();
  system.gate = null;
  await first;
  await Promise.all(queued);
  assert.equal(queued[0], queued[2]); // the same promise
  assert.equal(system.calls, 2);
  assert.equal(system.maxInFlight, 1);
});

test('a failing sample is reported once per kind of failure, and the loop goes on', async () => {
  const boom = new Error('cannot read /proc/stat');
  const { clock, monitor, system, errors, snapshots } = setup({ enableGpuMonitoring: false });
  system.readings = [boom, boom, boom, boom, { cpuUsagePercent: 5, ramUsedMb: 1, ramAvailableMb: 1, ramTotalMb: 2, diskUsagePercent: 1 }, boom, boom];
  await monitor.startMonitoring();
  await clock.advance(3000);
  assert.equal(system.calls, 4);
  assert.equal(snapshots.length, 0); // nothing measured, nothing invented
  assert.deepEqual(errors.map((e) => [e.kind, e.message]), [['systemSample', 'CPU/RAM sample failed: cannot read /proc/stat']]);
  await clock.advance(1000); // recovers
  assert.equal(snapshots.length, 1);
  await clock.advance(2000); // fails again: a new outage is reported again, once
  assert.equal(system.calls, 7);
  assert.equal(errors.length, 2);
  assert.equal(errors[1]?.cause, boom);
  await monitor.stopMonitoring();
});

test('no GPU: looks again with backoff; appearing and disappearing GPUs emit events', async () => {
  const { clock, monitor, gpuProvider, gpuEvents } = setup({ gpuRecheckInitialMs: 10_000, gpuRecheckMaxMs: 40_000 });
  gpuProvider.present = false;
  await monitor.startMonitoring();
  assert.deepEqual(gpuEvents, [{ provider: 'nvidia', available: false, reason: 'nvidia-smi not found on PATH; GPU figures are off' }]);
  assert.equal(gpuProvider.starts, 1);
  await clock.advance(9_999);
  assert.equal(gpuProvider.starts, 1);
  await clock.advance(1); // t = 10 s
  assert.equal(gpuProvider.starts, 2);
  await clock.advance(20_000); // t = 30 s
  assert.equal(gpuProvider.starts, 3);
  await clock.advance(40_000); // t = 70 s
  assert.equal(gpuProvider.starts, 4);
  await clock.advance(40_000); // capped at 40 s: t = 110 s
  assert.equal(gpuProvider.starts, 5);
  assert.equal(gpuEvents.length, 1); // still absent: no event per look
  gpuProvider.present = true;
  await clock.advance(40_000);
  assert.equal(gpuProvider.starts, 6);
  assert.deepEqual(gpuEvents.at(-1), { provider: 'nvidia', available: true, reason: null });
  await clock.advance(1000);
  const status = monitor.getCurrentSystemStatus();
  assert.ok(!('error' in status) && status.gpus.length === 1);
  // The GPU goes away (driver reset, eGPU unplugged): one event, then the backoff starts again at 10 s.
  gpuProvider.present = false;
  await clock.advance(1000);
  assert.equal(gpuEvents.length, 3);
  assert.equal(gpuEvents.at(-1)?.available, false);
  const startsBefore = gpuProvider.starts;
  await clock.advance(10_000);
  assert.equal(gpuProvider.starts, startsBefore + 1);
  await monitor.stopMonitoring();
});

test('stop waits for the sample in flight and releases every timer and the GPU provider', async () => {
  const { clock, monitor, system, gpuProvider, snapshots } = setup();
  await monitor.startMonitoring();
  let release!: () => void;
  system.gate = new Promise<void>((r) => (release = r));
  await clock.advance(1000); // a sample is now in flight, blocked
  let stopped = false;
  const stopping = monitor.stopMonitoring().then(() => (stopped = true));
  await flushPromises();
  assert.equal(stopped, false);
  release();
  await stopping;
  assert.equal(snapshots.length, 2); // the in-flight sample finished and was kept
  assert.equal(clock.pending, 0);
  assert.equal(gpuProvider.stops, 1);
  assert.equal(gpuProvider.running, false);
  assert.equal(monitor.isMonitoring, false);
  await clock.advance(10_000);
  assert.equal(snapshots.length, 2);
  await monitor.dispose();
  assert.equal(system.disposed, 1);
  await assert.rejects(monitor.startMonitoring(), { message: 'This PerformanceMonitor was disposed; create a new one' });
});

test('a task shorter than the interval still gets figures (start and end samples)', async () => {
  const { clock, monitor, system } = setup({ monitoringIntervalMs: 5000 });
  system.readings = [
    { cpuUsagePercent: 10, ramUsedMb: 4000, ramAvailableMb: 12_000, ramTotalMb: 16_000, diskUsagePercent: 50 }, // loop's first sample
    { cpuUsagePercent: 20, ramUsedMb: 5000, ramAvailableMb: 11_000, ramTotalMb: 16_000, diskUsagePercent: 50 }, // task start
    { cpuUsagePercent: 60, ramUsedMb: 7000, ramAvailableMb: 9000, ramTotalMb: 16_000, diskUsagePercent: 50 }, // task end
  ];
  await monitor.startMonitoring();
  await clock.advance(1000);
  monitor.startTaskMonitoring('quick', 'sdxl', '1280×720', 4);
  await clock.advance(300);
  const m = await monitor.completeTaskMonitoring('quick');
  assert.equal(m.generationTimeSeconds, 0.3);
  assert.equal(m.sampleCount, 2);
  assert.equal(m.averageCpuUsagePercent, 40);
  assert.equal(m.peakRamUsageMb, 7000);
  assert.equal(m.devicePeakVramUsageMb, 1000);
  assert.equal(m.vramTotalMb, 24_000);
  assert.equal(m.averageGpuUtilizationPercent, 50);
  assert.equal(m.resolutionClass, '720p');
  assert.equal(m.status, 'succeeded');
  assert.equal(m.success, true);
  await monitor.stopMonitoring();
});

test('a task longer than the ring keeps its whole history: true peak and time-weighted mean', async () => {
  const { clock, monitor, system } = setup({ maxSnapshots: 10, enableGpuMonitoring: false });
  const reading = (ram: number) => ({ cpuUsagePercent: 50, ramUsedMb: ram, ramAvailableMb: 1, ramTotalMb: 64_000, diskUsagePercent: 1 });
  // Start sample at 30 GB, then 60 loop samples at 10 GB: the spike leaves the 10-slot ring long before the end.
  system.readings = [reading(1), reading(30_000), ...Array.from({ length: 61 }, () => reading(10_000))];
  await monitor.startMonitoring();
  monitor.startTaskMonitoring('long', 'wan', '1080p', 50);
  await flushPromises();
  await clock.advance(60_000);
  const m = await monitor.completeTaskMonitoring('long');
  assert.equal(monitor.getRecentSnapshots().length, 10);
  assert.ok(!monitor.getRecentSnapshots().some((s) => s.ramUsageMb === 30_000));
  assert.equal(m.peakRamUsageMb, 30_000);
  assert.equal(m.sampleCount, 62);
  // Start at t=0 (30 GB), loop samples from t=1 s on at 10 GB: one trapezoid 0-1 s, then flat.
  assert.equal(m.deviceAverageRamUsageMb, (20_000 * 1 + 10_000 * 59) / 60);
  assert.equal(m.generationTimeSeconds, 60);
  await monitor.stopMonitoring();
});

test("a task with a root pid: its tree's RAM, CPU and GPU memory, device figures beside", async () => {
  const procs = new FakeProcessSampler();
  const { clock, monitor, gpuProvider } = setup({}, { processSampler: procs });
  procs.trees.set(500, { rootPid: 500, pids: [500, 501], rssMb: 3000, cpuPercent: 150 });
  gpuProvider.gpus = [gpu(0, { uuid: 'GPU-a', vramUsedMb: 2000, vramTotalMb: 8000 }), gpu(1, { uuid: 'GPU-b', vramUsedMb: 20_000, vramTotalMb: 80_000, utilizationPercent: 99 })];
  gpuProvider.processes = [
    { pid: 501, gpuUuid: 'GPU-b', usedMemoryMb: 18_000 },
    { pid: 42, gpuUuid: 'GPU-a', usedMemoryMb: 2000 },
  ];
  await monitor.startMonitoring();
  monitor.startTaskMonitoring('tree', 'flux', '1024x1024', 28, { rootPid: 500, optimizations: ['sdpa'], quantization: 'fp8', offload: true });
  await clock.advance(2000);
  const [live] = monitor.getActiveTasks();
  assert.equal(live?.status, 'running');
  assert.equal(live?.peakVramUsageMb, 18_000);
  const m = await monitor.completeTaskMonitoring('tree', false, 'oom');
  assert.deepEqual(m.gpuIndices, [1]);
  assert.equal(m.vramTotalMb, 80_000);
  assert.equal(m.vramScope, 'processTree');
  assert.equal(m.peakVramUsageMb, 18_000);
  assert.equal(m.devicePeakVramUsageMb, 20_000);
  assert.equal(m.ramScope, 'processTree');
  assert.equal(m.peakRamUsageMb, 3000);
  assert.equal(m.devicePeakRamUsageMb, 4000);
  assert.equal(m.averageCpuUsagePercent, 150);
  assert.equal(m.deviceAverageCpuUsagePercent, 10);
  assert.equal(m.averageGpuUtilizationPercent, 99);
  assert.deepEqual([m.optimizationsApplied, m.quantizationUsed, m.offloadUsed], [['sdpa'], 'fp8', true]);
  assert.deepEqual([m.status, m.success, m.errorCategory], ['failed', false, 'oom']);
  await monitor.stopMonitoring();
});

test('a tree whose process is listed with unknown GPU memory (WSL, MIG) gets the device figure, not 0', async () => {
  const procs = new FakeProcessSampler();
  const { clock, monitor, gpuProvider } = setup({}, { processSampler: procs });
  procs.trees.set(700, { rootPid: 700, pids: [700], rssMb: 1000, cpuPercent: 50 });
  gpuProvider.gpus = [gpu(0, { uuid: 'GPU-a', vramUsedMb: 5000, vramTotalMb: 8000 })];
  gpuProvider.processes = [{ pid: 700, gpuUuid: 'GPU-a', usedMemoryMb: null }];
  await monitor.startMonitoring();
  monitor.startTaskMonitoring('wsl', 'sdxl', '720p', 1, { rootPid: 700 });
  await clock.advance(2000);
  const m = await monitor.completeTaskMonitoring('wsl');
  assert.equal(m.processTreePeakVramUsageMb, null);
  assert.equal(m.vramScope, 'device');
  assert.equal(m.peakVramUsageMb, 5000);
  await monitor.stopMonitoring();
});

test('task API errors have clear messages and change nothing already recorded', async () => {
  const { monitor, store } = setup({ enableGpuMonitoring: false });
  const started = monitor.startTaskMonitoring('t1', 'wan', '720p', 20);
  assert.throws(() => monitor.startTaskMonitoring('t1', 'other', '1080p', 1), (err: unknown) => {
    assert.ok(err instanceof TaskStateError);
    assert.equal(err.code, 'duplicateTask');
    assert.equal(err.message, `Task "t1" is already being monitored (started ${new Date(started.startTime).toISOString()}); complete or cancel it before starting it again`);
    return true;
  });
  assert.equal(monitor.getActiveTasks()[0]?.modelType, 'wan');
  const bad: [unknown, string][] = [
    [{ foo: 1 }, 'updateTaskMetrics("t1"): unknown field "foo" (fields that can be updated: modelType, resolution, steps, modelLoadTimeSeconds, optimizationsApplied, quantizationUsed, offloadUsed, rootPid, stepsCompleted, stepsTotal, stepsPerSecond, progressIsPercent); nothing was changed'],
    [{ steps: 'ten' }, 'updateTaskMetrics("t1"): "steps" must be a whole number of at least 0 (got "ten"); nothing was changed'],
    [{ modelLoadTimeSeconds: 12, offloadUsed: 'yes' }, 'updateTaskMetrics("t1"): "offloadUsed" must be true or false (got "yes"); nothing was changed'],
    [{ peakVramUsageMb: 5 }, 'updateTaskMetrics("t1"): "peakVramUsageMb" is measured or set by the monitor and cannot be updated; nothing was changed'],
    [{ optimizationsApplied: ['a', 3] }, 'updateTaskMetrics("t1"): "optimizationsApplied" must be a list of strings (got ["a",3]); nothing was changed'],
    [null, 'updateTaskMetrics("t1"): changes must be an object of field -> value (got null)'],
  ];
  for (const [changes, message] of bad) {
    assert.throws(() => monitor.updateTaskMetrics('t1', changes as never), { name: 'TaskStateError', message });
  }
  assert.equal(monitor.getActiveTasks()[0]?.modelLoadTimeSeconds, null); // the valid half of a bad update was not applied
  const updated = monitor.updateTaskMetrics('t1', { modelLoadTimeSeconds: 42.5, optimizationsApplied: ['vae-tiling'], steps: 30 });
  assert.equal(updated.modelLoadTimeSeconds, 42.5);
  assert.deepEqual(updated.optimizationsApplied, ['vae-tiling']);
  assert.equal(updated.steps, 30);
  assert.throws(() => monitor.updateTaskMetrics('nope', {}), { message: 'updateTaskMetrics: no task "nope" is being monitored; it was never started or has already ended' });
  await assert.rejects(monitor.completeTaskMonitoring('nope'), { name: 'TaskStateError', message: 'completeTaskMonitoring: no task "nope" is being monitored; it was never started or has already ended' });
  await assert.rejects(monitor.cancelTaskMonitoring('nope'), { message: 'cancelTaskMonitoring: no task "nope" is being monitored; it was never started or has already ended' });
  assert.throws(() => monitor.startTaskMonitoring('', 'm', '720p', 1), { message: 'startTaskMonitoring: "taskId" must be a non-empty string (got "")' });
  assert.throws(() => monitor.startTaskMonitoring('t2', 'm', '720p', -1), { message: 'startTaskMonitoring("t2"): "steps" must be a whole number of at least 0 (got -1)' });
  assert.throws(() => monitor.startTaskMonitoring('t2', 'm', '720p', 1, { pid: 3 } as never), { message: 'startTaskMonitoring("t2"): unknown option "pid" (options: rootPid, optimizations, quantization, offload, gpuIndices, workingDirectory, deviceEnvironment)' });
  assert.throws(() => monitor.startTaskMonitoring('t2', 'm', '720p', 1, { rootPid: -5 }), { message: 'startTaskMonitoring("t2"): option "rootPid" must be a positive whole number (a process id) or null (got -5)' });
  await assert.rejects(monitor.completeTaskMonitoring('t1', 'yes' as never), { message: 'completeTaskMonitoring("t1"): "success" must be true or false (got "yes")' });
  assert.equal(monitor.getActiveTasks().length, 1);

  // Completing twice: the second call fails at once and the record is not touched.
  const first = monitor.completeTaskMonitoring('t1');
  await assert.rejects(monitor.completeTaskMonitoring('t1', false, 'oom'), { message: 'completeTaskMonitoring: no task "t1" is being monitored; it was never started or has already ended' });
  const done = await first;
  assert.equal(done.status, 'succeeded');
  assert.deepEqual(store.tasks.map((t) => [t.taskId, t.status, t.errorCategory]), [['t1', 'succeeded', null]]);
  assert.throws(() => monitor.getPerformanceAnalysis(-1), { message: 'timeWindowHours must be a number greater than 0 (got -1)' });
});

test('events: started, updated, ended; a throwing listener is reported, not fatal', async () => {
  const { clock, monitor, errors } = setup({ enableGpuMonitoring: false });
  const seen: string[] = [];
  monitor.on('taskStarted', (m) => seen.push(`started ${m.taskId} ${m.status}`));
  monitor.on('taskUpdated', (m) => seen.push(`updated ${m.taskId} ${m.steps}`));
  monitor.on('taskEnded', (m) => seen.push(`ended ${m.taskId} ${m.status}`));
  const sub = monitor.on('snapshot', () => {
    throw new Error('listener bug');
  });
  monitor.startTaskMonitoring('e', 'm', '720p', 1);
  monitor.updateTaskMetrics('e', { steps: 2 });
  await clock.advance(500);
  await monitor.cancelTaskMonitoring('e');
  assert.deepEqual(seen, ['started e running', 'updated e 2', 'ended e cancelled']);
  assert.deepEqual(errors.map((e) => [e.kind, e.message]), [['listener', 'A listener for "snapshot" threw: listener bug']]);
  sub.dispose();
  await monitor.sampleNow();
  assert.equal(errors.length, 1);
});

test('analysis reads the recorded tasks; cancelled tasks do not count as failures', async () => {
  const { clock, monitor } = setup({ enableGpuMonitoring: false });
  for (const [id, res, seconds, outcome] of [
    ['a', '720p', 200, 'ok'],
    ['b', '1280x720', 400, 'ok'],
    ['c', 'HD', 10, 'fail'],
    ['d', '1080p', 5, 'cancel'],
  ] as const) {
    monitor.startTaskMonitoring(id, 'wan', res, 20);
    await clock.advance(seconds * 1000);
    if (outcome === 'ok') await monitor.completeTaskMonitoring(id);
    else if (outcome === 'fail') await monitor.completeTaskMonitoring(id, false, 'timeout');
    else await monitor.cancelTaskMonitoring(id);
  }
  const a = monitor.getPerformanceAnalysis();
  assert.equal(a.taskCount, 4);
  assert.equal(a.successRate, 2 / 3);
  assert.equal(a.averageGenerationTimeSeconds, 300);
  assert.deepEqual(a.failuresByErrorCategory, { timeout: 1 });
  assert.deepEqual(a.byResolution.map((r) => [r.key, r.taskCount]), [['720p', 3], ['1080p', 1]]);
  assert.ok(a.optimizationRecommendations.includes('Investigate and fix causes of generation failures'));
  assert.equal(monitor.getHistory().length, 4);
  assert.deepEqual(monitor.getHistory(0.002).map((t) => t.taskId), ['d']); // started in the last 7.2 s
});

test('the live analysis follows task ends without re-reading the window and equals the full one; pages are newest first', async () => {
  const { clock, monitor } = setup({ enableGpuMonitoring: false, maxHistorySize: 5 });
  const full = monitor.getPerformanceAnalysis(1); // the first full analysis: the live one starts from it
  assert.equal(monitor.getLiveAnalysis(1).taskCount, 0);
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) {
    const id = `t${i}`;
    ids.push(id);
    monitor.startTaskMonitoring(id, i % 2 ? 'wan' : 'flux', i % 3 ? '720p' : '1080p', 20);
    await clock.advance(600_000); // ten minutes each: the 1 h window slides past the older ones
    if (i % 4 === 3) await monitor.completeTaskMonitoring(id, false, 'oom');
    else await monitor.completeTaskMonitoring(id);
    const { findings: _a, ...live } = monitor.getLiveAnalysis(1);
    const { findings: _b, ...again } = monitor.getPerformanceAnalysis(1);
    assert.deepEqual(live, again, `after ${id}`);
  }
  assert.notEqual(full.generatedAt, monitor.getLiveAnalysis(1).generatedAt);
  const page = monitor.historyPage(1, 0, 2);
  assert.deepEqual(page.tasks.map((t) => t.taskId), ['t7', 't6']);
  assert.equal(page.total, 5, 'five held (the size limit), all in the last hour');
  const failed = monitor.historyPage(1, 0, 10, (t) => t.status === 'failed');
  assert.deepEqual([failed.tasks.map((t) => t.taskId), failed.total], [['t7', 't3'], 2]);
  assert.deepEqual(monitor.historyPage(1, 4, 10).tasks.map((t) => t.taskId), ['t3']);
  assert.throws(() => monitor.getLiveAnalysis(0), TaskStateError);
});

test('a history write failure is reported once and the task is still returned and analysed', async () => {
  const { monitor, store, errors } = setup({ enableGpuMonitoring: false });
  store.appendError = new Error('disk full');
  monitor.startTaskMonitoring('x', 'm', '720p', 1);
  const m = await monitor.completeTaskMonitoring('x');
  assert.equal(m.status, 'succeeded');
  assert.deepEqual(errors.map((e) => [e.kind, e.message]), [['history', 'Task "x" could not be saved to the history in memory: disk full']]);
  assert.equal(monitor.getPerformanceAnalysis().taskCount, 1);
});

test('history survives restarts; a task of a dead process is recorded as interrupted', async (t) => {
  const dir = await tempDir(t);
  const clock = new FakeClock();
  const mk = (pid?: number) =>
    new PerformanceMonitor(
      { storageDir: dir, enableGpuMonitoring: false },
      { clock, systemSampler: new FakeSystemSampler(), historyStore: new JsonlHistoryStore(dir, { retentionDays: 90, retentionMaxTasks: 1000, now: () => clock.now(), ...(pid ? { pid } : {}) }) },
    );
  // "Process" one: finishes a task, then dies with another still running.
  const first = mk(DEAD_PID);
  await first.startMonitoring();
  first.startTaskMonitoring('done', 'wan', '720p', 20);
  await clock.advance(2000);
  await first.completeTaskMonitoring('done');
  first.startTaskMonitoring('crashed', 'wan', '1080p', 20, { quantization: 'int8' });
  await clock.advance(61_000); // the marker is refreshed with figures while it runs
  await first.stopMonitoring();

  const second = mk();
  const ended: PerformanceMetrics[] = [];
  second.on('taskEnded', (m) => ended.push(m));
  const report = await second.ready();
  assert.equal(report.error, null);
  assert.deepEqual(report.recovered.map((m) => [m.taskId, m.status, m.quantizationUsed]), [['crashed', 'interrupted', 'int8']]);
  assert.deepEqual(ended.map((m) => m.taskId), ['crashed']);
  assert.deepEqual(second.getHistory().map((m) => [m.taskId, m.status]), [['done', 'succeeded'], ['crashed', 'interrupted']]);
  const a = second.getPerformanceAnalysis();
  assert.deepEqual(a.statusCounts, { succeeded: 1, failed: 0, cancelled: 0, interrupted: 1 });
  assert.deepEqual(a.failuresByErrorCategory, { interrupted: 1 });
  assert.ok((report.recovered[0]?.sampleCount ?? 0) > 2);
  // A third start finds nothing more to recover.
  assert.deepEqual((await mk().ready()).recovered, []);
});

test('a task that ends at once leaves no running marker behind (marker writes cannot overtake the clear)', async (t) => {
  const dir = await tempDir(t);
  const clock = new FakeClock();
  const store = new JsonlHistoryStore(dir, { retentionDays: 90, retentionMaxTasks: 1000 });
  const monitor = new PerformanceMonitor({ enableGpuMonitoring: false }, { clock, systemSampler: new FakeSystemSampler(), historyStore: store });
  for (let i = 0; i < 5; i++) {
    monitor.startTaskMonitoring(`q${i}`, 'm', '720p', 1);
    monitor.updateTaskMetrics(`q${i}`, { steps: 2 });
    if (i % 2) await monitor.cancelTaskMonitoring(`q${i}`);
    else await monitor.completeTaskMonitoring(`q${i}`);
  }
  const { readdir } = await import('node:fs/promises');
  assert.deepEqual(await readdir(join(dir, 'running')), []);
  assert.deepEqual((await store.load(clock.now())).tasks.map((x) => [x.taskId, x.status]), [
    ['q0', 'succeeded'],
    ['q1', 'cancelled'],
    ['q2', 'succeeded'],
    ['q3', 'cancelled'],
    ['q4', 'succeeded'],
  ]);
});
