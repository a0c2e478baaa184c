// The commands and the API in the real extension host, with their answers given as arguments
// (the e2e tests drive the same commands through the palette's quick inputs).
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import { activeApi, waitFor } from './helpers';

describe('commands and API', () => {
  before(async () => {
    await vscode.commands.executeCommand('modelPerf.clearHistory', { confirm: true });
  });

  it('start, complete and cancel tasks through the commands; the history records them', async () => {
    const api = await activeApi();
    const started = await vscode.commands.executeCommand<PerformanceMetrics>('modelPerf.startTask', { taskId: 'host-ok', modelType: 'sdxl', resolution: '1280x720', steps: 20 });
    assert.equal(started.status, 'running');
    assert.equal(started.resolutionClass, '720p');
    assert.deepEqual(api.getActiveTasks().map((t) => t.taskId), ['host-ok']);
    await new Promise((r) => setTimeout(r, 1200));
    const done = await vscode.commands.executeCommand<PerformanceMetrics>('modelPerf.completeTask', 'host-ok', { success: true });
    assert.equal(done.status, 'succeeded');
    assert.ok(done.generationTimeSeconds! >= 1.1, `time ${done.generationTimeSeconds}`);
    assert.equal(done.devicePeakVramUsageMb, 20314, 'the fake GPU\'s VRAM');
    await vscode.commands.executeCommand('modelPerf.startTask', { taskId: 'host-fail', modelType: 'wan', resolution: '1080p', steps: 50 });
    const failed = await vscode.commands.executeCommand<PerformanceMetrics>('modelPerf.completeTask', { taskId: 'host-fail' }, { success: false, errorCategory: 'out_of_memory' });
    assert.equal(failed.status, 'failed');
    assert.equal(failed.errorCategory, 'out_of_memory');
    await vscode.commands.executeCommand('modelPerf.startTask', { taskId: 'host-cancel', modelType: 'wan' });
    const cancelled = await vscode.commands.executeCommand<PerformanceMetrics>('modelPerf.cancelTask', 'host-cancel');
    assert.equal(cancelled.status, 'cancelled');
    const analysis = api.getAnalysis(1);
    assert.equal(analysis.taskCount, 3);
    assert.equal(analysis.successRate, 0.5);
    assert.deepEqual(analysis.failuresByErrorCategory, { out_of_memory: 1 });
  });

  it('a command given a bad argument refuses it with a message and records nothing', async () => {
    const api = await activeApi();
    const result = await vscode.commands.executeCommand('modelPerf.startTask', { taskId: 42 });
    assert.equal(result, undefined);
    assert.deepEqual(api.getActiveTasks(), []);
    const unknown = await vscode.commands.executeCommand('modelPerf.completeTask', 'no-such-task', { success: true });
    assert.equal(unknown, undefined);
  });

  it('export writes a JSON file whose content matches the engine', async () => {
    const api = await activeApi();
    const dir = mkdtempSync(join(tmpdir(), 'model-perf-export-'));
    const path = join(dir, 'metrics.json');
    const result = await vscode.commands.executeCommand<{ path: string; metricsCount: number }>('modelPerf.exportMetrics', { path, windowHours: 1 });
    assert.equal(result.path, path);
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(doc.metrics_count, 3);
    assert.equal(doc.time_window_hours, 1);
    assert.deepEqual(doc.metrics.map((m: PerformanceMetrics) => m.taskId).sort(), ['host-cancel', 'host-fail', 'host-ok']);
    const analysis = api.getAnalysis(1);
    assert.equal(doc.performance_analysis.successRate, analysis.successRate);
    assert.equal(doc.performance_analysis.taskCount, analysis.taskCount);
    const csvPath = join(dir, 'metrics.csv');
    await vscode.commands.executeCommand('modelPerf.exportMetrics', { path: csvPath, windowHours: 1 });
    const csv = readFileSync(csvPath, 'utf8').trim().split('\n');
    assert.equal(csv.length, 4, 'a header and three rows');
  });

  it('the API validates its input and reports task ends as events', async () => {
    const api = await activeApi();
    assert.equal(api.apiVersion, 1);
    assert.throws(() => api.startTask({ steps: -3 }), /"steps" must be a whole number/);
    const ended: string[] = [];
    const sub = api.onDidEndTask((t) => ended.push(t.taskId));
    const task = api.startTask({ taskId: 'api-run', modelType: 'llama', rootPid: process.pid });
    api.updateTask(task.taskId, { modelLoadTimeSeconds: 4.5, steps: 10 });
    assert.throws(() => api.updateTask(task.taskId, { peakVramUsageMb: 1 } as never), /"peakVramUsageMb" is measured or set by the monitor/);
    const done = await api.completeTask(task.taskId);
    sub.dispose();
    assert.deepEqual(ended, ['api-run']);
    assert.equal(done.modelLoadTimeSeconds, 4.5);
    assert.equal(done.ramScope, 'processTree', 'RAM of the given process tree (the extension host)');
    assert.ok(done.peakRamUsageMb! > 10);
  });

  it('stop and start monitoring from the commands', async () => {
    const api = await activeApi();
    await vscode.commands.executeCommand('modelPerf.stopMonitoring');
    const s1 = api.getCurrentStatus();
    const whileStopped: number[] = [];
    const sub = api.onDidTakeSnapshot((s) => whileStopped.push(s.timestamp));
    // No sample must come. The positive marker that a sampling interval (1 s) has passed in the
    // extension's own time: one more heartbeat of its sampler lock (every 10 s, a timer that goes
    // on while monitoring is stopped), however slow the machine is, instead of a fixed sleep.
    const lockFile = join(process.env.MODEL_PERF_HOME ?? '', 'leader.lock');
    const heartbeat = (): number => {
      try {
        return (JSON.parse(readFileSync(lockFile, 'utf8')) as { heartbeatAt: number }).heartbeatAt;
      } catch {
        return 0;
      }
    };
    const first = await waitFor(`a heartbeat in ${lockFile}`, () => heartbeat() || null);
    await waitFor('one more heartbeat of the sampler lock', () => heartbeat() >= first + 2000, 40000);
    sub.dispose();
    const s2 = api.getCurrentStatus();
    assert.ok(!('error' in s1) && !('error' in s2));
    assert.deepEqual(whileStopped, [], 'no sample while stopped');
    assert.equal(s1.timestamp, s2.timestamp, 'no sample while stopped');
    await vscode.commands.executeCommand('modelPerf.startMonitoring');
    await waitFor('a new sample', () => {
      const s = api.getCurrentStatus();
      return !('error' in s) && s.timestamp > s2.timestamp;
    });
  });

  it('a setting change takes effect without a reload', async () => {
    const api = await activeApi();
    const config = vscode.workspace.getConfiguration('modelPerf');
    try {
      await config.update('monitoringIntervalSeconds', 0.5, vscode.ConfigurationTarget.Global);
      const times: number[] = [];
      const sub = api.onDidTakeSnapshot((s) => times.push(s.timestamp));
      await waitFor('six snapshots', () => times.length >= 6, 10000);
      sub.dispose();
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      const median = gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!;
      assert.ok(median >= 400 && median <= 700, `samples every ~500 ms after the change (median gap ${median} ms)`);
      await config.update('thresholds.vramPercent', 50, vscode.ConfigurationTarget.Global);
      await waitFor('the VRAM bottleneck threshold applied', () => api.getAnalysis(1).bottleneckAnalysis.vramBottleneck || null, 5000);
    } finally {
      await config.update('monitoringIntervalSeconds', undefined, vscode.ConfigurationTarget.Global);
      await config.update('thresholds.vramPercent', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('clear history removes every finished task', async () => {
    const api = await activeApi();
    const removed = await vscode.commands.executeCommand<number>('modelPerf.clearHistory', { confirm: true });
    assert.ok(removed >= 4, `removed ${removed}`);
    assert.equal(api.getAnalysis(1).taskCount, 0);
    const refused = await vscode.commands.executeCommand('modelPerf.clearHistory', { confirm: 'yes' });
    assert.equal(refused, undefined);
  });
});
