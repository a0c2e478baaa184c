// Two windows' engines on one machine with the fake nvidia-smi: one samples, the other reads its
// figures, both see the same history, and the follower takes over when the leader goes away; a
// new nvidia-smi path chooses the GPU provider again. Real processes and files, short waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { waitUntil } from './helpers/waitUntil';
import { SharedEngine, type SharedEngineSettings } from '../../src/core/machine';

const fakeBin = resolve('test/fixtures/bin');

function envFor(home: string, vramFile: string): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${fakeBin}${delimiter}${process.env.PATH ?? ''}`, MODEL_PERF_HOME: home, FAKE_NVIDIA_SMI_SCENARIO: '1gpu', FAKE_NVIDIA_SMI_VRAM_FILE: vramFile };
}

const quiet = { info() {}, warn() {}, error() {} };
const settings: SharedEngineSettings = { config: { monitoringIntervalMs: 250 }, nvidiaSmiPath: null, storageDir: null };


function streamingChildren(): number {
  try {
    const out = execFileSync('pgrep', ['-f', `${fakeBin}/nvidia-smi.*-lms`], { encoding: 'utf8' });
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
