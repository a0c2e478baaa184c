// How a run's figures read wherever a task is shown (issue 14): a percent-only bar reads `33 %`, not
// `33/100`; a VRAM figure names what it measures and unknown is never 0; a run from another process
// (`model-perf run`) is marked as such and is not one of this window's tasks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSummary } from '../../../src/cli/format';
import { CSV_COLUMNS, toCsv } from '../../../src/core/history/exporter';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { MemoryHistoryStore } from '../../../src/core/history/historyStore';
import { RunningElsewhere } from '../../../src/core/metrics/runningMarkers';
import { RunRegistry } from '../../../src/core/runs/trackedRuns';
import { activeTaskInfo, historyRow } from '../../../src/host/dashboardData';
import { formatStatusBar, formatTaskVramGb, taskProgressText } from '../../../src/host/statusFormat';
import { parseToWebview } from '../../../src/shared/protocol';
import { gpuReading, type SystemPerformanceSnapshot } from '../../../src/shared/snapshot';
import { formatTaskVram } from '../../../webview/viewModel';
import { FakeSystemSampler, makeTask } from '../engine/fakes';
import { FakeClock } from '../helpers/fakeClock';

const NOW = Date.UTC(2026, 0, 1, 12);
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

function snap(): SystemPerformanceSnapshot {
  const g = gpuReading({ index: 0, uuid: 'GPU-0', name: 'RTX 4090', utilizationPercent: 90, memoryUtilizationPercent: null, vramUsedMb: 20_000, vramTotalMb: 24_576, temperatureCelsius: 60, powerDrawWatts: 300, powerLimitWatts: 450 });
  return { timestamp: NOW - 1000, cpuUsagePercent: 12, ramUsageMb: 5000, ramTotalMb: 24_000, diskUsagePercent: 40, gpus: [g] } as SystemPerformanceSnapshot;
}

test("a percent-only bar reads `33 %` in the status bar, never `33/100`; a counted bar after it counts steps again", async () => {
  const clock = new FakeClock(NOW);
  const monitor = new PerformanceMonitor({}, { clock, systemSampler: new FakeSystemSampler(), historyStore: new MemoryHistoryStore() });
  const runs = new RunRegistry(monitor, quiet, () => clock.now());
  const run = runs.start('cli', { taskId: 'sample.py@12:00:00', modelType: 'sdxl', resolution: '1024x1024', steps: 0, scriptName: 'sample.py' });
  assert.ok(run);
  // rich's default columns and tqdm's l_bar-only bar: a percentage, no count.
  run.feed('Sampling  33%|███▍      | \r');
  run.flush();
  let [t] = monitor.getActiveTasks();
  assert.equal(t?.progressIsPercent, true);
  assert.deepEqual(taskProgressText(t ?? makeTask()), { text: '33 %', label: '33 percent done' });
  const bar = formatStatusBar(snap(), { gpu: null, activeTasks: [t ?? makeTask()], now: clock.now() });
  assert.match(bar.text, / · 33 %$/);
  assert.ok(!bar.text.includes('33/100'));
  assert.match(bar.accessibleLabel, /33 percent done/);
  // The helper's mp.step (no unit given) is a count: the percent mark goes.
  monitor.updateTaskMetrics(t?.taskId ?? '', { stepsCompleted: 4, stepsTotal: 30 });
  [t] = monitor.getActiveTasks();
  assert.equal(t?.progressIsPercent, undefined);
  assert.equal(taskProgressText(t ?? makeTask())?.text, '4/30');
  // A percentage with a rate has an ETA too; the field is checked like any other.
  assert.equal(taskProgressText(makeTask({ stepsCompleted: 40, stepsTotal: 100, stepsPerSecond: 2, progressIsPercent: true }))?.text, '40 % ETA 0:30');
  assert.throws(() => monitor.updateTaskMetrics(t?.taskId ?? '', { progressIsPercent: 'yes' as never }), /"progressIsPercent" must be true or false/);
  await monitor.dispose();
});

test('a VRAM figure names its scope everywhere, and unknown is unknown, never 0', () => {
  const cases = [
    { scope: 'deviceDelta' as const, mb: 20_480, gb: "20.0 GB (the device's rise during the run)", dash: "20.0 GB (the device's rise during the run)", cli: "20,480 MiB (the device's rise during the run)" },
    { scope: 'helper' as const, mb: 18_432, gb: '18.0 GB (helper allocator peak)', dash: '18.0 GB (helper allocator peak)', cli: '18,432 MiB (helper allocator peak)' },
    { scope: 'device' as const, mb: 21_480, gb: '21.0 GB (whole device)', dash: '21.0 GB (whole device)', cli: '21,480 MiB (whole device)' },
    { scope: 'processTree' as const, mb: 0, gb: '0.0 GB (its processes)', dash: '0 MB (its processes)', cli: '0 MiB (its processes)' },
    { scope: null, mb: null, gb: 'N/A', dash: 'N/A', cli: 'n/a' },
  ];
  for (const c of cases) {
    const task = makeTask({ peakVramUsageMb: c.mb, vramScope: c.scope, processTreePeakVramUsageMb: null });
    assert.equal(formatTaskVramGb(task), c.gb);
    assert.equal(formatTaskVram(task.peakVramUsageMb, task.vramScope), c.dash);
    assert.match(runSummary(task, 'exit code 0', null), new RegExp(`peak VRAM ${c.cli.replace(/[()]/g, '\\$&')} \\|`));
  }
  // The tooltip's task table: the scope with the figure; a task with no figure is N/A, not 0.0 GB.
  const running = makeTask({ taskId: 'gen', status: 'running', endTime: null, startTime: NOW - 5000, peakVramUsageMb: null, vramScope: null });
  const tip = formatStatusBar(snap(), { gpu: null, activeTasks: [running, makeTask({ taskId: 'gen2', status: 'running', endTime: null, peakVramUsageMb: 20_480, vramScope: 'deviceDelta' })], now: NOW }).tooltipMarkdown;
  const rows = tip.split('\n').filter((l) => l.startsWith('| gen'));
  // (the last column is the prediction: none here)
  assert.match(rows[0] ?? '', /\| N\/A \| – \|$/);
  assert.match(rows[1] ?? '', /\| 20\\\.0 GB \\\(the device's rise during the run\\\) \| – \|$/);
  // The export: the scope in its own column, an unknown figure an empty cell (never 0).
  const [head, row] = toCsv([makeTask({ peakVramUsageMb: null, vramScope: null }), makeTask({ peakVramUsageMb: 20_480, vramScope: 'deviceDelta' })]).split('\r\n').map((l) => l.split(','));
  const at = (name: string) => CSV_COLUMNS.indexOf(name as never);
  assert.deepEqual(head?.slice(0, 1), ['taskId']);
  assert.equal(row?.[at('peakVramUsageMb')], '');
  assert.equal(row?.[at('vramScope')], '');
  const second = toCsv([makeTask({ peakVramUsageMb: 20_480, vramScope: 'deviceDelta' })]).split('\r\n')[1]?.split(',');
  assert.equal(second?.[at('peakVramUsageMb')], '20480');
  assert.equal(second?.[at('vramScope')], 'deviceDelta');
  // The dashboard's history rows carry the scope; the detail's mean of a helper peak is unknown, named.
  assert.equal(historyRow(makeTask({ vramScope: 'helper' })).vramScope, 'helper');
  assert.equal(formatTaskVram(null, 'helper'), 'N/A (helper allocator peak)');
  assert.equal(formatTaskVram(20_480, 'deviceDelta', 'long', 24_576), "20.0 / 24.0 GB (the device's rise during the run)");
});

test("a run from another process is marked with its pid in the tooltip and the dashboard, and is not this window's", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'model-perf-display-'));
  try {
    await mkdir(join(dir, 'running'));
    const marker = (pid: number, taskId: string) => JSON.stringify({ schemaVersion: 1, ownerPid: pid, hostname: 'h', updatedAt: 1, task: makeTask({ taskId, status: 'running', endTime: null }) });
    await writeFile(join(dir, 'running', '4242-aaaa.json'), marker(4242, 'cli-run'));
    const elsewhere = new RunningElsewhere({ storageDir: dir, hostname: 'h', ownPid: 1, isAlive: (p) => p === 4242, onChange: () => {}, pollMs: 60_000 });
    await elsewhere.start();
    const [cli] = elsewhere.tasks();
    assert.ok(cli);
    assert.equal(elsewhere.ownerPid(cli), 4242);
    const own = makeTask({ taskId: 'mine', status: 'running', endTime: null });
    assert.equal(elsewhere.ownerPid(own), null, "this window's task has no owner elsewhere");
    elsewhere.dispose();

    const owner = (t: typeof own) => elsewhere.ownerPid(t);
    const tip = formatStatusBar(snap(), { gpu: null, activeTasks: [own, cli], now: NOW, elsewhereOwner: owner }).tooltipMarkdown;
    const line = (id: string) => tip.split('\n').find((l) => l.startsWith(`| ${id}`)) ?? '';
    assert.match(line('cli\\-run'), /outside this window: model\\-perf run or another window, pid 4242/);
    assert.ok(!line('mine').includes('outside this window'));

    const info = activeTaskInfo(cli, null, null, 4242);
    assert.equal(info.elsewherePid, 4242);
    assert.equal(activeTaskInfo(own, null, null).elsewherePid, undefined);
    assert.ok(parseToWebview({ type: 'activeTasks', activeTasks: [info] }).ok);
    assert.ok(!parseToWebview({ type: 'activeTasks', activeTasks: [{ ...info, elsewherePid: 'x' }] }).ok, 'a pid is a whole number');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
