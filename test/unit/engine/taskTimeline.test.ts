// The compact timeline: bounded points and bytes for any run length, the last minute at full rate,
// memory peaks kept through decimation; the git commit of a real repository made here; hostile
// stored timelines dropped, not trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGitCommit } from '../../../src/core/engine/gitCommit';
import { TaskAccumulator } from '../../../src/core/engine/taskAccumulator';
import { COARSE_POINTS, RECENT_POINTS, TimelineRecorder } from '../../../src/core/engine/taskTimeline';
import { parseRecord, serializeRecord } from '../../../src/core/history/historyStore';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { MemoryHistoryStore } from '../../../src/core/history/historyStore';
import { parseTimeline } from '../../../src/shared/structuredFields';
import { MAX_TIMELINE_POINTS } from '../../../src/shared/metrics';
import { FakeClock } from '../helpers/fakeClock';
import { gpu } from './fakes';

const T0 = Date.UTC(2026, 0, 1);

test('a 10-hour run sampled every 100 ms keeps at most 200 points, its last minute, and stays under 8 KB', () => {
  const acc = new TaskAccumulator({ taskId: 'long', modelType: 'm', resolution: '720p', steps: 1, startTime: T0, rootPid: 7 });
  const n = 10 * 3600 * 10;
  for (let i = 0; i <= n; i++) {
    const t = T0 + i * 100;
    // A VRAM spike of one sample at 1 h: decimation must keep it (memory merges at its peak).
    const vram = i === 36_000 ? 79_999 : 20_000 + (i % 7);
    acc.addSample({ timestamp: t, snapshot: snap(t, 55.55, vram), gpuProcesses: [{ pid: 7, gpuUuid: 'GPU-0', usedMemoryMb: vram - 1000 }], tree: { rootPid: 7, pids: [7], rssMb: 9000.4, cpuPercent: 123.456 } });
  }
  const m = acc.toMetrics({ endTime: T0 + n * 100, status: 'succeeded', success: true, errorCategory: null });
  const tl = m.timeline;
  assert.ok(tl);
  assert.ok(tl.offsetSeconds.length <= MAX_TIMELINE_POINTS && tl.offsetSeconds.length <= COARSE_POINTS + RECENT_POINTS, String(tl.offsetSeconds.length));
  assert.ok(JSON.stringify(tl).length <= 8192, String(JSON.stringify(tl).length));
  // The last minute: points 60 s apart at most 64 of them, the last at the end.
  const last = tl.offsetSeconds[tl.offsetSeconds.length - 1] as number;
  assert.equal(last, 36_000);
  const lastMinute = tl.offsetSeconds.filter((o) => o >= last - 60);
  assert.ok(lastMinute.length >= 60, String(lastMinute.length));
  assert.equal(Math.max(...(tl.deviceVramMb as number[])), 79_999);
  assert.equal(tl.cpuCores[0], 1.23);
  assert.equal(tl.gpuUtilizationPercent[0], 56);
  assert.equal(tl.ramMb[0], 9000);
  // The whole record, timeline included, round-trips through the history's parser.
  const parsed = parseRecord(JSON.parse(serializeRecord(m)));
  assert.equal(parsed.kind, 'task');
  assert.deepEqual(parsed.kind === 'task' ? parsed.task.timeline : null, tl);
});

test('a short run keeps every sample; a recorder with no samples has no timeline', () => {
  const r = new TimelineRecorder(T0);
  assert.equal(r.toTimeline(), null);
  for (let i = 0; i < 5; i++) r.add({ timeMs: T0 + i * 1000, gpuUtilizationPercent: i * 10, deviceVramMb: 100, ownVramMb: null, cpuCores: 1, ramMb: 5 });
  assert.deepEqual(r.toTimeline()?.offsetSeconds, [0, 1, 2, 3, 4]);
  assert.deepEqual(r.toTimeline()?.gpuUtilizationPercent, [0, 10, 20, 30, 40]);
});

test('hostile stored timelines and commits are dropped, the task kept', () => {
  const good = { offsetSeconds: [0], gpuUtilizationPercent: [1], deviceVramMb: [1], ownVramMb: [null], cpuCores: [1], ramMb: [1] };
  assert.deepEqual(parseTimeline(good), good);
  assert.equal(parseTimeline({ ...good, ramMb: [1, 2] }), undefined, 'columns of different lengths');
  assert.equal(parseTimeline({ ...good, cpuCores: ['x'] }), undefined);
  assert.equal(parseTimeline({ ...good, offsetSeconds: [Infinity] }), undefined);
  const huge = Array.from({ length: MAX_TIMELINE_POINTS + 1 }, () => 0);
  assert.equal(parseTimeline({ offsetSeconds: huge, gpuUtilizationPercent: huge, deviceVramMb: huge, ownVramMb: huge, cpuCores: huge, ramMb: huge }), undefined);
  const base = { schemaVersion: 1, taskId: 'a', modelType: 'm', resolution: 'r', steps: 1, startTime: 1, status: 'succeeded', success: true };
  const p = parseRecord({ ...base, timeline: 'nope', gitCommit: { hash: 'zz; rm -rf', branch: 'main', dirty: false } });
  assert.equal(p.kind, 'task');
  assert.equal(p.kind === 'task' ? p.task.timeline : 'x', undefined);
  assert.equal(p.kind === 'task' ? p.task.gitCommit : 'x', undefined);
});

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...args], { encoding: 'utf8' }).trim();
}

test('the git commit of a real repository with two commits: hash, branch, dirty; none outside a repository', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-git-'));
  const outside = mkdtempSync(join(tmpdir(), 'mp-nogit-'));
  try {
    git(dir, 'init', '-q', '-b', 'work');
    writeFileSync(join(dir, 'a.txt'), 'one\n');
    git(dir, 'add', 'a.txt');
    git(dir, 'commit', '-q', '-m', 'one');
    writeFileSync(join(dir, 'a.txt'), 'two\n');
    git(dir, 'commit', '-q', '-am', 'two');
    const head = git(dir, 'rev-parse', '--short', 'HEAD');
    assert.deepEqual(await readGitCommit(dir), { hash: head, branch: 'work', dirty: false });
    writeFileSync(join(dir, 'a.txt'), 'three\n');
    assert.deepEqual(await readGitCommit(dir), { hash: head, branch: 'work', dirty: true });
    git(dir, 'checkout', '-q', '--', 'a.txt');
    git(dir, 'checkout', '-q', '--detach', 'HEAD~1');
    const first = git(dir, 'rev-parse', '--short', 'HEAD');
    assert.notEqual(first, head);
    assert.deepEqual(await readGitCommit(dir), { hash: first, branch: null, dirty: false });
    assert.equal(await readGitCommit(outside), null);
    assert.equal(await readGitCommit(dir, { gitPath: join(outside, 'no-such-git') }), null);

    // Through the monitor: the commit of the run's working directory lands in its record.
    const clock = new FakeClock(T0);
    const monitor = new PerformanceMonitor({}, { clock, historyStore: new MemoryHistoryStore() });
    monitor.startTaskMonitoring('g1', 'm', '720p', 1, { workingDirectory: dir });
    await clock.advance(1000);
    const done = await monitor.completeTaskMonitoring('g1');
    assert.deepEqual(done.gitCommit, { hash: first, branch: null, dirty: false });
    await monitor.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

function snap(t: number, util: number, vram: number): import('../../../src/shared/snapshot').SystemPerformanceSnapshot {
  const g = gpu(0, { utilizationPercent: util, vramUsedMb: vram, vramTotalMb: 81_920 });
  return {
    timestamp: t, cpuUsagePercent: 10, ramUsageMb: 4000, ramAvailableMb: 12_000, ramTotalMb: 16_000, diskUsagePercent: null,
    gpuUsagePercent: util, vramUsageMb: vram, vramAvailableMb: 81_920 - vram, vramTotalMb: 81_920, vramUsagePercent: null, temperatureCelsius: null, gpus: [g],
  };
}

test('on an 80 + 16 GB machine without per-process memory, the run is the GPU whose memory rose, and its total is that GPU\'s', () => {
  const acc = new TaskAccumulator({ taskId: 'two', modelType: 'm', resolution: '720p', steps: 1, startTime: T0 });
  const reading = (t: number, big: number, small: number): import('../../../src/shared/snapshot').SystemPerformanceSnapshot => ({
    ...snap(t, 50, big),
    gpus: [gpu(0, { vramUsedMb: big, vramTotalMb: 81_920 }), gpu(1, { vramUsedMb: small, vramTotalMb: 16_384 })],
  });
  acc.addSample({ timestamp: T0, snapshot: reading(T0, 1000, 500), gpuProcesses: null, tree: null });
  acc.addSample({ timestamp: T0 + 1000, snapshot: reading(T0 + 1000, 61_000, 600), gpuProcesses: null, tree: null });
  const m = acc.toMetrics({ endTime: T0 + 1000, status: 'succeeded', success: true, errorCategory: null });
  assert.deepEqual(m.gpuIndices, [0]);
  assert.equal(m.vramTotalMb, 81_920);
  assert.equal(m.devicePeakVramUsageMb, 61_000);
  // Neither rose by 256 MB: every GPU seen, as before.
  const still = new TaskAccumulator({ taskId: 'still', modelType: 'm', resolution: '720p', steps: 1, startTime: T0 });
  still.addSample({ timestamp: T0, snapshot: reading(T0, 1000, 500), gpuProcesses: null, tree: null });
  still.addSample({ timestamp: T0 + 1000, snapshot: reading(T0 + 1000, 1100, 600), gpuProcesses: null, tree: null });
  assert.deepEqual(still.toMetrics().gpuIndices, [0, 1]);
});

test('throttle columns: kept only where a GPU said; merged points hold the throttled share and every reason seen; a 10-hour run stays under 8 KB', () => {
  const r = new TimelineRecorder(T0);
  const n = 10 * 3600;
  for (let i = 0; i <= n; i++) {
    // Every third second held by the power cap (0x4), every seventh by heat (0x40).
    const reasons = (i % 3 === 0 ? 0x4 : 0) | (i % 7 === 0 ? 0x40 : 0);
    r.add({ timeMs: T0 + i * 1000, gpuUtilizationPercent: 90, deviceVramMb: 20_000, ownVramMb: 19_000, cpuCores: 1.5, ramMb: 9000, throttled: reasons ? 1 : 0, throttleReasons: reasons });
  }
  const tl = r.toTimeline();
  assert.ok(tl?.throttledPercent && tl.throttleReasons);
  assert.ok(JSON.stringify(tl).length <= 8192, String(JSON.stringify(tl).length));
  // A coarse point spans hundreds of seconds: about 3/7 of them held (1/3 + 1/7 - 1/21), both reasons seen.
  const first = tl.throttledPercent[0] as number;
  assert.ok(Math.abs(first - 43) <= 3, String(first));
  assert.equal(tl.throttleReasons[0], 0x44);
  // The last minute at full rate: each point's own verdict.
  const held = (k: number): number => (k % 3 === 0 || k % 7 === 0 ? 100 : 0);
  assert.deepEqual(tl.throttledPercent.slice(-3), [held(n - 2), held(n - 1), held(n)]);
  // A GPU that never reports reasons adds no columns.
  const quiet = new TimelineRecorder(T0);
  quiet.add({ timeMs: T0, gpuUtilizationPercent: 90, deviceVramMb: 1, ownVramMb: 1, cpuCores: 1, ramMb: 1 });
  assert.equal(quiet.toTimeline()?.throttledPercent, undefined);
  // Stored throttle columns are checked like the others.
  const good = { offsetSeconds: [0], gpuUtilizationPercent: [1], deviceVramMb: [1], ownVramMb: [null], cpuCores: [1], ramMb: [1] };
  assert.deepEqual(parseTimeline({ ...good, throttledPercent: [100], throttleReasons: [68] }), { ...good, throttledPercent: [100], throttleReasons: [68] });
  assert.equal(parseTimeline({ ...good, throttledPercent: [100, 0] }), undefined);
  assert.equal(parseTimeline({ ...good, throttleReasons: ['0x44'] }), undefined);
});
