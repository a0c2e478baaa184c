// The palette commands. Each asks what it needs with quick inputs, offers the last values, says
// clearly when there is nothing to act on, and reports failures with a message a user can act on.
// Each also takes its answers as an argument (from a keybinding, another extension or a test),
// validated like any other input from outside.
import * as vscode from 'vscode';
import type { PerformanceMetrics } from '../shared/metrics';
import type { HostEngine } from './engine';
import { formatElapsed, formatGb } from './statusFormat';
import { parseCompleteArgs, parseExportArgs, parseStartArgs, parseTaskIdArg, validateTaskId, type ExportArgs, type StartArgs } from './commandArgs';

const LAST_START_KEY = 'modelPerf.lastStartTask';

export interface CommandDeps {
  engine: HostEngine;
  log: vscode.LogOutputChannel;
  state: vscode.Memento;
  showStatus(): Promise<void>;
}

const RESOLUTIONS = ['512x512', '720p', '1080p', '1024x1024', '4K'];
const ERROR_CATEGORIES = ['out_of_memory', 'model_load', 'invalid_input', 'timeout', 'crash', 'other'];
const WINDOWS: { label: string; hours: number }[] = [
  { label: 'Last hour', hours: 1 },
  { label: 'Last 24 hours', hours: 24 },
  { label: 'Last 7 days', hours: 168 },
  { label: 'Last 30 days', hours: 720 },
  { label: 'Everything kept', hours: 24 * 36_500 },
];

function describeTask(t: PerformanceMetrics, now: number): vscode.QuickPickItem & { taskId: string } {
  return {
    label: t.taskId,
    description: `${t.modelType} · ${t.resolution}`,
    detail: `running ${formatElapsed(now - t.startTime)} · peak VRAM ${formatGb(t.peakVramUsageMb)} GB`,
    taskId: t.taskId,
  };
}

function summary(t: PerformanceMetrics): string {
  const time = t.generationTimeSeconds === null ? 'N/A' : `${t.generationTimeSeconds.toFixed(1)} s`;
  return `${t.taskId}: ${t.status} in ${time}, peak VRAM ${formatGb(t.peakVramUsageMb)} GB, peak RAM ${formatGb(t.peakRamUsageMb)} GB`;
}

export function registerCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const { engine, log } = deps;
  const monitor = engine.monitor;

  /** Runs a command body; a refused input or engine error becomes one clear message, logged once. */
  const guarded = <A extends unknown[]>(name: string, body: (...args: A) => Promise<unknown>) =>
    vscode.commands.registerCommand(name, async (...args: A) => {
      try {
        return await body(...args);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log.error(`${name}: ${message}`);
        void vscode.window.showErrorMessage(`Model Perf: ${message}`);
        return undefined;
      }
    });

  async function pickActiveTask(verb: string, arg: unknown): Promise<string | undefined> {
    if (arg !== undefined) return parseTaskIdArg(arg);
    const active = monitor.getActiveTasks();
    if (active.length === 0) {
      void vscode.window.showInformationMessage(`Model Perf: no task is running, so there is nothing to ${verb}. Start one with "Model Perf: Start Task…" or "model-perf run -- <command>".`);
      return undefined;
    }
    const now = Date.now();
    const picked = await vscode.window.showQuickPick(active.map((t) => describeTask(t, now)), { title: `${verb[0]?.toUpperCase()}${verb.slice(1)} which task?`, placeHolder: 'Running tasks' });
    return picked?.taskId;
  }

  async function askStart(): Promise<StartArgs | undefined> {
    const last = deps.state.get<Partial<StartArgs>>(LAST_START_KEY) ?? {};
    const taskId = await vscode.window.showInputBox({
      title: 'Start Task (1/4): task id',
      value: `task-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '')}`,
      prompt: 'A name for this run, unique among running tasks',
      validateInput: (v) => validateTaskId(v, monitor.getActiveTasks().map((t) => t.taskId)),
    });
    if (taskId === undefined) return undefined;
    const modelType = await pickOrType('Start Task (2/4): model type', last.modelType ? [last.modelType] : [], last.modelType ?? '', 'e.g. sdxl, wan2.1, llama-3-8b');
    if (modelType === undefined) return undefined;
    const resolution = await pickOrType('Start Task (3/4): resolution', [...new Set([last.resolution ?? '720p', ...RESOLUTIONS])], last.resolution ?? '720p', 'e.g. 720p, 1280x720, 1024x1024 (empty for none)');
    if (resolution === undefined) return undefined;
    const stepsText = await vscode.window.showInputBox({
      title: 'Start Task (4/4): steps',
      value: String(last.steps ?? 0),
      prompt: 'Number of steps (0 when not applicable)',
      validateInput: (v) => (/^\d{1,9}$/.test(v.trim()) ? null : 'A whole number of 0 or more'),
    });
    if (stepsText === undefined) return undefined;
    return parseStartArgs({ taskId, modelType, resolution, steps: Number(stepsText.trim()) });
  }

  async function pickOrType(title: string, offered: string[], value: string, placeholder: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      const qp = vscode.window.createQuickPick();
      qp.title = title;
      qp.placeholder = placeholder;
      qp.value = value;
      const base = offered.filter(Boolean).map((label) => ({ label }));
      const refresh = () => {
        const typed = qp.value.trim();
        qp.items = typed && !base.some((i) => i.label === typed) ? [{ label: typed, description: '(typed)' }, ...base] : base;
      };
      refresh();
      qp.onDidChangeValue(refresh);
      let done = false;
      qp.onDidAccept(() => {
        done = true;
        resolve(qp.selectedItems[0]?.label ?? qp.value.trim());
        qp.hide();
      });
      qp.onDidHide(() => {
        if (!done) resolve(undefined);
        qp.dispose();
      });
      qp.show();
    });
  }

  context.subscriptions.push(
    guarded('modelPerf.startTask', async (arg?: unknown) => {
      const args = arg !== undefined ? parseStartArgs(arg) : await askStart();
      if (!args) return undefined;
      const task = monitor.startTaskMonitoring(args.taskId, args.modelType, args.resolution, args.steps, args.options);
      await deps.state.update(LAST_START_KEY, { modelType: args.modelType, resolution: args.resolution, steps: args.steps });
      log.info(`Task ${task.taskId} started (${task.modelType}, ${task.resolution}, ${task.steps} steps)`);
      if (arg === undefined) void vscode.window.showInformationMessage(`Model Perf: task ${task.taskId} started.`);
      return task;
    }),

    guarded('modelPerf.completeTask', async (arg?: unknown, outcomeArg?: unknown) => {
      const taskId = await pickActiveTask('complete', arg);
      if (!taskId) return undefined;
      let outcome = outcomeArg !== undefined ? parseCompleteArgs(outcomeArg) : undefined;
      if (!outcome) {
        const picked = await vscode.window.showQuickPick(
          [
            { label: '$(pass) Succeeded', success: true },
            { label: '$(error) Failed', success: false },
          ],
          { title: `Complete ${taskId}: outcome` },
        );
        if (!picked) return undefined;
        let errorCategory: string | null = null;
        if (!picked.success) {
          const category = await pickOrType(`Complete ${taskId}: error category`, ERROR_CATEGORIES, '', 'Why it failed (e.g. out_of_memory)');
          if (category === undefined) return undefined;
          errorCategory = category || null;
        }
        outcome = parseCompleteArgs({ success: picked.success, errorCategory });
      }
      const done = await monitor.completeTaskMonitoring(taskId, outcome.success, outcome.errorCategory);
      log.info(`Task completed: ${summary(done)}`);
      if (outcomeArg === undefined) void vscode.window.showInformationMessage(`Model Perf: ${summary(done)}`);
      return done;
    }),

    guarded('modelPerf.cancelTask', async (arg?: unknown) => {
      const taskId = await pickActiveTask('cancel', arg);
      if (!taskId) return undefined;
      const done = await monitor.cancelTaskMonitoring(taskId);
      log.info(`Task cancelled: ${summary(done)}`);
      if (arg === undefined) void vscode.window.showInformationMessage(`Model Perf: task ${taskId} cancelled; it does not count against the success rate.`);
      return done;
    }),

    guarded('modelPerf.startMonitoring', async () => {
      if (engine.isMonitoring) {
        void vscode.window.showInformationMessage('Model Perf: monitoring is already on.');
        return;
      }
      await engine.startMonitoring();
      log.info('Monitoring started from the palette');
    }),

    guarded('modelPerf.stopMonitoring', async () => {
      if (!engine.isMonitoring) {
        void vscode.window.showInformationMessage('Model Perf: monitoring is already off.');
        return;
      }
      await engine.stopMonitoring();
      log.info('Monitoring stopped from the palette; running tasks keep their start and end samples');
    }),

    guarded('modelPerf.exportMetrics', async (arg?: unknown) => {
      let args: ExportArgs | undefined = arg !== undefined ? parseExportArgs(arg) : undefined;
      if (!args) {
        const window = await vscode.window.showQuickPick(WINDOWS.map((w) => ({ ...w, label: w.label })), { title: 'Export Metrics (1/2): which tasks?' });
        if (!window) return undefined;
        const format = await vscode.window.showQuickPick(
          [
            { label: 'JSON', description: 'tasks, analysis and machine inventory', format: 'json' as const },
            { label: 'CSV', description: 'one row per task, for spreadsheets', format: 'csv' as const },
          ],
          { title: 'Export Metrics (2/2): format' },
        );
        if (!format) return undefined;
        const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
        const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
        const name = `model-perf-${stamp}.${format.format}`;
        const target = await vscode.window.showSaveDialog({
          title: 'Export Metrics',
          ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, name) } : {}),
          filters: format.format === 'json' ? { JSON: ['json'] } : { CSV: ['csv'] },
        });
        if (!target) return undefined;
        if (target.scheme !== 'file') throw new Error(`exports are written to this machine's disk; "${target.toString()}" is not a local file`);
        args = { path: target.fsPath, windowHours: window.hours, format: format.format };
      }
      const chosen = args;
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Model Perf: exporting metrics…' },
        () => monitor.exportMetrics(chosen.path, chosen.windowHours, chosen.format),
      );
      if (arg === undefined) {
        const open = await vscode.window.showInformationMessage(`Model Perf: exported ${result.metricsCount} task(s) to ${result.path}.`, 'Open');
        if (open === 'Open') await vscode.window.showTextDocument(vscode.Uri.file(result.path));
      }
      return result;
    }),

    guarded('modelPerf.showCurrentStatus', () => deps.showStatus()),

    guarded('modelPerf.clearHistory', async (arg?: unknown) => {
      const count = monitor.getHistory().length;
      if (arg === undefined) {
        if (count === 0) {
          void vscode.window.showInformationMessage('Model Perf: the history is already empty.');
          return 0;
        }
        const answer = await vscode.window.showWarningMessage(
          `Delete all ${count} finished task(s) from the history in ${engine.historyLocation}? Every window and the CLI share it. Running tasks are kept.`,
          { modal: true },
          'Delete',
        );
        if (answer !== 'Delete') return undefined;
      } else if (typeof arg !== 'object' || arg === null || (arg as { confirm?: unknown }).confirm !== true) {
        throw new Error('clearHistory takes { confirm: true } as its argument');
      }
      const removed = await monitor.clearHistory();
      log.info(`History cleared: ${removed} task(s) removed from ${engine.historyLocation}`);
      if (arg === undefined) void vscode.window.showInformationMessage(`Model Perf: ${removed} task(s) deleted from the history.`);
      return removed;
    }),

    vscode.commands.registerCommand('modelPerf.showLog', () => log.show(true)),
  );
}

