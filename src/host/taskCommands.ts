// Start, Complete and Cancel Task: one handler each. With an argument (a keybinding, another
// extension, a test) they act on it silently; from the palette they ask and then confirm.
import * as vscode from 'vscode';
import type { PerformanceMetrics } from '../shared/metrics';
import { parseCompleteArgs, parseStartArgs } from './commandArgs';
import { askOutcome, askStart, LAST_START_KEY, pickActiveTask } from './commandPrompts';
import type { CommandDeps } from './commands';
import { formatGb, formatTaskVramGb } from './statusFormat';

function summary(t: PerformanceMetrics): string {
  const time = t.generationTimeSeconds === null ? 'N/A' : `${t.generationTimeSeconds.toFixed(1)} s`;
  return `${t.taskId}: ${t.status} in ${time}, peak VRAM ${formatTaskVramGb(t)}, peak RAM ${formatGb(t.peakRamUsageMb)} GB`;
}

export async function startTask(deps: CommandDeps, arg?: unknown): Promise<PerformanceMetrics | undefined> {
  const args = arg !== undefined ? parseStartArgs(arg) : await askStart(deps);
  if (!args) return undefined;
  const task = deps.engine.monitor.startTaskMonitoring(args.taskId, args.modelType, args.resolution, args.steps, args.options);
  await deps.state.update(LAST_START_KEY, { modelType: args.modelType, resolution: args.resolution, steps: args.steps });
  deps.log.info(`Task ${task.taskId} started (${task.modelType}, ${task.resolution}, ${task.steps} steps)`);
  if (arg === undefined) void vscode.window.showInformationMessage(`Model Perf: task ${task.taskId} started.`);
  return task;
}

export async function completeTask(deps: CommandDeps, arg?: unknown, outcomeArg?: unknown): Promise<PerformanceMetrics | undefined> {
  const taskId = await pickActiveTask(deps, 'complete', arg);
  if (!taskId) return undefined;
  const outcome = outcomeArg !== undefined ? parseCompleteArgs(outcomeArg) : await askOutcome(taskId);
  if (!outcome) return undefined;
  const done = await deps.engine.monitor.completeTaskMonitoring(taskId, outcome.success, outcome.errorCategory);
  deps.log.info(`Task completed: ${summary(done)}`);
  if (outcomeArg === undefined) void vscode.window.showInformationMessage(`Model Perf: ${summary(done)}`);
  return done;
}

export async function cancelTask(deps: CommandDeps, arg?: unknown): Promise<PerformanceMetrics | undefined> {
  const taskId = await pickActiveTask(deps, 'cancel', arg);
  if (!taskId) return undefined;
  const done = await deps.engine.monitor.cancelTaskMonitoring(taskId);
  deps.log.info(`Task cancelled: ${summary(done)}`);
  if (arg === undefined) void vscode.window.showInformationMessage(`Model Perf: task ${taskId} cancelled; it does not count against the success rate.`);
  return done;
}
