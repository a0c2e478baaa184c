// The host's engine is the core SharedEngine seen through the extension's settings: a settings
// change reaches the engine in its terms (here the storage folder). The engine's own behaviour
// is tested in test/unit/machine.test.ts. Real processes and files, short waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
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
    assert.equal(e.currentSettings.storageDirectory, other, 'the settings in force');
    assert.equal(e.role, 'leader');
    assert.deepEqual(e.monitor.getHistory(), [], 'the new folder has its own (empty) history');
    assert.equal(e.isMonitoring, true);
    await waitUntil('GPU figures after the move', () => e.latestSnapshot()?.gpus.length === 1);
  } finally {
    await e.dispose();
  }
});

test("a run another process of this machine records (its running marker) is shown, marked with its pid, and is not among the window's own tasks", async () => {
  const home = mkdtempSync(join(tmpdir(), 'model-perf-engines-elsewhere-'));
  const vramFile = join(home, 'vram');
  writeFileSync(vramFile, '8000');
  const e = await HostEngine.create({ settings, diskPath: home, log: quiet, env: envFor(home, vramFile) });
  await e.start();
  try {
    e.monitor.startTaskMonitoring('mine', 'm', '720p', 1);
    // The marker of a live process that is not this one (the test runner that started us), as `model-perf run` writes it.
    const owner = process.ppid;
    const dir = join(e.historyLocation, 'running');
    mkdirSync(dir, { recursive: true });
    const task = { ...(e.monitor.getActiveTasks()[0] as object), taskId: 'cli-run', startTime: Date.now() - 1000 };
    writeFileSync(join(dir, `${owner}-abcdef0123456789.json`), JSON.stringify({ schemaVersion: 1, ownerPid: owner, hostname: hostname(), updatedAt: Date.now(), task }));
    const cli = await waitUntil('the other process\'s run is visible', () => e.visibleTasks().find((t) => t.taskId === 'cli-run'));
    assert.equal(e.elsewhereOwner(cli), owner, 'marked with the pid of the process that runs it');
    const mine = e.visibleTasks().find((t) => t.taskId === 'mine');
    assert.ok(mine);
    assert.equal(e.elsewhereOwner(mine), null, "the window's own task is not marked");
    // Complete/Cancel Task pick among monitor.getActiveTasks(): the other process's run is not offered.
    assert.deepEqual(e.monitor.getActiveTasks().map((t) => t.taskId), ['mine']);
    await e.monitor.completeTaskMonitoring('mine');
  } finally {
    await e.dispose();
  }
});
