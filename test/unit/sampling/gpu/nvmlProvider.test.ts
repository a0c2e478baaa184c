import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpuReading } from '../../../../src/shared/snapshot';
import { NvmlProvider } from '../../../../src/core/sampling/gpu/nvmlProvider';
import { selectGpuProvider } from '../../../../src/core/sampling/gpu/selectProvider';
import { FakeClock } from '../../helpers/fakeClock';
import { buildFakeNvml, fakeNvmlCounters, useScenario, type FakeNvmlScenario } from './helpers/fakeNvml';

const SYSFS = join(__dirname, '../../../fixtures/sysfs-amd');
let dir = '';
let lib = '';
let counters: ReturnType<typeof fakeNvmlCounters>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpm-nvml-'));
  lib = buildFakeNvml('full');
  counters = fakeNvmlCounters(lib);
});
after(async () => {
  delete process.env.FAKE_NVML_SCENARIO;
  await rm(dir, { recursive: true, force: true });
});

const TWO_GPUS: FakeNvmlScenario = {
  gpus: [
    { name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-aaaa', util: 87, memutil: 41, memTotalMib: 81559, memUsedMib: 40000, temp: 65, powerMw: 312_500, powerLimitMw: 700_000, smClock: 1980, smClockMax: 1980, clockReasons: 0x44, pstate: 0 },
    { name: 'NVIDIA RTX A6000', uuid: 'GPU-bbbb', util: 0, memutil: 0, memTotalMib: 49140, memUsedMib: 3, temp: 31, powerMw: 21_050, powerLimitMw: 300_000, smClock: 210, smClockMax: 2100, clockReasons: 0x1, pstate: 8 },
  ],
  processes: [
    [0, 4242, 39000],
    [0, 4243, -1],
    [1, 5151, 2],
  ],
  processesInsufficientFirst: true,
};

function provider(clock: FakeClock, logs: string[] = [], extra: Partial<ConstructorParameters<typeof NvmlProvider>[0]> = {}, libs = [lib]): NvmlProvider {
  return new NvmlProvider({ candidates: libs, clock, onLog: (m) => logs.push(m), ...extra });
}

test('every figure of two GPUs, in the reading the nvidia-smi stream gives, and the processes after an "insufficient size" retry', async () => {
  useScenario(dir, TWO_GPUS);
  const clock = new FakeClock();
  const logs: string[] = [];
  const p = provider(clock, logs);
  assert.deepEqual(await p.start(1000), { provider: 'nvidia', available: true, reason: null });
  assert.equal(p.kind, 'nvidia');
  assert.equal(p.processCallVersion, '_v3');
  const sample = await p.read();
  assert.ok(sample);
  assert.equal(sample.timestamp, clock.now());
  assert.deepEqual(sample.gpus, [
    gpuReading({
      index: 0, uuid: 'GPU-aaaa', name: 'NVIDIA H100 80GB HBM3', utilizationPercent: 87, memoryUtilizationPercent: 41, vramUsedMb: 40000, vramTotalMb: 81559,
      temperatureCelsius: 65, powerDrawWatts: 312.5, powerLimitWatts: 700, smClockMhz: 1980, smClockMaxMhz: 1980, clockEventReasons: 0x44, performanceState: 'P0', mig: false,
    }),
    gpuReading({
      index: 1, uuid: 'GPU-bbbb', name: 'NVIDIA RTX A6000', utilizationPercent: 0, memoryUtilizationPercent: 0, vramUsedMb: 3, vramTotalMb: 49140,
      temperatureCelsius: 31, powerDrawWatts: 21.05, powerLimitWatts: 300, smClockMhz: 210, smClockMaxMhz: 2100, clockEventReasons: 0x1, performanceState: 'P8', mig: false,
    }),
  ]);
  assert.equal(sample.gpus[0]?.vramUsedPercent, (40000 / 81559) * 100);
  assert.deepEqual(sample.processes, [
    { pid: 4242, gpuUuid: 'GPU-aaaa', usedMemoryMb: 39000 },
    { pid: 4243, gpuUuid: 'GPU-aaaa', usedMemoryMb: null },
    { pid: 5151, gpuUuid: 'GPU-bbbb', usedMemoryMb: 2 },
  ]);
  assert.equal(logs.length, 1);
  assert.match(logs[0] ?? '', /GPU figures come from NVML \(.*libnvidia-ml\.so\.1, 2 GPU\(s\)\); no nvidia-smi runs\./);
  await p.stop();
  assert.equal(counters.initDepth(), 0);
});

test('a steady sample costs the same calls each time, processes only at their cadence and only while wanted; stop shuts NVML down once', async () => {
  useScenario(dir, TWO_GPUS);
  const clock = new FakeClock();
  let wanted = false;
  const p = provider(clock, [], { computeAppsIntervalMs: 5000, wantProcesses: () => wanted });
  await p.start(1000);
  const costs: number[] = [];
  for (let i = 0; i < 4; i++) {
    const before = counters.calls();
    const s = await p.read();
    costs.push(counters.calls() - before);
    assert.equal(s?.processes, null);
    await clock.advance(1000);
  }
  // 2 GPUs x (utilisation, memory, temperature, power, power limit, clock, max clock, clock event reasons, P-state, MIG mode).
  assert.deepEqual(costs, [20, 20, 20, 20]);
  // A second read within half an interval is answered from the same library calls.
  const before = counters.calls();
  await p.read();
  await p.read();
  assert.equal(counters.calls() - before, 20);
  wanted = true;
  await clock.advance(5000);
  const withProcesses = await p.read();
  assert.equal(withProcesses?.processes?.length, 3);
  await clock.advance(1000);
  assert.equal((await p.read())?.processes?.length, 3, 'the last process list stands between two queries');
  assert.equal(counters.initDepth(), 1);
  await p.stop();
  await p.stop();
  assert.equal(counters.initDepth(), 0);
  assert.equal(await p.read(), null);
  assert.deepEqual(p.availability(), { provider: 'nvidia', available: false, reason: 'GPU monitoring stopped.' });
});

test('start and stop many times: every init is shut down', async () => {
  useScenario(dir, TWO_GPUS);
  const clock = new FakeClock();
  for (let i = 0; i < 50; i++) {
    const p = provider(clock);
    await p.start(1000);
    await p.read();
    await p.stop();
  }
  assert.equal(counters.initDepth(), 0);
});

test('a figure the driver does not support reads unknown, never 0, and the others stay; MIG mode reads no utilisation', async () => {
  useScenario(dir, {
    gpus: [
      { name: 'A', uuid: 'GPU-a', util: 50, memTotalMib: 1000, memUsedMib: 500, temp: 40, powerMw: 1000, smClock: 100, clockReasons: 0x4, unsupported: ['nvmlDeviceGetPowerUsage', 'nvmlDeviceGetPowerManagementLimit', 'nvmlDeviceGetTemperature', 'nvmlDeviceGetCurrentClocksEventReasons'] },
      { name: 'B', uuid: 'GPU-b', util: 99, memutil: 10, memTotalMib: 1000, memUsedMib: 100, mig: true, pstate: 32 },
      { name: '\u001b[31mRed\u0007', uuid: '', util: 250, memutil: 101, temp: 200 },
    ],
  });
  const p = provider(new FakeClock());
  await p.start(1000);
  const s = await p.read();
  assert.equal(s?.gpus[0]?.utilizationPercent, 50);
  assert.equal(s?.gpus[0]?.vramUsedMb, 500);
  assert.equal(s?.gpus[0]?.powerDrawWatts, null);
  assert.equal(s?.gpus[0]?.powerLimitWatts, null);
  assert.equal(s?.gpus[0]?.temperatureCelsius, null);
  assert.equal(s?.gpus[0]?.smClockMhz, 100);
  assert.equal(s?.gpus[0]?.clockEventReasons, null, 'reasons the driver does not give are unknown, not "none"');
  assert.equal(s?.gpus[1]?.mig, true);
  assert.equal(s?.gpus[1]?.utilizationPercent, null);
  assert.equal(s?.gpus[1]?.memoryUtilizationPercent, null);
  assert.equal(s?.gpus[1]?.performanceState, null, 'P-state 32 is "unknown"');
  // Garbage from the driver is unknown, and a name cannot carry control characters.
  assert.equal(s?.gpus[2]?.name, '[31mRed');
  assert.equal(s?.gpus[2]?.uuid, null);
  assert.equal(s?.gpus[2]?.utilizationPercent, null);
  assert.equal(s?.gpus[2]?.memoryUtilizationPercent, null);
  assert.equal(s?.gpus[2]?.temperatureCelsius, null);
  assert.deepEqual(s?.processes, [], 'no process on either GPU');
  await p.stop();
});

test('a GPU lost mid-run reads unknown with a note, said once; the other GPU goes on', async () => {
  // Start-up makes 2 calls per GPU (name, uuid), a sample 10: GPU 1 is lost during the third sample.
  useScenario(dir, { gpus: [{ util: 10, memTotalMib: 100, memUsedMib: 1 }, { util: 20, memTotalMib: 100, memUsedMib: 2, lostAfter: 2 + 2 * 10 + 3 }] });
  const clock = new FakeClock();
  const logs: string[] = [];
  const p = provider(clock, logs, { computeAppsIntervalMs: 0 });
  await p.start(1000);
  for (let i = 0; i < 2; i++) {
    assert.equal((await p.read())?.gpus[1]?.utilizationPercent, 20);
    await clock.advance(1000);
  }
  for (let i = 0; i < 3; i++) {
    const s = await p.read();
    assert.equal(s?.gpus[0]?.utilizationPercent, 10);
    assert.deepEqual(s?.gpus[1], gpuReading({ index: 1, uuid: 'GPU-fake-0001', name: 'Fake GPU 1' }));
    await clock.advance(1000);
  }
  const availability = p.availability();
  assert.equal(availability.available, true);
  assert.match(availability.note ?? '', /GPU 1 stopped responding \("GPU is lost"\); its figures read unknown/);
  assert.equal(logs.filter((l) => /GPU is lost/.test(l)).length, 1);
  await p.stop();
  assert.equal(counters.initDepth(), 0);
});

test('the driver going away mid-run (NVML uninitialised) makes the provider unavailable, with the reason', async () => {
  useScenario(dir, TWO_GPUS);
  const logs: string[] = [];
  const clock = new FakeClock();
  const p = provider(clock, logs);
  await p.start(1000);
  assert.ok(await p.read());
  counters.shutdown(); // the library's init count drops to 0 under the provider's feet
  await clock.advance(1000);
  assert.equal(await p.read(), null);
  assert.equal(p.availability().available, false);
  assert.match(p.availability().reason ?? '', /NVML stopped answering \(Uninitialized\)/);
  assert.equal(logs.filter((l) => /stopped answering/.test(l)).length, 1);
  assert.equal(await p.read(), null);
  // The monitor's retry: stop, then start again, and the driver answers again.
  await p.stop();
  assert.equal((await p.start(1000)).available, true);
  assert.equal(counters.initDepth(), 1);
  assert.equal((await p.read())?.gpus.length, 2);
  await p.stop();
  assert.equal(counters.initDepth(), 0);
});

test('an older library without the _v3 process call uses _v2', async () => {
  useScenario(dir, TWO_GPUS);
  const p = provider(new FakeClock(), [], {}, [buildFakeNvml('no-v3')]);
  await p.start(1000);
  assert.equal(p.processCallVersion, '_v2');
  assert.deepEqual((await p.read())?.processes?.map((x) => x.pid), [4242, 4243, 5151]);
  await p.stop();
});

test('start failures say why and leave nothing initialised: no library, a missing call, init error, no GPU', async () => {
  useScenario(dir, TWO_GPUS);
  const missing = provider(new FakeClock(), [], {}, [join(dir, 'nowhere', 'libnvidia-ml.so.1')]);
  const a = await missing.start(1000);
  assert.equal(a.available, false);
  assert.match(a.reason ?? '', /^NVML is not usable: the NVIDIA management library was not found \(.*nowhere/);
  assert.equal(await missing.read(), null);

  const noMemory = provider(new FakeClock(), [], {}, [buildFakeNvml('no-memory')]);
  assert.match((await noMemory.start(1000)).reason ?? '', /lacks a call this monitor needs \(.*nvmlDeviceGetMemoryInfo/);

  useScenario(dir, { ...TWO_GPUS, initError: 9 });
  const initFails = provider(new FakeClock());
  assert.equal((await initFails.start(1000)).reason, 'NVML did not start: Driver Not Loaded (nvmlInit_v2 returned 9).');
  assert.equal(counters.initDepth(), 0);

  useScenario(dir, { gpus: [] });
  const none = provider(new FakeClock());
  assert.equal((await none.start(1000)).reason, 'NVML started but it lists no GPU.');
  assert.equal(counters.initDepth(), 0, 'an init that found no GPU is shut down');
});

test('backend nvml: selection falls back to the next provider when NVML cannot start, saying why in one line', async () => {
  useScenario(dir, { ...TWO_GPUS, initError: 9 });
  const logs: string[] = [];
  const p = await selectGpuProvider({
    enabled: true,
    platform: 'linux',
    env: { PATH: '/usr/bin' },
    backend: 'nvml',
    nvmlLibraries: [lib],
    sysfsRoot: join(SYSFS, 'two-cards'),
    isExecutable: async () => false,
    onLog: (m) => logs.push(m),
  });
  const a = await p.start(1000);
  assert.equal(p.kind, 'amd');
  assert.equal(a.available, true);
  assert.equal(a.note, 'NVML did not start: Driver Not Loaded (nvmlInit_v2 returned 9). Reading GPUs through the next tool found instead.');
  assert.deepEqual(logs, ['NVML did not start: Driver Not Loaded (nvmlInit_v2 returned 9). Reading GPUs through the next tool found instead.']);
  await p.stop();
  // The monitor retries a provider now and then: NVML is tried again, and the same reason not logged again.
  assert.equal((await p.start(1000)).available, true);
  assert.equal(logs.length, 1);
  await p.stop();
  assert.equal(counters.initDepth(), 0);

  // Nothing to fall back to: the reason names both.
  const none = await selectGpuProvider({ enabled: true, platform: 'linux', env: { PATH: '/usr/bin' }, backend: 'nvml', nvmlLibraries: [lib], sysfsRoot: join(SYSFS, 'intel-only'), isExecutable: async () => false });
  const n = await none.start(1000);
  assert.equal(none.kind, 'none');
  assert.equal(n.available, false);
  assert.match(n.reason ?? '', /^NVML did not start: Driver Not Loaded \(nvmlInit_v2 returned 9\)\. No GPU found: nvidia-smi not found/);
  assert.equal(none.availability().reason, n.reason);
  await none.stop();

  // When it can start, NVML is the provider.
  useScenario(dir, TWO_GPUS);
  const ok = await selectGpuProvider({ enabled: true, platform: 'linux', backend: 'nvml', nvmlLibraries: [lib], isExecutable: async () => false });
  await ok.start(1000);
  assert.equal(ok.kind, 'nvidia');
  assert.equal((await ok.read())?.gpus.length, 2);
  await ok.stop();
  assert.equal(counters.initDepth(), 0);
});

test('backends auto and nvidia-smi never load NVML; nvml is not tried on macOS', async () => {
  useScenario(dir, TWO_GPUS);
  const before = counters.calls();
  for (const backend of ['auto', 'nvidia-smi'] as const) {
    const p = await selectGpuProvider({ enabled: true, platform: 'linux', env: { PATH: '/usr/bin' }, backend, nvmlLibraries: [lib], sysfsRoot: join(SYSFS, 'two-cards'), isExecutable: async () => false });
    await p.start(1000);
    assert.equal(p.kind, 'amd');
    await p.stop();
  }
  const mac = await selectGpuProvider({ enabled: true, platform: 'darwin', arch: 'x64', backend: 'nvml', nvmlLibraries: [lib] });
  assert.equal(mac.kind, 'none');
  assert.equal(counters.calls(), before);
});
