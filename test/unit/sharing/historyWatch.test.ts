// The history folder as other processes change it: running-task markers and the history file's
// changes (debounced, other files ignored), with a scripted watcher and a fake clock, and once
// with the real fs.watch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HISTORY_FILE_NAME, RUNNING_DIR_NAME } from '../../../src/core/history/historyStore';
import { historyFolderWatch, type WatchFolder } from '../../../src/core/sharing/historyWatch';
import { FakeClock } from '../helpers/fakeClock';
import { waitUntil } from '../helpers/waitUntil';

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'model-perf-history-watch-'));
}

/** A watcher the test drives: `fire(name)` is a change of that file, `fail(err)` an error event. */
function scriptedWatch() {
  const state = { onEvent: null as ((name: string | null) => void) | null, onError: null as ((err: Error) => void) | null, closed: false };
  const watch: WatchFolder = (_dir, onEvent) => {
    state.onEvent = onEvent;
    return {
      on: (_event, listener) => (state.onError = listener),
      close: () => void (state.closed = true),
    };
  };
  return { watch, state, fire: (name: string | null) => state.onEvent?.(name), fail: (err: Error) => state.onError?.(err) };
}

test('a running task is seen only by its marker file under running/', async () => {
  const d = dir();
  const folder = historyFolderWatch(d);
  assert.equal(await folder.anyTaskRunning(), false, 'no running/ folder yet');
  mkdirSync(join(d, RUNNING_DIR_NAME));
  writeFileSync(join(d, RUNNING_DIR_NAME, 'notes.txt'), 'x');
  writeFileSync(join(d, RUNNING_DIR_NAME, 'task.json.tmp'), '{}');
  assert.equal(await folder.anyTaskRunning(), false, 'other files are no markers');
  writeFileSync(join(d, RUNNING_DIR_NAME, 'task-1.json'), '{}');
  assert.equal(await folder.anyTaskRunning(), true);
});

test('changes of the history file reload once after they settle; other files and changes after dispose do not', async () => {
  const clock = new FakeClock();
  const w = scriptedWatch();
  let changes = 0;
  const warnings: string[] = [];
  const sub = historyFolderWatch('/nowhere', { clock, watch: w.watch }).watchHistory(() => changes++, (m) => warnings.push(m));

  w.fire('live-sample.json');
  w.fire('leader.lock');
  await clock.advance(2000);
  assert.equal(changes, 0, 'the lock and the live sample are not the history');

  w.fire(HISTORY_FILE_NAME);
  await clock.advance(300);
  w.fire(HISTORY_FILE_NAME);
  w.fire(null); // some platforms do not say which file changed
  await clock.advance(499);
  assert.equal(changes, 0, 'still settling');
  await clock.advance(1);
  assert.equal(changes, 1, 'one reload for the burst');

  w.fire(HISTORY_FILE_NAME);
  sub.dispose();
  assert.equal(w.state.closed, true);
  w.fire(HISTORY_FILE_NAME);
  await clock.advance(2000);
  assert.equal(changes, 1, 'nothing after dispose, not even the change pending at dispose');
  assert.deepEqual(warnings, []);
});

test('a watcher that fails, or cannot start, is told once and nothing breaks', () => {
  const w = scriptedWatch();
  const warnings: string[] = [];
  historyFolderWatch('/data/perf', { clock: new FakeClock(), watch: w.watch }).watchHistory(() => undefined, (m) => warnings.push(m));
  w.fail(new Error('EMFILE: too many open files'));
  assert.deepEqual(warnings, ['Stopped watching /data/perf for tasks of other windows: EMFILE: too many open files']);

  const refused: WatchFolder = () => {
    throw new Error('ENOENT: no such file or directory');
  };
  const sub = historyFolderWatch('/data/gone', { watch: refused }).watchHistory(() => undefined, (m) => warnings.push(m));
  assert.match(warnings[1] ?? '', /^Cannot watch \/data\/gone for tasks of other windows \(ENOENT: no such file or directory\); they appear after a reload\.$/);
  sub.dispose();
});

test('with the real fs.watch, another process appending to the history is seen', async () => {
  const d = dir();
  let changes = 0;
  const sub = historyFolderWatch(d).watchHistory(() => changes++, () => undefined);
  try {
    writeFileSync(join(d, HISTORY_FILE_NAME), '{"line":1}\n');
    await waitUntil('the change is reported', () => changes > 0);
  } finally {
    sub.dispose();
  }
});
