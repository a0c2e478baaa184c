// Monitoring on and off, Export Metrics and Clear History: one handler each.
import * as vscode from 'vscode';
import { parseExportArgs } from './commandArgs';
import { askExport } from './commandPrompts';
import type { CommandDeps } from './commands';

export async function startMonitoring({ engine, log }: CommandDeps): Promise<void> {
  if (engine.isMonitoring) {
    void vscode.window.showInformationMessage('Model Perf: monitoring is already on.');
    return;
  }
  await engine.startMonitoring();
  log.info('Monitoring started from the palette');
}

export async function stopMonitoring({ engine, log }: CommandDeps): Promise<void> {
  if (!engine.isMonitoring) {
    void vscode.window.showInformationMessage('Model Perf: monitoring is already off.');
    return;
  }
  await engine.stopMonitoring();
  log.info('Monitoring stopped from the palette; running tasks keep their start and end samples');
}

export async function exportMetrics({ engine }: CommandDeps, arg?: unknown) {
  const args = arg !== undefined ? parseExportArgs(arg) : await askExport();
  if (!args) return undefined;
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Model Perf: exporting metrics…' },
    () => engine.monitor.exportMetrics(args.path, args.windowHours, args.format),
  );
  if (arg === undefined) {
    const open = await vscode.window.showInformationMessage(`Model Perf: exported ${result.metricsCount} task(s) to ${result.path}.`, 'Open');
    if (open === 'Open') await vscode.window.showTextDocument(vscode.Uri.file(result.path));
  }
  return result;
}

/** From the palette: a modal confirmation; as a command argument: `{ confirm: true }` and nothing else. */
export async function clearHistory({ engine, log }: CommandDeps, arg?: unknown): Promise<number | undefined> {
  const count = engine.monitor.getHistory().length;
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
  const removed = await engine.monitor.clearHistory();
  log.info(`History cleared: ${removed} task(s) removed from ${engine.historyLocation}`);
  if (arg === undefined) void vscode.window.showInformationMessage(`Model Perf: ${removed} task(s) deleted from the history.`);
  return removed;
}
