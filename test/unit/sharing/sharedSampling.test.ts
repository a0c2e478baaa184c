import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeaderLock } from '../../../src/core/sharing/leadership';
import { LIVE_FILE_NAME, READERS_DIR_NAME, SharedSampling, parsePublishedSample, parseReaderNote } from '../../../src/core/sharing/sharedSampling';
import type { GpuProvider, GpuSample, SystemReading, SystemSampler } from '../../../src/core/ports';
import { gpuReading, type GpuAvailability } from '../../../src/shared/snapshot';
import { FakeClock, flushPromises } from '../helpers/fakeClock';
import { waitUntil } from '../helpers/waitUntil';

const reading: SystemReading = { cpuUsagePercent: 42, ramUsedMb: 1000, ramAvailableMb: 3000, ramTotalMb: 4000, diskUsagePercent: 10 };

class CountingSystem implements SystemSampler {
  calls = 0;
  async sample(): Promise<SystemReading> {
    this.calls++;
    return reading;
  }
}

class CountingGpu implements GpuProvider {
  readonly kind = 'nvidia' as const;
  starts = 0;
  stops = 0;
  reads = 0;
  running = false;
  constructor(private readonly clock: FakeClock) {}
  async start(): Promise<GpuAvailability> {
    this.starts++;
    this.running = true;
    return this.availability();
  }
  async read(): Promise<GpuSample | null> {
    this.reads++;
    return {
      timestamp: this.clock.now(),
      gpus: [gpuReading({ index: 0, uuid: 'GPU-1', name: 'Fake', utilizationPercent: 50, memoryUtilizationPercent: 5, vramUsedMb: 512, vramTotalMb: 8192, temperatureCelsius: 40, powerDrawWatts: 100, powerLimitWatts: 300, smClockMhz: 1000, performanceState: 'P0', mig: false })],
      processes: [{ pid: 4242, gpuUuid: 'GPU-1', usedMemoryMb: 500 }],
    };
  }
  availability(): GpuAvailability {
    return { provider: 'nvidia', available: this.running, reason: this.running ? null : 'stopped' };
  }
  async stop(): Promise<void> {
    this.stops++;
    this.running = false;
  }
}

function setup(d: string, clock: FakeClock, pid: number, alive: Set<number>) {
  const lock = new LeaderLock({ dir: d, clock, pid, isAlive: (p) => alive.has(p) });
  const system = new CountingSystem();
  const gpu = new CountingGpu(clock);
  const shared = new SharedSampling({ dir: d, clock, lock, localSystem: system, localGpu: gpu, pid });
  return { lock, system, gpu, shared };
}

/** Two windows on one storage folder: `a` leads (it started first), `b` follows. */
async function twoWindows() {
  const d = mkdtempSync(join(tmpdir(), 'model-perf-shared-'));
  const clock = new FakeClock();
  const alive = new Set([1, 2]);
  const a = setup(d, clock, 1, alive);
  const b = setup(d, clock, 2, alive);
  await a.lock.start();
  await b.lock.start();
  return { d, clock, a, b };
}

test('the follower reads what the leader sampled and never starts its own GPU tool', async () => {
  const { d, clock, a, b } = await twoWindows();
  assert.equal((await a.shared.gpuProvider.start(1000)).available, true);
  // The follower's first read leaves its note: from then on the leader publishes.
  assert.equal((await b.shared.systemSampler.sample()).cpuUsagePercent, null, 'nothing published yet');
  await waitUntil('the follower\'s note', () => readdirSync(join(d, READERS_DIR_NAME)).some((n) => n.startsWith('2-')), { timeoutMs: 30_000, everyMs: 10 });
  await a.shared.systemSampler.sample();
  await a.shared.gpuProvider.read();
  await flushPromises();
  // The atomic write goes through real fs: wait for the file, not a fixed time.
  const published = await waitUntil('the leader\'s published sample', () => {
    try {
      return parsePublishedSample(readFileSync(join(d, LIVE_FILE_NAME), 'utf8'));
    } catch {
      return null;
    }
  }, { timeoutMs: 30_000, everyMs: 10 });
  assert.equal(published?.pid, 1);
  assert.equal(published?.gpu?.gpus[0]?.vramUsedMb, 512);

  // Past the follower's half-interval cache of its first (empty) read.
  await clock.advance(600);
  assert.equal((await b.shared.gpuProvider.start(1000)).available, true, 'the follower takes the leader\'s availability');
  assert.deepEqual(await b.shared.systemSampler.sample(), reading);
  const gpuSample = await b.shared.gpuProvider.read();
  assert.equal(gpuSample?.gpus[0]?.name, 'Fake');
  assert.deepEqual(gpuSample?.processes, [{ pid: 4242, gpuUuid: 'GPU-1', usedMemoryMb: 500 }]);
  assert.equal(b.gpu.starts, 0);
  assert.equal(b.system.calls, 0);
  await a.shared.dispose();
  await b.shared.dispose();
  await a.lock.stop();
  await b.lock.stop();
});

test('a follower that becomes leader starts its own GPU provider; the old leader stops its own', async () => {
  const { clock, a, b } = await twoWindows();
  await a.shared.gpuProvider.start(1000);
  await b.shared.gpuProvider.start(1000);
  assert.equal(b.gpu.starts, 0);
  await a.lock.stop(); // window closed
  await a.shared.dispose();
  assert.equal(a.gpu.stops, 1);
  await clock.advance(1000);
  await b.lock.whenIdle();
  await flushPromises();
  assert.equal(b.lock.role, 'leader');
  assert.equal(b.gpu.starts, 1);
  await b.shared.dispose();
  await b.lock.stop();
});

test('a stale or hostile live file gives unknowns, not figures', async () => {
  const d = mkdtempSync(join(tmpdir(), 'model-perf-shared-'));
  const clock = new FakeClock();
  const alive = new Set([1, 2]);
  // A leader that is alive holds the lock, but its file is old.
  writeFileSync(join(d, 'leader.lock'), JSON.stringify({ pid: 1, token: 'c'.repeat(32), heartbeatAt: clock.now() }));
  const b = setup(d, clock, 2, alive);
  await b.lock.start();
  assert.equal(b.lock.role, 'follower');
  writeFileSync(join(d, LIVE_FILE_NAME), JSON.stringify({ version: 1, pid: 1, publishedAt: clock.now() - 60_000, system: reading, gpu: null, availability: { provider: 'nvidia', available: true, reason: null } }));
  assert.equal((await b.shared.systemSampler.sample()).cpuUsagePercent, null);
  const hostile = [
    'garbage',
    JSON.stringify({ version: 2, pid: 1, publishedAt: clock.now() }),
    JSON.stringify({ version: 1, pid: 1, publishedAt: clock.now(), availability: { provider: 'evil', available: true } }),
  ];
  for (const text of hostile) assert.equal(parsePublishedSample(text), null, text);
  const odd = parsePublishedSample(JSON.stringify({
    version: 1, pid: 1, publishedAt: 5,
    system: { cpuUsagePercent: 'high', ramUsedMb: 5 },
    gpu: { timestamp: 5, gpus: [{ index: 0, name: 'x'.repeat(1000), vramUsedMb: '1' }, { name: 'no index' }], processes: [{ pid: -1 }, { pid: 3, usedMemoryMb: 7 }] },
    availability: { provider: 'nvidia', available: true, reason: null },
  }));
  assert.equal(odd?.system?.cpuUsagePercent, null);
  assert.equal(odd?.system?.ramUsedMb, 5);
  assert.equal(odd?.gpu?.gpus.length, 1);
  assert.equal(odd?.gpu?.gpus[0]?.name.length, 200);
  assert.equal(odd?.gpu?.gpus[0]?.vramUsedMb, null);
  assert.deepEqual(odd?.gpu?.processes, [{ pid: 3, gpuUuid: null, usedMemoryMb: 7 }]);
  // The VRAM share is derived from the file's MiB figures, never taken from the file.
  const share = parsePublishedSample(JSON.stringify({
    version: 1, pid: 1, publishedAt: 5,
    gpu: { timestamp: 5, gpus: [{ index: 0, name: 'g', vramUsedMb: 2048, vramTotalMb: 8192, vramUsedPercent: 99 }, { index: 1, name: 'h', vramUsedMb: 1, vramUsedPercent: 'x' }] },
    availability: { provider: 'nvidia', available: true, reason: null },
  }));
  assert.deepEqual(share?.gpu?.gpus.map((g) => g.vramUsedPercent), [25, null]);
  await b.shared.dispose();
  await b.lock.stop();
});

test('a lone leader publishes nothing; a reader\'s note starts the publishing at once, and its going stops it', async () => {
  const { d, clock, a } = await twoWindows();
  const live = join(d, LIVE_FILE_NAME);
  await a.shared.gpuProvider.start(1000);
  for (let i = 0; i < 3; i++) {
    await a.shared.systemSampler.sample();
    await a.shared.gpuProvider.read();
    await flushPromises();
    await new Promise((r) => setImmediate(r));
    await clock.advance(1000);
  }
  assert.equal(existsSync(live), false, 'no reader: no write');
  // A reader (a window that follows, `model-perf status`) appears: the last readings go out without waiting for a sample.
  // As a reader does: the folder made if the leader has not made it yet, then the note.
  mkdirSync(join(d, READERS_DIR_NAME), { recursive: true });
  writeFileSync(join(d, READERS_DIR_NAME, `77-${clock.now()}`), '');
  await a.shared.systemSampler.sample();
  const first = await waitUntil('the published sample', () => (existsSync(live) ? parsePublishedSample(readFileSync(live, 'utf8')) : null), { timeoutMs: 30_000, everyMs: 10 });
  assert.equal(first?.system?.cpuUsagePercent, 42);
  // The reader stops reading: once its note is older than the stale time, the leader stops writing.
  await clock.advance(6000);
  for (let i = 0; i < 4; i++) {
    await a.shared.systemSampler.sample();
    await new Promise((r) => setImmediate(r));
    await flushPromises();
    await clock.advance(1000);
  }
  await a.shared.dispose();
  const last = parsePublishedSample(readFileSync(live, 'utf8'));
  assert.ok(last && clock.now() - last.publishedAt > 5000, 'not rewritten after the reader went');
  await a.lock.stop();
});

test('reader notes: <pid>-<epoch ms> only; anything else in the folder is ignored', () => {
  assert.deepEqual(parseReaderNote('123-1767225600000'), { pid: 123, at: 1767225600000 });
  for (const bad of ['', '-5', '12-', 'abc-5', '12-5x', '12345678901-5', '1-12345678901234567', 'live-sample.json', '12-5.tmp']) assert.equal(parseReaderNote(bad), null, bad);
});
