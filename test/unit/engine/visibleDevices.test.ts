// Which GPU a run used when its processes are not listed per GPU: its CUDA_VISIBLE_DEVICES (read
// from the root process's environment, or the CLI's own), before the GPU whose memory rose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { visibleGpuIndices } from '../../../src/core/engine/visibleDevices';
import { MemoryHistoryStore } from '../../../src/core/history/historyStore';
import { deviceEnvironment, parseEnviron, readDeviceEnvironment, type DeviceEnvironment } from '../../../src/core/sampling/os/processEnv';
import { FakeClock } from '../helpers/fakeClock';
import { FakeGpuProvider, FakeSystemSampler, gpu } from './fakes';

const h100 = (index: number) => ({ index, uuid: `GPU-8c1e3f20-6a4d-4b8e-9c2f-00000000000${index}`, name: 'NVIDIA H100 80GB HBM3' });
const mixed = [h100(0), { index: 1, uuid: 'GPU-7f8e9d0c-aaaa-bbbb-cccc-ddddeeeeffff', name: 'NVIDIA RTX A4000' }];
const env = (visibleDevices: string, deviceOrder: string | null = null): DeviceEnvironment => ({ visibleDevices, deviceOrder });

test('CUDA_VISIBLE_DEVICES: indices, UUIDs and unique UUID prefixes; CUDA stops at the first entry it cannot read', () => {
  const same = [h100(0), h100(1), h100(2)];
  assert.deepEqual(visibleGpuIndices(env('2'), same), [2]);
  assert.deepEqual(visibleGpuIndices(env(' 2, 0 '), same), [0, 2]);
  assert.deepEqual(visibleGpuIndices(env('GPU-8c1e3f20-6a4d-4b8e-9c2f-000000000001'), same), [1]);
  assert.deepEqual(visibleGpuIndices(env('GPU-7f8e'), mixed), [1], 'a unique prefix');
  assert.equal(visibleGpuIndices(env('GPU-8c1e'), same), null, 'a prefix of several is no answer');
  assert.deepEqual(visibleGpuIndices(env('1,7,0'), same), [1], 'index 7 does not exist: CUDA ignores it and what follows');
  for (const none of ['', '-1', 'NoDevFiles', 'MIG-GPU-8c1e3f20/1/0', '9']) assert.equal(visibleGpuIndices(env(none), same), null, JSON.stringify(none));
  assert.equal(visibleGpuIndices(env('0'), []), null);
});

test('an index on a machine with different GPU models is trusted only with CUDA_DEVICE_ORDER=PCI_BUS_ID (CUDA puts the fastest first)', () => {
  assert.equal(visibleGpuIndices(env('1'), mixed), null);
  assert.deepEqual(visibleGpuIndices(env('1', 'PCI_BUS_ID'), mixed), [1]);
  assert.equal(visibleGpuIndices(env('1', 'FASTEST_FIRST'), mixed), null);
  assert.deepEqual(visibleGpuIndices(env('GPU-7f8e9d0c-aaaa-bbbb-cccc-ddddeeeeffff'), mixed), [1], 'a UUID is never ambiguous');
});

test('a process environment: only the two device variables are kept; unreadable, absent or hostile gives null', async () => {
  const secret = 'HF_TOKEN=hf_secret\0CUDA_VISIBLE_DEVICES=1\0PATH=/usr/bin\0CUDA_DEVICE_ORDER=PCI_BUS_ID\0AWS_SECRET_ACCESS_KEY=x\0';
  const parsed = parseEnviron(secret);
  assert.deepEqual(parsed, { visibleDevices: '1', deviceOrder: 'PCI_BUS_ID' });
  assert.deepEqual(Object.keys(parsed ?? {}), ['visibleDevices', 'deviceOrder']);
  assert.equal(parseEnviron('PATH=/usr/bin\0'), null, 'not set');
  assert.equal(parseEnviron(`CUDA_VISIBLE_DEVICES=${'1,'.repeat(5000)}\0`), null, 'absurdly long');
  assert.deepEqual(deviceEnvironment({ CUDA_VISIBLE_DEVICES: 'GPU-1' }), { visibleDevices: 'GPU-1', deviceOrder: null });

  const root = await mkdtemp(join(tmpdir(), 'mpm-environ-'));
  try {
    await mkdir(join(root, '4242'));
    await writeFile(join(root, '4242', 'environ'), secret);
    assert.deepEqual(await readDeviceEnvironment(4242, root), { visibleDevices: '1', deviceOrder: 'PCI_BUS_ID' });
    assert.equal(await readDeviceEnvironment(4343, root), null, 'no such process');
    assert.equal(await readDeviceEnvironment(-1, root), null);
    if (process.getuid?.() !== 0) {
      await chmod(join(root, '4242', 'environ'), 0o000);
      assert.equal(await readDeviceEnvironment(4242, root), null, "another user's process: unreadable");
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

/**
 * An 80 GB and a 16 GB GPU, no per-process list; another job's memory rises on the 80 GB one while
 * the run (told CUDA_VISIBLE_DEVICES=1) works on the 16 GB one.
 */
async function twoGpuRun(reader: ((pid: number) => Promise<DeviceEnvironment | null>) | null, startEnv?: DeviceEnvironment) {
  const clock = new FakeClock();
  const gpuProvider = new FakeGpuProvider(true, () => clock.now());
  const start = clock.now();
  Object.defineProperty(gpuProvider, 'gpus', {
    get: () => {
      const t = clock.now() - start;
      return [
        gpu(0, { uuid: 'GPU-0b0b0b0b-0000-4000-8000-000000000000', name: 'NVIDIA A100 80GB', vramTotalMb: 81_920, vramUsedMb: t > 5000 ? 60_000 : 1000 }),
        gpu(1, { uuid: 'GPU-5a5a5a5a-0000-4000-8000-000000000001', name: 'NVIDIA RTX A4000', vramTotalMb: 16_376, vramUsedMb: t > 5000 ? 9000 : 500 }),
      ];
    },
  });
  const reads: number[] = [];
  const monitor = new PerformanceMonitor({ monitoringIntervalMs: 1000 }, {
    clock, systemSampler: new FakeSystemSampler(), gpuProvider, processSampler: null, historyStore: new MemoryHistoryStore(), gitCommitReader: null,
    deviceEnvironmentReader: reader && (async (pid) => { reads.push(pid); return reader(pid); }),
  });
  await monitor.startMonitoring();
  // A terminal run: its pid becomes known after the task starts.
  monitor.startTaskMonitoring('t', 'sdxl', '1024x1024', 30, startEnv ? { deviceEnvironment: startEnv } : {});
  await clock.advance(1000);
  monitor.updateTaskMetrics('t', { rootPid: 777 });
  await clock.advance(20_000);
  const task = await monitor.completeTaskMonitoring('t');
  await monitor.dispose();
  return { task, reads };
}

test("engine: the run's CUDA_VISIBLE_DEVICES (from its process, or given by the CLI) picks its GPU and memory, not the GPU whose memory rose most", async () => {
  const told = await twoGpuRun(async (pid) => (pid === 777 ? env('1', 'PCI_BUS_ID') : null));
  assert.deepEqual(told.reads, [777], 'read once, when the pid became known');
  assert.deepEqual(told.task.gpuIndices, [1]);
  assert.equal(told.task.vramTotalMb, 16_376, "that GPU's memory, not the sum of both");
  assert.equal(told.task.peakVramUsageMb, 9000);

  const cli = await twoGpuRun(async () => null, env('GPU-5a5a'));
  assert.deepEqual(cli.task.gpuIndices, [1]);
  assert.deepEqual(cli.reads, [], 'given at start: the environment is not read again');

  // Unreadable environment (another user's process, not Linux): the GPU whose memory rose most.
  const unknown = await twoGpuRun(async () => null);
  assert.deepEqual(unknown.task.gpuIndices, [0]);
  assert.equal(unknown.task.vramTotalMb, 81_920);
  const off = await twoGpuRun(null);
  assert.deepEqual(off.task.gpuIndices, [0]);
});
