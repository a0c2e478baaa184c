// A run already going when the extension activates (after "Reload Window" with persistent
// terminals, or typed before activation) is adopted. A real reload cannot be driven from inside
// the extension host that the reload would replace, so the activation is simulated: a run starts
// in a real bash terminal with shell integration while tracking is off (as if no extension were
// there), then a new terminal tracker is built the way activation builds it, on its own monitor.
// It must find the run, continue it as an adopted task from the process's own start, and end it
// with the exit code shell integration reports for an execution it never saw start.
import * as assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as vscode from 'vscode';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { MemoryHistoryStore } from '../../../src/core/history/historyStore';
import { compilePatterns } from '../../../src/core/runs/commandLine';
import { processRelations } from '../../../src/core/runs/procRelations';
import { RunRegistry } from '../../../src/core/runs/trackedRuns';
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import { TerminalTracker } from '../../../src/host/terminalTracker';
import { activeApi, waitFor } from './helpers';

const repo = resolve(__dirname, '..', '..', '..');
const script = join(repo, 'test', 'fixtures', 'scripts', 'fake_generate.py');

/** A memento that has already shown every notice (this test is not about them). */
const quietState = { get: () => true, update: async () => undefined, keys: () => [] } as unknown as vscode.Memento;

describe('runs already going at activation', function () {
  this.timeout(120000);
  if (process.platform !== 'linux') return;
  const tracking = () => vscode.workspace.getConfiguration('modelPerf.tracking');
  let terminal: vscode.Terminal | undefined;
  let tracker: TerminalTracker | undefined;
  let monitor: PerformanceMonitor | undefined;
  let log: vscode.LogOutputChannel | undefined;

  before(async () => {
    await activeApi();
  });
  after(async () => {
    tracker?.dispose();
    await monitor?.dispose();
    terminal?.dispose();
    log?.dispose();
    await tracking().update('enabled', undefined, vscode.ConfigurationTarget.Global);
  });

  it('are adopted from their own start, marked adopted, and end with their exit code', async () => {
    // The extension running now must not track the run: it plays the session before the reload.
    await tracking().update('enabled', false, vscode.ConfigurationTarget.Global);
    terminal = vscode.window.createTerminal({ name: 'adoption test', shellPath: '/bin/bash' });
    const t = terminal;
    await waitFor('shell integration', () => t.shellIntegration, 20000);
    const taskId = `adopt-${process.pid}`;
    t.shellIntegration?.executeCommand(`python3 ${script} --steps 12 --step-seconds 0.5 --task-id ${taskId}`);
    const shellPid = await t.processId;
    assert.ok(shellPid);
    const relations = processRelations();
    // The run is going once the shell's child is python running the script: after the fork it is
    // bash for a moment, and a version manager's shim (pyenv: `bash pyenv-exec python3 …`) runs first.
    const isScript = async (pid: number) => {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\u0000');
      return /^python[\d.]*$/.test(argv[0]?.split('/').pop() ?? '') && argv.some((a) => a.endsWith('fake_generate.py'));
    };
    await waitFor('the run to start', async () => {
      for (const pid of await relations.children(shellPid)) if (await isScript(pid)) return true;
      return null;
    }, 20000);
    await tracking().update('enabled', true, vscode.ConfigurationTarget.Global);

    // "Activation": a new monitor and tracker, as registerTracking builds them.
    monitor = new PerformanceMonitor({}, { historyStore: new MemoryHistoryStore() });
    const m = monitor;
    const ended = new Promise<PerformanceMetrics>((done) => m.on('taskEnded', done));
    log = vscode.window.createOutputChannel('Model Perf adoption test', { log: true });
    const real = log;
    const lines: string[] = [];
    // The tracker's log, kept for the failure message.
    const l = Object.assign(Object.create(real) as vscode.LogOutputChannel, {
      info: (x: string) => (lines.push(x), real.info(x)),
      warn: (x: string) => (lines.push(x), real.warn(x)),
      error: (x: string) => (lines.push(x), real.error(x)),
    });
    const patterns = compilePatterns(undefined).patterns;
    const adoptedAt = Date.now();
    tracker = new TerminalTracker({ runs: new RunRegistry(m, { info: (x) => l.info(x), warn: (x) => l.warn(x), error: (x) => l.error(x) }), relations, log: l, enabled: () => true, patterns: () => patterns }, quietState);
    const adopted = await tracker.adoption;
    const seen = await Promise.all((await relations.children(shellPid)).map(async (pid) => `${pid}: ${JSON.stringify(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''))}`));
    assert.ok(adopted >= 1, `the run was adopted; the tracker said: ${lines.join(' | ')}; the shell's children: ${seen.join(', ')}`);
    const live = m.getActiveTasks().find((x) => x.taskId === taskId);
    assert.ok(live, `an adopted task "${taskId}" among ${JSON.stringify(m.getActiveTasks().map((x) => x.taskId))}`);
    assert.equal(live.adopted, true);
    assert.ok(live.startTime <= adoptedAt, 'it starts when its process started, before the adoption');
    assert.ok(live.rootPid !== null && live.rootPid !== shellPid, 'its root is the python process, not the shell');

    const done = await Promise.race([ended, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the adopted run did not end')), 60000))]);
    assert.equal(done.taskId, taskId);
    assert.equal(done.adopted, true);
    assert.equal(done.status, 'succeeded', 'the exit code 0 came through shell integration');
  });
});
