// The palette commands: one table of names and handlers (taskCommands, engineCommands), each run
// through one guard. Each handler asks what it needs with quick inputs (commandPrompts), offers the
// last values, says clearly when there is nothing to act on, and reports failures with a message a
// user can act on. Each also takes its answers as an argument (from a keybinding, another
// extension or a test), validated like any other input from outside.
import * as vscode from 'vscode';
import type { HostEngine } from './engine';
import { clearHistory, exportMetrics, startMonitoring, stopMonitoring } from './engineCommands';
import { cancelTask, completeTask, startTask } from './taskCommands';
import { rotateHelperToken } from './tracking';

export interface CommandDeps {
  engine: HostEngine;
  log: vscode.LogOutputChannel;
  state: vscode.Memento;
  showStatus(): Promise<void>;
}

type CommandHandler = (deps: CommandDeps, ...args: unknown[]) => Promise<unknown>;

/** Every guarded command, in the order they are registered. */
const COMMANDS: readonly [string, CommandHandler][] = [
  ['modelPerf.startTask', startTask],
  ['modelPerf.completeTask', completeTask],
  ['modelPerf.cancelTask', cancelTask],
  ['modelPerf.startMonitoring', startMonitoring],
  ['modelPerf.stopMonitoring', stopMonitoring],
  ['modelPerf.exportMetrics', exportMetrics],
  ['modelPerf.showCurrentStatus', (deps) => deps.showStatus()],
  ['modelPerf.clearHistory', clearHistory],
  ['modelPerf.rotateHelperToken', () => rotateHelperToken()],
];

/** Registers a command whose refused input or engine error becomes one clear message, logged once. */
function guarded(log: vscode.LogOutputChannel, name: string, body: (...args: unknown[]) => Promise<unknown>): vscode.Disposable {
  return vscode.commands.registerCommand(name, async (...args: unknown[]) => {
    try {
      return await body(...args);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.error(`${name}: ${message}`);
      void vscode.window.showErrorMessage(`Model Perf: ${message}`);
      return undefined;
    }
  });
}

export function registerCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  for (const [name, handler] of COMMANDS) context.subscriptions.push(guarded(deps.log, name, (...args) => handler(deps, ...args)));
  context.subscriptions.push(vscode.commands.registerCommand('modelPerf.showLog', () => deps.log.show(true)));
}
