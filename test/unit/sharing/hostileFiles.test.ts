// The shared files are inputs from any process of this user (or a bug, or a clock that jumped):
// a lock or sample from the future is stale, not fresh for ever; a huge file is refused unread
// with a log line; impossible figures are unknown; and the folder and files are private (0700 /
// 0600) whatever the umask, existing ones tightened with a log line. All in temp folders.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LEADER_FILE_NAME, LeaderLock, LockObserver, MAX_LEADER_FILE_BYTES } from '../../../src/core/sharing/leadership';
import { LIVE_FILE_NAME, MAX_LIVE_FILE_BYTES, READERS_DIR_NAME, SharedSampling, parsePublishedSample } from '../../../src/core/sharing/sharedSampling';
import { OversizedFileError, readBoundedText } from '../../../src/core/util/privateFiles';
import type { Role, RoleSource } from '../../../src/core/sharing/leadership';
import type { GpuProvider, SystemSampler } from '../../../src/core/ports';
import { FakeClock } from '../helpers/fakeClock';
import { waitUntil } from '../helpers/waitUntil';

const YEAR_MS = 365 * 24 * 3600 * 1000;
const folders: string[] = [];
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'model-perf-hostile-'));
  folders.push(d);
  return d;
}
after(() => {
  for (const d of folders) rmSync(d, { recursive: true, force: true });
});

const follower: RoleSource = { role: 'follower' as Role, onRoleChange: () => () => {} };
const neverSystem: SystemSampler = {
  sample: () => Promise.reject(new Error('a follower must not sample')),
};
const neverGpu: GpuProvider = {
  kind: 'nvidia',
  start: () => Promise.reject(new Error('a follower must not start the GPU tool')),
  read: () => Promise.resolve(null),
  availability: () => ({ provider: 'none', available: false, reason: 'n/a' }),
  stop: () => Promise.resolve(),
};
const sample = (publishedAt: number) =>
  JSON.stringify({ version: 1, pid: 1, publishedAt, system: { cpuUsagePercent: 42, ramUsedMb: 1000, ramAvailableMb: 3000, ramTotalMb: 4000, diskUsagePercent: 10 }, gpu: null, availability: { provider: 'nvidia', available: true, reason: null } });

test('a leader.lock heartbeat a year ahead is stale: a window takes over and the CLI samples itself', async () => {
  const d = dir();
  const clock = new FakeClock();
  writeFileSync(join(d, LEADER_FILE_NAME), JSON.stringify({ pid: 999, token: 'a'.repeat(32), heartbeatAt: clock.now() + YEAR_MS }));
  const observer = new LockObserver({ dir: d, clock, isAlive: () => true });
  assert.equal(await observer.start(), 'leader');
  observer.stop();
  const lock = new LeaderLock({ dir: d, clock, pid: 102, isAlive: () => true });
  assert.equal(await lock.start(), 'leader');
  await lock.stop();
  // A heartbeat within the small skew still counts.
  writeFileSync(join(d, LEADER_FILE_NAME), JSON.stringify({ pid: 999, token: 'a'.repeat(32), heartbeatAt: clock.now() + 1000 }));
  const near = new LockObserver({ dir: d, clock, isAlive: () => true });
  assert.equal(await near.start(), 'follower');
  near.stop();
});

test('a live-sample.json published a year ahead gives unknowns, not figures for ever', async () => {
  const d = dir();
  const clock = new FakeClock();
  const shared = new SharedSampling({ dir: d, clock, lock: follower, localSystem: neverSystem, localGpu: neverGpu, pid: 2 });
  writeFileSync(join(d, LIVE_FILE_NAME), sample(clock.now() + YEAR_MS));
  assert.equal((await shared.systemSampler.sample()).cpuUsagePercent, null);
  await clock.advance(1000);
  writeFileSync(join(d, LIVE_FILE_NAME), sample(clock.now()));
  assert.equal((await shared.systemSampler.sample()).cpuUsagePercent, 42);
  await shared.dispose();
});

test('a 110 MB live-sample.json (sparse) is refused unread, with one log line', async () => {
  const d = dir();
  const clock = new FakeClock();
  const log: string[] = [];
  const shared = new SharedSampling({ dir: d, clock, lock: follower, localSystem: neverSystem, localGpu: neverGpu, pid: 2, onLog: (m) => log.push(m) });
  const file = join(d, LIVE_FILE_NAME);
  writeFileSync(file, sample(clock.now()));
  truncateSync(file, 110 * 1024 * 1024);
  assert.equal((await shared.systemSampler.sample()).cpuUsagePercent, null);
  await clock.advance(1000);
  assert.equal((await shared.systemSampler.sample()).cpuUsagePercent, null);
  assert.equal(log.length, 1, log.join('\n'));
  assert.match(log[0] ?? '', /live-sample\.json is 115343360 bytes, more than the 1048576 bytes such a file can hold; it was not read/);
  await shared.dispose();
  await assert.rejects(readBoundedText(file, MAX_LIVE_FILE_BYTES), OversizedFileError);
});

test('an oversized leader.lock is not read: it is replaced, with a log line', async () => {
  const d = dir();
  const clock = new FakeClock();
  const log: string[] = [];
  writeFileSync(join(d, LEADER_FILE_NAME), ' '.repeat(MAX_LEADER_FILE_BYTES + 1));
  const lock = new LeaderLock({ dir: d, clock, pid: 102, isAlive: () => true, onLog: (m) => log.push(m) });
  assert.equal(await lock.start(), 'leader');
  assert.ok(log.some((l) => /leader\.lock is 4097 bytes, more than the 4096 bytes .* it is replaced/.test(l)), log.join('\n'));
  assert.ok(statSync(join(d, LEADER_FILE_NAME)).size < 200);
  await lock.stop();
});

test('impossible figures in a published sample are unknown: negative, over 100 %, more VRAM used than there is, absurd temperature', () => {
  const p = parsePublishedSample(JSON.stringify({
    version: 1, pid: 1, publishedAt: 5,
    system: { cpuUsagePercent: -5, ramUsedMb: 9000, ramAvailableMb: -1, ramTotalMb: 8000, diskUsagePercent: 250 },
    gpu: {
      timestamp: 5,
      gpus: [
        { index: 0, name: 'bad', utilizationPercent: 150, memoryUtilizationPercent: -1, vramUsedMb: 90_000, vramTotalMb: 24_000, temperatureCelsius: 5000, powerDrawWatts: -20, powerLimitWatts: 1e12, smClockMhz: -1, smClockMaxMhz: 1e9, clockEventReasons: 0.5, performanceState: 'P0', mig: false },
        { index: 1, name: 'good', utilizationPercent: 100, memoryUtilizationPercent: 0, vramUsedMb: 24_000, vramTotalMb: 24_000, temperatureCelsius: 83, powerDrawWatts: 350, powerLimitWatts: 450, smClockMhz: 2520, smClockMaxMhz: 3105, clockEventReasons: 0x44, performanceState: 'P2', mig: false },
        { index: -3, name: 'negative index' },
      ],
      processes: [{ pid: 3, usedMemoryMb: -7 }],
    },
    availability: { provider: 'nvidia', available: true, reason: null },
  }));
  assert.deepEqual(p?.system, { cpuUsagePercent: null, ramUsedMb: null, ramAvailableMb: null, ramTotalMb: 8000, diskUsagePercent: null });
  const [bad, good, ...rest] = p?.gpu?.gpus ?? [];
  assert.equal(rest.length, 0);
  assert.deepEqual(
    [bad?.utilizationPercent, bad?.memoryUtilizationPercent, bad?.vramUsedMb, bad?.vramTotalMb, bad?.temperatureCelsius, bad?.powerDrawWatts, bad?.powerLimitWatts, bad?.smClockMhz],
    [null, null, null, 24_000, null, null, null, null],
  );
  assert.deepEqual([good?.utilizationPercent, good?.vramUsedMb, good?.temperatureCelsius, good?.powerDrawWatts, good?.smClockMhz], [100, 24_000, 83, 350, 2520]);
  // The clock event reasons travel through the published sample; a fraction or an absurd clock does not.
  assert.deepEqual([good?.smClockMaxMhz, good?.clockEventReasons], [3105, 0x44]);
  assert.deepEqual([bad?.smClockMaxMhz, bad?.clockEventReasons], [null, null]);
  assert.deepEqual(p?.gpu?.processes, [{ pid: 3, gpuUuid: null, usedMemoryMb: null }]);
  assert.equal(parsePublishedSample(JSON.stringify({ version: 1, pid: -1, publishedAt: 5, availability: { provider: 'none', available: false } })), null);
});

const posix = process.platform === 'win32' ? 'file modes are POSIX' : false;

test('under umask 000 the storage folder is created 0700 and leader.lock and live-sample.json 0600', { skip: posix }, async () => {
  const previous = process.umask(0);
  try {
    const d = join(dir(), 'nested', 'model-perf');
    const clock = new FakeClock();
    const lock = new LeaderLock({ dir: d, clock, pid: 102, isAlive: () => true });
    assert.equal(await lock.start(), 'leader');
    assert.equal(statSync(d).mode & 0o777, 0o700);
    assert.equal(statSync(join(d, LEADER_FILE_NAME)).mode & 0o777, 0o600);
    // A heartbeat rewrites the lock: still private.
    await clock.advance(1000);
    await lock.whenIdle();
    assert.equal(statSync(join(d, LEADER_FILE_NAME)).mode & 0o777, 0o600);
    const localSystem: SystemSampler = { sample: async () => ({ cpuUsagePercent: 1, ramUsedMb: 1, ramAvailableMb: 1, ramTotalMb: 2, diskUsagePercent: 1 }) };
    const shared = new SharedSampling({ dir: d, clock, lock, localSystem, localGpu: neverGpu, pid: 102 });
    await shared.systemSampler.sample();
    // A reader's note, left under the same umask: the leader publishes for it.
    const reader = new SharedSampling({ dir: d, clock, lock: follower, localSystem: neverSystem, localGpu: neverGpu, pid: 7 });
    await reader.systemSampler.sample();
    await waitUntil('the published sample', () => existsSync(join(d, LIVE_FILE_NAME)), { timeoutMs: 30_000, everyMs: 10 });
    await shared.dispose();
    assert.equal(statSync(join(d, LIVE_FILE_NAME)).mode & 0o777, 0o600);
    assert.equal(statSync(join(d, READERS_DIR_NAME)).mode & 0o777, 0o700);
    const [note] = readdirSync(join(d, READERS_DIR_NAME));
    assert.equal(statSync(join(d, READERS_DIR_NAME, note as string)).mode & 0o777, 0o600);
    await reader.dispose();
    assert.deepEqual(readdirSync(join(d, READERS_DIR_NAME)), [], 'a reader removes its note when it goes');
    await lock.stop();
  } finally {
    process.umask(previous);
  }
});

test('an existing world-writable folder and world-readable files are tightened on start, with a log line each', { skip: posix }, async () => {
  const d = join(dir(), 'open');
  mkdirSync(d);
  chmodSync(d, 0o777);
  writeFileSync(join(d, LIVE_FILE_NAME), sample(0));
  chmodSync(join(d, LIVE_FILE_NAME), 0o666);
  writeFileSync(join(d, LEADER_FILE_NAME), JSON.stringify({ pid: 999, token: 'a'.repeat(32), heartbeatAt: 0 }));
  chmodSync(join(d, LEADER_FILE_NAME), 0o644);
  const log: string[] = [];
  const lock = new LeaderLock({ dir: d, clock: new FakeClock(), pid: 102, isAlive: () => false, onLog: (m) => log.push(m) });
  await lock.start();
  assert.equal(statSync(d).mode & 0o777, 0o700);
  assert.equal(statSync(join(d, LIVE_FILE_NAME)).mode & 0o777, 0o600);
  assert.match(log.join('\n'), /The folder .*open was open to other users \(mode 777\); now 700, readable by you only\./);
  assert.match(log.join('\n'), /The shared sample file .*live-sample\.json was open to other users \(mode 666\); now 600/);
  assert.match(log.join('\n'), /The sampler lock .*leader\.lock was open to other users \(mode 644\); now 600/);
  await lock.stop();
});

test('names and reasons in a published sample reach the terminal without escape sequences', () => {
  const p = parsePublishedSample(JSON.stringify({
    version: 1, pid: 1, publishedAt: 5, system: null,
    gpu: { timestamp: 5, gpus: [{ index: 0, uuid: 'GPU-\u001b[2J', name: 'H100\u001b]0;owned\u0007\u001b[31m', performanceState: 'P\u00070' }], processes: null },
    availability: { provider: 'none', available: false, reason: 'no GPU\u001b[2J\u001b[H' },
  }));
  const gpu = p?.gpu?.gpus[0];
  assert.deepEqual([gpu?.name, gpu?.uuid, gpu?.performanceState, p?.availability.reason], ['H100', 'GPU-', 'P\uFFFD0', 'no GPU']);
});
