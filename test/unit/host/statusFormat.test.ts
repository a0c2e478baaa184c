import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeMarkdown, formatElapsed, formatGb, formatPercent, formatStatusBar, pickGpu, predictionText, shortTaskName, taskProgressText, tasksToWarn } from '../../../src/host/statusFormat';
import { formatStatusReport } from '../../../src/host/statusReport';
import { readSettings } from '../../../src/host/settings';
import { gpuReading, type GpuReading, type SystemPerformanceSnapshot } from '../../../src/shared/snapshot';
import { makeTask } from '../engine/fakes';

const NOW = Date.UTC(2026, 0, 1, 12);

function gpu(over: Partial<Omit<GpuReading, 'vramUsedPercent'>>): GpuReading {
  return gpuReading({
    index: 0, uuid: null, name: 'NVIDIA RTX 4090', utilizationPercent: 87, memoryUtilizationPercent: 40,
    vramUsedMb: 21913.6, vramTotalMb: 24576, temperatureCelsius: 70, powerDrawWatts: 300, powerLimitWatts: 450,
    smClockMhz: 2500, performanceState: 'P2', mig: false, ...over,
  });
}

function snap(over: Partial<SystemPerformanceSnapshot> = {}): SystemPerformanceSnapshot {
  return {
    timestamp: NOW - 2000, cpuUsagePercent: 12.4, ramUsageMb: 5222.4, ramAvailableMb: 18000, ramTotalMb: 23961.6,
    diskUsagePercent: 40, gpuUsagePercent: null, vramUsageMb: null, vramAvailableMb: null, vramTotalMb: null,
    vramUsagePercent: null, temperatureCelsius: null, gpus: [], ...over,
  };
}

test('unknown values read N/A, never 0', () => {
  assert.equal(formatPercent(null), 'N/A');
  assert.equal(formatPercent(Number.NaN), 'N/A');
  assert.equal(formatGb(null), 'N/A');
  assert.equal(formatPercent(0), '0%');
  assert.equal(formatGb(0), '0.0');
});

test('without a GPU the item shows CPU and RAM, and the tooltip says why there is no GPU', () => {
  const v = formatStatusBar(snap(), { gpu: { provider: 'none', available: false, reason: 'nvidia-smi not found on PATH; GPU figures are off' }, activeTasks: [], now: NOW });
  assert.equal(v.text, '$(pulse) CPU 12% · RAM 5.1/23.4 GB');
  assert.equal(v.accessibleLabel, 'CPU 12 percent, RAM 5.1 of 23.4 gigabytes');
  assert.match(v.tooltipMarkdown, /No GPU figures: nvidia\\-smi not found on PATH; GPU figures are off/);
  assert.match(v.tooltipMarkdown, /last sample 2 s ago/);
  assert.equal(v.severity, null);
});

test('with GPUs the busiest one is shown, with a count of the others', () => {
  const gpus = [gpu({ index: 0, utilizationPercent: 10 }), gpu({ index: 1, utilizationPercent: 87 })];
  assert.equal(pickGpu(gpus)?.index, 1);
  const tasks = [makeTask({ taskId: 'wan-720p-$(zap)', startTime: NOW - 65_000, status: 'running', gpuIndices: [] }), makeTask({ taskId: 'other', status: 'running' })];
  const v = formatStatusBar(snap({ gpus }), { gpu: null, activeTasks: tasks, now: NOW, gpuSelection: 'busiest' });
  assert.equal(v.text, '$(pulse) GPU 87% · 21.4/24.0 GB (+1) · $(run) wan-720p-(zap) 1:05 +1', 'codicon syntax from a task id is neutralised');
  assert.match(v.accessibleLabel, /task wan-720p-\(zap\) running for 1:05, 2 active tasks/);
  assert.match(v.tooltipMarkdown, /\| 1: NVIDIA RTX 4090 \| 87% \| 21\.4\/24\.0 GB \| 70 °C \| 300 W \|/);
});

test('a MIG GPU with unknown utilisation still shows, as N/A', () => {
  const v = formatStatusBar(snap({ gpus: [gpu({ utilizationPercent: null, mig: true })] }), { gpu: null, activeTasks: [], now: NOW });
  assert.equal(v.text, '$(pulse) GPU N/A · 21.4/24.0 GB');
});

test('VRAM, RAM and temperature over their thresholds colour the item', () => {
  const ctx = { gpu: null, activeTasks: [], now: NOW };
  assert.equal(formatStatusBar(snap({ gpus: [gpu({ vramUsedMb: 22500 })] }), ctx).severity, 'warning'); // 91.6 %
  assert.equal(formatStatusBar(snap({ gpus: [gpu({ vramUsedMb: 24000 })] }), ctx).severity, 'error'); // 97.7 %
  assert.equal(formatStatusBar(snap({ gpus: [gpu({ vramUsedMb: 1000, temperatureCelsius: 86 })] }), ctx).severity, 'warning');
  assert.equal(formatStatusBar(snap({ ramUsageMb: 21000 }), ctx).severity, 'warning'); // 87.6 %
  assert.equal(formatStatusBar(snap(), ctx).severity, null);
});

test('names from tools cannot inject Markdown links or HTML into the tooltip', () => {
  const hostile = gpu({ name: '[click](command:workbench.action.quit) <img src=x onerror=alert(1)>' });
  const v = formatStatusBar(snap({ gpus: [hostile] }), { gpu: null, activeTasks: [], now: NOW });
  const row = v.tooltipMarkdown.split('\n').find((l) => l.includes('click')) ?? '';
  assert.ok(row.includes('\\[click\\]\\(command:'), row);
  assert.doesNotMatch(row, /(^|[^\\])[<[(]/, 'every bracket is escaped');
  assert.equal(escapeMarkdown('a|b'), 'a\\|b');
});

test('GPU selection: a fixed index, the active task\'s GPU under auto, else the busiest', () => {
  const gpus = [gpu({ index: 0, utilizationPercent: 95 }), gpu({ index: 1, utilizationPercent: 5 })];
  assert.equal(pickGpu(gpus, 1)?.index, 1);
  assert.equal(pickGpu(gpus, 7)?.index, 0, 'an index that does not exist falls back to the busiest');
  assert.equal(pickGpu(gpus, 'auto', [1])?.index, 1);
  assert.equal(pickGpu(gpus, 'auto', [])?.index, 0);
  assert.equal(pickGpu([], 'auto'), undefined);
});

test('formats: compact shows only percentages; detailed adds temperature and power', () => {
  const base = { gpu: null, activeTasks: [], now: NOW };
  assert.equal(formatStatusBar(snap({ gpus: [gpu({})] }), { ...base, format: 'compact' }).text, '$(pulse) 87% · 89%');
  assert.equal(formatStatusBar(snap({ gpus: [gpu({ powerDrawWatts: null })] }), { ...base, format: 'detailed' }).text, '$(pulse) GPU 87% · 21.4/24.0 GB · 70°C · N/A');
  assert.equal(formatStatusBar(snap(), { ...base, format: 'compact' }).text, '$(pulse) CPU 12% · RAM 22%');
});

test('elapsed times and task names are short and safe', () => {
  assert.equal(formatElapsed(0), '0:00');
  assert.equal(formatElapsed(65_400), '1:05');
  assert.equal(formatElapsed(3_723_000), '1:02:03');
  assert.equal(formatElapsed(-5), '0:00');
  assert.equal(shortTaskName('a\u0007b$(x)'), 'ab(x)');
  assert.equal(shortTaskName('x'.repeat(40)), `${'x'.repeat(23)}…`);
  assert.equal(shortTaskName('fake_generate_video.py@14:34:56'), 'fake_generate_…@14:34:56');
  assert.equal(shortTaskName('fake_generate_video.py@14:34:56').length, 24);
});

test('stopped monitoring says so, with a link to start it', () => {
  const v = formatStatusBar(snap(), { gpu: null, activeTasks: [], now: NOW, monitoring: false });
  assert.equal(v.text, '$(debug-pause) Model Perf');
  assert.match(v.tooltipMarkdown, /command:modelPerf\.startMonitoring/);
});

test('before the first sample the item says it is waiting', () => {
  const v = formatStatusBar(null, { gpu: null, activeTasks: [], now: NOW });
  assert.equal(v.text, '$(pulse) Model Perf');
});

test('the status report shows each figure, unknowns as N/A, and the GPU reason', () => {
  const text = formatStatusReport({ snapshot: snap({ cpuUsagePercent: null }), activeTasks: 1, gpuReason: 'No NVIDIA driver loaded', monitoring: true });
  assert.match(text, /- CPU: N\/A/);
  assert.match(text, /- RAM: 5\.1 \/ 23\.4 GB used, 17\.6 GB available/);
  assert.match(text, /No NVIDIA driver loaded/);
  assert.match(text, /active tasks: 1/);
  const withGpu = formatStatusReport({ snapshot: snap({ gpus: [gpu({ name: 'A|B', powerDrawWatts: null })] }), activeTasks: 0, gpuReason: null, monitoring: true });
  assert.match(withGpu, /\| 0 \| A\\\|B \| 87% \| 40% \| 21914 MiB \/ 24576 MiB \| 70 °C \| N\/A \/ 450\.0 W \| 2500 MHz \| P2 \|/);
  assert.match(formatStatusReport({ snapshot: null, activeTasks: 0, gpuReason: null, monitoring: false }), /Monitoring is stopped/);
});

test('settings: a bad interval is reported and replaced by the default', () => {
  const warnings: string[] = [];
  const read = (v: unknown) => readSettings({ get: <T>(key: string) => (key === 'monitoringIntervalSeconds' ? v : undefined) as T }, (m) => warnings.push(m));
  assert.equal(read(2).monitoringIntervalMs, 2000);
  assert.equal(read(undefined).monitoringIntervalMs, 1000);
  assert.equal(read('fast').monitoringIntervalMs, 1000);
  assert.equal(read(0).monitoringIntervalMs, 1000);
  assert.deepEqual(warnings, [
    'Setting modelPerf.monitoringIntervalSeconds must be a number from 0.25 to 60 (got "fast"); using 1.',
    'Setting modelPerf.monitoringIntervalSeconds must be a number from 0.25 to 60 (got 0); using 1.',
  ]);
});

test('a running task that reports progress shows steps and ETA after its name', () => {
  const task = makeTask({ taskId: 'generate.py@14:05:03', status: 'running', startTime: NOW - 65_000, endTime: null, steps: 50, stepsCompleted: 12, stepsTotal: 50, stepsPerSecond: 2 });
  const v = formatStatusBar(snap(), { gpu: null, activeTasks: [task], now: NOW });
  assert.equal(v.text, '$(pulse) CPU 12% · RAM 5.1/23.4 GB · $(run) generate.py@14:05:03 1:05 · 12/50 ETA 0:19');
  assert.match(v.accessibleLabel, /step 12 of 50, about 0:19 left/);
  assert.match(v.tooltipMarkdown, /\| 12\/50 ETA 0:19 \|/);
  assert.deepEqual(taskProgressText({ ...task, stepsTotal: null, steps: 8, stepsPerSecond: null, stepsCompleted: 3 }), { text: '3/8', label: 'step 3 of 8' });
  assert.deepEqual(taskProgressText({ ...task, stepsTotal: null, steps: 0, stepsCompleted: 7 }), { text: '7', label: '7 steps done' });
  assert.equal(taskProgressText({ ...task, stepsCompleted: 50 })?.text, '50/50');
  assert.equal(taskProgressText({ ...task, stepsCompleted: null }), null);
  assert.equal(taskProgressText(makeTask()), null);
});

test('the VRAM share is the reading\'s own figure: the status bar formats it, never recomputes it', () => {
  // A reading whose share disagrees with its MiB (as no built reading can): the face must show the share.
  const reading: GpuReading = { ...gpu({}), vramUsedPercent: 12 };
  const ctx = { gpu: null, activeTasks: [], now: NOW };
  assert.equal(formatStatusBar(snap({ gpus: [reading] }), { ...ctx, format: 'compact' }).text, '$(pulse) 87% · 12%');
  assert.equal(formatStatusBar(snap({ gpus: [{ ...reading, vramUsedPercent: 96 }] }), ctx).severity, 'error');
  assert.equal(formatStatusBar(snap({ gpus: [{ ...reading, vramUsedPercent: null }] }), { ...ctx, format: 'compact' }).text, '$(pulse) 87% · N/A');
  // Busiest: equal utilisation, then the larger share.
  const a = { ...reading, index: 0, vramUsedPercent: 10 };
  const b = { ...reading, index: 1, vramUsedPercent: 20 };
  assert.equal(pickGpu([a, b], 'busiest')?.index, 1);
});

test("the GPU availability's note (the container case and its remedy) is one tooltip line, escaped", () => {
  const note = "The GPU tool lists pids that do not exist here. Start the container with --pid=host [x](command:evil)";
  const view = formatStatusBar(snap({ gpus: [gpu({})] }), { gpu: { provider: 'nvidia', available: true, reason: null, note }, activeTasks: [], now: NOW });
  const lines = view.tooltipMarkdown.split('\n').filter((l) => l.includes('pid=host'));
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', /^\$\(warning\) The GPU tool/);
  assert.ok(!view.tooltipMarkdown.includes('](command:evil)'), 'escaped: no link');
  const without = formatStatusBar(snap({ gpus: [gpu({})] }), { gpu: { provider: 'nvidia', available: true, reason: null }, activeTasks: [], now: NOW });
  assert.ok(!without.tooltipMarkdown.includes('$(warning)'));
});

test("a running task's prediction shows in the tooltip; one predicted not to fit is warned about once, with the evidence", () => {
  const fits = makeTask({ taskId: 'ok', modelType: 'sdxl', resolution: '1024x1024', status: 'running', endTime: null, startTime: NOW - 5000, prediction: { peakVramMb: 35_021, generationTimeSeconds: 130, gpuMemoryMb: 81_920, exceedsGpuMemory: false, basedOnTaskCount: 6 } });
  const big = makeTask({ taskId: 'big|run', modelType: 'wan-t2v', resolution: '1920x1080', status: 'running', endTime: null, startTime: NOW - 1000, prediction: { peakVramMb: 92_160, generationTimeSeconds: null, gpuMemoryMb: 81_920, exceedsGpuMemory: true, basedOnTaskCount: 4 } });
  const none = makeTask({ taskId: 'new', status: 'running', endTime: null, startTime: NOW - 1000, prediction: null });
  assert.equal(predictionText(fits.prediction ?? null), 'peak 34.2 GB · 2:10');
  assert.equal(predictionText(big.prediction ?? null), 'peak 90.0 GB (does not fit)');
  assert.equal(predictionText(null), '–');
  const v = formatStatusBar(snap({ gpus: [gpu({})] }), { gpu: null, activeTasks: [fits, big, none], now: NOW });
  assert.match(v.tooltipMarkdown, /\| Peak VRAM \| Predicted \|/);
  assert.match(v.tooltipMarkdown, /\| peak 34\.2 GB · 2:10 \|/);
  assert.ok(v.tooltipMarkdown.includes(`$(warning) ${escapeMarkdown('big|run (wan-t2v at 1920x1080) is predicted to need 90.0 GB of GPU memory at its peak, more than the 80.0 GB GPU it is compared with (fitted on 4 earlier runs of wan-t2v).')}`), v.tooltipMarkdown);

  const warned = new Set<string>();
  assert.deepEqual(tasksToWarn([fits, big, none], warned).map((w) => w.task.taskId), ['big|run']);
  assert.deepEqual(tasksToWarn([fits, big, none], warned), [], 'once per run');
  // The same id started again is another run: warned again. Ended runs are forgotten.
  const again = { ...big, startTime: NOW };
  assert.deepEqual(tasksToWarn([again], warned).map((w) => w.task.startTime), [NOW]);
  assert.equal(warned.size, 1);
});

test('a GPU held below its clocks for heat or power says so in the tooltip, with the reasons and its SM clock', () => {
  const hot = formatStatusBar(snap({ gpus: [gpu({ clockEventReasons: 0x44, smClockMhz: 1710, smClockMaxMhz: 3105 })] }), { gpu: null, activeTasks: [], now: NOW });
  assert.match(hot.tooltipMarkdown, /\$\(flame\) GPU 0 held below its clocks: sw_power_cap, hw_thermal_slowdown \(SM 1710 of 3105 MHz\)/);
  for (const reasons of [0, 0x1, null]) {
    assert.doesNotMatch(formatStatusBar(snap({ gpus: [gpu({ clockEventReasons: reasons })] }), { gpu: null, activeTasks: [], now: NOW }).tooltipMarkdown, /held below/, String(reasons));
  }
});
