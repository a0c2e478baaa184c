// A run's own VRAM where the GPU tool hides per-process figures: the process list is empty (WSL,
// MIG, some drivers) or names only pids this machine cannot see (a container sees host pids).
// The tree's figure is then unknown, never 0, and the headline comes from the best evidence with
// its scope named: the helper's in-process peak, the device's rise, else the device.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { ForeignPidWatch } from '../../../src/core/engine/foreignPids';
import { isProcessAlive } from '../../../src/core/util/process';
import type { MonitorPorts } from '../../../src/core/engine/monitorTypes';
import { MemoryHistoryStore } from '../../../src/core/history/historyStore';
import { locateNvidiaSmi } from '../../../src/core/sampling/gpu/locateNvidiaSmi';
import { NvidiaSmiProvider } from '../../../src/core/sampling/gpu/nvidiaSmiProvider';
import { createNodeSpawn } from '../../../src/core/sampling/gpu/spawnPort';
import { parseRecord } from '../../../src/core/history/historyStore';
import type { GpuAvailability } from '../../../src/shared/snapshot';
import { FakeClock } from '../helpers/fakeClock';
import { waitUntil } from '../helpers/waitUntil';
import { FakeGpuProvider, FakeProcessSampler, FakeSystemSampler, gpu } from './fakes';

const ROOT_PID = 900;
/** Pids of this machine in the fake world: the run's tree and a neighbour's process. */
const LOCAL_PIDS = new Set([ROOT_PID, 901, 42]);

function setup(ports: MonitorPorts = {}) {
  const clock = new FakeClock();
  const gpuProvider = new FakeGpuProvider(true, () => clock.now());
  const processSampler = new FakeProcessSampler();
  processSampler.trees.set(ROOT_PID, { rootPid: ROOT_PID, pids: [ROOT_PID, 901], rssMb: 2000, cpuPercent: 100 });
  const logs: string[] = [];
  const logger = { info: (m: string) => logs.push(`info ${m}`), warn: (m: string) => logs.push(`warn ${m}`), error: (m: string) => logs.push(`error ${m}`) };
  const monitor = new PerformanceMonitor(
    { monitoringIntervalMs: 1000 },
    { clock, systemSampler: new FakeSystemSampler(), gpuProvider, processSampler, historyStore: new MemoryHistoryStore(), logger, pidExists: (pid) => LOCAL_PIDS.has(pid), ...ports },
  );
  const gpuEvents: GpuAvailability[] = [];
  monitor.on('gpuAvailabilityChanged', (a) => gpuEvents.push(a));
  return { clock, gpuProvider, monitor, logs, gpuEvents };
}

const setVram = (p: FakeGpuProvider, mb: number) => (p.gpus = [gpu(0, { uuid: 'GPU-a', vramUsedMb: mb, vramTotalMb: 24_000 })]);

/** Starts a task at 1000 MiB, lets the device rise to `peakMb` for two intervals, then ends it. */
async function runRising(s: ReturnType<typeof setup>, processes: () => FakeGpuProvider['processes'], peakMb = 21_480) {
  setVram(s.gpuProvider, 1000);
  s.gpuProvider.processes = processes();
  await s.monitor.startMonitoring();
  s.monitor.startTaskMonitoring('run', 'wan', '720p', 30, { rootPid: ROOT_PID });
  await s.clock.advance(1000);
  setVram(s.gpuProvider, peakMb);
  await s.clock.advance(2000);
  const m = await s.monitor.completeTaskMonitoring('run');
  await s.monitor.stopMonitoring();
  return m;
}

test('an empty process list while the device rises: tree unknown, VRAM is the rise (deviceDelta)', async () => {
  const s = setup();
  const m = await runRising(s, () => []);
  assert.equal(m.processTreePeakVramUsageMb, null, 'unknown, not the 0 it used to record');
  assert.equal(m.processTreeAverageVramUsageMb, null);
  assert.equal(m.vramScope, 'deviceDelta');
  assert.equal(m.peakVramUsageMb, 20_480);
  assert.equal(m.devicePeakVramUsageMb, 21_480, 'the device figure is kept beside');
  assert.deepEqual(m.gpuIndices, [0]);
  assert.ok(m.averageVramUsageMb !== null && m.averageVramUsageMb > 0 && m.averageVramUsageMb < 20_480);
  // An empty list is not the container case: nothing is said about --pid=host.
  assert.ok(!s.logs.some((l) => l.includes('--pid=host')));
  assert.equal(s.monitor.getGpuAvailability().note, undefined);
});

test('a list of foreign pids (container): the rise, and the remedy said once in the log and the availability', async () => {
  const s = setup();
  const m = await runRising(s, () => [
    { pid: 48_213, gpuUuid: 'GPU-a', usedMemoryMb: 900 },
    { pid: 48_377, gpuUuid: 'GPU-a', usedMemoryMb: 100 },
  ]);
  assert.equal(m.processTreePeakVramUsageMb, null);
  assert.equal(m.vramScope, 'deviceDelta');
  assert.equal(m.peakVramUsageMb, 20_480);
  const said = s.logs.filter((l) => l.includes('--pid=host'));
  assert.equal(said.length, 1, s.logs.join('\n'));
  assert.match(said[0] ?? '', /^warn .*container.*pids listed: 48213, 48377/);
  const note = s.monitor.getGpuAvailability().note ?? '';
  assert.match(note, /--pid=host/);
  assert.equal(s.gpuEvents.filter((e) => e.note !== undefined).length, 1, 'the status bar hears it once');
});

test('one stale foreign pid (a process that just exited) is not taken for a container', async () => {
  const s = setup();
  setVram(s.gpuProvider, 1000);
  s.gpuProvider.processes = [{ pid: 31_337, gpuUuid: 'GPU-a', usedMemoryMb: 500 }];
  await s.monitor.startMonitoring();
  await s.clock.advance(1000);
  s.gpuProvider.processes = [{ pid: 42, gpuUuid: 'GPU-a', usedMemoryMb: 500 }];
  await s.clock.advance(5000);
  await s.monitor.stopMonitoring();
  assert.ok(!s.logs.some((l) => l.includes('--pid=host')));
  assert.equal(s.monitor.getGpuAvailability().note, undefined);
});

test("a list that shows this machine's processes but not the tree's, the device still: 0 stays a true 0 (processTree)", async () => {
  const s = setup();
  const m = await runRising(s, () => [{ pid: 42, gpuUuid: 'GPU-a', usedMemoryMb: 900 }], 1000);
  assert.equal(m.vramScope, 'processTree');
  assert.equal(m.peakVramUsageMb, 0);
  assert.equal(m.processTreePeakVramUsageMb, 0);
});

test("the tree not listed while the device rises beyond what the listed processes explain: unknown, not 0; the rise is its figure", async () => {
  const s = setup();
  // A neighbour listed at a steady 900 MiB; the device rises by 20 GiB that no listed process holds.
  const m = await runRising(s, () => [{ pid: 42, gpuUuid: 'GPU-a', usedMemoryMb: 900 }]);
  assert.equal(m.processTreePeakVramUsageMb, null, 'the tree\'s own figure is unknown, never 0');
  assert.equal(m.vramScope, 'deviceDelta');
  assert.equal(m.peakVramUsageMb, 20_480);
});

test("a listed neighbour's own rise explains the device's: the tree's 0 stays true", async () => {
  const s = setup();
  setVram(s.gpuProvider, 1000);
  s.gpuProvider.processes = [{ pid: 42, gpuUuid: 'GPU-a', usedMemoryMb: 900 }];
  await s.monitor.startMonitoring();
  s.monitor.startTaskMonitoring('run', 'wan', '720p', 30, { rootPid: ROOT_PID });
  await s.clock.advance(1000);
  setVram(s.gpuProvider, 21_480);
  s.gpuProvider.processes = [{ pid: 42, gpuUuid: 'GPU-a', usedMemoryMb: 21_380 }];
  await s.clock.advance(2000);
  const m = await s.monitor.completeTaskMonitoring('run');
  await s.monitor.stopMonitoring();
  assert.equal(m.vramScope, 'processTree');
  assert.equal(m.peakVramUsageMb, 0);
});

test('more than one new foreign pid during the run: something else started, so the device figure, labelled device', async () => {
  const s = setup();
  setVram(s.gpuProvider, 1000);
  s.gpuProvider.processes = [{ pid: 48_213, gpuUuid: 'GPU-a', usedMemoryMb: 900 }];
  await s.monitor.startMonitoring();
  s.monitor.startTaskMonitoring('run', 'wan', '720p', 30, { rootPid: ROOT_PID });
  await s.clock.advance(1000);
  setVram(s.gpuProvider, 21_480);
  s.gpuProvider.processes = [
    { pid: 48_213, gpuUuid: 'GPU-a', usedMemoryMb: 900 },
    { pid: 50_001, gpuUuid: 'GPU-a', usedMemoryMb: 10_000 },
    { pid: 50_002, gpuUuid: 'GPU-a', usedMemoryMb: 9_580 },
  ];
  await s.clock.advance(2000);
  const m = await s.monitor.completeTaskMonitoring('run');
  await s.monitor.stopMonitoring();
  assert.equal(m.processTreePeakVramUsageMb, null);
  assert.equal(m.vramScope, 'device');
  assert.equal(m.peakVramUsageMb, 21_480);
});

test('two tasks at once share the device: neither gets the rise, both get the device figure', async () => {
  const s = setup();
  setVram(s.gpuProvider, 1000);
  s.gpuProvider.processes = [];
  await s.monitor.startMonitoring();
  s.monitor.startTaskMonitoring('a', 'wan', '720p', 30, { rootPid: ROOT_PID });
  s.monitor.startTaskMonitoring('b', 'wan', '720p', 30, { rootPid: ROOT_PID });
  await s.clock.advance(1000);
  setVram(s.gpuProvider, 9000);
  await s.clock.advance(1000);
  const a = await s.monitor.completeTaskMonitoring('a');
  const b = await s.monitor.completeTaskMonitoring('b');
  await s.monitor.stopMonitoring();
  for (const m of [a, b]) {
    assert.equal(m.vramScope, 'device');
    assert.equal(m.peakVramUsageMb, 9000);
  }
});

test("the helper's allocator peak leads when the tree's is hidden (scope helper, average unknown)", async () => {
  const s = setup();
  setVram(s.gpuProvider, 1000);
  s.gpuProvider.processes = [];
  await s.monitor.startMonitoring();
  s.monitor.startTaskMonitoring('run', 'wan', '720p', 30, { rootPid: ROOT_PID });
  await s.clock.advance(1000);
  setVram(s.gpuProvider, 21_480);
  s.monitor.reportHelperVram('run', 901, 18_000);
  s.monitor.reportHelperVram('run', 901, 17_000); // a later, lower reading never lowers the peak
  s.monitor.reportHelperVram('run', 905, 2_000); // a second process of the run (another GPU)
  await s.clock.advance(1000);
  const m = await s.monitor.completeTaskMonitoring('run');
  await s.monitor.stopMonitoring();
  assert.equal(m.vramScope, 'helper');
  assert.equal(m.peakVramUsageMb, 20_000);
  assert.equal(m.averageVramUsageMb, null);
  assert.equal(m.processTreePeakVramUsageMb, null);
  assert.throws(() => s.monitor.reportHelperVram('nope', 901, 1), /no task "nope"/);
});

test('reportHelperVram refuses what is not a figure', async () => {
  const s = setup();
  s.monitor.startTaskMonitoring('run', 'wan', '720p', 30, { rootPid: ROOT_PID });
  for (const [pid, mb] of [[0, 1], [1.5, 1], [901, -1], [901, Number.NaN], [901, Number.POSITIVE_INFINITY], [901, '5' as unknown as number]] as const) {
    assert.throws(() => s.monitor.reportHelperVram('run', pid, mb), /reportHelperVram/, `${pid} ${String(mb)}`);
  }
  assert.notEqual(s.monitor.getActiveTasks()[0]?.vramScope, 'helper');
  await s.monitor.dispose();
});

test('old records keep their meaning and new scopes load back; an unknown scope is refused', () => {
  const base = { schemaVersion: 1, taskId: 't', modelType: 'm', resolution: '720p', steps: 1, startTime: 1, status: 'succeeded', success: true };
  for (const scope of ['processTree', 'device', 'deviceDelta', 'helper', null]) {
    const parsed = parseRecord({ ...base, vramScope: scope });
    assert.equal(parsed.kind, 'task', String(scope));
    if (parsed.kind === 'task') assert.equal(parsed.task.vramScope, scope);
  }
  const bad = parseRecord({ ...base, vramScope: 'guess' });
  assert.equal(bad.kind, 'bad');
});

test('isProcessAlive: this process exists, a pid above any pid_max does not', () => {
  assert.equal(isProcessAlive(process.pid), true);
  assert.equal(isProcessAlive(4_194_401), false);
});

// ----- the fake nvidia-smi scenarios, through the real provider -----

const BIN = join(__dirname, '../../fixtures/bin');
const SCENARIOS = join(__dirname, '../../fixtures/nvidia-smi/scenarios');
const skip = process.platform === 'win32' ? 'the fake nvidia-smi is a node script with a shebang' : false;

for (const [scenario, container] of [['container-foreign-pids', true], ['empty-process-list', false]] as const) {
  test(`fake nvidia-smi, ${scenario}: a run that fills 20 GB is recorded by the device's rise${container ? ', and --pid=host is advised once' : ''}`, { skip }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mpm-hidden-vram-'));
    const vramFile = join(dir, 'vram');
    await writeFile(vramFile, '1000');
    const env = { ...process.env, PATH: `${BIN}${delimiter}${process.env.PATH ?? ''}`, FAKE_NVIDIA_SMI_SCENARIO: join(SCENARIOS, scenario), FAKE_NVIDIA_SMI_VRAM_FILE: vramFile };
    const located = await locateNvidiaSmi({ platform: process.platform, env });
    assert.ok(located.found);
    const provider = new NvidiaSmiProvider({ nvidiaSmiPath: located.path, spawn: createNodeSpawn({ env }), onLog: () => undefined, computeAppsIntervalMs: 1000, watchdogMinMs: 10_000 });
    const processSampler = new FakeProcessSampler();
    processSampler.trees.set(process.pid, { rootPid: process.pid, pids: [process.pid], rssMb: 100, cpuPercent: 10 });
    const logs: string[] = [];
    const logger = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
    // The real clock and the real pid probe: the scenario's pids do not exist on this machine.
    const monitor = new PerformanceMonitor({ monitoringIntervalMs: 250 }, { systemSampler: new FakeSystemSampler(), gpuProvider: provider, processSampler, historyStore: new MemoryHistoryStore(), logger });
    const waitFor = (what: string, cond: () => boolean) => waitUntil(what, cond, { timeoutMs: 30_000, everyMs: 20 });
    try {
      await monitor.startMonitoring();
      await waitUntil('the per-process list', async () => (await provider.read())?.processes != null, { timeoutMs: 30_000, everyMs: 20 });
      monitor.startTaskMonitoring('hidden', 'wan', '720p', 30, { rootPid: process.pid });
      // The baseline: a sample after the start that saw 1000 MiB and the per-process list.
      await waitFor('a sample with the process list', () => (monitor.getActiveTasks()[0]?.sampleCount ?? 0) > 2 && monitor.getRecentSnapshots().at(-1)?.gpus[0]?.vramUsedMb === 1000);
      await writeFile(vramFile, '21480');
      await waitFor('the rise to show', () => monitor.getRecentSnapshots().at(-1)?.gpus[0]?.vramUsedMb === 21_480);
      if (container) await waitFor('the container case to be seen', () => monitor.getGpuAvailability().note !== undefined);
      const m = await monitor.completeTaskMonitoring('hidden');
      assert.equal(m.processTreePeakVramUsageMb, null);
      assert.equal(m.vramScope, 'deviceDelta');
      assert.equal(m.peakVramUsageMb, 20_480);
      assert.equal(logs.filter((l) => l.includes('--pid=host')).length, container ? 1 : 0, logs.join('\n'));
    } finally {
      await monitor.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('the pids of one per-process list are looked up once, however many samples it lasts; the container note still comes after three', () => {
  const asked: number[] = [];
  const notes: string[] = [];
  const watch = new ForeignPidWatch((pid) => {
    asked.push(pid);
    return false;
  }, (note) => notes.push(note));
  const list = [{ pid: 4711, gpuUuid: 'GPU-a', usedMemoryMb: null }, { pid: 4820, gpuUuid: 'GPU-a', usedMemoryMb: null }];
  // Each sample holds its own copy of the provider's list (copyGpuSample).
  for (let i = 0; i < 3; i++) assert.equal(watch.hidden(list.map((p) => ({ ...p }))), true);
  assert.deepEqual(asked, [4711, 4820], 'each pid once for the three samples');
  assert.equal(notes.length, 1, 'three samples in a row');
  watch.hidden([list[0] as (typeof list)[number], { pid: 5000, gpuUuid: 'GPU-a', usedMemoryMb: null }]);
  assert.deepEqual(asked, [4711, 4820, 4711, 5000], 'a list with another pid is looked at again');
  watch.hidden([{ pid: 4711, gpuUuid: 'GPU-a', usedMemoryMb: null }]);
  assert.deepEqual(asked, [4711, 4820, 4711, 5000, 4711], 'a shorter list too');
});
