import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AmdSysfsProvider, discoverAmdCards } from '../../../../src/core/sampling/gpu/amdSysfsProvider';
import { AppleIoregProvider, IOREG_ARGS, parseIoreg } from '../../../../src/core/sampling/gpu/appleIoregProvider';
import { NoneGpuProvider } from '../../../../src/core/sampling/gpu/noneProvider';
import { TYPEPERF_ARGS, WindowsPdhProvider, parseTypeperf } from '../../../../src/core/sampling/gpu/windowsPdhProvider';
import { FakeClock } from '../../helpers/fakeClock';
import { FakeSpawn } from './helpers/fakeSpawn';

const FIX = join(__dirname, '../../../fixtures');
const text = (p: string): string => readFileSync(join(FIX, p), 'utf8');
const MiB = 1024 * 1024;

// ---------- AMD ----------

test('AMD sysfs: two cards, units converted, connectors and render nodes skipped', async () => {
  const provider = new AmdSysfsProvider({ sysfsRoot: join(FIX, 'sysfs-amd/two-cards'), clock: new FakeClock() });
  assert.deepEqual(await provider.start(), { provider: 'amd', available: true, reason: null });
  const s = await provider.read();
  assert.equal(s?.processes, null, 'sysfs cannot attribute VRAM to processes');
  const [dgpu, igpu] = s?.gpus ?? [];
  assert.deepEqual(dgpu, {
    index: 0,
    uuid: '3f1c2a0b7e9d4411',
    name: 'Radeon RX 7900 XTX',
    utilizationPercent: 87,
    memoryUtilizationPercent: 30,
    vramUsedMb: 16384,
    vramTotalMb: 25753026560 / MiB,
    vramUsedPercent: (16384 / (25753026560 / MiB)) * 100,
    temperatureCelsius: 64,
    powerDrawWatts: 310,
    powerLimitWatts: 355,
    smClockMhz: 2500,
    smClockMaxMhz: null,
    clockEventReasons: null,
    performanceState: null,
    mig: false,
  });
  assert.equal(igpu?.index, 1);
  assert.match(igpu?.name ?? '', /AMD GPU 0x164e \(card1\)/);
  assert.equal(igpu?.utilizationPercent, 0);
  assert.equal(igpu?.vramTotalMb, 512);
  assert.equal(igpu?.temperatureCelsius, 41.25);
  assert.equal(igpu?.powerDrawWatts, 15, 'power1_average');
  assert.equal(igpu?.memoryUtilizationPercent, null, 'no mem_busy_percent file');
  assert.equal(igpu?.smClockMhz, null);
  await provider.stop();
  assert.equal(await provider.read(), null);
});

test('AMD sysfs: an Intel-only machine or no /sys means unavailable with a reason', async () => {
  const logs: string[] = [];
  const intel = new AmdSysfsProvider({ sysfsRoot: join(FIX, 'sysfs-amd/intel-only'), onLog: (m) => logs.push(m) });
  const a = await intel.start();
  assert.equal(a.available, false);
  assert.match(a.reason ?? '', /No AMD GPU/);
  assert.equal(await intel.read(), null);
  assert.equal(logs.length, 1);
  assert.deepEqual(await discoverAmdCards(join(FIX, 'nowhere')), []);
});

test('AMD sysfs: garbage files become unknowns, never zeros or absurd values', async () => {
  const logs: string[] = [];
  const provider = new AmdSysfsProvider({ sysfsRoot: join(FIX, 'sysfs-amd/garbage'), onLog: (m) => logs.push(m) });
  assert.equal((await provider.start()).available, true);
  const gpus = (await provider.read())?.gpus ?? [];
  assert.equal(gpus.length, 1, 'card2 has no amdgpu files');
  const g = gpus[0];
  assert.equal(g?.utilizationPercent, null);
  assert.equal(g?.vramUsedMb, null);
  assert.equal(g?.vramTotalMb, 32768);
  assert.equal(g?.memoryUtilizationPercent, null, '250 %');
  assert.equal(g?.temperatureCelsius, null, '99999 °C');
  assert.equal(g?.powerDrawWatts, null);
  assert.doesNotMatch(g?.name ?? '', /[\u0000-\u001f]/);
});

// ---------- Apple ----------

test('ioreg: M1 Pro utilisation and unified memory in use; total unknown', () => {
  const [acc] = parseIoreg(text('ioreg/m1-pro.txt'));
  assert.equal(acc?.model, 'Apple M1 Pro');
  assert.equal(acc?.coreCount, 16);
  assert.equal(acc?.deviceUtilizationPercent, 42);
  assert.equal(acc?.rendererUtilizationPercent, 29);
  assert.equal(acc?.tilerUtilizationPercent, 31);
  assert.equal(acc?.inUseSystemMemoryBytes, 3779264512);
  assert.equal(acc?.allocSystemMemoryBytes, 24629297152);
});

test('ioreg: Intel Mac with iGPU and Radeon; statistics-less and garbage nodes', () => {
  const accs = parseIoreg(text('ioreg/intel-mac-amd.txt'));
  assert.deepEqual(accs.map((a) => [a.className, a.deviceUtilizationPercent]), [
    ['IntelAccelerator', 0],
    ['AMDRadeonX6000_AMDNavi14GraphicsAccelerator', 18],
  ]);
  assert.equal(accs[1]?.vramUsedBytes, 1073741824);
  const none = parseIoreg(text('ioreg/no-statistics.txt'));
  assert.equal(none[0]?.deviceUtilizationPercent, null);
  const bad = parseIoreg(text('ioreg/garbage.txt'));
  assert.equal(bad[0]?.deviceUtilizationPercent, null, '250 %');
  assert.equal(bad[0]?.inUseSystemMemoryBytes, null, 'negative');
  assert.equal(bad[0]?.allocSystemMemoryBytes, null, 'beyond safe integers');
  assert.doesNotMatch(bad[0]?.model ?? '', /[\u0000-\u001f]/);
  assert.deepEqual(parseIoreg(''), []);
  assert.deepEqual(parseIoreg('\u0000\u0001 random words'), []);
});

function ioregSpawn(reply: { code: number | null; stdout?: string; spawnErrorCode?: string } | 'hang') {
  return new FakeSpawn((child) => {
    if (reply === 'hang') return;
    if (reply.stdout) child.stdout(reply.stdout);
    child.exit(reply.code, null, reply.spawnErrorCode ?? null);
  });
}

test('Apple provider: reads through ioreg, one run per read, never overlapping', async () => {
  const spawn = ioregSpawn({ code: 0, stdout: text('ioreg/m1-pro.txt') });
  const provider = new AppleIoregProvider({ spawn: spawn.port, clock: new FakeClock() });
  assert.deepEqual(await provider.start(), { provider: 'apple', available: true, reason: null });
  assert.deepEqual(spawn.children[0]?.args, [...IOREG_ARGS]);
  const s = await provider.read();
  assert.deepEqual(s?.gpus.map((g) => [g.name, g.utilizationPercent, g.vramUsedMb, g.vramTotalMb]), [
    ['Apple M1 Pro', 42, 3779264512 / MiB, null],
  ]);
  assert.equal(s?.processes, null);

  const intel = new AppleIoregProvider({ spawn: ioregSpawn({ code: 0, stdout: text('ioreg/intel-mac-amd.txt') }).port });
  const radeon = (await intel.read())?.gpus[1];
  assert.equal(radeon?.vramUsedMb, 1024);
  assert.equal(radeon?.vramTotalMb, 4096);
});

test('Apple provider: no statistics, ioreg missing, or hung ioreg are reported, not zeros', async () => {
  const vm = new AppleIoregProvider({ spawn: ioregSpawn({ code: 0, stdout: text('ioreg/no-statistics.txt') }).port });
  const a = await vm.start();
  assert.equal(a.available, false);
  assert.match(a.reason ?? '', /no GPU statistics/);

  const missing = new AppleIoregProvider({ spawn: ioregSpawn({ code: null, spawnErrorCode: 'ENOENT' }).port });
  assert.match((await missing.start()).reason ?? '', /ioreg not found/);

  const clock = new FakeClock();
  const hung = ioregSpawn('hang');
  const logs: string[] = [];
  const provider = new AppleIoregProvider({ spawn: hung.port, clock, timeoutMs: 1000, onLog: (m) => logs.push(m) });
  const r1 = provider.read();
  const r2 = provider.read();
  await clock.advance(0);
  assert.equal(hung.children.length, 1, 'a second read joins the running one');
  await clock.advance(1000);
  assert.equal(await r1, null);
  assert.equal(await r2, null);
  assert.deepEqual(hung.children[0]?.killSignals, ['SIGKILL']);
  assert.match(provider.availability().reason ?? '', /did not answer in time/);
  const r3 = provider.read();
  await clock.advance(1000);
  await r3;
  assert.equal(logs.length, 1, 'logged once');
  await provider.stop();
});

// ---------- Windows ----------

test('typeperf: per adapter, busiest engine summed over processes; dedicated memory in bytes', () => {
  const adapters = parseTypeperf(text('windows-pdh/amd-dgpu.csv'));
  assert.deepEqual(adapters, [
    { key: 'luid_0x00000000_0x0000D1A4_phys_0', utilizationPercent: 73.75, dedicatedUsageBytes: 8589934592, busiestEngine: 'Compute_0' },
    { key: 'luid_0x00000000_0x00010A2B_phys_0', utilizationPercent: 0, dedicatedUsageBytes: 0, busiestEngine: '3D' },
  ]);
  const [igpu] = parseTypeperf(text('windows-pdh/intel-igpu.csv'));
  assert.equal(igpu?.utilizationPercent, 100, '115 % summed is capped');
  assert.equal(igpu?.busiestEngine, '3D');
  const [blank] = parseTypeperf(text('windows-pdh/blank-values.csv'));
  assert.equal(blank?.utilizationPercent, null);
  assert.equal(blank?.dedicatedUsageBytes, null);
  assert.deepEqual(parseTypeperf(text('windows-pdh/no-counters.txt')), []);
  const garbage = parseTypeperf(text('windows-pdh/garbage.csv'));
  assert.deepEqual(garbage.map((a) => a.key), ['luid_0x00000000_0x0000AAAA_phys_0']);
  assert.equal(garbage[0]?.utilizationPercent, null, '1e9 is not a number typeperf prints');
  assert.deepEqual(parseTypeperf(''), []);
});

test('Windows provider: background cadence of at least 2 s, stale readings unknown, stop clears all', async () => {
  const clock = new FakeClock();
  let reply: { code: number; stdout: string } | 'hang' = { code: 0, stdout: text('windows-pdh/amd-dgpu.csv') };
  const spawn = new FakeSpawn((child) => {
    if (reply === 'hang') return;
    child.stdout(reply.stdout);
    child.exit(reply.code);
  });
  const provider = new WindowsPdhProvider({ spawn: spawn.port, clock, timeoutMs: 5000 });
  assert.deepEqual(await provider.start(500), { provider: 'windows', available: true, reason: null });
  assert.deepEqual(spawn.children[0]?.args, [...TYPEPERF_ARGS]);
  const s = await provider.read();
  assert.deepEqual(s?.gpus.map((g) => [g.index, g.utilizationPercent, g.vramUsedMb]), [
    [0, 73.75, 8192],
    [1, 0, 0],
  ]);
  await clock.advance(1999);
  assert.equal(spawn.children.length, 1);
  await clock.advance(1);
  assert.equal(spawn.children.length, 2);

  reply = 'hang';
  await clock.advance(2000);
  assert.equal(spawn.children.length, 3);
  await clock.advance(4500);
  assert.equal(spawn.children.length, 3, 'no overlapping run while one hangs');
  assert.equal(await provider.read(), null, 'older than three cadences');
  await provider.stop();
  assert.equal(spawn.alive.length, 0);
  assert.equal(clock.pending, 0);
});

test('Windows provider: missing counters are said in words', async () => {
  const spawn = new FakeSpawn((child) => {
    child.stdout(text('windows-pdh/no-counters.txt'));
    child.exit(1);
  });
  const clock = new FakeClock();
  const provider = new WindowsPdhProvider({ spawn: spawn.port, clock });
  const a = await provider.start(1000);
  assert.equal(a.available, false);
  assert.match(a.reason ?? '', /typeperf failed with exit code 1: "Error: No valid counters\."/);
  await provider.stop();
  assert.equal(clock.pending, 0);
});

// ---------- none ----------

test('none provider: reports its reason and never a reading', async () => {
  const p = new NoneGpuProvider('GPU monitoring is off in settings');
  assert.deepEqual(await p.start(), { provider: 'none', available: false, reason: 'GPU monitoring is off in settings' });
  assert.equal(await p.read(), null);
  await p.stop();
  await p.stop();
});
