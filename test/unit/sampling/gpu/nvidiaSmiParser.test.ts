import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  NVIDIA_QUERY_FIELDS,
  parseReasonMask,
  computeAppsArgs,
  gpuQueryArgs,
  parseComputeApps,
  parseGpuLine,
  parseGpuOutput,
  parseNumberField,
  type NvidiaQueryField,
} from '../../../../src/core/sampling/gpu/nvidiaSmiParser';
import { clockReasons } from '../../../../src/shared/snapshot';

const FIX = join(__dirname, '../../../fixtures/nvidia-smi');
const fixture = (name: string): string => readFileSync(join(FIX, name), 'utf8');
const ALL = NVIDIA_QUERY_FIELDS;

test('one GPU: every field lands in its named figure with its unit', () => {
  const { readings, rejected } = parseGpuOutput(fixture('query-1gpu.csv'), ALL);
  assert.equal(rejected.length, 0);
  assert.deepEqual(readings, [
    {
      index: 0,
      uuid: 'GPU-5c7b0d8e-4e2c-6f3a-9a1b-2f0c1d3e4a5b',
      name: 'NVIDIA GeForce RTX 4090',
      utilizationPercent: 97,
      memoryUtilizationPercent: 41,
      vramUsedMb: 20314,
      vramTotalMb: 24564,
      vramUsedPercent: (20314 / 24564) * 100,
      temperatureCelsius: 71,
      powerDrawWatts: 412.38,
      powerLimitWatts: 450,
      smClockMhz: 2610,
      smClockMaxMhz: 3105,
      clockEventReasons: 0,
      performanceState: 'P2',
      mig: false,
    },
  ]);
});

test('two and eight GPUs keep their own index and uuid', () => {
  const two = parseGpuOutput(fixture('query-2gpu.csv'), ALL).readings;
  assert.deepEqual(two.map((g) => [g.index, g.performanceState, g.utilizationPercent]), [
    [0, 'P2', 88],
    [1, 'P8', 0],
  ]);
  const eight = parseGpuOutput(fixture('query-8gpu.csv'), ALL).readings;
  assert.equal(eight.length, 8);
  assert.deepEqual(eight.map((g) => g.index), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(new Set(eight.map((g) => g.uuid)).size, 8);
  assert.equal(eight[7]?.vramUsedMb, 70700);
  assert.ok(eight.every((g) => g.mig === false));
});

test('MIG: a GPU in MIG mode is flagged and its missing utilisation is unknown, not 0', () => {
  const [a, b] = parseGpuOutput(fixture('query-mig.csv'), ALL).readings;
  assert.equal(a?.mig, true);
  assert.equal(a?.utilizationPercent, null);
  assert.equal(a?.memoryUtilizationPercent, null);
  assert.equal(a?.vramUsedMb, 12087);
  assert.equal(b?.mig, false);
  assert.equal(b?.utilizationPercent, 64);
});

test('a MIG instance uuid marks the reading as MIG even without the mode column', () => {
  const fields: NvidiaQueryField[] = ['index', 'uuid', 'name', 'utilization.gpu'];
  const r = parseGpuLine('0, MIG-GPU-c3a5e1f0-9b8d-4c7e-a6f5-1e2d3c4b5a69/1/0, A100 3g.20gb, [N/A]', fields);
  assert.ok(r.ok);
  assert.equal(r.reading.mig, true);
  assert.equal(r.reading.utilizationPercent, null);
});

test('[N/A], [Not Supported], [Unknown Error] and [GPU is lost] are unknown (null), never 0', () => {
  const { readings, rejected } = parseGpuOutput(fixture('query-na.csv'), ALL);
  assert.equal(rejected.length, 0);
  const [laptop, quadro, tesla, lost] = readings;
  assert.equal(laptop?.powerDrawWatts, null);
  assert.equal(laptop?.powerLimitWatts, null);
  assert.equal(laptop?.utilizationPercent, 5);
  assert.equal(quadro?.utilizationPercent, null);
  assert.equal(quadro?.smClockMhz, null);
  assert.equal(laptop?.clockEventReasons, null, '[N/A]');
  assert.equal(quadro?.clockEventReasons, null, '[Not Supported]');
  assert.equal(quadro?.smClockMaxMhz, null);
  assert.equal(tesla?.clockEventReasons, null, '[Unknown Error]');
  assert.equal(tesla?.smClockMaxMhz, 1590);
  assert.equal(quadro?.performanceState, null);
  assert.equal(quadro?.vramUsedMb, 210);
  assert.equal(tesla?.utilizationPercent, null);
  assert.equal(tesla?.memoryUtilizationPercent, 0, 'a real 0 stays 0');
  assert.equal(tesla?.vramUsedMb, null);
  assert.equal(tesla?.temperatureCelsius, null);
  // A lost GPU stays listed, with every figure unknown, so the user sees it is gone.
  assert.equal(lost?.index, 3);
  assert.equal(lost?.uuid, null);
  assert.equal(lost?.name, 'GPU 3');
  for (const key of ['utilizationPercent', 'vramUsedMb', 'vramTotalMb', 'temperatureCelsius', 'powerDrawWatts'] as const) {
    assert.equal(lost?.[key], null, key);
  }
});

test('garbage: headers, warnings, truncated and wrong-width lines are rejected with a reason', () => {
  const { readings, rejected } = parseGpuOutput(fixture('query-garbage.txt'), ALL);
  assert.deepEqual(readings.map((g) => g.index), [0, 1]);
  assert.ok(rejected.length >= 5, `rejected ${rejected.length}`);
  assert.ok(rejected.every((r) => r.reason.length > 0));
  assert.ok(rejected.some((r) => /columns/.test(r.reason)));
  assert.ok(rejected.some((r) => /index/.test(r.reason)));
});

test('hostile input: control characters stripped, absurd numbers unknown, nothing throws', () => {
  const { readings } = parseGpuOutput(fixture('query-hostile.txt'), ALL);
  const evil = readings.find((g) => g.index === 0);
  assert.ok(evil);
  assert.doesNotMatch(evil.name, /[\u0000-\u001f]/);
  assert.ok(evil.name.length <= 96);
  assert.equal(evil.utilizationPercent, null, '1e400 is not a percentage');
  assert.equal(evil.memoryUtilizationPercent, null, 'NaN');
  assert.equal(evil.vramUsedMb, null, 'negative memory');
  assert.equal(evil.temperatureCelsius, null, '9000 °C');
  assert.equal(evil.powerDrawWatts, null, 'Infinity');
  assert.equal(evil.powerLimitWatts, null, 'hex');
  assert.equal(evil.smClockMhz, null, '12abc');
  assert.equal(evil.performanceState, null, 'P999');
  assert.equal(evil.smClockMaxMhz, null, '1e400');
  assert.equal(evil.clockEventReasons, null, 'a mask followed by shell text');
  const second = readings.find((g) => g.index === 1);
  assert.equal(second?.uuid, null, 'a uuid with shell text is not a uuid');
  assert.doesNotMatch(second?.name ?? '', /\u202e/, 'bidi override removed');
  assert.equal(second?.utilizationPercent, null, '101 %');
  assert.equal(second?.temperatureCelsius, null, '-273');
  assert.equal(second?.smClockMaxMhz, null, 'negative clock');
  assert.equal(second?.clockEventReasons, null, 'more hex digits than 64 bits hold');
  assert.equal(readings.find((g) => g.index === 99999), undefined);
  const long = readings.find((g) => g.index === 2);
  assert.ok(long && long.name.length <= 96);
});

test('a line of the wrong width for the fields asked is rejected, the right width accepted', () => {
  const fields: NvidiaQueryField[] = ['index', 'uuid', 'name', 'memory.used', 'memory.total'];
  assert.equal(parseGpuLine('0, GPU-1, T4, 10', fields).ok, false);
  const r = parseGpuLine('0, GPU-1, T4, 10, 15360', fields);
  assert.ok(r.ok);
  assert.equal(r.reading.powerLimitWatts, null, 'a field not asked for is unknown');
  assert.equal(r.reading.mig, false);
  assert.equal(parseGpuLine('', fields).ok, false);
  assert.equal(parseGpuLine('   ', fields).ok, false);
});

test('numbers: units tolerated, everything odd is unknown', () => {
  assert.equal(parseNumberField('512 MiB'), 512);
  assert.equal(parseNumberField('28.16 W'), 28.16);
  assert.equal(parseNumberField(' 7 '), 7);
  assert.equal(parseNumberField('-12.5'), -12.5);
  assert.equal(parseNumberField('0'), 0);
  assert.equal(parseNumberField('9'.repeat(400)), null, 'beyond a double');
  for (const bad of ['', 'N/A', '[N/A]', '[Not Supported]', '[Insufficient Permissions]', '1e3', '0x1', 'Infinity', '1.2.3', '--1', '-', '.5', '5.', '-.5', '1 2', '١٢']) {
    assert.equal(parseNumberField(bad), null, bad);
  }
});

test('compute-apps: processes with their GPU and memory; [N/A] memory is unknown', () => {
  assert.deepEqual(parseComputeApps(fixture('compute-apps-normal.csv')), [
    { pid: 48213, gpuUuid: 'GPU-0a1b2c3d-1111-2222-3333-444455556666', usedMemoryMb: 38912 },
    { pid: 48377, gpuUuid: 'GPU-0a1b2c3d-1111-2222-3333-444455556666', usedMemoryMb: 1024 },
    { pid: 50112, gpuUuid: 'GPU-7f8e9d0c-aaaa-bbbb-cccc-ddddeeeeffff', usedMemoryMb: 2 },
  ]);
  assert.deepEqual(parseComputeApps(fixture('compute-apps-empty.csv')), []);
  const wsl = parseComputeApps(fixture('compute-apps-wsl.csv'));
  assert.equal(wsl.length, 2);
  assert.ok(wsl.every((p) => p.usedMemoryMb === null));
  const mig = parseComputeApps(fixture('compute-apps-mig.csv'));
  assert.deepEqual(mig.map((p) => [p.pid, p.usedMemoryMb]), [
    [9001, null],
    [9002, 17920],
  ]);
});

test('query arguments: one-shot and looping forms', () => {
  assert.deepEqual(gpuQueryArgs(['index', 'name']), ['--query-gpu=index,name', '--format=csv,noheader,nounits']);
  assert.deepEqual(gpuQueryArgs(['index'], 250), ['--query-gpu=index', '--format=csv,noheader,nounits', '-lms', '250']);
  assert.deepEqual(computeAppsArgs(), ['--query-compute-apps=pid,gpu_uuid,used_memory', '--format=csv,noheader,nounits']);
});

test('clock event reasons: the hex bitmask as a number, the thermal and power reasons named', () => {
  assert.equal(parseReasonMask('0x0000000000000044'), 0x44);
  assert.equal(parseReasonMask(' 0x0000000000000000 '), 0);
  assert.equal(parseReasonMask('0X80'), 0x80);
  // Bits above 32 are dropped, not rounded into the low ones.
  assert.equal(parseReasonMask('0xffffffff00000004'), 4);
  for (const bad of ['[N/A]', '[Not Supported]', '68', '0x', '0xZZ', '0x1ffffffffffffffff', 'Active', '']) assert.equal(parseReasonMask(bad), null, bad);
  assert.deepEqual(clockReasons(0x44), ['sw_power_cap', 'hw_thermal_slowdown']);
  assert.deepEqual(clockReasons(0x1 | 0x2 | 0x10 | 0x100), [], 'idle, application clocks, sync boost and display clocks are no throttling');
  assert.deepEqual(clockReasons(0xec), ['sw_power_cap', 'hw_slowdown', 'sw_thermal_slowdown', 'hw_thermal_slowdown', 'hw_power_brake_slowdown']);
  assert.deepEqual(clockReasons(null), []);
  const r = parseGpuLine('0, GPU-1a2b, V100, 99, 3, 100, 16384, 84, 249.5, 250.00, 1230, P0, [N/A], 1530, 0x0000000000000044', ALL);
  assert.ok(r.ok);
  assert.equal(r.reading.clockEventReasons, 0x44);
  assert.equal(r.reading.smClockMaxMhz, 1530);
  const old = parseGpuLine('0, GPU-1a2b, V100, 0x0000000000000020', ['index', 'uuid', 'name', 'clocks_throttle_reasons.active']);
  assert.ok(old.ok);
  assert.equal(old.reading.clockEventReasons, 0x20, 'the older name reads the same');
});
