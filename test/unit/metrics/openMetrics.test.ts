// The exposition `model-perf serve` answers with: both formats, Prometheus naming, escaping and
// bounds on what users type (model types, task ids), the task counters and histogram, content
// negotiation, and `promtool check metrics` over the real text where promtool is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { PerformanceMetrics, TaskStatus } from '../../../src/shared/metrics';
import { gpuReading, type SystemPerformanceSnapshot } from '../../../src/shared/snapshot';
import {
  boundedLabelValue,
  escapeLabelValue,
  GENERATION_TIME_BUCKETS_SECONDS,
  MAX_LABEL_VALUE_CHARS,
  MAX_RUNNING_TASK_SERIES,
  MAX_TASK_COUNTER_SERIES,
  negotiateFormat,
  performanceStateNumber,
  renderExposition,
  taskTotals,
  type NodeExpositionInput,
  type RunningTaskView,
} from '../../../src/core/metrics/openMetrics';

function snapshot(gpuCount: number): SystemPerformanceSnapshot {
  const gpus = Array.from({ length: gpuCount }, (_, i) =>
    gpuReading({ index: i, uuid: `GPU-${i}`, name: 'NVIDIA H100 80GB HBM3', utilizationPercent: 50 + i, memoryUtilizationPercent: 10, vramUsedMb: 1024 * (i + 1), vramTotalMb: 81559, temperatureCelsius: 40 + i, powerDrawWatts: 300.5, powerLimitWatts: 700, smClockMhz: 1980, smClockMaxMhz: 1980, clockEventReasons: i === 1 ? 0x44 : i === 0 ? null : 0x1, performanceState: 'P0' }),
  );
  return { timestamp: 1_700_000_000_000, cpuUsagePercent: 25, ramUsageMb: 2048, ramAvailableMb: 1024, ramTotalMb: 4096, diskUsagePercent: 50, gpuUsagePercent: 50, vramUsageMb: 1, vramAvailableMb: 1, vramTotalMb: 1, vramUsagePercent: 1, temperatureCelsius: 47, gpus };
}

function task(status: TaskStatus, modelType: string, resolutionClass: string | null, generationTimeSeconds: number | null): PerformanceMetrics {
  return { status, modelType, resolutionClass, generationTimeSeconds } as PerformanceMetrics;
}

function input(over: Partial<NodeExpositionInput> = {}): NodeExpositionInput {
  return {
    snapshot: snapshot(2),
    gpuAvailability: { provider: 'nvidia', available: true, reason: null },
    totals: taskTotals([task('succeeded', 'sdxl', '720p', 12), task('succeeded', 'sdxl', '720p', 30), task('failed', 'flux', null, 4000)]),
    running: [{ taskId: 'gen-1', modelType: 'sdxl', startTime: 1_700_000_000_000, stepsCompleted: 3, stepsTotal: 12 }],
    version: '0.1.0',
    ...over,
  };
}

/** Sample lines as name{labels} -> value. */
function samples(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    map.set(line.slice(0, at), line.slice(at + 1));
  }
  return map;
}

test('GPU figures in base units: ratios 0..1, bytes, celsius, watts, hertz', () => {
  const s = samples(renderExposition(input(), 'prometheus'));
  const labels = '{gpu="1",uuid="GPU-1",name="NVIDIA H100 80GB HBM3"}';
  assert.equal(s.get(`model_perf_gpu_utilization_ratio${labels}`), '0.51');
  assert.equal(s.get(`model_perf_gpu_memory_used_bytes${labels}`), String(2048 * 1024 * 1024));
  assert.equal(s.get(`model_perf_gpu_memory_total_bytes${labels}`), String(81559 * 1024 * 1024));
  assert.equal(s.get(`model_perf_gpu_temperature_celsius${labels}`), '41');
  assert.equal(s.get(`model_perf_gpu_power_watts${labels}`), '300.5');
  assert.equal(s.get(`model_perf_gpu_sm_clock_hertz${labels}`), '1980000000');
  assert.equal(s.get(`model_perf_gpu_performance_state${labels}`), '0');
  assert.equal(s.get('model_perf_gpu_info{gpu="1",uuid="GPU-1",name="NVIDIA H100 80GB HBM3",mig="false"}'), '1');
  assert.equal(s.get('model_perf_cpu_utilization_ratio'), '0.25');
  assert.equal(s.get('model_perf_memory_used_bytes'), String(2048 * 1024 * 1024));
  assert.equal(s.get('model_perf_last_sample_timestamp_seconds'), '1700000000');
  assert.equal(s.get('model_perf_tasks_running'), '1');
  assert.equal(s.get('model_perf_task_progress_ratio{task_id="gen-1",model_type="sdxl"}'), '0.25');
});

test('clock throttling: one 0/1 series per GPU and thermal or power reason; a GPU that does not say has none', () => {
  const s = samples(renderExposition(input({ snapshot: snapshot(3) }), 'prometheus'));
  const at = (gpu: number, reason: string): string | undefined => s.get(`model_perf_gpu_clock_throttle_active{gpu="${gpu}",uuid="GPU-${gpu}",name="NVIDIA H100 80GB HBM3",reason="${reason}"}`);
  // GPU 1: 0x44 = sw_power_cap + hw_thermal_slowdown.
  assert.deepEqual(['sw_power_cap', 'hw_slowdown', 'sw_thermal_slowdown', 'hw_thermal_slowdown', 'hw_power_brake_slowdown'].map((r) => at(1, r)), ['1', '0', '0', '1', '0']);
  // GPU 2: idle (0x1) is no thermal or power reason.
  assert.equal(at(2, 'sw_power_cap'), '0');
  assert.equal(at(0, 'sw_power_cap'), undefined, 'unknown reasons are left out, not written as 0');
  assert.equal(s.get('model_perf_gpu_sm_clock_max_hertz{gpu="1",uuid="GPU-1",name="NVIDIA H100 80GB HBM3"}'), '1980000000');
});

test('performance states: P0..P15 as numbers, anything else unknown', () => {
  assert.equal(performanceStateNumber('P0'), 0);
  assert.equal(performanceStateNumber('P15'), 15);
  for (const bad of ['P16', 'p2', 'P', 'P-1', '', null, '[N/A]']) assert.equal(performanceStateNumber(bad), null, String(bad));
});

test('an unknown figure is left out, never written as 0', () => {
  const snap = snapshot(1);
  snap.gpus[0] = gpuReading({ index: 0, name: 'MIG 1g.10gb', mig: true, vramUsedMb: 100, vramTotalMb: 1000 });
  snap.cpuUsagePercent = null;
  const text = renderExposition(input({ snapshot: snap, running: [{ taskId: 't', modelType: 'm', startTime: 0, stepsCompleted: null, stepsTotal: null }] }), 'prometheus');
  assert.doesNotMatch(text, /model_perf_gpu_utilization_ratio/);
  assert.doesNotMatch(text, /model_perf_cpu_utilization_ratio/);
  assert.doesNotMatch(text, /model_perf_task_progress_ratio/);
  assert.match(text, /model_perf_gpu_memory_used_bytes\{gpu="0",uuid="",name="MIG 1g.10gb"\} 104857600\n/);
});

test('before the first sample: only the build info, availability and task families', () => {
  const text = renderExposition(input({ snapshot: null }), 'prometheus');
  assert.doesNotMatch(text, /model_perf_gpu_(?!monitoring)|model_perf_cpu_|model_perf_memory_/);
  assert.match(text, /model_perf_build_info\{version="0.1.0"\} 1\n/);
});

test('every family has HELP and TYPE once, before its samples; counters end in _total', () => {
  const text = renderExposition(input(), 'prometheus');
  const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]] as const);
  const helps = [...text.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]);
  assert.deepEqual(helps, types.map(([n]) => n));
  assert.equal(new Set(helps).size, helps.length);
  for (const [name, type] of types) {
    assert.match(name as string, /^model_perf_[a-z0-9_]+$/);
    if (type === 'counter') assert.match(name as string, /_total$/);
    else assert.doesNotMatch(name as string, /_total$/);
  }
  assert.ok(types.some(([n, t]) => n === 'model_perf_tasks_total' && t === 'counter'));
  assert.ok(types.some(([n, t]) => n === 'model_perf_task_generation_seconds' && t === 'histogram'));
});

test('OpenMetrics: counter family named without _total, samples with it, # EOF last', () => {
  const text = renderExposition(input(), 'openmetrics');
  assert.match(text, /^# TYPE model_perf_tasks counter$/m);
  assert.match(text, /^model_perf_tasks_total\{status="succeeded",model_type="sdxl",resolution_class="720p"\} 2$/m);
  assert.ok(text.endsWith('\n# EOF\n'));
  assert.equal(text.match(/# EOF/g)?.length, 1);
  assert.doesNotMatch(renderExposition(input(), 'prometheus'), /# EOF/);
});

test('task counters by status, model type and resolution class; the histogram is cumulative', () => {
  const s = samples(renderExposition(input(), 'prometheus'));
  assert.equal(s.get('model_perf_tasks_total{status="succeeded",model_type="sdxl",resolution_class="720p"}'), '2');
  assert.equal(s.get('model_perf_tasks_total{status="failed",model_type="flux",resolution_class="unknown"}'), '1');
  assert.equal(s.get('model_perf_task_generation_seconds_bucket{le="10.0"}'), '0');
  assert.equal(s.get('model_perf_task_generation_seconds_bucket{le="20.0"}'), '1');
  assert.equal(s.get('model_perf_task_generation_seconds_bucket{le="30.0"}'), '2');
  assert.equal(s.get('model_perf_task_generation_seconds_bucket{le="3600.0"}'), '2');
  assert.equal(s.get('model_perf_task_generation_seconds_bucket{le="7200.0"}'), '3');
  assert.equal(s.get('model_perf_task_generation_seconds_bucket{le="+Inf"}'), '3');
  assert.equal(s.get('model_perf_task_generation_seconds_count'), '3');
  assert.equal(s.get('model_perf_task_generation_seconds_sum'), '4042');
});

test('a generation time past the last bucket counts only in +Inf; running and unknown times are not in the histogram', () => {
  const totals = taskTotals([task('succeeded', 'a', '720p', 1e6), task('interrupted', 'a', '720p', null), task('running', 'a', '720p', 5), task('failed', 'a', '720p', Number.NaN)]);
  assert.equal(totals.generationCount, 1);
  assert.equal(totals.generationBuckets.at(-1), 0);
  assert.equal(totals.generationBuckets.length, GENERATION_TIME_BUCKETS_SECONDS.length);
  assert.equal(totals.counters.reduce((a, c) => a + c.count, 0), 3);
});

test('hostile label values: backslash, quote and newline escaped, other controls replaced, length bounded', () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(boundedLabelValue('x\u001b[31my\u0000\rz'), 'x\ufffd[31my\ufffd\ufffdz');
  assert.equal(boundedLabelValue('lone \ud800 surrogate'), 'lone \ufffd surrogate');
  const long = boundedLabelValue('m'.repeat(10_000));
  assert.equal(long.length, MAX_LABEL_VALUE_CHARS);
  assert.ok(long.endsWith('\u2026'));
  // A cut never splits a surrogate pair.
  const emoji = boundedLabelValue('a'.repeat(MAX_LABEL_VALUE_CHARS - 2) + '\u{1F600}\u{1F600}');
  assert.doesNotMatch(emoji, /[\ud800-\udbff](?![\udc00-\udfff])/);

  const text = renderExposition(input({ totals: taskTotals([task('succeeded', 'evil"}\nmodel_perf_fake 1\n\\', '720p', 1)]) }), 'prometheus');
  assert.match(text, /model_type="evil\\"}\\nmodel_perf_fake 1\\n\\\\"/);
  assert.doesNotMatch(text, /^model_perf_fake/m);
});

test('distinct task label sets are bounded: the rest are summed per status under "other"', () => {
  const tasks: PerformanceMetrics[] = [];
  for (let i = 0; i < 1000; i++) tasks.push(task(i % 2 ? 'failed' : 'succeeded', `model-${i}`, '720p', 1));
  for (let i = 0; i < 5; i++) tasks.push(task('succeeded', 'other', 'other', 1)); // a user typed it
  const totals = taskTotals(tasks);
  assert.ok(totals.counters.length <= MAX_TASK_COUNTER_SERIES);
  assert.equal(totals.counters.reduce((a, c) => a + c.count, 0), 1005);
  const keys = totals.counters.map((c) => `${c.status}/${c.modelType}/${c.resolutionClass}`);
  assert.equal(new Set(keys).size, keys.length, 'no duplicate series');
  // Long model types that cut to the same value are one series.
  const cut = taskTotals([task('succeeded', `${'x'.repeat(200)}a`, '720p', 1), task('succeeded', `${'x'.repeat(200)}b`, '720p', 1)]);
  assert.deepEqual(cut.counters.map((c) => c.count), [2]);
});

test('running tasks shown one by one are bounded; ids that cut to the same value are one series', () => {
  const running: RunningTaskView[] = Array.from({ length: 200 }, (_, i) => ({ taskId: `${'t'.repeat(100)}-${i}`, modelType: 'm', startTime: i, stepsCompleted: 1, stepsTotal: 2 }));
  const text = renderExposition(input({ running }), 'prometheus');
  assert.match(text, /^model_perf_tasks_running 200$/m);
  const series = text.match(/^model_perf_task_start_timestamp_seconds\{/gm) ?? [];
  assert.equal(series.length, 1);
  const distinct: RunningTaskView[] = Array.from({ length: 200 }, (_, i) => ({ taskId: `t-${i}`, modelType: 'm', startTime: i, stepsCompleted: 1, stepsTotal: 2 }));
  assert.equal(renderExposition(input({ running: distinct }), 'prometheus').match(/^model_perf_task_progress_ratio\{/gm)?.length, MAX_RUNNING_TASK_SERIES);
});

test('content negotiation: OpenMetrics when asked (as Prometheus asks), the text format otherwise', () => {
  assert.equal(negotiateFormat('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'), 'openmetrics');
  assert.equal(negotiateFormat('text/plain;version=0.0.4'), 'prometheus');
  assert.equal(negotiateFormat(undefined), 'prometheus');
  assert.equal(negotiateFormat('*/*'), 'prometheus');
  assert.equal(negotiateFormat('application/openmetrics-text;q=0'), 'prometheus');
  assert.equal(negotiateFormat('text/plain, application/OpenMetrics-Text'), 'openmetrics');
  assert.equal(negotiateFormat(`${'x,'.repeat(100_000)}application/openmetrics-text`), 'prometheus');
});

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const noPromtool = promtool.error ? 'promtool is not installed (Debian: apt-get install prometheus, or scripts/setup-test-host.sh)' : false;

test('promtool check metrics accepts the exposition (8 GPUs, tasks, hostile labels)', { skip: noPromtool }, () => {
  const hostile = taskTotals([task('succeeded', 'a"b\\c\nd', '1080p', 3), task('cancelled', '\u{1F600} model', null, null), task('failed', 'x'.repeat(500), '720p', 99999)]);
  const text = renderExposition(input({ snapshot: snapshot(8), totals: hostile }), 'prometheus');
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `promtool said:\n${r.stdout}${r.stderr}`);
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '');
});
