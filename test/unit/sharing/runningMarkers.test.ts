// Running-task markers as other processes leave them: only `running/*.json` counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNNING_DIR_NAME } from '../../../src/core/history/historyStore';
import { anyTaskRunning } from '../../../src/core/sharing/runningMarkers';

test('a running task is seen only by its marker file under running/', async () => {
  const d = mkdtempSync(join(tmpdir(), 'model-perf-running-'));
  assert.equal(await anyTaskRunning(d), false, 'no running/ folder yet');
  mkdirSync(join(d, RUNNING_DIR_NAME));
  writeFileSync(join(d, RUNNING_DIR_NAME, 'notes.txt'), 'x');
  writeFileSync(join(d, RUNNING_DIR_NAME, 'task.json.tmp'), '{}');
  assert.equal(await anyTaskRunning(d), false, 'other files are no markers');
  writeFileSync(join(d, RUNNING_DIR_NAME, 'task-1.json'), '{}');
  assert.equal(await anyTaskRunning(d), true);
});
