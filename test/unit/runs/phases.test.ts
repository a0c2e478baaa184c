import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { TaskStateError } from '../../../src/core/engine/taskArguments';
import { MemoryHistoryStore, parseRecord, serializeRecord } from '../../../src/core/history/historyStore';
import { toCsv } from '../../../src/core/history/exporter';
import { FakeClock } from '../helpers/fakeClock';
import { FakeSystemSampler, makeTask } from '../engine/fakes';

function setup() {
  const clock = new FakeClock();
  const store = new MemoryHistoryStore();
  const monitor = new PerformanceMonitor({}, { clock, systemSampler: new FakeSystemSampler(), historyStore: store });
  return { clock, monitor, store };
}

test('progress fields are set through updateTaskMetrics, type-checked, and stamped', async () => {
  const { clock, monitor } = setup();
  monitor.startTaskMonitoring('t', 'm', '720p', 50);
  const start = clock.now();
  await clock.advance(1000);
  const m = monitor.updateTaskMetrics('t', { stepsCompleted: 12, stepsTotal: 50, stepsPerSecond: 3.1 });
  assert.equal(m.stepsCompleted, 12);
  assert.equal(m.stepsTotal, 50);
  assert.equal(m.stepsPerSecond, 3.1);
  assert.equal(m.progressUpdatedAt, start + 1000);
  assert.throws(() => monitor.updateTaskMetrics('t', { stepsCompleted: -1 }), TaskStateError);
  assert.throws(() => monitor.updateTaskMetrics('t', { stepsPerSecond: Number.NaN }), TaskStateError);
  assert.throws(() => monitor.updateTaskMetrics('t', { progressUpdatedAt: 1 } as never), /measured or set by the monitor/);
  const done = await monitor.completeTaskMonitoring('t', true);
  assert.equal(done.stepsCompleted, 12);
});

test('phases: each mark ends the one before; the open one closes with the task; names are checked', async () => {
  const { clock, monitor } = setup();
  const t0 = clock.now();
  monitor.startTaskMonitoring('t', 'm', '720p', 50);
  monitor.markTaskPhase('t', 'model_load');
  await clock.advance(2000);
  monitor.markTaskPhase('t', 'denoise');
  monitor.markTaskPhase('t', 'denoise'); // the same phase again changes nothing
  await clock.advance(3000);
  monitor.endTaskPhase('t', 'denoise');
  monitor.markTaskPhase('t', 'save', t0 + 5500);
  assert.throws(() => monitor.markTaskPhase('t', 'bad name!'), /phase name/);
  assert.throws(() => monitor.markTaskPhase('t', 'x', Number.NaN), /epoch milliseconds/);
  assert.throws(() => monitor.markTaskPhase('nope', 'x'), TaskStateError);
  await clock.advance(1000);
  const done = await monitor.completeTaskMonitoring('t', true);
  assert.deepEqual(done.phases, [
    { name: 'model_load', startTime: t0, endTime: t0 + 2000 },
    { name: 'denoise', startTime: t0 + 2000, endTime: t0 + 5000 },
    { name: 'save', startTime: t0 + 5000, endTime: t0 + 6000 },
  ]);
});

test('history records keep phases and progress; old records without them still load', () => {
  const task = makeTask({ stepsCompleted: 5, stepsTotal: 5, phases: [{ name: 'denoise', startTime: 1, endTime: 2 }] });
  const parsed = parseRecord(JSON.parse(serializeRecord(task)));
  assert.equal(parsed.kind, 'task');
  assert.deepEqual(parsed.kind === 'task' ? parsed.task.phases : null, [{ name: 'denoise', startTime: 1, endTime: 2 }]);
  const old = parseRecord(JSON.parse(serializeRecord(makeTask())));
  assert.equal(old.kind, 'task');
  assert.equal(old.kind === 'task' ? old.task.phases : 'x', undefined);
  assert.equal(parseRecord({ ...JSON.parse(serializeRecord(makeTask())), phases: [{ name: 3 }] }).kind, 'bad');
  // Every field is a column (the shared field list): stepsCompleted, stepsTotal, stepsPerSecond,
  // progressUpdatedAt, phases close the row.
  const csv = toCsv([task]);
  assert.match(csv.split('\r\n')[0] ?? '', /,stepsCompleted,stepsTotal,stepsPerSecond,progressUpdatedAt,progressIsPercent,phases,adopted,timeline,gitCommit,prediction$/);
  assert.match(csv, /,5,5,,,,denoise@1-2,,,,\r\n$/);
});
