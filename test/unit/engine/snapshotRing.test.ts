import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ring, SnapshotRing } from '../../../src/core/engine/snapshotRing';
import { assembleSnapshot } from '../../../src/core/engine/snapshot';
import { gpu } from './fakes';

const T0 = Date.UTC(2026, 0, 1);

test('the ring keeps the newest entries, oldest first', () => {
  const r = new Ring<number>(3);
  assert.equal(r.latest(), null);
  for (let i = 1; i <= 5; i++) r.push(i);
  assert.deepEqual(r.toArray(), [3, 4, 5]);
  assert.equal(r.latest(), 5);
  assert.equal(r.size, 3);
  assert.throws(() => new Ring(0), { message: 'Ring capacity must be a whole number of at least 1 (got 0)' });
});

test('snapshots: bounded ring at full rate, per-minute roll-ups with time-weighted means and true peaks', () => {
  const h = new SnapshotRing(5, 2, 2000);
  const snap = (t: number, cpu: number | null) => assembleSnapshot(t, { cpuUsagePercent: cpu, ramUsedMb: 100, ramAvailableMb: 1, ramTotalMb: 200, diskUsagePercent: 1 }, [gpu(0, { utilizationPercent: 80, temperatureCelsius: cpu ?? 0 })]);
  h.push(snap(T0, 10));
  h.push(snap(T0 + 1000, 20));
  h.push(snap(T0 + 2000, 90)); // weight 1 s each
  h.push(snap(T0 + 30_000, 30)); // after a pause: weight capped at 2 s
  h.push(snap(T0 + 31_000, null)); // unknown CPU is left out, not counted as zero
  h.push(snap(T0 + 60_000, 50)); // next minute
  h.push(snap(T0 + 120_000, 60)); // third minute: the first roll-up falls out (capacity 2)
  assert.deepEqual(h.recent().map((s) => s.timestamp - T0), [2000, 30_000, 31_000, 60_000, 120_000]);
  assert.deepEqual(h.recent(T0 + 31_000).map((s) => s.timestamp - T0), [31_000, 60_000, 120_000]);
  const rollups = h.minuteRollups();
  assert.deepEqual(rollups.map((r) => r.minuteStart - T0), [60_000, 120_000]);
  assert.equal(rollups[0]?.sampleCount, 1);
  assert.equal(rollups[0]?.averageCpuUsagePercent, 50);

  const one = new SnapshotRing(100, 10, 2000);
  for (const [t, cpu] of [[0, 10], [1000, 20], [2000, 90], [30_000, 30], [31_000, null]] as const) one.push(snap(T0 + t, cpu));
  const [m] = one.minuteRollups();
  assert.ok(m);
  assert.equal(m.sampleCount, 5);
  // weights: first sample one interval (maxGap / 2), then 1000, 1000, 2000 (capped); the null skipped.
  assert.equal(m.averageCpuUsagePercent, (10 * 1000 + 20 * 1000 + 90 * 1000 + 30 * 2000) / 5000);
  assert.equal(m.peakCpuUsagePercent, 90);
  assert.equal(m.averageGpuUsagePercent, 80);
  assert.equal(m.peakTemperatureCelsius, 90);
  assert.equal(m.vramTotalMb, 24_000);
  assert.deepEqual(new SnapshotRing(10, 0, 1000).minuteRollups(), []);
});

test('snapshot assembly: utilisation is kernel time, VRAM % is separate, unknowns stay null', () => {
  const s = assembleSnapshot(T0, null, [
    gpu(0, { utilizationPercent: 20, vramUsedMb: 4000, vramTotalMb: 8000, temperatureCelsius: 50 }),
    gpu(1, { utilizationPercent: null, vramUsedMb: 1000, vramTotalMb: null, temperatureCelsius: 70, mig: true }),
  ]);
  assert.equal(s.gpuUsagePercent, 20);
  assert.equal(s.vramUsageMb, 5000);
  assert.equal(s.vramTotalMb, 8000);
  assert.equal(s.vramAvailableMb, 4000);
  assert.equal(s.vramUsagePercent, 50);
  assert.equal(s.temperatureCelsius, 70);
  assert.equal(s.cpuUsagePercent, null);
  const none = assembleSnapshot(T0, null, []);
  assert.deepEqual([none.gpuUsagePercent, none.vramUsageMb, none.vramUsagePercent, none.temperatureCelsius], [null, null, null, null]);
});
