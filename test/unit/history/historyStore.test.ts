import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile, appendFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HISTORY_FILE_NAME, HistoryStoreError, JsonlHistoryStore, defaultStorageDir, serializeRecord, type StoreWarning } from '../../../src/core/history/historyStore';
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import { makeTask } from '../engine/fakes';

const NOW = Date.UTC(2026, 0, 10);
const DAY = 86_400_000;
const DEAD_PID = 2 ** 22 + 12_345; // above Linux's pid_max default of 4 194 304

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function store(dir: string, extra: Partial<ConstructorParameters<typeof JsonlHistoryStore>[1]> = {}, warnings: StoreWarning[] = []): JsonlHistoryStore {
  return new JsonlHistoryStore(dir, { retentionDays: 30, retentionMaxTasks: 1000, onWarning: (w) => warnings.push(w), ...extra });
}

const task = (id: string, overrides: Partial<PerformanceMetrics> = {}): PerformanceMetrics => makeTask({ taskId: id, startTime: NOW - DAY, endTime: NOW - DAY + 100_000, ...overrides });

test('appended tasks come back, each line stamped with the schema version', async (t) => {
  const dir = await tempDir(t);
  const s = store(join(dir, 'nested', 'folder'));
  await s.append(task('a', { optimizationsApplied: ['xformers'], peakVramUsageMb: 1234.5 }));
  await s.append(task('b', { status: 'failed', success: false, errorCategory: 'oom' }));
  const loaded = await s.load(NOW);
  assert.deepEqual(loaded.warnings, []);
  assert.equal(loaded.needsCompaction, false);
  assert.deepEqual(loaded.tasks, [task('a', { optimizationsApplied: ['xformers'], peakVramUsageMb: 1234.5 }), task('b', { status: 'failed', success: false, errorCategory: 'oom' })]);
  const lines = (await readFile(s.historyFile, 'utf8')).trimEnd().split('\n');
  assert.equal(lines.length, 2);
  for (const l of lines) assert.equal((JSON.parse(l) as { schemaVersion: number }).schemaVersion, 1);
  await assert.rejects(s.append(task('r', { status: 'running' })), { name: 'HistoryStoreError', message: 'Task "r" is still running; only finished tasks are written to history' });
});

test('a missing history file is an empty history', async (t) => {
  const dir = await tempDir(t);
  assert.deepEqual(await store(dir).load(NOW), { tasks: [], warnings: [], needsCompaction: false });
});

test('a truncated last line, corrupt lines and an unknown schema version are skipped and reported', async (t) => {
  const dir = await tempDir(t);
  const warnings: StoreWarning[] = [];
  const s = store(dir, {}, warnings);
  const file = join(dir, HISTORY_FILE_NAME);
  const good = serializeRecord(task('ok'));
  const newer = `${JSON.stringify({ schemaVersion: 2, taskId: 'future', shape: 'different' })}\n`;
  await writeFile(
    file,
    good +
      '{"schemaVersion":1,"taskId":\n' +
      newer +
      `${JSON.stringify({ taskId: 'noversion' })}\n` +
      `${JSON.stringify({ ...JSON.parse(good), steps: 'many' })}\n` +
      '\n' +
      `${JSON.stringify({ ...JSON.parse(good), status: 'running' })}\n` +
      serializeRecord(task('ok2')) +
      good.slice(0, 40),
  );
  const loaded = await s.load(NOW);
  assert.deepEqual(loaded.tasks.map((x) => x.taskId), ['ok', 'ok2']);
  const expected = [
    { file, line: 2, reason: 'not valid JSON (corrupt line); skipped' },
    { file, line: 3, reason: 'schema version 2 is newer than this build reads (1); skipped, and kept in the file for the newer build' },
    { file, line: 4, reason: 'no schemaVersion; skipped' },
    { file, line: 5, reason: 'field "steps" must be a number; skipped' },
    { file, line: 7, reason: 'field "status" must be one of succeeded, failed, cancelled, interrupted; skipped' },
    { file, line: 9, reason: 'the last line is cut off (a write was interrupted); skipped' },
  ];
  assert.deepEqual(loaded.warnings, expected);
  assert.deepEqual(warnings, expected);

  // Compaction drops the dead lines, keeps the newer build's line verbatim, and appends still work after it.
  const result = await s.compact(NOW);
  assert.deepEqual(result, { kept: 2, droppedExpired: 0, droppedOverCount: 0, droppedCorrupt: 5, keptUnknownSchema: 1 });
  assert.equal(await readFile(file, 'utf8'), good + newer + serializeRecord(task('ok2')));
  await s.append(task('ok3'));
  assert.deepEqual((await s.load(NOW)).tasks.map((x) => x.taskId), ['ok', 'ok2', 'ok3']);
  assert.deepEqual((await readdir(dir)).sort(), [HISTORY_FILE_NAME]); // no temp or lock files left
});

test('retention by age and by count, through a temporary file and a rename', async (t) => {
  const dir = await tempDir(t);
  const s = store(dir, { retentionDays: 7, retentionMaxTasks: 3 });
  await s.append(task('old', { startTime: NOW - 10 * DAY, endTime: NOW - 10 * DAY + 1000 }));
  for (const id of ['n1', 'n2', 'n3', 'n4']) await s.append(task(id));
  assert.equal((await s.load(NOW)).needsCompaction, true);
  assert.deepEqual(await s.compact(NOW), { kept: 3, droppedExpired: 1, droppedOverCount: 1, droppedCorrupt: 0, keptUnknownSchema: 0 });
  const after = await s.load(NOW);
  assert.deepEqual(after.tasks.map((x) => x.taskId), ['n2', 'n3', 'n4']);
  assert.equal(after.needsCompaction, false);
});

test('concurrent appends from two processes lose nothing and never interleave', async (t) => {
  const dir = await tempDir(t);
  const modulePath = resolve('src/core/history/historyStore.ts');
  const perChild = 150;
  const script = `
    const { JsonlHistoryStore } = require(process.argv[1]);
    const [dir, prefix, n] = process.argv.slice(2);
    const s = new JsonlHistoryStore(dir, { retentionDays: 30, retentionMaxTasks: 100000 });
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
  const dir = await tempDir(t);
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
  const dir = await tempDir(t);
  const warnings: StoreWarning[] = [];
  await writeFile(join(dir, 'placeholder'), '');
  const s = store(dir, {}, warnings);
  await s.markRunning(makeTask({ taskId: 'x', status: 'running' }), NOW);
  const [name] = await readdir(join(dir, 'running'));
  const path = join(dir, 'running', name as string);
  await writeFile(path, '{"ownerPid": 1, "upda');
  assert.deepEqual(await s.recoverInterrupted(NOW, new Set()), []);
  assert.deepEqual(warnings, [{ file: path, line: null, reason: 'running-task marker is corrupt; removed' }]);
  assert.equal(existsSync(path), false);
});

test('a lock held by a live process times out with a message; a dead holder is broken', async (t) => {
  const dir = await tempDir(t);
  const lock = join(dir, 'history.lock');
  const { hostname } = await import('node:os');
  await writeFile(lock, JSON.stringify({ pid: process.ppid, hostname: hostname(), at: Date.now() }));
  const s = store(dir, { lockTimeoutMs: 50 });
  await assert.rejects(s.append(task('a')), {
    name: 'HistoryStoreError',
    message: `Timed out after 50 ms waiting for the history lock "${lock}". If no Model Perf window or CLI is writing history, delete that file.`,
  });
  await writeFile(lock, JSON.stringify({ pid: DEAD_PID, hostname: hostname(), at: Date.now() }));
  await s.append(task('a'));
  assert.deepEqual((await s.load(NOW)).tasks.map((x) => x.taskId), ['a']);
  assert.equal(existsSync(lock), false);
});

test('a storage folder that cannot be created gives an actionable error', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a-file');
  await appendFile(file, 'not a folder');
  const s = store(join(file, 'history'));
  const err = await s.append(task('a')).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof HistoryStoreError);
  assert.equal(err.message, `Cannot create the history folder "${join(file, 'history')}": part of the path is a file, not a folder. Set MODEL_PERF_HOME or the storage folder setting to a writable folder.`);
});

test('default storage folder per OS; MODEL_PERF_HOME overrides', () => {
  assert.equal(defaultStorageDir({ MODEL_PERF_HOME: '/srv/perf' }, 'linux', '/home/u'), '/srv/perf');
  assert.equal(defaultStorageDir({}, 'linux', '/home/u'), '/home/u/.local/share/model-perf');
  assert.equal(defaultStorageDir({ XDG_DATA_HOME: '/data' }, 'linux', '/home/u'), '/data/model-perf');
  assert.equal(defaultStorageDir({ XDG_DATA_HOME: 'relative' }, 'linux', '/home/u'), '/home/u/.local/share/model-perf');
  assert.equal(defaultStorageDir({}, 'darwin', '/Users/u'), '/Users/u/Library/Application Support/model-perf');
  assert.equal(defaultStorageDir({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32', 'C:\\Users\\u'), join('C:\\Users\\u\\AppData\\Local', 'model-perf'));
});
