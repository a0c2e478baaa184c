// One warning notification when a run starts that the history predicts will not fit its GPU
// (predicted peak VRAM above the GPU's memory), with the evidence; `modelPerf.advice.warnBeforeOom`
// turns it off. The decision is tasksToWarn (statusFormat.ts, pure); this file only shows it.
import * as vscode from 'vscode';
import type { HostEngine } from './engine';
import { tasksToWarn } from './statusFormat';

const SETTING = 'advice.warnBeforeOom';

export function registerPredictionNotice(engine: HostEngine): vscode.Disposable {
  const warned = new Set<string>();
  return engine.onChange((change) => {
    if (change !== 'tasks') return;
    const due = tasksToWarn(engine.activeTasks(), warned);
    if (!engine.currentSettings.warnBeforeOom) return;
    for (const { message } of due) {
      void vscode.window.showWarningMessage(`Model Perf: ${message}`, 'Open Dashboard', "Don't Warn Again").then((answer) => {
        if (answer === 'Open Dashboard') void vscode.commands.executeCommand('modelPerf.openDashboard');
        else if (answer === "Don't Warn Again") void vscode.workspace.getConfiguration('modelPerf').update(SETTING, false, vscode.ConfigurationTarget.Global);
      });
    }
  });
}
