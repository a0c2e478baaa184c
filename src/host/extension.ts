// Activation: builds the engine for this machine, the status bar item, the commands, the dashboard
// and the API for other extensions. Everything created here is a Disposable on the context; the
// faces format what the engine reports and compute nothing themselves.
import * as vscode from 'vscode';
import { errorText } from '../core/util/errors';
import { createApi, type ModelPerfApi } from './api';
import { registerCluster } from './clusterCommands';
import { registerCommands } from './commands';
import { registerDashboard } from './dashboardPanel';
import { dashboardSource } from './dashboardSource';
import { HostEngine } from './engine';
import { registerPredictionNotice } from './predictionNotice';
import { readSettings } from './settings';
import { StatusBarController } from './statusBar';
import { formatStatusReport } from './statusReport';
import { registerTracking } from './tracking';

const STATUS_DOC_URI = vscode.Uri.parse('model-perf:/Current Status.md');

export type { ModelPerfApi };

export async function activate(context: vscode.ExtensionContext): Promise<ModelPerfApi> {
  const activationStartedMs = performance.now();
  const log = vscode.window.createOutputChannel('Model Perf', { log: true });
  context.subscriptions.push(log);
  const read = () => readSettings(vscode.workspace.getConfiguration('modelPerf'), (msg) => log.warn(msg));
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const engine = await HostEngine.create({
    settings: read(),
    diskPath: folder?.scheme === 'file' ? folder.fsPath : null,
    log: { info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) },
  });
  context.subscriptions.push({ dispose: () => void engine.dispose() });

  const cluster = registerCluster(context, log, engine.currentSettings);
  const statusBar = new StatusBarController({
    cluster: () => cluster.monitor.current,
    snapshot: () => engine.latestSnapshot(),
    gpu: () => engine.gpuAvailability(),
    activeTasks: () => engine.visibleTasks(),
    elsewhereOwner: (task) => engine.elsewhereOwner(task),
    monitoring: () => engine.isMonitoring,
    settings: () => engine.currentSettings,
  });
  context.subscriptions.push(statusBar);
  cluster.monitor.onChange = () => {
    if (engine.currentSettings.statusBarSource === 'cluster') statusBar.update();
  };

  // Context keys let the palette offer only the commands that can act now.
  const setContext = () => {
    void vscode.commands.executeCommand('setContext', 'modelPerf.monitoring', engine.isMonitoring);
    void vscode.commands.executeCommand('setContext', 'modelPerf.activeTasks', engine.activeTasks().length > 0);
  };
  context.subscriptions.push(engine.onChange((change) => {
    statusBar.update();
    if (change === 'tasks' || change === 'monitoring') setContext();
  }));

  // The status report is a read-only virtual document, refreshed each time the command runs.
  const reportChanged = new vscode.EventEmitter<vscode.Uri>();
  context.subscriptions.push(reportChanged);
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider('model-perf', {
    onDidChange: reportChanged.event,
    provideTextDocumentContent: () => formatStatusReport({
      snapshot: engine.latestSnapshot(),
      activeTasks: engine.activeTasks().length,
      gpuReason: engine.gpuAvailability().reason,
      monitoring: engine.isMonitoring,
    }),
  }));

  registerCommands(context, {
    engine,
    log,
    state: context.globalState,
    showStatus: async () => {
      reportChanged.fire(STATUS_DOC_URI);
      const doc = await vscode.workspace.openTextDocument(STATUS_DOC_URI);
      await vscode.window.showTextDocument(doc, { preview: true });
    },
  });
  context.subscriptions.push(registerDashboard(context, { ...dashboardSource(engine), cluster: cluster.monitor }, log, () => vscode.commands.executeCommand('modelPerf.exportMetrics')));
  await registerTracking(context, engine, log);
  context.subscriptions.push(registerPredictionNotice(engine));

  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((e) => {
    if (!e.affectsConfiguration('modelPerf')) return;
    const next = read();
    cluster.apply(next);
    void engine.applySettings(next).then(
      () => {
        statusBar.applyVisibility();
        statusBar.update();
        log.info('Settings applied');
      },
      (err: unknown) => {
        const message = errorText(err);
        log.error(`Settings could not be applied: ${message}`);
        void vscode.window.showErrorMessage(`Model Perf: settings could not be applied: ${message}`);
      },
    );
  }));

  await engine.start();
  setContext();
  statusBar.update();
  log.info(`Model Performance Monitor started in ${Math.round(performance.now() - activationStartedMs)} ms: sampling every ${engine.currentSettings.monitoringIntervalMs / 1000} s; history in ${engine.historyLocation}`);
  return createApi(engine, context.subscriptions);
}

export function deactivate(): void {
  // Disposables registered on the context stop the engine, its GPU tool and the sampler lock.
}
