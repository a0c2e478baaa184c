// Two engines on one machine (two VS Code windows, or a window and the CLI) with the fake
// nvidia-smi: one samples, the other reads its figures, both see the same history, and the
// follower takes over when the leader goes away. Real processes and files, short waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { waitUntil } from '../helpers/waitUntil';
import { HostEngine } from '../../../src/host/engine';
import { defaultHostSettings, type HostSettings } from '../../../src/host/settings';

const fakeBin = resolve('test/fixtures/bin');

function envFor(home: string, vramFile: string): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${fakeBin}${delimiter}${process.env.PATH ?? ''}`, MODEL_PERF_HOME: home, FAKE_NVIDIA_SMI_SCENARIO: '1gpu', FAKE_NVIDIA_SMI_VRAM_FILE: vramFile };
}

const quiet = { info() {}, warn() {}, error() {} };
const settings: HostSettings = { ...defaultHostSettings, monitoringIntervalMs: 250 };


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
  const a = await HostEngine.create({ settings, diskPath: home, log: quiet, env: envFor(home, vramFile) });
  await a.start();
  const b = await HostEngine.create({ settings, diskPath: home, log: quiet, env: envFor(home, vramFile) });
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
    await waitUntil('window b sees the task window a recorded', () => b.monitor.getHistory().some((t) => t.taskId === 'from-a'));

    await a.dispose(); // window a closes
    await waitUntil('window b takes over sampling', () => b.role === 'leader');
    writeFileSync(vramFile, '10000');
    await waitUntil('window b samples the GPU itself', () => b.latestSnapshot()?.gpus[0]?.vramUsedMb === 10000);
    await waitUntil('still one nvidia-smi', () => streamingChildren() - before === 1);
  } finally {
    await a.dispose();
    await b.dispose();
  }
  await waitUntil('no nvidia-smi left', () => streamingChildren() === before);
});

test('a setting that moves the storage folder moves the lock and the history with it', async () => {
  const home = mkdtempSync(join(tmpdir(), 'model-perf-engines-'));
  const other = mkdtempSync(join(tmpdir(), 'model-perf-engines-other-'));
  const vramFile = join(home, 'vram');
  writeFileSync(vramFile, '8000');
  const e = await HostEngine.create({ settings, diskPath: home, log: quiet, env: envFor(home, vramFile) });
  await e.start();
  try {
    e.monitor.startTaskMonitoring('before-move', 'm', '720p', 1);
    await e.monitor.completeTaskMonitoring('before-move');
    await e.applySettings({ ...settings, storageDirectory: other });
    assert.equal(e.historyLocation, other);
    assert.equal(e.role, 'leader');
    assert.deepEqual(e.monitor.getHistory(), [], 'the new folder has its own (empty) history');
    assert.equal(e.isMonitoring, true);
    await waitUntil('GPU figures after the move', () => e.latestSnapshot()?.gpus.length === 1);
  } finally {
    await e.dispose();
  }
});
