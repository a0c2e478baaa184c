// Fault injection on the history store, each in a throwaway folder: cut lines, a full disk
// (simulated through the store's fs port: tests may not run as root with a small tmpfs), orphaned
// claims, a folder that cannot be written, migration of the old single file and its crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { appendFile, chmod, mkdir, open, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HISTORY_DIR_NAME, HistorySpooledError, LEGACY_FILE_NAME, QUARANTINE_FILE_NAME, segmentNameFor, serializeRecord, type StoreWarning } from '../../../src/core/history/historyStore';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { FakeSystemSampler } from '../engine/fakes';
import { FakeClock } from '../helpers/fakeClock';
import { DAY, DEAD_PID, NOW, segment, store, task, tempDir } from './storeFixtures';


/** An fs port whose appends to history segments write `partialBytes` and then fail as a full disk does. */
function fullDisk(partialBytes: number, state: { full: boolean }): { open: (p: string, f: string, m?: number) => Promise<FileHandle> } {
  return {
    open: async (p, f, m) => {
      const fh = await open(p, f, m);
      if (!state.full) return fh;
      const write = async (buf: Buffer, off = 0, len = buf.length - off): Promise<{ bytesWritten: number; buffer: Buffer }> => {
        await fh.write(buf, off, Math.min(len, partialBytes));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      };
      return new Proxy(fh, { get: (target, key) => (key === 'write' ? write : (Reflect.get(target, key) as unknown as { bind?: (x: unknown) => unknown })?.bind?.(target) ?? Reflect.get(target, key)) });
    },
  };
}

test('a cut-off last line never swallows the next append', async (t) => {
  const dir = await tempDir(t, 'mpm-faults-');
  const warnings: StoreWarning[] = [];
  const s = store(dir, {}, warnings);
  await s.append(task('a'));
  await appendFile(segment(dir), serializeRecord(task('torn')).slice(0, 30)); // a crash mid-write
  await s.append(task('b'));
  const loaded = await s.load(NOW);
  assert.deepEqual(loaded.tasks.map((x) => x.taskId), ['a', 'b']);
  assert.deepEqual(loaded.warnings.map((w) => [w.line, w.reason]), [[2, 'not valid JSON (corrupt line); skipped']]);
});

test('a full disk mid-append leaves no partial record; the task is spooled, not interrupted, and goes in on the next start', async (t) => {
  const dir = await tempDir(t, 'mpm-faults-');
  const state = { full: false };
  const s = store(dir, { fs: fullDisk(25, state) });
  await s.append(task('before'));
  const running = task('big run', { status: 'running', success: false, endTime: null });
  await s.markRunning(running, NOW - 1000);
  state.full = true;
  const finished = task('big run', { endTime: NOW - DAY + 200_000 });
  const err = await s.append(finished).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof HistorySpooledError, String(err));
  assert.equal(err.reason, 'the disk is full');
  assert.match(err.message, /^Cannot append to the history file ".*2026-01-09\.jsonl": the disk is full; the task is kept in ".*spool\/.*\.jsonl" and goes into the history on the next start or save$/);
  // No partial bytes: the segment is exactly what it was.
  assert.equal(await readFile(segment(dir), 'utf8'), serializeRecord(task('before')));
  // The marker is gone, so no later start records the run as interrupted.
  assert.deepEqual(await readdir(join(dir, 'running')), []);

  // Space comes back; the next process's start moves the spooled task in, once, with its true outcome.
  const next = store(dir, { pid: DEAD_PID - 1 });
  assert.deepEqual(await next.recoverInterrupted(NOW, new Set()), []);
  await next.compact(NOW);
  const loaded = await next.load(NOW);
  assert.deepEqual(loaded.warnings, []);
  assert.deepEqual(loaded.tasks.map((x) => [x.taskId, x.status]), [['before', 'succeeded'], ['big run', 'succeeded']]);
  assert.deepEqual(await readdir(join(dir, 'spool')), []);
});

test('the monitor does not record a spooled task as interrupted and reports where it waits', async (t) => {
  const dir = await tempDir(t, 'mpm-faults-');
  const state = { full: false };
  const s = store(dir, { fs: fullDisk(10, state) });
  const clock = new FakeClock();
  const monitor = new PerformanceMonitor({}, { clock, systemSampler: new FakeSystemSampler(), historyStore: s });
  const errors: string[] = [];
  monitor.on('error', (e) => errors.push(e.message));
  await monitor.startMonitoring();
  monitor.startTaskMonitoring('job', 'm', '720p', 1);
  await monitor.ready();
  state.full = true;
  await monitor.completeTaskMonitoring('job');
  await monitor.dispose();
  assert.equal(errors.length, 1);
  assert.match(errors[0] ?? '', /^Task "job" could not be saved to the history in .*: Cannot append .*: the disk is full; the task is kept in ".*spool.*"/);
  const later = store(dir, { pid: DEAD_PID - 2 });
  assert.deepEqual(await later.recoverInterrupted(clock.now(), new Set()), []);
  await later.compact(clock.now());
  assert.deepEqual((await later.load(clock.now())).tasks.map((x) => [x.taskId, x.status]), [['job', 'succeeded']]);
});

test('a claimed marker whose claimer died is recorded once, never orphaned nor doubled', async (t) => {
  const dir = await tempDir(t, 'mpm-faults-');
  const s = store(dir, { pid: DEAD_PID });
  const running = task('orphan', { status: 'running', success: false, endTime: null });
  await s.markRunning(running, NOW - 5000);
  const [name] = await readdir(join(dir, 'running'));
  // The claimer (a dead pid) renamed it, then died before recording.
  await rename(join(dir, 'running', name as string), join(dir, 'running', `${name}.claimed-${DEAD_PID + 1}-abcd1234`));
  const me = store(dir);
  assert.deepEqual((await me.recoverInterrupted(NOW, new Set())).map((x) => [x.taskId, x.status]), [['orphan', 'interrupted']]);
  assert.deepEqual(await readdir(join(dir, 'running')), []);
  // A claimer that wrote the record and died before removing its claim: not recorded twice.
  await s.markRunning({ ...running, taskId: 'written' }, NOW - 5000);
  const [n2] = await readdir(join(dir, 'running'));
  await me.append({ ...running, taskId: 'written', status: 'interrupted', success: false, endTime: NOW - 5000, generationTimeSeconds: null, errorCategory: 'interrupted' });
  await rename(join(dir, 'running', n2 as string), join(dir, 'running', `${n2}.claimed-${DEAD_PID + 1}-abcd1234`));
  assert.deepEqual(await me.recoverInterrupted(NOW, new Set()), []);
  assert.deepEqual((await me.load(NOW)).tasks.map((x) => x.taskId), ['orphan', 'written']);
});

test('reading needs no lock and writes nothing: load and iterate work while the lock cannot be taken', async (t) => {
  const dir = await tempDir(t, 'mpm-faults-');
  const s = store(dir);
  await s.append(task('a'));
  await writeFile(join(dir, LEGACY_FILE_NAME), serializeRecord(task('legacy', { startTime: NOW - 2 * DAY, endTime: NOW - 2 * DAY + 1 })));
  // A folder where the lock file would go: every attempt to take the lock fails, as on a read-only disk.
  await mkdir(join(dir, 'history.lock'));
  const before = JSON.stringify([await readdir(dir), await readdir(join(dir, HISTORY_DIR_NAME))]);
  const reader = store(dir, { lockTimeoutMs: 20 });
  assert.deepEqual((await reader.load(NOW)).tasks.map((x) => x.taskId), ['legacy', 'a']);
  const seen: string[] = [];
  for await (const x of reader.iterate({ nowMs: NOW })) seen.push(x.taskId);
  assert.deepEqual(seen, ['legacy', 'a']);
  // A dead process's marker cannot be recorded now: reported, not thrown, and left for later.
  await store(dir, { pid: DEAD_PID }).markRunning(task('dead', { status: 'running', endTime: null }), NOW);
  const warnings: StoreWarning[] = [];
  assert.deepEqual(await store(dir, { lockTimeoutMs: 20 }, warnings).recoverInterrupted(NOW, new Set()), []);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]?.reason ?? '', /^tasks of ended processes cannot be recorded now \(Timed out after 20 ms waiting for the history lock .*\); a later start will$/);
  assert.equal(JSON.stringify([(await readdir(dir)).filter((n) => n !== 'running'), await readdir(join(dir, HISTORY_DIR_NAME))]), before);
});

test('the old single history.jsonl is migrated on the first write, announced, bad lines quarantined, the old file removed after the check', async (t) => {
  const dir = await tempDir(t, 'mpm-faults-');
  const legacy = join(dir, LEGACY_FILE_NAME);
  const day1 = task('d1', { startTime: NOW - 3 * DAY, endTime: NOW - 3 * DAY + 1000 });
  const day2 = task('d2');
  // day2's line starts with a byte-order mark (an editor saved the file): read, migrated, counted.
  await writeFile(legacy, serializeRecord(day1) + 'garbage\n' + '\uFEFF' + serializeRecord(day2) + `${JSON.stringify({ schemaVersion: 0, taskId: 'old' })}\n`);
  await chmod(legacy, 0o644); // as an older build under umask 022 left it
  const logs: string[] = [];
  const warnings: StoreWarning[] = [];
  const s = store(dir, {}, warnings, logs);
  // Read first: the old file is read as it is, nothing written.
  assert.deepEqual((await s.load(NOW)).tasks.map((x) => x.taskId), ['d1', 'd2']);
  assert.deepEqual(await readdir(dir), [LEGACY_FILE_NAME]);
  warnings.length = 0;
  await s.append(task('new'));
  assert.equal(existsSync(legacy), false);
  assert.equal(logs.length, 2);
  assert.equal(logs[0], `The history file ${legacy} was open to other users (mode 644); now 600, readable by you only.`);
  assert.match(logs[1] ?? '', new RegExp(`^Migrated the history ".*history\\.jsonl" \\(2 tasks, 2 unreadable lines moved to ".*${QUARANTINE_FILE_NAME}"\\) to day segments in ".*history" in \\d+ ms; the old file was removed after the check\\.$`));
  const q = join(dir, HISTORY_DIR_NAME, QUARANTINE_FILE_NAME);
  assert.deepEqual(warnings, [
    { file: legacy, line: 2, reason: `not valid JSON (corrupt line); moved to ${q}` },
    { file: legacy, line: 4, reason: `unknown schema version 0; moved to ${q}` },
  ]);
  assert.equal(await readFile(segment(dir, day1), 'utf8'), serializeRecord(day1));
  // Its summary counted the BOM line as the task it is (a compaction finds nothing to fix).
  assert.deepEqual(await s.compact(NOW), { kept: 3, droppedExpired: 0, droppedOverCount: 0, droppedCorrupt: 0, keptUnknownSchema: 0 });
  assert.deepEqual((await s.load(NOW)).tasks.map((x) => x.taskId), ['d1', 'd2', 'new']);
  assert.equal(await readFile(join(dir, HISTORY_DIR_NAME, QUARANTINE_FILE_NAME), 'utf8'), `garbage\n${JSON.stringify({ schemaVersion: 0, taskId: 'old' })}\n`);
});

test('a migration cut short by a crash is undone and run again: nothing doubled', async (t) => {
  const dir = await tempDir(t, 'mpm-faults-');
  const a = task('a');
  const b = task('b');
  await writeFile(join(dir, LEGACY_FILE_NAME), serializeRecord(a) + serializeRecord(b));
  // The crash: the segment got one record of the migration, the marker names its size before.
  await mkdir(join(dir, HISTORY_DIR_NAME));
  await writeFile(segment(dir), serializeRecord(a));
  await writeFile(join(dir, HISTORY_DIR_NAME, 'migration.json'), JSON.stringify({ [segmentNameFor(a)]: 0 }));
  const s = store(dir);
  // Readers meanwhile do not see the half-migrated bytes twice.
  assert.deepEqual((await s.load(NOW)).tasks.map((x) => x.taskId), ['a', 'b']);
  await s.append(task('c'));
  assert.deepEqual((await s.load(NOW)).tasks.map((x) => x.taskId), ['a', 'b', 'c']);
  assert.equal(existsSync(join(dir, HISTORY_DIR_NAME, 'migration.json')), false);
});

test('recovering a dead task on a full disk spools it instead of failing the start; it is recorded once later', async (t) => {
  const dir = await tempDir(t, 'mpm-faults-');
  await store(dir).append(task('seed'));
  await store(dir, { pid: DEAD_PID }).markRunning(task('dead run', { status: 'running', success: false, endTime: null }), NOW - 1000);
  const state = { full: true };
  const warnings: StoreWarning[] = [];
  const s = store(dir, { fs: fullDisk(5, state) }, warnings);
  assert.deepEqual((await s.recoverInterrupted(NOW, new Set())).map((x) => [x.taskId, x.status]), [['dead run', 'interrupted']]);
  assert.deepEqual(await readdir(join(dir, 'running')), []);
  assert.equal((await readdir(join(dir, 'spool'))).length, 1);
  const later = store(dir);
  assert.deepEqual(await later.recoverInterrupted(NOW, new Set()), []);
  await later.append(task('next'));
  assert.deepEqual((await later.load(NOW)).tasks.map((x) => [x.taskId, x.status]), [['seed', 'succeeded'], ['dead run', 'interrupted'], ['next', 'succeeded']]);
});

test('a run that outlived its window is not recorded as interrupted while it goes on; the window that adopts it releases its marker', async (t) => {
  const dir = await tempDir(t, 'mpm-faults-');
  const going = new Set([4242]);
  const opts = { isProcessAlive: (pid: number) => pid === 1 || pid === 2, isRunGoing: (rootPid: number) => going.has(rootPid) };
  // Window A (pid 9, now ended) followed the run of process 4242; window B (pid 1) starts.
  await store(dir, { pid: 9, ...opts }).markRunning(task('long-run', { status: 'running', endTime: null, rootPid: 4242 }), NOW - 60_000);
  const b = store(dir, { pid: 1, ...opts });
  assert.deepEqual(await b.recoverInterrupted(NOW, new Set()), [], 'the run goes on: not interrupted');
  assert.deepEqual(await b.recoverInterrupted(NOW, new Set()), [], 'and not on a later reload either');
  // Window B adopts the run: the old marker is its task now.
  assert.equal(await b.releaseRunMarkers(4242), 1);
  going.delete(4242);
  assert.deepEqual(await b.recoverInterrupted(NOW, new Set()), [], 'nothing left to record twice');

  // Nobody adopts a second run: once its process is gone it is recorded as interrupted, once.
  going.add(5151);
  await store(dir, { pid: 9, ...opts }).markRunning(task('orphan', { status: 'running', endTime: null, rootPid: 5151 }), NOW - 60_000);
  assert.deepEqual(await b.recoverInterrupted(NOW, new Set()), []);
  going.delete(5151);
  assert.deepEqual((await b.recoverInterrupted(NOW, new Set())).map((x) => `${x.taskId}:${x.status}`), ['orphan:interrupted']);
  // A live window's markers are never released by another.
  await store(dir, { pid: 2, ...opts }).markRunning(task('live', { status: 'running', endTime: null, rootPid: 6000 }), NOW);
  assert.equal(await b.releaseRunMarkers(6000), 0);
});
