import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { HISTORY_DIR_NAME, HistorySpooledError, HistoryStoreError, QUARANTINE_FILE_NAME, defaultStorageDir, serializeRecord, type StoreWarning } from '../../../src/core/history/historyStore';
import { makeTask } from '../engine/fakes';
import { DAY, DEAD_PID, NOW, segment, store, task, tempDir } from './storeFixtures';


test('appended tasks come back from their day segment, each line stamped with the schema version', async (t) => {
  const dir = await tempDir(t, 'mpm-store-');
  const s = store(join(dir, 'nested', 'folder'));
  await s.append(task('a', { optimizationsApplied: ['xformers'], peakVramUsageMb: 1234.5 }));
  await s.append(task('b', { status: 'failed', success: false, errorCategory: 'oom' }));
  const loaded = await s.load(NOW);
  assert.deepEqual(loaded.warnings, []);
  assert.equal(loaded.needsCompaction, false);
  assert.deepEqual(loaded.tasks, [task('a', { optimizationsApplied: ['xformers'], peakVramUsageMb: 1234.5 }), task('b', { status: 'failed', success: false, errorCategory: 'oom' })]);
  const file = segment(join(dir, 'nested', 'folder'));
  assert.match(file, /history\/2026-01-09\.jsonl$/);
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  assert.equal(lines.length, 2);
  for (const l of lines) assert.equal((JSON.parse(l) as { schemaVersion: number }).schemaVersion, 1);
  await assert.rejects(s.append(task('r', { status: 'running' })), { name: 'HistoryStoreError', message: 'Task "r" is still running; only finished tasks are written to history' });
});

test('history folder 0700 and files 0600 under umask 000; existing wide modes are tightened with a log line', { skip: process.platform === 'win32' }, async (t) => {
  const dir = await tempDir(t, 'mpm-store-');
  const old = process.umask(0);
  t.after(() => void process.umask(old));
  const s = store(dir);
  await s.append(task('a'));
  await s.markRunning(task('r', { status: 'running' }), NOW);
  assert.equal((await stat(join(dir, HISTORY_DIR_NAME))).mode & 0o777, 0o700);
  assert.equal((await stat(segment(dir))).mode & 0o777, 0o600);
  for (const n of await readdir(join(dir, 'running'))) assert.equal((await stat(join(dir, 'running', n))).mode & 0o777, 0o600);
  // A file left world-writable by an older build is tightened on the next start.
  const { chmod } = await import('node:fs/promises');
  await chmod(segment(dir), 0o666);
  const logs: string[] = [];
  await store(dir, {}, [], logs).append(task('b'));
  assert.equal((await stat(segment(dir))).mode & 0o777, 0o600);
  assert.deepEqual(logs, [`The history file ${segment(dir)} was open to other users (mode 666); now 600, readable by you only.`]);
});

test('a missing history is an empty history, and reading it writes nothing', async (t) => {
  const dir = await tempDir(t, 'mpm-store-');
  assert.deepEqual(await store(dir).load(NOW), { tasks: [], warnings: [], needsCompaction: false });
  assert.deepEqual(await readdir(dir), []);
});

test('bad lines are skipped and reported by line; compaction moves them byte for byte to the quarantine and keeps newer-schema lines', async (t) => {
  const dir = await tempDir(t, 'mpm-store-');
  const warnings: StoreWarning[] = [];
  const s = store(dir, {}, warnings);
  await s.append(task('ok'));
  const file = segment(dir);
  const good = serializeRecord(task('ok'));
  const newer = `${JSON.stringify({ schemaVersion: 2, taskId: 'future', shape: 'different' })}\n`;
  const invalidUtf8 = Buffer.concat([Buffer.from('{"schemaVersion":1,"taskId":"caf'), Buffer.from([0xe9, 0xff]), Buffer.from('"}\n')]);
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(serializeRecord(task('bom')))]);
  const rest = Buffer.concat([
    Buffer.from('{"schemaVersion":1,"taskId":\n' + newer + `${JSON.stringify({ taskId: 'noversion' })}\n` + `${JSON.stringify({ ...JSON.parse(good), steps: 'many' })}\n` + '\n'),
    Buffer.from(`${JSON.stringify({ ...JSON.parse(good), schemaVersion: 0 })}\n${JSON.stringify({ ...JSON.parse(good), schemaVersion: '1' })}\n${JSON.stringify({ ...JSON.parse(good), schemaVersion: 1.5 })}\n`),
    invalidUtf8,
    bom,
    Buffer.from(serializeRecord(task('ok2'))),
    Buffer.from(good.slice(0, 40)),
  ]);
  await appendFile(file, rest);
  const loaded = await s.load(NOW);
  assert.deepEqual(loaded.tasks.map((x) => x.taskId), ['ok', 'bom', 'ok2']);
  const expected = [
    { file, line: 2, reason: 'not valid JSON (corrupt line); skipped' },
    { file, line: 3, reason: 'schema version 2 is newer than this build reads (1); skipped, and kept in the file for the newer build' },
    { file, line: 4, reason: 'no schemaVersion; skipped' },
    { file, line: 5, reason: 'field "steps" must be a number; skipped' },
    { file, line: 7, reason: 'unknown schema version 0; skipped' },
    { file, line: 8, reason: 'unknown schema version "1"; skipped' },
    { file, line: 9, reason: 'unknown schema version 1.5; skipped' },
    { file, line: 10, reason: 'not valid UTF-8 text; skipped' },
    { file, line: 13, reason: 'the last line is cut off (a write was interrupted); skipped' },
  ];
  assert.deepEqual(loaded.warnings, expected);
  assert.deepEqual(warnings, expected);

  warnings.length = 0;
  const result = await s.compact(NOW);
  assert.deepEqual(result, { kept: 3, droppedExpired: 0, droppedOverCount: 0, droppedCorrupt: 8, keptUnknownSchema: 1 });
  const quarantine = join(dir, HISTORY_DIR_NAME, QUARANTINE_FILE_NAME);
  assert.deepEqual(
    warnings.map((w) => [w.line, w.reason]),
    [2, 4, 5, 7, 8, 9, 10, 13].map((n) => [n, `${expected.find((e) => e.line === n)?.reason.replace('; skipped', '')}; moved to ${quarantine}`]),
  );
  // Every unreadable line is in the quarantine with its exact bytes (no U+FFFD), none is lost.
  const q = await readFile(quarantine);
  assert.ok(q.includes(invalidUtf8), 'invalid UTF-8 kept byte for byte');
  assert.equal(q.toString('latin1').split('\n').length - 1, 8);
  assert.ok(q.includes(Buffer.from(good.slice(0, 40) + '\n')));
  assert.match(await readFile(join(dir, HISTORY_DIR_NAME, 'quarantine.txt'), 'utf8'), /2026-01-09\.jsonl:10: not valid UTF-8 text/);
  assert.deepEqual(await readFile(file), Buffer.concat([Buffer.from(good + newer), bom, Buffer.from(serializeRecord(task('ok2')))]));
  await s.append(task('ok3'));
  assert.deepEqual((await s.load(NOW)).tasks.map((x) => x.taskId), ['ok', 'bom', 'ok2', 'ok3']);
  assert.equal(existsSync(join(dir, 'history.lock')), false);
  assert.deepEqual((await readdir(join(dir, HISTORY_DIR_NAME))).filter((n) => n.includes('.tmp-')), []);
});

test('retention: whole expired segments are dropped; the count is trimmed only past the slack', async (t) => {
  const dir = await tempDir(t, 'mpm-store-');
  const s = store(dir, { retentionDays: 7, retentionMaxTasks: 10 });
  await s.append(task('old', { startTime: NOW - 10 * DAY, endTime: NOW - 10 * DAY + 1000 }));
  for (let i = 0; i < 11; i++) await s.append(task(`n${i}`, { startTime: NOW - 2 * DAY + i }));
  // Loading already hides what retention drops: 10 newest, none older than 7 days.
  const before = await s.load(NOW);
  assert.deepEqual(before.tasks.map((x) => x.taskId), ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9', 'n10']);
  assert.equal(before.needsCompaction, true);
  // 11 tasks is within 10 % slack over 10: only the expired segment goes.
  assert.deepEqual(await s.compact(NOW), { kept: 11, droppedExpired: 1, droppedOverCount: 0, droppedCorrupt: 0, keptUnknownSchema: 0 });
  await s.append(task('n11', { startTime: NOW - 2 * DAY + 11 }));
  assert.deepEqual(await s.compact(NOW), { kept: 10, droppedExpired: 0, droppedOverCount: 2, droppedCorrupt: 0, keptUnknownSchema: 0 });
  const after = await s.load(NOW);
  assert.deepEqual(after.tasks.map((x) => x.taskId), ['n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9', 'n10', 'n11']);
  assert.equal(after.needsCompaction, false);

  // The next process applies retention on its first write (a CLI appends once per run), with a log line.
  const logs: string[] = [];
  await store(dir, { retentionDays: 1, retentionMaxTasks: 10, now: () => NOW + 5 * DAY }, [], logs).append(task('late', { startTime: NOW + 5 * DAY - 1000, endTime: NOW + 5 * DAY }));
  assert.deepEqual(logs, [`History retention: 10 tasks older than 1 day and 0 over the limit of 10 removed, 0 unreadable lines moved to "${join(dir, HISTORY_DIR_NAME, QUARANTINE_FILE_NAME)}"; 0 kept.`]);
  assert.deepEqual((await readdir(join(dir, HISTORY_DIR_NAME))).filter((n) => n.endsWith('.jsonl')), ['2026-01-15.jsonl']);
});

test('load lastN and sinceMs read only the segments they need; iterate streams in order', async (t) => {
  const dir = await tempDir(t, 'mpm-store-');
  const s = store(dir);
  for (let d = 5; d >= 1; d--) for (const k of ['a', 'b']) await s.append(task(`${d}${k}`, { startTime: NOW - d * DAY, endTime: NOW - d * DAY + 1000 }));
  assert.deepEqual((await s.load(NOW, { lastN: 3 })).tasks.map((x) => x.taskId), ['2b', '1a', '1b']);
  assert.deepEqual((await s.load(NOW, { sinceMs: NOW - 2 * DAY })).tasks.map((x) => x.taskId), ['2a', '2b', '1a', '1b']);
  // An unreadable old segment is never opened by a load of the newest tasks.
  const oldest = segment(dir, task('x', { startTime: NOW - 5 * DAY, endTime: NOW - 5 * DAY + 1000 }));
  await writeFile(oldest, 'garbage that would warn\n');
  const recent = await s.load(NOW, { lastN: 2 });
  assert.deepEqual(recent.warnings, []);
  const seen: string[] = [];
  for await (const x of s.iterate({ nowMs: NOW, sinceMs: NOW - 3 * DAY, untilMs: NOW - DAY })) seen.push(x.taskId);
  assert.deepEqual(seen, ['3a', '3b', '2a', '2b']);
});

test('concurrent appends from two processes lose nothing and never interleave', async (t) => {
  const dir = await tempDir(t, 'mpm-store-');
  const modulePath = resolve('src/core/history/historyStore.ts');
  const perChild = 150;
  const script = `
    const { JsonlHistoryStore } = require(process.argv[1]);
    const [dir, prefix, n] = process.argv.slice(2);
    const s = new JsonlHistoryStore(dir, { retentionDays: 36500, retentionMaxTasks: 100000 });
    const pad = 'x'.repeat(3000); // long lines make torn interleaving visible if it happened
    (async () => {
      for (let i = 0; i < Number(n); i++) {
        await s.append({ taskId: prefix + i, modelType: pad, resolution: '720p', resolutionClass: '720p', steps: i, status: 'succeeded', success: true,
          startTime: ${NOW - DAY}, endTime: ${NOW - DAY + 1000}, generationTimeSeconds: 1, gpuIndices: [], optimizationsApplied: [], sampleCount: 2, offloadUsed: false });
      }
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const run = (prefix: string) =>
    new Promise<void>((done, fail) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', script, modulePath, dir, prefix, String(perChild)], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`child ${prefix} exited ${code}: ${err}`))));
    });
  await Promise.all([run('a'), run('b')]);
  const loaded = await store(dir).load(NOW);
  assert.deepEqual(loaded.warnings, []);
  assert.equal(loaded.tasks.length, 2 * perChild);
  const ids = new Set(loaded.tasks.map((x) => x.taskId));
  for (let i = 0; i < perChild; i++) assert.ok(ids.has(`a${i}`) && ids.has(`b${i}`), `missing a${i} or b${i}`);
});

test('a task still running when its process died is recorded as interrupted on the next start', async (t) => {
  const dir = await tempDir(t, 'mpm-store-');
  const dead = store(dir, { pid: DEAD_PID });
  const running = makeTask({ taskId: 'long job', status: 'running', success: false, startTime: NOW - 3600_000, endTime: null, generationTimeSeconds: null, peakVramUsageMb: 9000 });
  await dead.markRunning(running, NOW - 60_000);
  const live = store(dir, { pid: process.ppid });
  await live.markRunning({ ...running, taskId: 'other window' }, NOW - 60_000);

  const me = store(dir);
  const recovered = await me.recoverInterrupted(NOW, new Set());
  assert.equal(recovered.length, 1);
  const [r] = recovered;
  assert.ok(r);
  assert.equal(r.taskId, 'long job');
  assert.equal(r.status, 'interrupted');
  assert.equal(r.success, false);
  assert.equal(r.errorCategory, 'interrupted');
  assert.equal(r.endTime, NOW - 60_000);
  assert.equal(r.generationTimeSeconds, null);
  assert.equal(r.peakVramUsageMb, 9000);
  assert.deepEqual((await me.load(NOW)).tasks.map((x) => [x.taskId, x.status]), [['long job', 'interrupted']]);
  // Recorded once: the marker is gone; the live window's marker is untouched.
  assert.deepEqual(await me.recoverInterrupted(NOW, new Set()), []);
  assert.equal((await readdir(join(dir, 'running'))).length, 1);

  // Our own pid: a live task is left alone; one we are not running is from an earlier process.
  await me.markRunning({ ...running, taskId: 'mine' }, NOW);
  assert.deepEqual(await me.recoverInterrupted(NOW, new Set(['mine'])), []);
  assert.deepEqual((await me.recoverInterrupted(NOW, new Set())).map((x) => x.taskId), ['mine']);
  // A marker not refreshed for longer than markerStaleMs is dead even if its pid was reused.
  const stale = store(dir, { markerStaleMs: 1000 });
  assert.deepEqual((await stale.recoverInterrupted(NOW, new Set())).map((x) => x.taskId), ['other window']);
  // Clearing a marker that is gone is fine.
  await me.clearRunning('never started');
});

test('a corrupt running marker is reported and removed', async (t) => {
  const dir = await tempDir(t, 'mpm-store-');
  const warnings: StoreWarning[] = [];
  const s = store(dir, {}, warnings);
  await s.markRunning(makeTask({ taskId: 'x', status: 'running' }), NOW);
  const [name] = await readdir(join(dir, 'running'));
  const path = join(dir, 'running', name as string);
  await writeFile(path, '{"ownerPid": 1, "upda');
  assert.deepEqual(await s.recoverInterrupted(NOW, new Set()), []);
  assert.deepEqual(warnings, [{ file: path, line: null, reason: 'running-task marker is corrupt; removed' }]);
  assert.equal(existsSync(path), false);
});

test('a lock held by a live process times out and the task is spooled; a dead holder is broken with a log line', async (t) => {
  const dir = await tempDir(t, 'mpm-store-');
  const lock = join(dir, 'history.lock');
  const logs: string[] = [];
  const s = store(dir, { lockTimeoutMs: 50 }, [], logs);
  await s.append(task('first')); // start-up done, so the lock is taken only for the append
  await writeFile(lock, JSON.stringify({ pid: process.ppid, hostname: hostname(), at: Date.now() }));
  const err = await s.append(task('a')).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof HistorySpooledError);
  assert.match(err.message, new RegExp(`^Timed out after 50 ms waiting for the history lock "${lock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\. If no Model Perf window or CLI is writing history, delete that file\\.; the task is kept in ".*spool/.*\\.jsonl" and goes into the history on the next start or save$`));
  assert.equal(existsSync(err.spoolFile), true);
  await writeFile(lock, JSON.stringify({ pid: DEAD_PID, hostname: hostname(), at: Date.now() }));
  await s.append(task('b'));
  // The spooled task went in with the next successful append.
  assert.deepEqual((await s.load(NOW)).tasks.map((x) => x.taskId).sort(), ['a', 'b', 'first']);
  assert.equal(existsSync(lock), false);
  assert.equal(existsSync(err.spoolFile), false);
  assert.ok(logs.includes(`Broke the history lock "${lock}": its owner, process ${DEAD_PID}, is no longer running.`));
});

test('an empty or garbage lock (a write that failed on a full disk) is broken at once, with a log line', async (t) => {
  const dir = await tempDir(t, 'mpm-store-');
  const lock = join(dir, 'history.lock');
  const logs: string[] = [];
  // A long timeout: the test fails by the assertion on timing-free facts, not by waiting.
  const s = store(dir, { lockTimeoutMs: 60_000, lockStaleMs: 60_000 }, [], logs);
  await writeFile(lock, '{"pid": 12');
  await s.append(task('a'));
  assert.deepEqual(logs, [`Broke the history lock "${lock}": it is not valid JSON (left by a write that failed, e.g. on a full disk).`]);
  logs.length = 0;
  await writeFile(lock, '');
  const old = new Date(Date.now() - 5000);
  await utimes(lock, old, old);
  await s.append(task('b'));
  assert.deepEqual(logs, [`Broke the history lock "${lock}": it is empty (left by a write that failed, e.g. on a full disk).`]);
  assert.deepEqual((await s.load(NOW)).tasks.map((x) => x.taskId), ['a', 'b']);
});

test('a storage folder that cannot be created gives an actionable error', async (t) => {
  const dir = await tempDir(t, 'mpm-store-');
  const file = join(dir, 'a-file');
  await appendFile(file, 'not a folder');
  const s = store(join(file, 'history'));
  const err = await s.append(task('a')).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof HistoryStoreError);
  assert.equal(
    err.message,
    `Cannot create the history folder "${join(file, 'history')}": part of the path is a file, not a folder. Set MODEL_PERF_HOME or the storage folder setting to a writable folder.; the task could not be kept in the spool "${join(file, 'history', 'spool')}" either (part of the path is a file, not a folder)`,
  );
});

test('default storage folder per OS; MODEL_PERF_HOME overrides', () => {
  assert.equal(defaultStorageDir({ MODEL_PERF_HOME: '/srv/perf' }, 'linux', '/home/u'), '/srv/perf');
  assert.equal(defaultStorageDir({}, 'linux', '/home/u'), '/home/u/.local/share/model-perf');
  assert.equal(defaultStorageDir({ XDG_DATA_HOME: '/data' }, 'linux', '/home/u'), '/data/model-perf');
  assert.equal(defaultStorageDir({ XDG_DATA_HOME: 'relative' }, 'linux', '/home/u'), '/home/u/.local/share/model-perf');
  assert.equal(defaultStorageDir({}, 'darwin', '/Users/u'), '/Users/u/Library/Application Support/model-perf');
  assert.equal(defaultStorageDir({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32', 'C:\\Users\\u'), join('C:\\Users\\u\\AppData\\Local', 'model-perf'));
});

test('start-up never reads a segment to rebuild its summary; an explicit compaction does', async (t) => {
  const dir = await tempDir(t, 'mpm-store-');
  await store(dir).append(task('seed'));
  // Written behind the store's back (as an older build or a copy would): its summary is out of date.
  await appendFile(segment(dir), serializeRecord(task('x1')) + serializeRecord(task('x2')) + serializeRecord(task('x3')));
  const logs: string[] = [];
  const s = store(dir, { retentionMaxTasks: 2 }, [], logs);
  await s.append(task('other day', { startTime: NOW - 2 * DAY, endTime: NOW - 2 * DAY + 1 }));
  assert.deepEqual(logs, []); // nothing trimmed at start: the count is not known without reading
  assert.equal((await readFile(segment(dir), 'utf8')).split('\n').length - 1, 4);
  assert.deepEqual((await s.load(NOW)).tasks.map((x) => x.taskId), ['x2', 'x3']); // reads still apply the cap
  assert.deepEqual(await s.compact(NOW), { kept: 2, droppedExpired: 0, droppedOverCount: 3, droppedCorrupt: 0, keptUnknownSchema: 0 });
});

test('appendMany writes each day segment once, under one lock, and keeps the summaries in step', async (t) => {
  const dir = await tempDir(t, 'mpm-store-many-');
  const opened: string[] = [];
  const s = store(dir, { fs: { open: async (p, f, m) => { if (f === 'a') opened.push(p); const { open } = await import('node:fs/promises'); return open(p, f, m); } } });
  await s.append(task('before'));
  opened.length = 0;
  // Three days, interleaved as an export may list them.
  const many = Array.from({ length: 30 }, (_, i) => task(`m${i}`, { startTime: NOW - (1 + (i % 3)) * DAY, endTime: NOW - (1 + (i % 3)) * DAY + 1000 }));
  const written: number[] = [];
  await s.appendMany(many, (n) => written.push(n));
  assert.deepEqual(written, [10, 10, 10]);
  assert.equal(opened.length, 3);
  assert.equal(new Set(opened).size, 3);
  const loaded = await s.load(NOW);
  assert.deepEqual(loaded.warnings, []);
  assert.equal(loaded.tasks.length, 31);
  // Each task once, in its day's segment, in the order given within that day.
  assert.deepEqual(loaded.tasks.filter((x) => x.startTime === NOW - 2 * DAY).map((x) => x.taskId), many.filter((_, i) => i % 3 === 1).map((x) => x.taskId));
  for (const day of [1, 2, 3]) {
    const name = segment(dir, task('x', { startTime: NOW - day * DAY, endTime: NOW - day * DAY + 1000 }));
    const summary = JSON.parse(await readFile(name.replace(/\.jsonl$/, '.summary.json'), 'utf8')) as { tasks: number; bytes: number };
    assert.equal(summary.tasks, day === 1 ? 11 : 10);
    assert.equal(summary.bytes, (await stat(name)).size);
  }
  await assert.rejects(s.appendMany([task('ok'), task('r', { status: 'running' })]), { name: 'HistoryStoreError' });
  assert.equal((await s.load(NOW)).tasks.length, 31);
});
