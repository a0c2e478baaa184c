// `model-perf run` beside a window: the run's marker carries its progress (rewritten when it moves,
// at most every liveProgressMs, on a fake clock), and the window follows the markers of other live
// processes of this host, parsed as hostile files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskRecorder, type RecordedTask } from '../../../src/core/engine/taskRecorder';
import type { HistoryStore } from '../../../src/core/history/historyStore';
import { parseRunningTask, RunningElsewhere } from '../../../src/core/metrics/runningMarkers';
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import { makeTask } from '../engine/fakes';
import { FakeClock } from '../helpers/fakeClock';
import { waitUntil } from '../helpers/waitUntil';

function recorderWith(liveMs: number): { recorder: TaskRecorder; clock: FakeClock; writes: { at: number; steps: number | null | undefined }[] } {
  const clock = new FakeClock();
  const writes: { at: number; steps: number | null | undefined }[] = [];
  const store = { location: null, markRunning: async (t: PerformanceMetrics, at: number) => void writes.push({ at, steps: t.stepsCompleted }) } as unknown as HistoryStore;
  const recorder = new TaskRecorder({ store: () => store, clock, failed: () => {}, recovered: () => {}, track: () => {} }, () => liveMs);
  return { recorder, clock, writes };
}

test('live progress: the marker is rewritten when progress moved, at most once per liveProgressMs; off, once a minute', async () => {
  for (const liveMs of [1000, 0]) {
    const { recorder, clock, writes } = recorderWith(liveMs);
    const entry: RecordedTask = { markerChain: Promise.resolve() };
    let steps = 0;
    let progressAt: number | null = null;
    const running = () => [{ task: entry, progressAt: () => progressAt, metrics: () => makeTask({ stepsCompleted: steps, progressUpdatedAt: progressAt }) }];
    recorder.refresh(running()); // the first sample: every marker
    // A progress bar redrawn every 250 ms for 5 s, one sample each 250 ms.
    for (let i = 1; i <= 20; i++) {
      await clock.advance(250);
      steps = i;
      progressAt = clock.now();
      recorder.refresh(running());
    }
    // Then the bar stops: no more writes while nothing moves.
    for (let i = 0; i < 8; i++) {
      await clock.advance(250);
      recorder.refresh(running());
    }
    await entry.markerChain;
    const gaps = writes.slice(1).map((w, i) => w.at - (writes[i] as { at: number }).at);
    if (liveMs > 0) {
      assert.equal(writes.length, 6, `one write at the start, then one a second while the bar moves: ${JSON.stringify(writes)}`);
      assert.ok(gaps.every((g) => g >= 1000), `never more often than once a second: ${gaps.join(',')}`);
      assert.equal(writes.at(-1)?.steps, 20, 'the last reading reaches the marker');
    } else {
      assert.equal(writes.length, 1, 'without live progress, only the minute refresh writes');
    }
  }
});

const HOST = 'this-host';

function marker(pid: number, task: Partial<PerformanceMetrics>, host = HOST): string {
  return JSON.stringify({ schemaVersion: 1, ownerPid: pid, hostname: host, updatedAt: 1, task: makeTask({ status: 'running', endTime: null, ...task }) });
}

test('a marker is read as hostile: other hosts, broken records, ids with escapes and oversized files are not shown', () => {
  assert.equal(parseRunningTask(marker(5, { taskId: 'gen', stepsCompleted: 3, stepsTotal: 10 }), HOST)?.stepsCompleted, 3);
  assert.equal(parseRunningTask(marker(5, { taskId: 'gen' }), HOST)?.status, 'running');
  assert.equal(parseRunningTask(marker(5, { taskId: 'gen' }, 'other-host'), HOST), null);
  assert.equal(parseRunningTask('{"hostname":"this-host","task":{"taskId":"x"}}', HOST), null);
  assert.equal(parseRunningTask('not json', HOST), null);
  assert.equal(parseRunningTask(marker(5, { taskId: 'evil\u001b[2J' }), HOST), null);
  assert.equal(parseRunningTask(marker(5, { taskId: 'gen', stepsCompleted: 'many' as unknown as number }), HOST), null);
  assert.equal(parseRunningTask(marker(5, { taskId: 'gen', modelType: 'a\u0007b$(zap)' }), HOST)?.modelType.includes('\u0007'), false);
});

test("a window follows other live processes' runs: started, moved on, ended; its own and dead ones' markers are left out", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'model-perf-elsewhere-'));
  try {
    const running = join(dir, 'running');
    const alive = new Set([100, 200]);
    let changes = 0;
    const elsewhere = new RunningElsewhere({ storageDir: dir, hostname: HOST, ownPid: 200, isAlive: (p) => alive.has(p), onChange: () => changes++, pollMs: 60_000 });
    await elsewhere.start();
    assert.deepEqual(elsewhere.tasks(), [], 'no running/ folder yet');
    await mkdir(running);
    await writeFile(join(running, '100-aaaa.json'), marker(100, { taskId: 'cli-run', stepsCompleted: 1, stepsTotal: 50 }));
    await writeFile(join(running, '200-bbbb.json'), marker(200, { taskId: 'own-task' }));
    await writeFile(join(running, '300-cccc.json'), marker(300, { taskId: 'dead-run' }));
    await writeFile(join(running, '100-dddd.json'), 'x'.repeat(300 * 1024));
    await writeFile(join(running, '100-eeee.json.tmp'), marker(100, { taskId: 'half-written' }));
    await elsewhere.check();
    assert.deepEqual(elsewhere.tasks().map((t) => [t.taskId, t.stepsCompleted]), [['cli-run', 1]]);
    const seen = changes;
    await elsewhere.check();
    assert.equal(changes, seen, 'nothing changed: no change reported');

    // The run's progress moves (its marker rewritten): the folder watch wakes the window.
    elsewhere.dispose();
    const watching = new RunningElsewhere({ storageDir: dir, hostname: HOST, ownPid: 200, isAlive: (p) => alive.has(p), onChange: () => changes++, pollMs: 60_000 });
    await watching.start();
    await writeFile(join(running, '100-aaaa.json.tmp'), marker(100, { taskId: 'cli-run', stepsCompleted: 25, stepsTotal: 50 }));
    await rename(join(running, '100-aaaa.json.tmp'), join(running, '100-aaaa.json'));
    await waitUntil('the new progress through the folder watch', () => watching.tasks()[0]?.stepsCompleted === 25);
    // Killed without removing its marker: gone at the next look.
    alive.delete(100);
    await watching.check();
    assert.deepEqual(watching.tasks(), []);
    watching.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
