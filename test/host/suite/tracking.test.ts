// Runs inside the real extension host with terminal shell integration: a fake model script typed
// into an integrated bash terminal becomes a task with the right outcome, steps and category; its
// own process tree is measured; the Python helper's messages arrive with the session's token and
// are refused without it; a debug session of a small Node program becomes a task.
// Each run carries its own --task-id and each test waits for the end of exactly that task: an
// earlier run's task arriving late (or twice) cannot be taken for this one's, so a test cannot
// pass or fail by timing.
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as vscode from 'vscode';
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import { taskProgressText } from '../../../src/host/statusFormat';
import { activeApi, waitFor } from './helpers';

const repo = resolve(__dirname, '..', '..', '..');
const script = join(repo, 'test', 'fixtures', 'scripts', 'fake_generate.py');
const scratch = mkdtempSync(join(tmpdir(), 'model-perf-tracking-'));
const pidFile = join(scratch, 'pid');
const vramFile = join(scratch, 'vram');

let terminal: vscode.Terminal;
let runNo = 0;
/** Every end event of a run these tests started, by task id (a run must end exactly once). */
const endsById = new Map<string, PerformanceMetrics[]>();
/** A task id no earlier run of this session has (the tracker takes it from --task-id). */
const freshTaskId = () => `tracking-test-${process.pid}-${++runNo}`;
const isRunOf = (taskId: string, id: string) => taskId === id || taskId.startsWith(`${id}#`);

async function shellTerminal(): Promise<vscode.Terminal> {
  const t = vscode.window.createTerminal({
    name: 'tracking test',
    shellPath: '/bin/bash',
    env: { FAKE_NVIDIA_SMI_PID_FILE: pidFile, FAKE_NVIDIA_SMI_VRAM_FILE: vramFile },
  });
  await waitFor('shell integration in the new terminal', () => t.shellIntegration, 20000);
  return t;
}

/** Starts `args` of the fake script in the terminal under a fresh task id; `ended` is that task's end. */
async function startInTerminal(args: string, prefix = ''): Promise<{ taskId: string; ended: Promise<PerformanceMetrics> }> {
  const api = await activeApi();
  const taskId = freshTaskId();
  const ended = new Promise<PerformanceMetrics>((resolveEnd, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`no task ended for "${args}" (task id ${taskId})`));
    }, 60000);
    // Not disposed once resolved: a late second end of this run is counted, and fails the check below.
    const sub = api.onDidEndTask((t) => {
      if (!isRunOf(t.taskId, taskId)) return;
      endsById.set(t.taskId, [...(endsById.get(t.taskId) ?? []), t]);
      if (t.taskId !== taskId) return; // a second tracking of the same run: counted, checked below
      clearTimeout(timer);
      resolveEnd(t);
    });
  });
  const si = terminal.shellIntegration;
  assert.ok(si, 'the terminal has shell integration');
  si.executeCommand(`${prefix}python3 ${script} ${args} --task-id ${taskId}`);
  return { taskId, ended };
}

/** Runs `args` of the fake script in the terminal and resolves with the task it leaves. */
async function runInTerminal(args: string, prefix = ''): Promise<PerformanceMetrics> {
  return (await startInTerminal(args, prefix)).ended;
}

describe('tracking: runs in the integrated terminal', function () {
  this.timeout(90000);

  const saved = { pid: process.env.FAKE_NVIDIA_SMI_PID_FILE, vram: process.env.FAKE_NVIDIA_SMI_VRAM_FILE };

  before(async () => {
    await activeApi();
    // The extension's per-process GPU query (the fake nvidia-smi it spawns) reads these too.
    process.env.FAKE_NVIDIA_SMI_PID_FILE = pidFile;
    process.env.FAKE_NVIDIA_SMI_VRAM_FILE = vramFile;
    terminal = await shellTerminal();
  });

  after(() => {
    terminal?.dispose();
    for (const [k, v] of [['FAKE_NVIDIA_SMI_PID_FILE', saved.pid], ['FAKE_NVIDIA_SMI_VRAM_FILE', saved.vram]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('a successful run becomes a task: progress while it runs, its own process tree, succeeded', async () => {
    const api = await activeApi();
    const run = await startInTerminal('--steps 10 --step-seconds 0.5 --resolution 720p --model wan2.1-t2v');
    const live = await waitFor('the running task with progress', () => api.getActiveTasks().find((t) => t.taskId === run.taskId && (t.stepsCompleted ?? 0) >= 2), 30000);
    assert.equal(live.status, 'running');
    assert.equal(live.stepsTotal, 10);
    const task = await run.ended;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.equal(task.status, 'succeeded');
    assert.equal(task.success, true);
    assert.equal(task.errorCategory, null);
    assert.equal(task.modelType, 'wan2.1-t2v');
    assert.equal(task.resolution, '720p');
    assert.equal(task.resolutionClass, '720p');
    assert.equal(task.steps, 10);
    assert.equal(task.stepsCompleted, 10);
    assert.equal(task.rootPid, pid, 'the root is the python process, not the shell');
    assert.equal(task.ramScope, 'processTree');
    assert.ok((task.processTreePeakRamUsageMb ?? 0) >= 64, `the tree holds the script's 64 MiB (got ${task.processTreePeakRamUsageMb})`);
    assert.ok((task.processTreePeakRamUsageMb ?? 0) < 1024, 'and not the whole machine');
    // The fake nvidia-smi lists the script's pid with 6000 MiB when asked for per-process memory.
    assert.equal(task.processTreePeakVramUsageMb, 6000);
    assert.equal(task.vramScope, 'processTree');
    assert.ok(task.generationTimeSeconds! > 4 && task.generationTimeSeconds! < 20, `time ${task.generationTimeSeconds}`);
  });

  it('a percent-only bar reads as a percentage (`40 %`), never as 40/100 steps', async () => {
    const api = await activeApi();
    const run = await startInTerminal('--steps 10 --step-seconds 0.4 --percent-only');
    const live = await waitFor('the running task with a percentage', () => api.getActiveTasks().find((t) => t.taskId === run.taskId && (t.stepsCompleted ?? 0) >= 20), 30000);
    assert.equal(live.progressIsPercent, true);
    assert.equal(live.stepsTotal, 100);
    assert.match(taskProgressText(live)?.text ?? '', /^\d+ %/, 'the status bar\'s progress text');
    const task = await run.ended;
    assert.equal(task.steps, 10, 'the step count is the command line\'s, not the percentage\'s 100');
    assert.equal(task.stepsCompleted, 100);
  });

  it('a run that exits 1 is failed with exit_code_1', async () => {
    const task = await runInTerminal('--steps 3 --step-seconds 0.1 --fail');
    assert.equal(task.status, 'failed');
    assert.equal(task.errorCategory, 'exit_code_1');
    assert.equal(task.stepsCompleted, 3);
  });

  it('a CUDA out-of-memory message makes the category out_of_memory', async () => {
    const task = await runInTerminal('--steps 6 --step-seconds 0.1 --oom');
    assert.equal(task.status, 'failed');
    assert.equal(task.errorCategory, 'out_of_memory');
    assert.equal(task.stepsCompleted, 3);
    assert.equal(task.stepsTotal, 6);
  });

  it('exit 137 is killed, exit 130 is interrupted', async () => {
    const killed = await runInTerminal('--steps 1 --step-seconds 0.1 --exit 137');
    assert.equal(killed.status, 'failed');
    assert.equal(killed.errorCategory, 'killed');
    const interrupted = await runInTerminal('--steps 1 --step-seconds 0.1 --exit 130');
    assert.equal(interrupted.status, 'interrupted');
    assert.equal(interrupted.errorCategory, 'interrupted');
  });

  it('the Python helper reports phases and settings with the session token', async () => {
    const task = await runInTerminal('--steps 3 --step-seconds 0.2 --helper');
    assert.equal(task.status, 'succeeded');
    assert.equal(task.modelLoadTimeSeconds, 41.5);
    assert.deepEqual(task.optimizationsApplied, ['xformers', 'vae_tiling']);
    assert.equal(task.quantizationUsed, 'fp8');
    assert.equal(task.offloadUsed, true);
    assert.deepEqual(task.phases?.map((p) => p.name), ['model_load', 'denoise', 'save']);
    for (const p of task.phases ?? []) {
      assert.ok(p.endTime !== null && p.endTime >= p.startTime, `phase ${p.name} has an end`);
      assert.ok(p.startTime >= task.startTime && p.endTime <= task.endTime!, `phase ${p.name} lies within the task`);
    }
  });

  it('the helper with a wrong token is refused: the run is tracked, its messages are not applied', async () => {
    const task = await runInTerminal('--steps 2 --step-seconds 0.1 --helper', 'MODEL_PERF_TOKEN=not-the-token ');
    assert.equal(task.status, 'succeeded', 'the script itself is not disturbed');
    assert.equal(task.modelLoadTimeSeconds, null);
    assert.deepEqual(task.phases ?? [], []);
  });

  it('a command that is not a model run is not tracked', async () => {
    const api = await activeApi();
    const before = api.getActiveTasks().length;
    const si = terminal.shellIntegration!;
    // Its end event cannot come before this synchronous code has subscribed.
    const execution = si.executeCommand('echo python gen.py; sleep 0.3');
    const ended = new Promise<void>((r) => {
      const sub = vscode.window.onDidEndTerminalShellExecution((e) => {
        if (e.execution !== execution) return;
        sub.dispose();
        r();
      });
    });
    await ended;
    assert.equal(api.getActiveTasks().length, before);
  });

  it('every run above ended exactly once (the ones after it are the sign a late second end would have come)', () => {
    assert.ok(endsById.size > 0, 'the runs above ended');
    for (const [id, ends] of endsById) {
      assert.ok(!id.includes('#'), `a run was tracked twice: ${id}`);
      assert.equal(ends.length, 1, `task ${id} ended ${ends.length} times: ${ends.map((t) => t.status).join(', ')}`);
    }
  });
});

describe('tracking: debug sessions', function () {
  this.timeout(60000);

  it('a debug session of a Node program becomes a task with its process', async () => {
    const api = await activeApi();
    const program = join(scratch, 'job.js');
    writeFileSync(program, "let i = 0; const t = setInterval(() => { i++; process.stdout.write(`step ${i}/3\\n`); if (i === 3) { clearInterval(t); } }, 1000);\n");
    const ended = new Promise<PerformanceMetrics>((resolveEnd, reject) => {
      const timer = setTimeout(() => reject(new Error('no task ended for the debug session')), 45000);
      const sub = api.onDidEndTask((t) => {
        if (!t.taskId.startsWith('job.js@')) return;
        clearTimeout(timer);
        sub.dispose();
        resolveEnd(t);
      });
    });
    const seen: string[] = [];
    const sub = vscode.debug.onDidStartDebugSession((s) => seen.push(`${s.type}/${s.name}/parent=${s.parentSession?.name ?? '-'}`));
    const started = await vscode.debug.startDebugging(undefined, { type: 'node', request: 'launch', name: 'tracking job', program, args: ['--steps', '3', '--resolution', '480p'], console: 'internalConsole' });
    assert.equal(started, true, 'js-debug started the session');
    const live = await waitFor('the debug task with a process id', () => api.getActiveTasks().find((t) => t.taskId.startsWith('job.js@') && t.rootPid !== null), 20000).catch((err: Error) => {
      throw new Error(`${err.message}; sessions ${JSON.stringify(seen)}; tasks ${JSON.stringify(api.getActiveTasks().map((t) => [t.taskId, t.rootPid]))}`);
    });
    sub.dispose();
    assert.equal(live.steps, 3);
    assert.equal(live.resolution, '480p');
    const task = await ended;
    assert.equal(task.status, 'succeeded', `status ${task.status} (${task.errorCategory})`);
    assert.equal(task.rootPid, live.rootPid);
    assert.ok(task.generationTimeSeconds! > 2.5, `time ${task.generationTimeSeconds}`);
    assert.equal(task.ramScope, 'processTree');
  });

  it('a debug session whose program throws is failed', async () => {
    const api = await activeApi();
    const program = join(scratch, 'crash.js');
    writeFileSync(program, "setTimeout(() => { throw new Error('boom'); }, 800);\n");
    const ended = new Promise<PerformanceMetrics>((resolveEnd) => {
      const sub = api.onDidEndTask((t) => {
        if (!t.taskId.startsWith('crash.js@')) return;
        sub.dispose();
        resolveEnd(t);
      });
    });
    assert.equal(await vscode.debug.startDebugging(undefined, { type: 'node', request: 'launch', name: 'crash job', program, console: 'internalConsole' }), true);
    const task = await ended;
    assert.equal(task.status, 'failed', `status ${task.status} (${task.errorCategory})`);
    assert.equal(task.errorCategory, 'exit_code_1');
  });
});

describe('tracking: VS Code tasks', function () {
  this.timeout(60000);

  it('a task whose command matches becomes one task, with its process and exit code', async () => {
    const api = await activeApi();
    const taskId = freshTaskId();
    const endedTasks: PerformanceMetrics[] = [];
    const sub = api.onDidEndTask((t) => {
      if (isRunOf(t.taskId, taskId)) endedTasks.push(t);
    });
    const processEnded = new Promise<number | undefined>((r) => {
      const s = vscode.tasks.onDidEndTaskProcess((e) => {
        if (e.execution.task.name !== 'tracking gen') return;
        s.dispose();
        r(e.exitCode);
      });
    });
    const scope = vscode.workspace.workspaceFolders?.[0] ?? vscode.TaskScope.Workspace;
    const task = new vscode.Task({ type: 'shell' }, scope, 'tracking gen', 'test', new vscode.ShellExecution(`python3 ${script} --steps 3 --step-seconds 0.3 --fail --task-id ${taskId}`));
    await vscode.tasks.executeTask(task);
    const live = await waitFor('the running task', () => api.getActiveTasks().find((t) => t.taskId === taskId), 30000);
    assert.ok(live.rootPid !== null);
    assert.equal(await processEnded, 1);
    await waitFor('the task ended', () => endedTasks.some((t) => t.taskId === taskId), 30000);
    // A second tracker's task for the same command started with the command, long before its
    // process ended: it is either still running now or has ended (and was counted). No wait needed.
    const others = api.getActiveTasks().filter((t) => isRunOf(t.taskId, taskId));
    sub.dispose();
    assert.deepEqual(others.map((t) => t.taskId), [], 'no second task is running for the command');
    assert.equal(endedTasks.length, 1, `one task, not one per tracker: ${JSON.stringify(endedTasks.map((t) => t.taskId))}`);
    assert.equal(endedTasks[0]?.status, 'failed');
    assert.equal(endedTasks[0]?.errorCategory, 'exit_code_1');
    assert.equal(endedTasks[0]?.steps, 3);
  });
});
