// Tasks without instrumentation: runs typed in the terminal, debug sessions and VS Code tasks whose
// command matches `modelPerf.tracking.commandPatterns` become tasks on their own, and the Python
// helper reaches the extension through a per-session channel handed to new terminals through the
// environment (MODEL_PERF_CHANNEL, MODEL_PERF_TOKEN, and PYTHONPATH for `import model_perf`).
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import * as vscode from 'vscode';
import { compilePatterns } from '../core/runs/commandLine';
import { CHANNEL_ENV, HelperChannel, HelperRouter, TOKEN_ENV } from '../core/runs/helperChannel';
import { processRelations } from '../core/runs/procRelations';
import { RunRegistry } from '../core/runs/trackedRuns';
import { DebugTracker } from './debugTracker';
import type { HostEngine } from './engine';
import { TerminalTracker } from './terminalTracker';
import { VsCodeTaskTracker } from './vscodeTaskTracker';

interface TrackingSettings {
  enabled: boolean;
  patterns: RegExp[];
}

function readTrackingSettings(log: vscode.LogOutputChannel): TrackingSettings {
  const config = vscode.workspace.getConfiguration('modelPerf.tracking');
  const enabledValue = config.get<unknown>('enabled');
  let enabled = true;
  if (typeof enabledValue === 'boolean') enabled = enabledValue;
  else if (enabledValue !== undefined && enabledValue !== null) log.warn(`Setting modelPerf.tracking.enabled must be true or false (got ${JSON.stringify(enabledValue)}); using true.`);
  const compiled = compilePatterns(config.get<unknown>('commandPatterns'));
  for (const problem of compiled.problems) log.warn(`Setting ${problem}`);
  return { enabled, patterns: compiled.patterns };
}

/** The folder holding model_perf.py, shipped with the extension. */
function helperFolder(extensionPath: string): string {
  return join(extensionPath, 'media', 'python');
}

/** Registers the trackers and the helper channel; everything is disposed with the extension. */
export async function registerTracking(context: vscode.ExtensionContext, engine: HostEngine, log: vscode.LogOutputChannel): Promise<void> {
  let settings = readTrackingSettings(log);
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration('modelPerf.tracking')) settings = readTrackingSettings(log);
  }));
  const monitor = engine.monitor;
  const logger = { info: (m: string) => log.info(m), warn: (m: string) => log.warn(m), error: (m: string) => log.error(m) };
  const relations = processRelations();
  const runs = new RunRegistry(monitor, logger);
  const ctx = { runs, relations, log, enabled: () => settings.enabled, patterns: () => settings.patterns };

  const terminals = new TerminalTracker(ctx, context.globalState);
  context.subscriptions.push(terminals);
  context.subscriptions.push(new DebugTracker(ctx));
  context.subscriptions.push(new VsCodeTaskTracker(ctx, () => terminals.shellPids()));

  // The helper's channel: a new token each session, so a terminal of an earlier session is refused.
  const router = new HelperRouter(monitor, relations, logger);
  const channel = new HelperChannel({ log: logger, onMessage: (m) => void router.enqueue(m) });
  context.subscriptions.push({ dispose: () => void channel.dispose() });
  const env = context.environmentVariableCollection;
  env.persistent = false;
  env.description = 'Model Perf: lets `import model_perf` in your scripts report phases and settings to the extension';
  try {
    await channel.start();
    const vars = channel.env();
    env.replace(CHANNEL_ENV, vars[CHANNEL_ENV] as string);
    env.replace(TOKEN_ENV, vars[TOKEN_ENV] as string);
    const folder = helperFolder(context.extensionPath);
    if (existsSync(join(folder, 'model_perf.py'))) {
      // Prepending to an empty PYTHONPATH would leave a trailing separator, which Python reads as
      // "the current folder": set it outright when the window's environment has none.
      if (process.env.PYTHONPATH) env.prepend('PYTHONPATH', `${folder}${delimiter}`);
      else env.replace('PYTHONPATH', folder);
    } else {
      log.warn(`The Python helper is missing from ${folder}; \`import model_perf\` will not resolve in terminals`);
    }
    log.info(`Helper channel listening (${vars[CHANNEL_ENV]?.startsWith('unix:') ? 'Unix socket' : 'loopback TCP'}); terminals opened from now on can \`import model_perf\``);
  } catch (err) {
    log.warn(`The helper channel could not start (${err instanceof Error ? err.message : String(err)}); scripts' model_perf calls will do nothing. Terminal, debug and task tracking still work.`);
  }
}
