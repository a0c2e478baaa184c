// The questions the palette commands ask: quick picks and input boxes that offer the last values,
// say clearly when there is nothing to act on, and hand back validated answers (undefined when the
// user dismissed a step).
import * as vscode from 'vscode';
import type { PerformanceMetrics } from '../shared/metrics';
import { parseCompleteArgs, parseStartArgs, parseTaskIdArg, validateTaskId, type CompleteArgs, type ExportArgs, type StartArgs } from './commandArgs';
import type { CommandDeps } from './commands';
import { formatElapsed, formatTaskVramGb } from './statusFormat';

export const LAST_START_KEY = 'modelPerf.lastStartTask';

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
    detail: `running ${formatElapsed(now - t.startTime)} · peak VRAM ${formatTaskVramGb(t)}`,
    taskId: t.taskId,
  };
}

/** The task id given as an argument, else one picked among the running tasks. */
export async function pickActiveTask(deps: CommandDeps, verb: string, arg: unknown): Promise<string | undefined> {
  if (arg !== undefined) return parseTaskIdArg(arg);
  const active = deps.engine.monitor.getActiveTasks();
  if (active.length === 0) {
    void vscode.window.showInformationMessage(`Model Perf: no task is running, so there is nothing to ${verb}. Start one with "Model Perf: Start Task…" or "model-perf run -- <command>".`);
    return undefined;
  }
  const now = Date.now();
  const picked = await vscode.window.showQuickPick(active.map((t) => describeTask(t, now)), { title: `${verb[0]?.toUpperCase()}${verb.slice(1)} which task?`, placeHolder: 'Running tasks' });
  return picked?.taskId;
}

/** A quick pick that offers `offered` and also takes whatever the user types. */
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

/** Start Task's four steps: id, model type, resolution, steps (the last answers offered first). */
export async function askStart(deps: CommandDeps): Promise<StartArgs | undefined> {
  const monitor = deps.engine.monitor;
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

/** Complete Task's outcome: succeeded, or failed with an error category. */
export async function askOutcome(taskId: string): Promise<CompleteArgs | undefined> {
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
  return parseCompleteArgs({ success: picked.success, errorCategory });
}

/** Export Metrics' steps: which tasks, which format, and a local file to write. */
export async function askExport(): Promise<ExportArgs | undefined> {
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
  return { path: target.fsPath, windowHours: window.hours, format: format.format };
}
