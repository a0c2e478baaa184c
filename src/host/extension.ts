// Activation: creates the engine with this machine's samplers, the status bar item, the log and
// the commands. Everything created here is a Disposable on the context; the engine only runs
// through the small API in ./engine.ts, and this face formats what it reports.
import * as vscode from 'vscode';
import { createEngine, type Engine } from './engine';
import { readSettings } from './settings';
import { StatusBarController } from './statusBar';
import { formatStatusReport } from './statusReport';

const STATUS_DOC_URI = vscode.Uri.parse('model-perf:/Current Status.md');

export interface ModelPerfApi {
  /** The latest snapshot of this machine, or null before the first sample. */
  readonly engine: Engine;
}

export async function activate(context: vscode.ExtensionContext): Promise<ModelPerfApi> {
  const log = vscode.window.createOutputChannel('Model Perf', { log: true });
  context.subscriptions.push(log);
  const settings = readSettings(vscode.workspace.getConfiguration('modelPerf'), (msg) => log.warn(msg));
  const diskPath = vscode.workspace.workspaceFolders?.[0]?.uri.scheme === 'file'
    ? vscode.workspace.workspaceFolders[0].uri.fsPath
    : undefined;
  const engine = createEngine({ settings, diskPath, log: { info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) } });
  context.subscriptions.push({ dispose: () => void engine.dispose() });

  const statusBar = new StatusBarController(() => ({
    snapshot: engine.latestSnapshot(),
    gpu: engine.gpuAvailability(),
    activeTaskCount: engine.activeTaskCount(),
  }));
  context.subscriptions.push(statusBar);
  context.subscriptions.push(engine.onChange(() => statusBar.update()));

  // The status report is a read-only virtual document, refreshed each time the command runs.
  const reportChanged = new vscode.EventEmitter<vscode.Uri>();
  context.subscriptions.push(reportChanged);
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider('model-perf', {
    onDidChange: reportChanged.event,
    provideTextDocumentContent: () => formatStatusReport({
      snapshot: engine.latestSnapshot(),
      activeTasks: engine.activeTaskCount(),
      gpuReason: engine.gpuAvailability()?.reason ?? null,
      monitoring: engine.isMonitoring(),
    }),
  }));

  context.subscriptions.push(
    vscode.commands.registerCommand('modelPerf.showLog', () => log.show(true)),
    vscode.commands.registerCommand('modelPerf.showCurrentStatus', async () => {
      reportChanged.fire(STATUS_DOC_URI);
      const doc = await vscode.workspace.openTextDocument(STATUS_DOC_URI);
      await vscode.window.showTextDocument(doc, { preview: true });
    }),
  );

  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration('modelPerf')) {
      engine.applySettings(readSettings(vscode.workspace.getConfiguration('modelPerf'), (msg) => log.warn(msg)));
    }
  }));

  await engine.start();
  log.info(`Model Performance Monitor started (sampling every ${settings.monitoringIntervalMs / 1000} s)`);
  return { engine };
}

export function deactivate(): void {
  // Disposables registered on the context stop the engine.
}
