// Runs inside the real extension host: the extension activates on start-up, registers its
// commands, samples this machine (with the fake nvidia-smi the test command puts on PATH), and
// its commands work.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { EXTENSION_ID, activeApi, waitFor } from './helpers';

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
    for (const id of ['modelPerf.showCurrentStatus', 'modelPerf.showLog', 'modelPerf.startTask', 'modelPerf.completeTask', 'modelPerf.cancelTask', 'modelPerf.startMonitoring', 'modelPerf.stopMonitoring', 'modelPerf.exportMetrics', 'modelPerf.clearHistory', 'modelPerf.openDashboard', 'modelPerf.rotateHelperToken']) {
      assert.ok(contributed.includes(id), `${id} is contributed`);
    }
    const registered = new Set(await vscode.commands.getCommands(true));
    for (const id of contributed) assert.ok(registered.has(id), `command ${id} is registered`);
    for (const c of ext.packageJSON.contributes.commands) assert.equal(c.category, 'Model Perf');
  });

  it('samples this machine: CPU and RAM in range, and the fake GPU', async () => {
    const api = await activeApi();
    const status = await waitFor('a snapshot with CPU and a GPU', () => {
      const s = api.getCurrentStatus();
      return !('error' in s) && s.cpuUsagePercent !== null && s.gpus.length > 0 ? s : null;
    });
    assert.ok(!('error' in status));
    assert.ok(status.cpuUsagePercent! >= 0 && status.cpuUsagePercent! <= 100, `cpu ${status.cpuUsagePercent}`);
    assert.ok(status.ramTotalMb! > 100, `ram total ${status.ramTotalMb}`);
    assert.ok(status.ramUsageMb! > 0 && status.ramUsageMb! < status.ramTotalMb!, `ram used ${status.ramUsageMb}`);
    assert.ok(Math.abs(Date.now() - status.timestamp) < 10000, 'the snapshot is fresh');
    assert.equal(status.gpuAvailability.provider, 'nvidia');
    assert.equal(status.gpus[0]?.name, 'NVIDIA GeForce RTX 4090');
    assert.equal(status.gpus[0]?.vramTotalMb, 24564);
    assert.equal(status.gpus[0]?.utilizationPercent, 97);
  });

  it('Show Current Status opens a report of the latest snapshot', async () => {
    const api = await activeApi();
    await waitFor('a snapshot', () => !('error' in api.getCurrentStatus()));
    await vscode.commands.executeCommand('modelPerf.showCurrentStatus');
    const editor = await waitFor('the status report editor', () =>
      vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme === 'model-perf'));
    const text = editor.document.getText();
    assert.match(text, /# Model Performance Monitor: current status/);
    assert.match(text, /- CPU: (\d+%|N\/A)/);
    assert.match(text, /- RAM: [\d.]+ \/ [\d.]+ GB used/);
    assert.match(text, /\| 0 \| NVIDIA GeForce RTX 4090 \| 97% \|/);
  });

  it('Show Log runs without error', async () => {
    await activeApi();
    await vscode.commands.executeCommand('modelPerf.showLog');
  });
});
