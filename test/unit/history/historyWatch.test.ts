import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlHistoryStore, type HistoryChange } from '../../../src/core/history/historyStore';
import { storageEventMatters } from '../../../src/core/history/watcher';
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import { makeTask } from '../engine/fakes';

const NOW = Date.UTC(2026, 0, 10);
const DAY = 86_400_000;
const task = (id: string, overrides: Partial<PerformanceMetrics> = {}): PerformanceMetrics => makeTask({ taskId: id, startTime: NOW - DAY, endTime: NOW - DAY + 100_000, ...overrides });

test('a store reports other processes\' appends as new tail records, its own not at all, and a compaction as rewritten', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-watch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const opts = { retentionDays: 30, retentionMaxTasks: 1000, now: () => NOW };
  const mine = new JsonlHistoryStore(dir, opts);
  const other = new JsonlHistoryStore(dir, opts);
  await mine.append(task('existing'));
  const changes: HistoryChange[] = [];
  // A long poll: the test drives the checks itself (no sleeps), fs.watch may add more.
  const w = mine.onDidChange((c) => changes.push(c), { pollMs: 3_600_000 });
  t.after(() => w.dispose());
  await w.whenReady();
  await mine.append(task('own'));
  await w.check();
  assert.equal(changes.length, 0);
  await other.append(task('theirs', { endTime: NOW - 2 * DAY + 1000, startTime: NOW - 2 * DAY }));
  await other.append(task('theirs2'));
  await w.check();
  const appended = changes.flatMap((c) => (c.kind === 'appended' ? c.tasks.map((x) => x.taskId) : [])).sort();
  assert.deepEqual(appended, ['theirs', 'theirs2']);
  assert.equal(changes.some((c) => c.kind === 'rewritten'), false);
  changes.length = 0;
  await other.clear();
  await w.check();
  // fs.watch may wake a check between the segment rewrites: each is reported as rewritten.
  assert.ok(changes.length >= 1);
  assert.deepEqual(new Set(changes.map((c) => c.kind)), new Set(['rewritten']));
});

test('a watch started before the history folder exists reports the first tasks written into it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-watch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const opts = { retentionDays: 30, retentionMaxTasks: 1000, now: () => NOW };
  const changes: HistoryChange[] = [];
  const w = new JsonlHistoryStore(dir, opts).onDidChange((c) => changes.push(c), { pollMs: 3_600_000 });
  t.after(() => w.dispose());
  await w.whenReady();
  await new JsonlHistoryStore(dir, opts).append(task('first'));
  await w.check();
  assert.deepEqual(changes.flatMap((c) => (c.kind === 'appended' ? c.tasks.map((x) => x.taskId) : [])), ['first']);
});

test('in the storage folder only the old history file and the segment folder wake a check, not the lock or the published sample rewritten every second', () => {
  const source = { historyDir: join('/store', 'history'), legacyFile: join('/store', 'history.jsonl') };
  assert.equal(storageEventMatters(source, 'history.jsonl'), true);
  assert.equal(storageEventMatters(source, 'history'), true);
  assert.equal(storageEventMatters(source, null), true, 'a platform that gives no name: check');
  for (const name of ['live-sample.json', 'live-sample.json.tmp-12-3', 'leader.lock', 'leader.lock.tmp-12-4', 'running']) {
    assert.equal(storageEventMatters(source, name), false, name);
  }
});
