// A task's phases in the dashboard: the table's offsets and durations, open phases, hostile names
// kept as plain strings, start order, overlapping phases in separate label rows, labels cut to fit,
// and the host keeping a task detail within what the protocol accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskPhase } from '../../../src/shared/metrics';
import { MAX_PHASE_NAME_LENGTH, MAX_TASK_PHASES, parseToWebview, type ToWebview } from '../../../src/shared/protocol';
import { buildTaskDetail, protocolPhases } from '../../../src/host/dashboardData';
import type { DashboardDataSource } from '../../../src/host/dashboardPanel';
import { NA, fitLabel, formatOffset, phaseBands, phaseLanes, phaseRows, sortedPhases } from '../../../webview/viewModel';
import { NOW, task } from './fixtures';

const T0 = NOW - 60_000;
const phase = (name: string, fromS: number, toS: number | null): TaskPhase => ({ name, startTime: T0 + fromS * 1000, endTime: toS === null ? null : T0 + toS * 1000 });

test('offsets from the task start read +m:ss, +h:mm:ss past an hour, N/A when unknown', () => {
  assert.equal(formatOffset(0), '+0:00');
  assert.equal(formatOffset(4_200), '+0:04');
  assert.equal(formatOffset(750_000), '+12:30');
  assert.equal(formatOffset(3_723_000), '+1:02:03');
  assert.equal(formatOffset(-500), '+0:00', 'a phase stamped before the task start reads as its start');
  assert.equal(formatOffset(Number.NaN), NA);
  assert.equal(formatOffset(null), NA);
});

test('phase rows: name, offset and duration of a finished task', () => {
  const rows = phaseRows([phase('model_load', 0, 4.2), phase('denoise', 4.2, 52), phase('decode', 52, 58.5)], T0, T0 + 60_000);
  assert.deepEqual(rows.map((r) => [r.name, r.offset, r.duration]), [
    ['model_load', '+0:00', '4.2 s'],
    ['denoise', '+0:04', '48 s'],
    ['decode', '+0:52', '6.5 s'],
  ]);
  assert.ok(rows.every((r) => !r.running));
});

test('an open phase reads "running" while the task runs, and says so when a finished task left one open', () => {
  const phases = [phase('model_load', 0, 3), phase('denoise', 3, null)];
  const live = phaseRows(phases, T0, null);
  assert.equal(live[1]?.duration, 'running');
  assert.equal(live[1]?.running, true);
  const done = phaseRows(phases, T0, T0 + 60_000);
  assert.equal(done[1]?.duration, 'no end recorded');
  assert.equal(done[1]?.running, false);
});

test('no phases: no rows and no bands (the detail shows nothing extra)', () => {
  assert.deepEqual(phaseRows(undefined, T0, null), []);
  assert.deepEqual(phaseRows([], T0, T0 + 1000), []);
  assert.deepEqual(phaseBands(undefined, T0, T0 + 1000), []);
  assert.equal(phaseLanes([]), 0);
});

test('hostile names are kept verbatim as strings (the page puts them in with textContent)', () => {
  const names = ['<b>x</b>', '<img src=x onerror=alert(1)>', '"; DROP TABLE', '\u202Eevil'];
  const rows = phaseRows(names.map((n, i) => phase(n, i, i + 1)), T0, T0 + 10_000);
  assert.deepEqual(rows.map((r) => r.name), names);
  assert.deepEqual(phaseBands(names.map((n, i) => phase(n, i, i + 1)), T0, T0 + 10_000).map((b) => b.name), names);
});

test('phases are shown in start order whatever order a file kept them in; ties keep the recorded order', () => {
  const shuffled = [phase('decode', 50, 58), phase('model_load', 0, 4), phase('a', 4, 50), phase('b', 4, 20)];
  assert.deepEqual(sortedPhases(shuffled).map((p) => p.name), ['model_load', 'a', 'b', 'decode']);
  assert.deepEqual(phaseRows(shuffled, T0, T0 + 60_000).map((r) => r.name), ['model_load', 'a', 'b', 'decode']);
  assert.deepEqual(sortedPhases([{ name: 'bad', startTime: Number.NaN, endTime: null }, phase('ok', 1, 2)]).map((p) => p.name), ['ok']);
});

test('overlapping phases get separate label rows; back-to-back phases share one', () => {
  const bands = phaseBands([phase('model_load', 0, 10), phase('denoise', 10, 50), phase('vae_tiling', 40, 55), phase('decode', 50, 58), phase('log', 45, 47)], T0, T0 + 60_000);
  const lane = Object.fromEntries(bands.map((b) => [b.name, b.lane]));
  assert.equal(lane.model_load, 0);
  assert.equal(lane.denoise, 0, 'starts where model_load ends: same row');
  assert.equal(lane.vae_tiling, 1, 'overlaps denoise');
  assert.equal(lane.log, 2, 'overlaps both');
  assert.equal(lane.decode, 0, 'denoise ended: back in the first row');
  assert.equal(phaseLanes(bands), 3);
});

test('bands are clamped to the chart range; an open phase reaches its right edge; phases outside are left out', () => {
  const xMin = T0;
  const xMax = T0 + 60_000;
  const bands = phaseBands([phase('early', -30, -10), phase('warmup', -5, 5), phase('denoise', 5, null), phase('late', 70, 80)], xMin, xMax);
  assert.deepEqual(bands.map((b) => [b.name, b.start - T0, b.end - T0]), [['warmup', 0, 5000], ['denoise', 5000, 60_000]]);
  assert.deepEqual(phaseBands([phase('x', 0, 1)], xMax, xMin), [], 'an empty range draws nothing');
  // An end before the start (a clock step) draws a zero-width band, not a negative one.
  const [backwards] = phaseBands([phase('odd', 10, 5)], xMin, xMax);
  assert.equal(backwards?.end, backwards?.start);
});

test('labels are cut with an ellipsis to fit their band, or left out when nothing fits', () => {
  const measure = (s: string): number => Array.from(s).length * 7;
  assert.equal(fitLabel('denoise', 100, measure), 'denoise');
  assert.equal(fitLabel('model_load', 50, measure), 'model_…');
  assert.equal(fitLabel('model_load', 48, measure), 'model…');
  assert.equal(fitLabel('decode', 13, measure), '');
  assert.equal(fitLabel('decode', 14, measure), 'd…');
  assert.equal(fitLabel('😀😀😀😀', 21, measure), '😀😀…', 'never splits a character');
});

test('the host trims a task detail to what the protocol accepts, and the webview rejects what exceeds it', () => {
  const long = 'n'.repeat(300);
  const many = Array.from({ length: 250 }, (_, i) => phase(i === 0 ? long : `p${i}`, i, i + 1));
  const trimmed = protocolPhases(many);
  assert.equal(trimmed.length, MAX_TASK_PHASES);
  assert.equal(trimmed[0]?.name.length, MAX_PHASE_NAME_LENGTH);
  assert.ok(trimmed[0]?.name.endsWith('…'));
  assert.equal(protocolPhases([phase('😀'.repeat(40), 0, 1)])[0]?.name.length, 63, 'no half of a surrogate pair is left');

  const t = task({ taskId: 'with-phases', startTime: T0, endTime: T0 + 60_000, phases: many });
  const source = { history: () => [t], activeTasks: () => [], recentSnapshots: () => [], minuteRollups: () => [] } as unknown as DashboardDataSource;
  const detail = buildTaskDetail(source, 'with-phases', T0);
  assert.ok(detail);
  assert.equal(detail.task.phases?.length, MAX_TASK_PHASES);
  assert.equal(t.phases?.length, 250, 'the engine\'s record is not changed');
  const msg: ToWebview = { type: 'taskDetail', taskId: t.taskId, startTime: T0, detail };
  const ok = parseToWebview(JSON.parse(JSON.stringify(msg)));
  assert.ok(ok.ok, ok.ok ? '' : ok.error);
  assert.deepEqual(ok.ok && ok.msg.type === 'taskDetail' ? ok.msg.detail?.task.phases?.slice(1, 3) : null, [phase('p1', 1, 2), phase('p2', 2, 3)]);

  const raw = (phases: unknown): unknown => ({ type: 'taskDetail', taskId: 'x', startTime: T0, detail: { ...detail, task: { ...t, phases } } });
  const bad: [unknown, RegExp][] = [
    [raw(many), /phases: expected an array of at most 200 items/],
    [raw([{ name: long, startTime: T0, endTime: null }]), /phases\[0\]\.name: expected a string of at most 64 characters/],
    [raw([{ name: 'a', startTime: Number.POSITIVE_INFINITY, endTime: null }]), /phases\[0\]\.startTime: expected a finite number/],
    [raw([{ name: 'a', startTime: T0, endTime: 'soon' }]), /phases\[0\]\.endTime: expected a finite number/],
    [raw([{ name: 7, startTime: T0, endTime: null }]), /phases\[0\]\.name: expected a string/],
  ];
  for (const [value, reason] of bad) {
    const r = parseToWebview(value);
    assert.equal(r.ok, false, `accepted phases that should match ${reason}`);
    if (!r.ok) assert.match(r.error, reason);
  }
});
