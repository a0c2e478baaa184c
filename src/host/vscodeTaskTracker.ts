// VS Code tasks (Terminal > Run Task) whose command matches the patterns become tasks: the task's
// process id is the root of the run, its exit code says how it ended. A task's output is not
// readable from an extension, so progress and out-of-memory messages come only from terminals.
import * as vscode from 'vscode';
import { guessTask, recogniseCommand } from '../core/runs/commandLine';
import type { TrackedRun } from '../core/runs/trackedRuns';
import type { TrackerContext } from './terminalTracker';

function quote(arg: string | vscode.ShellQuotedString): string {
  const value = typeof arg === 'string' ? arg : arg.value;
  return /[\s"'\\]/.test(value) ? `'${value.replace(/'/g, `'\\''`)}'` : value;
}

/** The command line of a task's execution, or null for a custom execution. */
function taskCommandLine(execution: vscode.Task['execution']): string | null {
  if (execution instanceof vscode.ShellExecution) {
    if (execution.commandLine) return execution.commandLine;
    if (execution.command !== undefined) return [execution.command, ...(execution.args ?? [])].map(quote).join(' ');
    return null;
  }
  if (execution instanceof vscode.ProcessExecution) return [execution.process, ...execution.args].map(quote).join(' ');
  return null;
}

export class VsCodeTaskTracker implements vscode.Disposable {
  private readonly runs = new Map<vscode.TaskExecution, TrackedRun>();
  private readonly pending = new Set<vscode.TaskExecution>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly ctx: TrackerContext, private readonly terminalShellPids: () => Promise<Set<number>>) {
    this.subscriptions.push(
      vscode.tasks.onDidStartTaskProcess((e) => void this.started(e)),
      vscode.tasks.onDidEndTaskProcess((e) => void this.ended(e)),
    );
  }

  private async started(e: vscode.TaskProcessStartEvent): Promise<void> {
    if (!this.ctx.enabled()) return;
    const line = taskCommandLine(e.execution.task.execution);
    if (!line) return;
    const recognised = recogniseCommand(line, this.ctx.patterns());
    if (!recognised || recognised.recordedByCli) return;
    // A task terminal with shell integration is already followed by the terminal tracker.
    this.pending.add(e.execution);
    try {
      await new Promise((r) => setTimeout(r, 300));
      if ((await this.terminalShellPids()).has(e.processId)) return;
      const run = this.ctx.runs.start('task', guessTask(recognised, Date.now()), e.processId);
      if (run) this.runs.set(e.execution, run);
    } finally {
      this.pending.delete(e.execution);
    }
  }

  private async ended(e: vscode.TaskProcessEndEvent): Promise<void> {
    // The start handler waits briefly; an end arriving within that wait finds its run after it.
    for (let i = 0; i < 20 && this.pending.has(e.execution); i++) await new Promise((r) => setTimeout(r, 50));
    const run = this.runs.get(e.execution);
    if (!run) return;
    this.runs.delete(e.execution);
    await run.end({ exitCode: e.exitCode, unknownCategory: 'interrupted' });
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}
