// Two windows' engines on one machine with the fake nvidia-smi: one samples, the other reads its
// figures, both see the same history, and the follower takes over when the leader goes away; a
// new nvidia-smi path chooses the GPU provider again. Real processes and files, short waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { waitUntil } from './helpers/waitUntil';
import { createMachineMonitor, SharedEngine, type SharedEngineSettings } from '../../src/core/machine';

const fakeBin = resolve('test/fixtures/bin');

function envFor(home: string, vramFile: string): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${fakeBin}${delimiter}${process.env.PATH ?? ''}`, MODEL_PERF_HOME: home, FAKE_NVIDIA_SMI_SCENARIO: '1gpu', FAKE_NVIDIA_SMI_VRAM_FILE: vramFile };
}

const quiet = { info() {}, warn() {}, error() {} };
const settings: SharedEngineSettings = { config: { monitoringIntervalMs: 250 }, nvidiaSmiPath: null, storageDir: null };


/** This process's own streaming fake nvidia-smi children (other test files run theirs at the same time). */
function streamingChildren(): number {
  try {
    const out = execFileSync('pgrep', ['-P', String(process.pid), '-f', `${fakeBin}/nvidia-smi.*-lms`], { encoding: 'utf8' });
    return out.trim().split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

test('two windows: one nvidia-smi between them, the same figures and the same history; the follower takes over', async () => {
  const home = mkdtempSync(join(tmpdir(), 'model-perf-engines-'));
  const vramFile = join(home, 'vram');
  writeFileSync(vramFile, '8000');
  const before = streamingChildren();
  const a = new SharedEngine({ settings, diskPath: home, logger: quiet, env: envFor(home, vramFile) });
  await a.start();
  const b = new SharedEngine({ settings, diskPath: home, logger: quiet, env: envFor(home, vramFile) });
  await b.start();
  try {
    assert.equal(a.role, 'leader');
    assert.equal(b.role, 'follower');
    await waitUntil('GPU figures in the follower', () => b.latestSnapshot()?.gpus[0]?.vramUsedMb === 8000);
    assert.equal(streamingChildren() - before, 1, 'one long-lived nvidia-smi for both windows');

    writeFileSync(vramFile, '9000');
    await waitUntil('the follower sees the change', () => b.latestSnapshot()?.gpus[0]?.vramUsedMb === 9000);

    a.monitor.startTaskMonitoring('from-a', 'sdxl', '720p', 10);
    await a.monitor.completeTaskMonitoring('from-a');
    await waitUntil('window b sees the task window a recorded', () => b.monitor.getHistory().some((t) => t.taskId === 'from-a'), { timeoutMs: 5000 });

    await a.dispose(); // window a closes
    await waitUntil('window b takes over sampling', () => b.role === 'leader', { timeoutMs: 3000 });
    writeFileSync(vramFile, '10000');
    await waitUntil('window b samples the GPU itself', () => b.latestSnapshot()?.gpus[0]?.vramUsedMb === 10000);
    await waitUntil('still one nvidia-smi', () => streamingChildren() - before === 1);
  } finally {
    await a.dispose();
    await b.dispose();
  }
  await waitUntil('no nvidia-smi left', () => streamingChildren() === before, { timeoutMs: 5000 });
});

test('a new nvidia-smi path chooses the GPU provider again; a new retention reloads the history; the lock stays', async () => {
  const home = mkdtempSync(join(tmpdir(), 'model-perf-engines-'));
  const vramFile = join(home, 'vram');
  writeFileSync(vramFile, '8000');
  const e = new SharedEngine({ settings, diskPath: home, logger: quiet, env: envFor(home, vramFile) });
  await e.start();
  try {
    await waitUntil('GPU figures from the fake nvidia-smi on PATH', () => e.gpuAvailability().available);
    const missing = join(home, 'no-such-dir', 'nvidia-smi');
    await e.applySettings({ ...settings, nvidiaSmiPath: missing });
    const gpu = e.gpuAvailability();
    assert.equal(gpu.available, false);
    assert.ok(gpu.reason?.includes(missing), `the reason names the configured path: ${gpu.reason}`);
    assert.equal(e.role, 'leader', 'the same lock');

    e.monitor.startTaskMonitoring('kept', 'm', '720p', 1);
    await e.monitor.completeTaskMonitoring('kept');
    let reloads = 0;
    const sub = e.monitor.on('historyChanged', () => reloads++);
    await e.applySettings({ ...settings, nvidiaSmiPath: missing, config: { ...settings.config, retentionDays: 7 } });
    sub.dispose();
    assert.equal(reloads, 1, 'a new store, read once');
    assert.deepEqual(e.monitor.getHistory().map((t) => t.taskId), ['kept'], 'the same file, read again');
    assert.equal(e.isMonitoring, true);
  } finally {
    await e.dispose();
  }
});

test('the nvml backend on a machine without the NVIDIA library: the stream, and the reason in the log; a backend change chooses again', async () => {
  const home = mkdtempSync(join(tmpdir(), 'model-perf-engines-'));
  const vramFile = join(home, 'vram');
  writeFileSync(vramFile, '8000');
  const infos: string[] = [];
  const logger = { ...quiet, info: (m: string) => infos.push(m) };
  const env = { ...envFor(home, vramFile), LD_LIBRARY_PATH: '' };
  const e = new SharedEngine({ settings: { ...settings, gpuBackend: 'nvml' }, diskPath: home, logger, env });
  await e.start();
  try {
    await waitUntil('GPU figures from the fake nvidia-smi', () => e.latestSnapshot()?.gpus[0]?.vramUsedMb === 8000);
    const said = infos.filter((m) => m.startsWith('NVML is not usable'));
    assert.equal(said.length, 1, infos.join('\n'));
    assert.match(said[0] ?? '', /the NVIDIA management library was not found .* Reading GPUs through nvidia-smi instead\.$/);

    await e.applySettings({ ...settings, gpuBackend: 'nvidia-smi' });
    writeFileSync(vramFile, '9000');
    await waitUntil('the stream again, chosen anew', () => e.latestSnapshot()?.gpus[0]?.vramUsedMb === 9000);
    assert.equal(infos.filter((m) => m.startsWith('NVML')).length, 1, 'NVML is not tried for the nvidia-smi backend');
  } finally {
    await e.dispose();
  }
});
test("a window shows the runs other processes of this machine record (their markers), and its own tasks' markers carry their progress", async () => {
  const home = mkdtempSync(join(tmpdir(), 'model-perf-engines-'));
  const vramFile = join(home, 'vram');
  writeFileSync(vramFile, '8000');
  const e = new SharedEngine({ settings, diskPath: home, logger: quiet, env: envFor(home, vramFile) });
  const changes: string[] = [];
  const sub = e.onChange((c) => changes.push(c));
  await e.start();
  try {
    assert.equal(e.wantsGpuProcesses(), false, 'no task anywhere: no per-process GPU query');
    // A `model-perf run` of another live process (this test's parent stands in for it).
    const other = process.ppid;
    mkdirSync(join(home, 'running'), { recursive: true });
    const task = { taskId: 'cli-run', modelType: 'sdxl', resolution: '720p', steps: 30, status: 'running', success: false, startTime: Date.now(), endTime: null, gpuIndices: [], optimizationsApplied: [], sampleCount: 1, offloadUsed: false, stepsCompleted: 12, stepsTotal: 30, rootPid: other };
    writeFileSync(join(home, 'running', `${other}-0123456789abcdef.json`), JSON.stringify({ schemaVersion: 1, ownerPid: other, hostname: hostname(), updatedAt: Date.now(), task }));
    const [shown] = await waitUntil('the run in the window', () => (e.tasksElsewhere().length > 0 ? e.tasksElsewhere() : null));
    assert.equal(shown?.taskId, 'cli-run');
    assert.equal(shown?.stepsCompleted, 12);
    assert.ok(changes.includes('elsewhere'), 'the faces were told');
    assert.deepEqual(e.activeTasks(), [], "not this window's task: it neither records nor stops it");
    assert.equal(e.wantsGpuProcesses(), true, "the other process's run needs per-process GPU memory from this sampler");

    // This window's task: its marker follows its progress (other windows show it live too).
    e.monitor.startTaskMonitoring('own', 'm', '720p', 10);
    e.monitor.updateTaskMetrics('own', { stepsCompleted: 4, stepsTotal: 10 });
    const own = join(home, 'running');
    await waitUntil("the own task's marker with its progress", () =>
      readdirSync(own)
        .filter((n) => n.startsWith(`${process.pid}-`) && n.endsWith('.json'))
        .some((n) => (JSON.parse(readFileSync(join(own, n), 'utf8')) as { task: { stepsCompleted?: number } }).task.stepsCompleted === 4),
    );
    await e.monitor.completeTaskMonitoring('own');
  } finally {
    sub.dispose();
    await e.dispose();
  }
});

test('a CLI monitor sharing the sampler publishes only at a cadence readers can follow (at most every 2 s)', async () => {
  for (const [intervalMs, leads] of [[1000, true], [5000, false]] as const) {
    const home = mkdtempSync(join(tmpdir(), 'model-perf-share-'));
    const vramFile = join(home, 'vram');
    writeFileSync(vramFile, '8000');
    // A reader's note (a window or `status` of another live process): the sampler publishes only while someone reads.
    mkdirSync(join(home, 'readers'), { recursive: true });
    writeFileSync(join(home, 'readers', `${process.ppid}-${Date.now()}`), '');
    const m = await createMachineMonitor({ intervalMs, storageDir: false, shareSamplerIn: home, env: envFor(home, vramFile), gpuProcessIntervalMs: 0 });
    try {
      await m.startMonitoring();
      await m.sampleNow();
      if (leads) await waitUntil('the published sample', () => existsSync(join(home, 'live-sample.json')));
      assert.equal(existsSync(join(home, 'leader.lock')), leads, `interval ${intervalMs} ms: lock taken`);
      assert.equal(existsSync(join(home, 'live-sample.json')), leads, `interval ${intervalMs} ms: sample published`);
      assert.equal(m.getCurrentSystemStatus().gpuAvailability.available, true, 'it samples the GPU either way');
    } finally {
      await m.dispose();
    }
    if (leads) await waitUntil('the lock released for the others', () => !existsSync(join(home, 'leader.lock')));
  }
});
