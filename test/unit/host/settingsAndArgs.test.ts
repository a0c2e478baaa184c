import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { defaultHostSettings, diffSettings, readSettings, toMonitorConfig } from '../../../src/host/settings';
import { ArgumentError, parseCompleteArgs, parseExportArgs, parseStartArgs, parseTaskIdArg, validateTaskId } from '../../../src/host/commandArgs';
import { validateConfig } from '../../../src/core/engine/config';

function reader(values: Record<string, unknown>) {
  return { get: <T>(key: string) => values[key] as T };
}

test('settings: defaults when nothing is set, and they are a valid engine config', () => {
  const warnings: string[] = [];
  const s = readSettings(reader({}), (m) => warnings.push(m));
  assert.deepEqual(s, defaultHostSettings);
  assert.deepEqual(warnings, []);
  const config = validateConfig(toMonitorConfig(s));
  assert.equal(config.monitoringIntervalMs, 1000);
  assert.deepEqual(config.thresholds.maxGenerationTimeSecondsByResolution, { '720p': 300, '1080p': 900 });
});

test('settings: every key is read, and each bad value is named, reported and replaced', () => {
  const warnings: string[] = [];
  const s = readSettings(reader({
    monitoringIntervalSeconds: 2.5,
    'gpu.enabled': 'yes',
    'gpu.nvidiaSmiPath': ' /opt/nvidia/bin/nvidia-smi ',
    'gpu.backend': 'cuda',
    'statusBar.visible': false,
    'statusBar.format': 'fancy',
    'statusBar.gpu': '3',
    'thresholds.vramPercent': 150,
    'thresholds.ramPercent': 70,
    'thresholds.cpuPercent': 'high',
    'thresholds.temperatureCelsius': 80,
    'thresholds.modelLoadSeconds': 12,
    'thresholds.successRate': 0.9,
    'thresholds.generationSecondsByResolution': { '720p': 200, '4K': -1, '__proto__': 5, '1280x720': 'fast' },
    'history.retentionDays': 7,
    'history.maxTasks': 5,
    storageDirectory: 'a\u0000b',
  }), (m) => warnings.push(m));
  assert.equal(s.monitoringIntervalMs, 2500);
  assert.equal(s.gpuEnabled, true);
  assert.equal(s.nvidiaSmiPath, '/opt/nvidia/bin/nvidia-smi');
  assert.equal(s.gpuBackend, 'auto');
  assert.equal(s.statusBarVisible, false);
  assert.equal(s.statusBarFormat, 'standard');
  assert.equal(s.statusBarGpu, 3);
  assert.equal(s.thresholds.vramPercent, 90);
  assert.equal(s.thresholds.ramPercent, 70);
  assert.equal(s.thresholds.cpuPercent, 90);
  assert.equal(s.thresholds.temperatureCelsius, 80);
  assert.deepEqual(s.thresholds.generationSecondsByResolution, { '720p': 200 });
  assert.equal(s.retentionDays, 7);
  assert.equal(s.retentionMaxTasks, 100_000);
  assert.equal(s.storageDirectory, '');
  assert.deepEqual(warnings, [
    'Setting modelPerf.gpu.enabled must be true or false (got "yes"); using true.',
    'Setting modelPerf.gpu.backend must be one of "auto", "nvidia-smi", "nvml" (got "cuda"); using "auto".',
    'Setting modelPerf.statusBar.format must be one of "standard", "compact", "detailed" (got "fancy"); using "standard".',
    'Setting modelPerf.thresholds.vramPercent must be a number from 1 to 100 (got 150); using 90.',
    'Setting modelPerf.thresholds.cpuPercent must be a number from 1 to 100 (got "high"); using 90.',
    'Setting modelPerf.thresholds.generationSecondsByResolution: "4K" must be a number of seconds from 1 to 604800 (got -1); ignored.',
    'Setting modelPerf.thresholds.generationSecondsByResolution: "1280x720" must be a number of seconds from 1 to 604800 (got "fast"); ignored.',
    'Setting modelPerf.history.maxTasks must be a number from 10 to 1000000 (got 5); using 100000.',
    'Setting modelPerf.storageDirectory must be a text of at most 4096 characters (got "a\\u0000b"); using "".',
  ]);
});

test('settings: a GPU selection that is not auto, busiest or an index is refused', () => {
  const warnings: string[] = [];
  assert.equal(readSettings(reader({ 'statusBar.gpu': 'the big one' }), (m) => warnings.push(m)).statusBarGpu, 'auto');
  assert.equal(readSettings(reader({ 'statusBar.gpu': 'busiest' }), () => {}).statusBarGpu, 'busiest');
  assert.equal(warnings.length, 1);
});

test('settings: the manifest declares every key readSettings reads, with its default', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { contributes: { configuration: { properties: Record<string, { default: unknown }> } } };
  const props = pkg.contributes.configuration.properties;
  const read: string[] = [];
  readSettings({ get: <T>(key: string) => { read.push(key); return undefined as T; } }, () => {});
  for (const key of read) assert.ok(props[`modelPerf.${key}`], `modelPerf.${key} is in package.json`);
  assert.equal(props['modelPerf.monitoringIntervalSeconds']?.default, defaultHostSettings.monitoringIntervalMs / 1000);
  assert.equal(props['modelPerf.thresholds.vramPercent']?.default, defaultHostSettings.thresholds.vramPercent);
  assert.deepEqual(props['modelPerf.thresholds.generationSecondsByResolution']?.default, defaultHostSettings.thresholds.generationSecondsByResolution);
  // modelPerf.tracking.* are read by src/host/tracking.ts (checked in test/unit/tracking/commandLine.test.ts).
  assert.equal(Object.keys(props).filter((k) => !k.startsWith('modelPerf.tracking.')).length, read.length, 'no setting in the manifest is left unread');
});

test('diffSettings: only what changed restarts', () => {
  const a = defaultHostSettings;
  assert.deepEqual(diffSettings(a, { ...a, statusBarFormat: 'compact' }), { loop: false, gpuProvider: false, history: false, thresholds: false, statusBar: true });
  assert.deepEqual(diffSettings(a, { ...a, monitoringIntervalMs: 2000 }), { loop: true, gpuProvider: false, history: false, thresholds: false, statusBar: false });
  assert.deepEqual(diffSettings(a, { ...a, nvidiaSmiPath: '/x' }), { loop: false, gpuProvider: true, history: false, thresholds: false, statusBar: false });
  assert.deepEqual(diffSettings(a, { ...a, gpuBackend: 'nvml' }), { loop: false, gpuProvider: true, history: false, thresholds: false, statusBar: false });
  assert.equal(readSettings(reader({ 'gpu.backend': 'nvml' }), () => assert.fail('no warning')).gpuBackend, 'nvml');
  assert.deepEqual(diffSettings(a, { ...a, retentionDays: 3 }), { loop: false, gpuProvider: false, history: true, thresholds: false, statusBar: false });
  assert.equal(diffSettings(a, { ...a, thresholds: { ...a.thresholds, vramPercent: 80 } }).thresholds, true);
});

test('command arguments: start task', () => {
  const args = parseStartArgs({ taskId: ' run-1 ', modelType: 'sdxl', resolution: '1024x1024', steps: 30, rootPid: 1234, optimizations: ['xformers'], quantization: 'fp8', offload: true });
  assert.deepEqual(args, { taskId: 'run-1', modelType: 'sdxl', resolution: '1024x1024', steps: 30, options: { rootPid: 1234, optimizations: ['xformers'], quantization: 'fp8', offload: true } });
  assert.match(parseStartArgs({}).taskId, /^task-\d+$/);
  const bad: [unknown, RegExp][] = [
    ['run', /Start Task takes an object as its argument \(got "run"\)/],
    [null, /Start Task takes an object/],
    [{ steps: -1 }, /"steps" must be a whole number from 0 to 1000000000 \(got -1\)/],
    [{ steps: 1.5 }, /"steps" must be a whole number/],
    [{ taskId: 5 }, /"taskId" must be a text \(got number\)/],
    [{ taskId: 'a\nb' }, /"taskId" must not contain control characters/],
    [{ modelType: 'x'.repeat(200) }, /"modelType" must be at most 128 characters \(got 200\)/],
    [{ rootPid: 0 }, /"rootPid" must be a process id/],
    [{ optimizations: 'fast' }, /"optimizations" must be a list of at most 64 texts/],
    [{ offload: 'yes' }, /"offload" must be true or false/],
  ];
  for (const [value, re] of bad) assert.throws(() => parseStartArgs(value), (err: unknown) => err instanceof ArgumentError && re.test(err.message), JSON.stringify(value));
});

test('command arguments: complete, task id, export', () => {
  assert.deepEqual(parseCompleteArgs({}), { success: true, errorCategory: null });
  assert.deepEqual(parseCompleteArgs({ success: false, errorCategory: 'out_of_memory' }), { success: false, errorCategory: 'out_of_memory' });
  assert.throws(() => parseCompleteArgs({ success: 'no' }), /"success" must be true or false \(got "no"\)/);
  assert.equal(parseTaskIdArg('t1'), 't1');
  assert.equal(parseTaskIdArg({ taskId: 't2' }), 't2');
  assert.throws(() => parseTaskIdArg(''), /"taskId" is required/);
  assert.deepEqual(parseExportArgs({ path: '/tmp/x.csv' }), { path: '/tmp/x.csv', windowHours: 24, format: 'csv' });
  assert.deepEqual(parseExportArgs({ path: '/tmp/x', windowHours: 1, format: 'json' }), { path: '/tmp/x', windowHours: 1, format: 'json' });
  assert.throws(() => parseExportArgs({ path: '/tmp/x', format: 'xml' }), /"format" must be "json" or "csv" \(got "xml"\)/);
  assert.throws(() => parseExportArgs({ path: '/tmp/x', windowHours: 0 }), /"windowHours" must be a number greater than 0/);
  assert.throws(() => parseExportArgs({}), /"path" is required/);
  assert.equal(validateTaskId('ok', ['other']), null);
  assert.equal(validateTaskId('  ', []), 'A task id is required');
  assert.equal(validateTaskId('dup', ['dup']), 'A task named "dup" is already running');
});
