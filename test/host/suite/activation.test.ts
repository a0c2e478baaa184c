// Runs inside the real extension host: the extension activates on start-up, registers its
// commands, samples this machine, and its commands work.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ModelPerfApi } from '../../../src/host/extension';

const EXTENSION_ID = 'model-perf.model-perf-monitor';

async function activeApi(): Promise<ModelPerfApi> {
  const ext = vscode.extensions.getExtension<ModelPerfApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is installed`);
  return ext.isActive ? ext.exports : ext.activate();
}

async function waitFor<T>(what: string, probe: () => T | null | undefined, timeoutMs = 15000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('activation', () => {
  it('is active after start-up and runs in the workspace extension host', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    await activeApi();
    assert.equal(ext.isActive, true);
    assert.equal(ext.extensionKind, vscode.ExtensionKind.Workspace);
    assert.deepEqual(ext.packageJSON.extensionKind, ['workspace']);
  });

  it('registers every command the manifest contributes', async () => {
    await activeApi();
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const contributed: string[] = ext.packageJSON.contributes.commands.map((c: { command: string }) => c.command);
    assert.ok(contributed.includes('modelPerf.showCurrentStatus'));
    assert.ok(contributed.includes('modelPerf.showLog'));
    const registered = new Set(await vscode.commands.getCommands(true));
    for (const id of contributed) assert.ok(registered.has(id), `command ${id} is registered`);
  });

  it('samples this machine: CPU and RAM figures in range', async () => {
    const api = await activeApi();
    const snap = await waitFor('a snapshot with CPU', () => {
      const s = api.engine.latestSnapshot();
      return s && s.cpuUsagePercent !== null ? s : null;
    });
    assert.ok(snap.cpuUsagePercent! >= 0 && snap.cpuUsagePercent! <= 100, `cpu ${snap.cpuUsagePercent}`);
    assert.ok(snap.ramTotalMb! > 100, `ram total ${snap.ramTotalMb}`);
    assert.ok(snap.ramUsageMb! > 0 && snap.ramUsageMb! < snap.ramTotalMb!, `ram used ${snap.ramUsageMb}`);
    assert.ok(Math.abs(Date.now() - snap.timestamp) < 10000, 'the snapshot is fresh');
  });

  it('Show Current Status opens a report of the latest snapshot', async () => {
    const api = await activeApi();
    await waitFor('a snapshot', () => api.engine.latestSnapshot());
    await vscode.commands.executeCommand('modelPerf.showCurrentStatus');
    const editor = await waitFor('the status report editor', () =>
      vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme === 'model-perf'));
    const text = editor.document.getText();
    assert.match(text, /# Model Performance Monitor: current status/);
    assert.match(text, /- CPU: (\d+%|N\/A)/);
    assert.match(text, /- RAM: [\d.]+ \/ [\d.]+ GB used/);
    assert.match(text, /## GPUs/);
  });

  it('Show Log runs without error', async () => {
    await activeApi();
    await vscode.commands.executeCommand('modelPerf.showLog');
  });
});
