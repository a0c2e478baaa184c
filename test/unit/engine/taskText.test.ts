// The engine's task API is an input from outside (the extension API, commands, the CLI): an unsafe
// task id is refused before it is stored or echoed; labels and error texts are cleaned and cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { TaskStateError } from '../../../src/core/engine/taskArguments';
import { MemoryHistoryStore } from '../../../src/core/history/historyStore';
import { FakeClock } from '../helpers/fakeClock';
import { FakeSystemSampler } from './fakes';

const ESC = '\u001b';

function setup() {
  const store = new MemoryHistoryStore();
  const monitor = new PerformanceMonitor({ enableGpuMonitoring: false }, { clock: new FakeClock(), systemSampler: new FakeSystemSampler(), historyStore: store });
  return { store, monitor };
}

test('startTaskMonitoring refuses an over-long id or one with escape sequences, without echoing it', () => {
  const { monitor } = setup();
  const huge = 'x'.repeat(130_000);
  assert.throws(() => monitor.startTaskMonitoring(huge, 'sdxl', '1024x1024', 20), (err: unknown) => {
    assert.ok(err instanceof TaskStateError);
    assert.match(err.message, /at most 200 characters \(got 130000\)/);
    assert.ok(err.message.length < 300);
    return true;
  });
  assert.throws(() => monitor.startTaskMonitoring(`a${ESC}[2J`, 'sdxl', '', 0), /control characters or escape sequences/);
  assert.equal(monitor.getActiveTasks().length, 0);
});

test('labels, metric updates and the error category are stored cleaned and cut', async () => {
  const { monitor, store } = setup();
  const task = monitor.startTaskMonitoring('ok-id', `${ESC}[31msdxl${'m'.repeat(500)}`, `1024\n${ESC}]0;t\u0007`, 1);
  assert.equal(task.modelType.length, 100);
  assert.ok(task.modelType.startsWith('sdxlmmm'));
  assert.equal(task.resolution, '1024 ');
  monitor.updateTaskMetrics('ok-id', { modelType: `flux${ESC}[2J` });
  await monitor.completeTaskMonitoring('ok-id', false, `boom${ESC}[2J\u0000${'e'.repeat(10_000)}`);
  const [saved] = store.tasks;
  assert.ok(saved);
  assert.equal(saved.modelType, 'flux');
  assert.equal(saved.errorCategory?.length, 2000);
  assert.ok(saved.errorCategory?.startsWith('boom\uFFFDeee'));
});
