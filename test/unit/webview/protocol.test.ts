// The dashboard protocol's validators: what the host sends parses as it was sent, and anything
// malformed from either side (wrong shape, wrong type, unknown tag, extra fields, hostile sizes)
// is rejected with a reason naming the bad field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseFromWebview, parsePersistedViewState, parseToWebview, PROTOCOL_VERSION, type FromWebview, type ToWebview,
} from '../../../src/shared/protocol';
import { HOSTILE, NOW, sampleState, snapshot } from './fixtures';

test('every kind of message from the webview parses when well formed', () => {
  const good: FromWebview[] = [
    { type: 'ready', version: PROTOCOL_VERSION, range: '1h', windowHours: 168 },
    { type: 'setRange', range: '24h' },
    { type: 'setWindow', windowHours: 720 },
    { type: 'selectTask', taskId: HOSTILE, startTime: NOW },
    { type: 'export' },
    { type: 'startTask' },
    { type: 'webviewError', message: 'x' },
  ];
  for (const msg of good) assert.deepEqual(parseFromWebview(msg), { ok: true, msg });
});

test('malformed messages from the webview are rejected with a reason', () => {
  const bad: [unknown, RegExp][] = [
    [undefined, /expected an object with a "type"/],
    [null, /expected an object/],
    ['ready', /expected an object/],
    [42, /expected an object/],
    [[{ type: 'export' }], /expected an object/],
    [{}, /type: expected one of/],
    [{ type: 'nope' }, /type: expected one of .*got "nope"/],
    [{ type: 'constructor' }, /type: expected one of/],
    [{ type: '__proto__' }, /type: expected one of/],
    [{ type: 'toString' }, /type: expected one of/],
    [{ type: 'setRange' }, /range: expected one of "5m", "1h", "24h", got undefined/],
    [{ type: 'setRange', range: '2h' }, /range: expected one of/],
    [{ type: 'setWindow', windowHours: '24' }, /windowHours: expected one of 1, 24, 168, 720, got "24"/],
    [{ type: 'setWindow', windowHours: 48 }, /windowHours/],
    [{ type: 'selectTask', taskId: 7, startTime: NOW }, /taskId: expected a string/],
    [{ type: 'selectTask', taskId: 'a', startTime: Number.NaN }, /startTime: expected a finite number/],
    [{ type: 'selectTask', taskId: 'a'.repeat(5000), startTime: NOW }, /taskId: expected a string of at most 4096/],
    [{ type: 'export', extra: true }, /^extra: unexpected field$/],
    [{ type: 'ready', version: 1.5, range: '5m', windowHours: 24 }, /version: expected a whole number/],
    [{ type: 'ready', version: PROTOCOL_VERSION, range: '5m' }, /windowHours/],
    [{ type: 'webviewError', message: 'x'.repeat(3000) }, /message: expected a string of at most 2000/],
    [Object.create({ type: 'export' }), /expected an object with a "type"|type: expected/],
    [new Date(), /expected an object/],
  ];
  for (const [value, reason] of bad) {
    const r = parseFromWebview(value);
    assert.equal(r.ok, false, `accepted ${JSON.stringify(value)}`);
    if (!r.ok) assert.match(r.error, reason);
  }
});

test('a full state from the host parses unchanged, hostile strings kept as text', () => {
  const msg: ToWebview = { type: 'state', version: PROTOCOL_VERSION, state: sampleState() };
  const r = parseToWebview(structuredClone(msg));
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.deepEqual(r.msg, msg);
  const round = parseToWebview(JSON.parse(JSON.stringify(msg)));
  assert.ok(round.ok);
});

test('every kind of message to the webview parses when well formed', () => {
  const s = sampleState();
  const good: ToWebview[] = [
    { type: 'snapshot', snapshot: snapshot(NOW), activeTasks: s.activeTasks },
    { type: 'series', series: s.series },
    { type: 'analysis', analysis: s.analysis, totalTaskCount: 4 },
    { type: 'activeTasks', activeTasks: [] },
    { type: 'gpuAvailability', availability: { provider: 'none', available: false, reason: 'nvidia-smi not found on PATH' } },
    { type: 'taskDetail', taskId: 'a', startTime: NOW, detail: null },
    { type: 'taskDetail', taskId: 'a', startTime: NOW, detail: { task: s.activeTasks[0]!.task, timeline: { resolution: 'none', timestamps: [], vramUsedMb: [], gpuUtilizationPercent: [], cpuUsagePercent: [] } } },
    { type: 'notice', level: 'error', text: HOSTILE },
  ];
  for (const msg of good) {
    const r = parseToWebview(msg);
    assert.ok(r.ok, `${msg.type}: ${r.ok ? '' : r.error}`);
  }
});

test('malformed messages to the webview are rejected, naming the bad field', () => {
  const s = sampleState();
  const withState = (mutate: (st: ReturnType<typeof sampleState>) => void): unknown => {
    const st = structuredClone(s);
    mutate(st);
    return { type: 'state', version: PROTOCOL_VERSION, state: st };
  };
  const bad: [unknown, RegExp][] = [
    [{ type: 'state', version: 1 }, /state: expected an object/],
    [withState((st) => { (st as { now: unknown }).now = '12'; }), /state\.now: expected a finite number/],
    [withState((st) => { (st.latest as { cpuUsagePercent: unknown }).cpuUsagePercent = 'high'; }), /state\.latest\.cpuUsagePercent/],
    [withState((st) => { (st.latest!.gpus[0] as { mig: unknown }).mig = 1; }), /state\.latest\.gpus\[0\]\.mig: expected true or false/],
    [withState((st) => { st.series.cpuUsagePercent.push(1); }), /series columns differ in length/],
    [withState((st) => { (st.series.gpus[0]!.utilizationPercent as unknown[])[0] = Number.POSITIVE_INFINITY; }), /utilizationPercent\[0\]: expected a finite number/],
    [withState((st) => { (st.analysis.analysis as { successRate: unknown }).successRate = {}; }), /analysis\.analysis\.successRate/],
    [withState((st) => { (st.activeTasks[0]!.task as { status: unknown }).status = 'exploded'; }), /activeTasks\[0\]\.task\.status: expected one of/],
    [withState((st) => { (st.analysis.analysis.recommendations as unknown[]).push({ id: 'x' }); }), /recommendations\[\d+\]\.category/],
    [withState((st) => { (st.analysis.analysis as { failuresByErrorCategory: unknown }).failuresByErrorCategory = { oom: 'two' }; }), /failuresByErrorCategory\["oom"\]: expected a finite number/],
    [withState((st) => { (st as { windowHours: unknown }).windowHours = 2; }), /state\.windowHours/],
    [{ type: 'snapshot', snapshot: { timestamp: NOW }, activeTasks: [] }, /snapshot\.cpuUsagePercent: expected a finite number, got undefined/],
    [{ type: 'notice', level: 'fatal', text: 'x' }, /level: expected one of/],
    [{ type: 'taskDetail', taskId: 'a', startTime: NOW, detail: { task: {}, timeline: {} } }, /detail\.task\.taskId: expected a string/],
    [{ type: 'bogus' }, /type: expected one of/],
  ];
  for (const [value, reason] of bad) {
    const r = parseToWebview(value);
    assert.equal(r.ok, false, `accepted a message that should match ${reason}`);
    if (!r.ok) assert.match(r.error, reason);
  }
});

test('unknown extra fields from the host are dropped, not trusted', () => {
  const snap = { ...snapshot(NOW), extraField: '<script>' };
  const r = parseToWebview({ type: 'snapshot', snapshot: snap, activeTasks: [] });
  assert.ok(r.ok);
  if (r.ok && r.msg.type === 'snapshot') assert.equal('extraField' in r.msg.snapshot, false);
});

test('an error-category map cannot smuggle a prototype', () => {
  const s = sampleState();
  const failures = JSON.parse('{"__proto__": 3, "oom": 1}') as Record<string, number>;
  (s.analysis.analysis as { failuresByErrorCategory: Record<string, number> }).failuresByErrorCategory = failures;
  const r = parseToWebview({ type: 'state', version: PROTOCOL_VERSION, state: s });
  assert.ok(r.ok);
  if (r.ok && r.msg.type === 'state') {
    const map = r.msg.state.analysis.analysis.failuresByErrorCategory;
    assert.deepEqual(Object.keys(map).sort(), ['__proto__', 'oom']);
    assert.equal(Object.getPrototypeOf(map), Object.prototype, 'the prototype is untouched');
    assert.equal(Object.getOwnPropertyDescriptor(map, '__proto__')?.value, 3, '"__proto__" is plain data');
    assert.equal(({} as Record<string, unknown>).oom, undefined);
  }
});

test('persisted view state falls back to the defaults when unreadable', () => {
  assert.deepEqual(parsePersistedViewState({ range: '1h', windowHours: 168 }), { range: '1h', windowHours: 168 });
  for (const junk of [undefined, null, 'x', { range: '7y', windowHours: 24 }, { range: '1h' }]) {
    assert.deepEqual(parsePersistedViewState(junk), { range: '5m', windowHours: 24 });
  }
});

test('findings and a task\'s timeline cross the boundary only well formed', () => {
  const s = sampleState();
  const f = {
    kind: 'gpuStarved', severity: 'warning', confidence: 'medium', summary: HOSTILE, evidence: [{ label: HOSTILE, value: 80, unit: '%' }],
    taskIds: ['a'], taskCount: 1, nextStep: 'step', resolvedWhen: 'when', expectedGainSeconds: 10,
  };
  const withFindings = (findings: unknown[]): unknown => ({ type: 'analysis', analysis: { ...s.analysis, analysis: { ...s.analysis.analysis, findings } }, totalTaskCount: 1 });
  const ok = parseToWebview(withFindings([f]));
  assert.ok(ok.ok, ok.ok ? '' : ok.error);
  for (const bad of [[{ ...f, kind: 'madeUp' }], [{ ...f, evidence: [{ label: 'x', value: Number.NaN, unit: '%' }] }], Array.from({ length: 6 }, () => f), [{ ...f, taskIds: Array.from({ length: 21 }, () => 'a') }]]) {
    const r = parseToWebview(withFindings(bad));
    assert.equal(r.ok, false, JSON.stringify(bad).slice(0, 80));
  }
  const live = s.activeTasks[0];
  assert.ok(live);
  const timeline = { offsetSeconds: [0, 1], gpuUtilizationPercent: [5, 6], deviceVramMb: [1, 2], ownVramMb: [null, null], cpuCores: [1, 1], ramMb: [3, 4] };
  const msg = (t: unknown): unknown => ({ type: 'snapshot', snapshot: snapshot(NOW), activeTasks: [{ ...live, task: { ...live.task, timeline: t } }] });
  assert.ok(parseToWebview(msg(timeline)).ok);
  assert.ok(parseToWebview(msg(null)).ok);
  assert.equal(parseToWebview(msg({ ...timeline, ramMb: [3] })).ok, false, 'columns of different lengths');
  assert.equal(parseToWebview(msg({ ...timeline, cpuCores: ['1', 1] })).ok, false);
});

test('historyPage from the webview: offset bounded, filter fields exact and bounded, status one of the known', () => {
  const filter = { modelType: 'sdxl', resolution: null, status: 'failed' };
  assert.equal(parseFromWebview({ type: 'historyPage', offset: 200, filter }).ok, true);
  for (const bad of [
    { type: 'historyPage', offset: -1, filter },
    { type: 'historyPage', offset: 1.5, filter },
    { type: 'historyPage', offset: 10_000_001, filter },
    { type: 'historyPage', offset: 0, filter: { ...filter, status: 'running?' } },
    { type: 'historyPage', offset: 0, filter: { ...filter, modelType: 'x'.repeat(257) } },
    { type: 'historyPage', offset: 0, filter: { ...filter, extra: 1 } },
    { type: 'historyPage', offset: 0 },
    { type: 'historyPage', offset: 0, filter, extra: true },
  ]) assert.equal(parseFromWebview(bad).ok, false, JSON.stringify(bad).slice(0, 120));
});
