import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LEADER_FILE_NAME, LeaderLock, LockObserver, parseLeaderRecord } from '../../../src/core/sharing/leadership';
import { FakeClock } from '../helpers/fakeClock';
import { waitUntil } from '../helpers/waitUntil';

/** Advances the fake clock a second at a time, letting each lock's real file I/O finish. */
async function step(clock: FakeClock, locks: LeaderLock[], ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 1000) {
    await clock.advance(Math.min(1000, ms - t));
    await Promise.all(locks.map((l) => l.whenIdle()));
  }
}

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'model-perf-lock-'));
}

test('the first window leads, the second follows, and takes over within the stale time when the first dies', async () => {
  const d = dir();
  const clock = new FakeClock();
  const alive = new Set([101, 102]);
  const isAlive = (pid: number) => alive.has(pid);
  const a = new LeaderLock({ dir: d, clock, pid: 101, isAlive });
  const b = new LeaderLock({ dir: d, clock, pid: 102, isAlive });
  assert.equal(await a.start(), 'leader');
  assert.equal(await b.start(), 'follower');
  await step(clock, [a, b], 10_000);
  assert.equal(a.role, 'leader', 'heartbeats keep the lock');
  assert.equal(b.role, 'follower');

  // The first window's process is killed: no clean release, no more heartbeats.
  const roles: string[] = [];
  b.onRoleChange((r) => roles.push(r));
  // Simulate the kill: stop a's timer without releasing, by forgetting it and marking it dead.
  alive.delete(101);
  const killed = a as unknown as { currentRole: string; timer: Parameters<FakeClock['clearTimeout']>[0] };
  clock.clearTimeout(killed.timer);
  killed.currentRole = 'stopped';
  await step(clock, [b], 1_000);
  assert.equal(b.role, 'leader', 'a dead holder is replaced at the next check');
  assert.deepEqual(roles, ['leader']);
  await b.stop();
});

test('a live but silent holder is replaced only after the stale time', async () => {
  const d = dir();
  const clock = new FakeClock();
  writeFileSync(join(d, LEADER_FILE_NAME), JSON.stringify({ pid: 999, token: 'a'.repeat(32), heartbeatAt: clock.now() }));
  const b = new LeaderLock({ dir: d, clock, pid: 102, isAlive: () => true, staleMs: 5000 });
  assert.equal(await b.start(), 'follower');
  await step(clock, [b], 4_000);
  assert.equal(b.role, 'follower');
  await step(clock, [b], 2_000);
  assert.equal(b.role, 'leader');
  await b.stop();
});

test('a clean stop releases the lock at once and another window leads at its next check', async () => {
  const d = dir();
  const clock = new FakeClock();
  const a = new LeaderLock({ dir: d, clock, pid: 101, isAlive: () => true });
  const b = new LeaderLock({ dir: d, clock, pid: 102, isAlive: () => true });
  await a.start();
  await b.start();
  await a.stop();
  assert.equal(a.role, 'stopped');
  assert.equal(existsSync(join(d, LEADER_FILE_NAME)), false);
  await step(clock, [b], 1_000);
  assert.equal(b.role, 'leader');
  await b.stop();
});

test('a corrupt or hostile lock file is replaced, never trusted', async () => {
  for (const content of ['', 'not json', '{"pid":"1","token":"x","heartbeatAt":1}', JSON.stringify({ pid: -4, token: 'a'.repeat(32), heartbeatAt: 1 }), '{"__proto__":{"pid":1}}']) {
    const d = dir();
    writeFileSync(join(d, LEADER_FILE_NAME), content);
    const clock = new FakeClock();
    const lock = new LeaderLock({ dir: d, clock, pid: 7, isAlive: () => true });
    assert.equal(await lock.start(), 'leader', `content ${JSON.stringify(content)}`);
    const rec = parseLeaderRecord(readFileSync(join(d, LEADER_FILE_NAME), 'utf8'));
    assert.equal(rec?.pid, 7);
    await lock.stop();
  }
});

test('if another window wins the race, this one steps down at its next heartbeat', async () => {
  const d = dir();
  const clock = new FakeClock();
  const logs: string[] = [];
  const a = new LeaderLock({ dir: d, clock, pid: 101, isAlive: () => true, onLog: (m) => logs.push(m), staleMs: 5000 });
  await a.start();
  writeFileSync(join(d, LEADER_FILE_NAME), JSON.stringify({ pid: 202, token: 'b'.repeat(32), heartbeatAt: clock.now() }));
  // The holder beats every staleMs / 3 (1666 ms here), not every second.
  await step(clock, [a], 1_000);
  assert.equal(a.role, 'leader');
  await step(clock, [a], 1_000);
  assert.equal(a.role, 'follower');
  assert.match(logs.join('\n'), /Another window took over GPU sampling/);
  await a.stop();
});

test('an unwritable storage folder makes the window sample on its own, and says so once', async () => {
  const d = dir();
  const fileAsDir = join(d, 'file');
  writeFileSync(fileAsDir, 'x');
  const clock = new FakeClock();
  const logs: string[] = [];
  const lock = new LeaderLock({ dir: fileAsDir, clock, onLog: (m) => logs.push(m) });
  assert.equal(await lock.start(), 'leader');
  await step(clock, [lock], 3_000);
  assert.equal(logs.length, 1, logs.join('\n'));
  assert.match(logs[0], /Sampler lock at .*leader\.lock failed: .*this window samples on its own/);
  await lock.stop();
});

test('LockObserver follows a window that holds a fresh lock, samples itself otherwise, and never writes', async () => {
  const d = dir();
  const clock = new FakeClock();
  const alive = new Set([555]);
  const observer = new LockObserver({ dir: d, clock, isAlive: (p) => alive.has(p), staleMs: 5000 });
  assert.equal(await observer.start(), 'leader', 'no lock: sample here');
  assert.equal(existsSync(join(d, LEADER_FILE_NAME)), false, 'the observer wrote nothing');
  const roles: string[] = [];
  observer.onRoleChange((r) => roles.push(r));
  const heartbeatAt = clock.now();
  writeFileSync(join(d, LEADER_FILE_NAME), JSON.stringify({ pid: 555, token: 'e'.repeat(32), heartbeatAt }));
  await clock.advance(1000);
  // Each check reads the real file: wait for its result, not a fixed time.
  await waitUntil('the observer follows the window', () => observer.role === 'follower', { timeoutMs: 30_000, everyMs: 10 });
  // The window stops heartbeating: a second at a time until the lock is stale (a check still
  // reading when the clock moves schedules its successor when it ends).
  await waitUntil('the observer samples itself again', async () => {
    await clock.advance(1000);
    return observer.role === 'leader';
  }, { timeoutMs: 30_000, everyMs: 10 });
  assert.ok(clock.now() - heartbeatAt > 5000, 'not before the lock went stale (fake time)');
  assert.deepEqual(roles, ['follower', 'leader']);
  observer.stop();
});

test('the holder rewrites the lock three times per stale window, not every second; followers still check every second', async () => {
  const d = dir();
  const clock = new FakeClock();
  const a = new LeaderLock({ dir: d, clock, pid: 101, isAlive: () => true, staleMs: 6000 });
  const b = new LeaderLock({ dir: d, clock, pid: 102, isAlive: () => true, staleMs: 6000 });
  await a.start();
  await b.start();
  const beats: number[] = [];
  let last = parseLeaderRecord(readFileSync(join(d, LEADER_FILE_NAME), 'utf8'))?.heartbeatAt;
  for (let t = 0; t < 12_000; t += 500) {
    await clock.advance(500);
    await Promise.all([a.whenIdle(), b.whenIdle()]);
    const at = parseLeaderRecord(readFileSync(join(d, LEADER_FILE_NAME), 'utf8'))?.heartbeatAt;
    if (at !== last && at !== undefined) beats.push(at);
    last = at;
  }
  assert.equal(beats.length, 6, `one beat per 2 s over 12 s: ${beats.join(', ')}`);
  assert.ok(beats.every((at, i) => i === 0 || at - (beats[i - 1] as number) === 2000));
  assert.equal(a.role, 'leader');
  assert.equal(b.role, 'follower', 'never stale between two beats');
  await a.stop();
  await b.stop();
});

test('by default a holder beats every 10 s (a stuck one is replaced after 30 s); a dead one is replaced at the next check', async () => {
  const d = dir();
  const clock = new FakeClock();
  const alive = new Set([101, 102]);
  const a = new LeaderLock({ dir: d, clock, pid: 101, isAlive: (p) => alive.has(p) });
  const b = new LeaderLock({ dir: d, clock, pid: 102, isAlive: (p) => alive.has(p) });
  await a.start();
  await b.start();
  const beats = new Set<number>();
  for (let t = 0; t < 30_000; t += 500) {
    await step(clock, [a, b], 500);
    const at = parseLeaderRecord(readFileSync(join(d, LEADER_FILE_NAME), 'utf8'))?.heartbeatAt;
    if (at !== undefined) beats.add(at);
  }
  assert.equal(beats.size, 4, `the start and one beat per 10 s over 30 s: ${[...beats].join(', ')}`);
  assert.equal(b.role, 'follower', 'never stale between two beats');
  alive.delete(101); // window a is killed: its lock stays, fresh
  await step(clock, [b], 1_000);
  assert.equal(b.role, 'leader');
  await b.stop();
  await a.stop();
});
