import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskAccumulator, TimeWeightedSeries, type TaskSample } from '../../../src/core/engine/taskAccumulator';
import { assembleSnapshot } from '../../../src/core/engine/snapshot';
import type { GpuReading } from '../../../src/shared/snapshot';
import { gpu } from './fakes';

const T0 = Date.UTC(2026, 0, 1);

function sample(t: number, cpu: number | null, ramMb: number | null, gpus: GpuReading[] = [], extra: Partial<TaskSample> = {}): TaskSample {
  return {
    timestamp: t,
    snapshot: assembleSnapshot(t, { cpuUsagePercent: cpu, ramUsedMb: ramMb, ramAvailableMb: null, ramTotalMb: 16_000, diskUsagePercent: null }, gpus),
    gpuProcesses: null,
    tree: null,
    ...extra,
  };
}

test('time-weighted average differs from the plain mean when samples are uneven', () => {
  const s = new TimeWeightedSeries();
  s.add(0, 10);
  s.add(1000, 10);
  s.add(10_000, 100);
  // (10*1000 + (10+100)/2*9000) / 10000 = 50.5; the plain mean would be 40.
  assert.equal(s.average, 50.5);
  assert.equal(s.peak, 100);
});

test('a null is a gap: the time across it is not counted', () => {
  const s = new TimeWeightedSeries();
  s.add(0, 10);
  s.add(1000, 10);
  s.add(2000, null);
  s.add(3000, 50);
  s.add(4000, 50);
  // Segments 0-1000 at 10 and 3000-4000 at 50; 1000-3000 is unknown.
  assert.equal(s.average, 30);
  const empty = new TimeWeightedSeries();
  empty.add(0, null);
  assert.equal(empty.average, null);
  assert.equal(empty.peak, null);
});

test('a task shorter than the interval still gets figures from its start and end samples', () => {
  const acc = new TaskAccumulator({ taskId: 'a', modelType: 'm', resolution: '1280x720', steps: 4, startTime: T0 });
  acc.addSample(sample(T0 - 400, 20, 4000)); // the latest loop sample, stamped at the start
  acc.addSample(sample(T0 + 900, 40, 5000), T0 + 300); // end sample, clamped to the end
  const m = acc.toMetrics({ endTime: T0 + 300, status: 'succeeded', success: true, errorCategory: null });
  assert.equal(m.generationTimeSeconds, 0.3);
  assert.equal(m.averageCpuUsagePercent, 30);
  assert.equal(m.peakRamUsageMb, 5000);
  assert.equal(m.deviceAverageRamUsageMb, 4500);
  assert.equal(m.ramScope, 'device');
  assert.equal(m.cpuScope, 'device');
  assert.equal(m.sampleCount, 2);
  assert.equal(m.resolutionClass, '720p');
  assert.equal(m.status, 'succeeded');
  assert.equal(m.ramTotalMb, 16_000);
  // No GPU was seen: unknown, not zero.
  assert.equal(m.peakVramUsageMb, null);
  assert.equal(m.vramScope, null);
  assert.equal(m.averageGpuUtilizationPercent, null);
  assert.deepEqual(m.gpuIndices, []);
});

test("process tree figures lead, device-wide kept beside; VRAM total is the task's own GPU", () => {
  const acc = new TaskAccumulator({ taskId: 'b', modelType: 'm', resolution: '1080p', steps: 4, startTime: T0, rootPid: 100 });
  const gpus = (used0: number, used1: number, util1: number): GpuReading[] => [
    gpu(0, { uuid: 'GPU-a', vramUsedMb: used0, vramTotalMb: 24_000, utilizationPercent: 5 }),
    gpu(1, { uuid: 'GPU-b', vramUsedMb: used1, vramTotalMb: 48_000, utilizationPercent: util1, temperatureCelsius: 70 }),
  ];
  const tree = (rss: number, cpu: number) => ({ rootPid: 100, pids: [100, 101], rssMb: rss, cpuPercent: cpu });
  const procs = (mb: number) => [
    { pid: 101, gpuUuid: 'GPU-b', usedMemoryMb: mb },
    { pid: 999, gpuUuid: 'GPU-a', usedMemoryMb: 5000 },
  ];
  acc.addSample(sample(T0, 50, 8000, gpus(6000, 1000, 0), { tree: tree(2000, 100), gpuProcesses: procs(0) }));
  acc.addSample(sample(T0 + 1000, 70, 9000, gpus(6000, 9000, 100), { tree: tree(6000, 300), gpuProcesses: procs(8000) }));
  acc.addSample(sample(T0 + 2000, 90, 10_000, gpus(6000, 9000, 100), { tree: tree(4000, 200), gpuProcesses: procs(8000) }));
  const m = acc.toMetrics({ endTime: T0 + 2000, status: 'failed', success: false, errorCategory: 'oom' });
  assert.deepEqual(m.gpuIndices, [1]);
  assert.equal(m.vramTotalMb, 48_000);
  assert.equal(m.vramScope, 'processTree');
  assert.equal(m.peakVramUsageMb, 8000);
  assert.equal(m.averageVramUsageMb, (4000 + 8000) / 2); // trapezoids 0->8000 and 8000->8000
  assert.equal(m.processTreePeakVramUsageMb, 8000);
  assert.equal(m.devicePeakVramUsageMb, 9000); // GPU 1 only; GPU 0's 6000 belongs to someone else
  assert.equal(m.deviceAverageVramUsageMb, (5000 + 9000) / 2);
  assert.equal(m.averageGpuUtilizationPercent, 75); // (50 + 100) / 2 over the two seconds
  assert.equal(m.peakGpuUtilizationPercent, 100);
  assert.equal(m.peakTemperatureCelsius, 70);
  assert.equal(m.ramScope, 'processTree');
  assert.equal(m.peakRamUsageMb, 6000);
  assert.equal(m.processTreeAverageRamUsageMb, (4000 + 5000) / 2);
  assert.equal(m.devicePeakRamUsageMb, 10_000);
  assert.equal(m.cpuScope, 'processTree');
  assert.equal(m.averageCpuUsagePercent, (200 + 250) / 2);
  assert.equal(m.deviceAverageCpuUsagePercent, 70);
  assert.equal(m.rootPid, 100);
  assert.equal(m.errorCategory, 'oom');
  assert.equal(m.success, false);
});

test('without attribution every GPU seen counts; pinned GPUs override', () => {
  const gpus = [gpu(0, { vramUsedMb: 1000, vramTotalMb: 8000 }), gpu(1, { vramUsedMb: 3000, vramTotalMb: 16_000 })];
  const all = new TaskAccumulator({ taskId: 'c', modelType: 'm', resolution: 'x', steps: 1, startTime: T0 });
  all.addSample(sample(T0, 1, 1, gpus));
  assert.deepEqual(all.toMetrics().gpuIndices, [0, 1]);
  assert.equal(all.toMetrics().vramTotalMb, 24_000);
  assert.equal(all.toMetrics().peakVramUsageMb, 4000);
  assert.equal(all.toMetrics().status, 'running');
  assert.equal(all.toMetrics().generationTimeSeconds, null);
  const pinned = new TaskAccumulator({ taskId: 'd', modelType: 'm', resolution: 'x', steps: 1, startTime: T0, gpuIndices: [1] });
  pinned.addSample(sample(T0, 1, 1, gpus));
  assert.deepEqual(pinned.toMetrics().gpuIndices, [1]);
  assert.equal(pinned.toMetrics().vramTotalMb, 16_000);
  assert.equal(pinned.toMetrics().peakVramUsageMb, 3000);
});

test('a root pid whose tree cannot be read falls back to device figures', () => {
  const acc = new TaskAccumulator({ taskId: 'e', modelType: 'm', resolution: '720p', steps: 1, startTime: T0, rootPid: 4242 });
  acc.addSample(sample(T0, 30, 3000));
  acc.addSample(sample(T0 + 1000, 50, 5000));
  const m = acc.toMetrics({ endTime: T0 + 1000, status: 'succeeded', success: true, errorCategory: null });
  assert.equal(m.ramScope, 'device');
  assert.equal(m.peakRamUsageMb, 5000);
  assert.equal(m.processTreePeakRamUsageMb, null);
  assert.equal(m.averageCpuUsagePercent, 40);
});
