// Tasks without instrumentation: runs typed in the terminal, debug sessions and VS Code tasks whose
// command matches `modelPerf.tracking.commandPatterns` become tasks on their own, and the Python
// helper reaches the extension through a per-workspace channel handed to terminals through a
// persistent environment (MODEL_PERF_CHANNEL, MODEL_PERF_TOKEN, and PYTHONPATH for `import model_perf`).
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import * as vscode from 'vscode';
import { compilePatterns } from '../core/runs/commandLine';
import { CHANNEL_ENV, HelperChannel, HelperRouter, TOKEN_ENV } from '../core/runs/helperChannel';
import { isHelperToken, newHelperToken, stableSocketPath, workspaceKey } from '../core/runs/helperEndpoint';
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

  // The helper's channel, the same across sessions of this workspace (see helperEndpoint.ts and
  // the README): a terminal VS Code restores after a reload keeps its saved environment, so a
  // persistent environment collection with an unchanged token and address reaches this session
  // without the "environment is stale, relaunch" warning. A window without a workspace has no
  // stable place: it gets a new token and address each session, and its environment is not kept.
  const router = new HelperRouter(monitor, relations, logger);
  const identity = context.storageUri?.toString() ?? null;
  const key = identity === null ? null : workspaceKey(identity);
  const token = key === null ? newHelperToken() : await storedToken(context.secrets, key, log);
  const preferredPort = context.workspaceState.get<unknown>(PORT_STATE_KEY);
  const channel = new HelperChannel({
    log: logger,
    onMessage: (m) => void router.enqueue(m),
    token,
    socketPath: key === null ? undefined : stableSocketPath(key),
    preferredPort: typeof preferredPort === 'number' ? preferredPort : undefined,
  });
  context.subscriptions.push({ dispose: () => void channel.dispose() });
  const env = context.environmentVariableCollection;
  env.persistent = key !== null;
  env.description = 'Model Perf: lets `import model_perf` in your scripts report phases and settings to the extension';
  try {
    await channel.start();
    const vars = channel.env();
    env.replace(CHANNEL_ENV, vars[CHANNEL_ENV] as string);
    env.replace(TOKEN_ENV, vars[TOKEN_ENV] as string);
    const port = /^tcp:.*:(\d+)$/.exec(vars[CHANNEL_ENV] ?? '')?.[1];
    if (port !== undefined) void context.workspaceState.update(PORT_STATE_KEY, Number(port));
    const folder = helperFolder(context.extensionPath);
    if (existsSync(join(folder, 'model_perf.py'))) {
      // Prepending to an empty PYTHONPATH would leave a trailing separator, which Python reads as
      // "the current folder": set it outright when the window's environment has none.
      if (process.env.PYTHONPATH) env.prepend('PYTHONPATH', `${folder}${delimiter}`);
      else env.replace('PYTHONPATH', folder);
    } else {
      log.warn(`The Python helper is missing from ${folder}; \`import model_perf\` will not resolve in terminals`);
    }
    active = { channel, env, secrets: context.secrets, key, log };
    context.subscriptions.push({ dispose: () => (active = null) });
    log.info(`Helper channel listening (${vars[CHANNEL_ENV]?.startsWith('unix:') ? 'Unix socket' : 'loopback TCP'}, ${key === null ? 'new each session: no workspace' : 'kept for this workspace'}); terminals can \`import model_perf\``);
  } catch (err) {
    log.warn(`The helper channel could not start (${err instanceof Error ? err.message : String(err)}); scripts' model_perf calls will do nothing. Terminal, debug and task tracking still work.`);
  }
}

const PORT_STATE_KEY = 'modelPerf.helperPort';
const secretName = (key: string) => `modelPerf.helperToken.${key}`;

/** This workspace's token from secret storage, made and stored the first time (or when what is stored is not a token). */
async function storedToken(secrets: vscode.SecretStorage, key: string, log: vscode.LogOutputChannel): Promise<string> {
  try {
    const kept = await secrets.get(secretName(key));
    if (isHelperToken(kept)) return kept;
    const token = newHelperToken();
    await secrets.store(secretName(key), token);
    return token;
  } catch (err) {
    // No keyring (a headless Linux without one): a token for this session only.
    log.warn(`The helper token could not be kept in secret storage (${err instanceof Error ? err.message : String(err)}); terminals restored after a reload must be reopened to reach the helper`);
    return newHelperToken();
  }
}

interface ActiveChannel {
  channel: HelperChannel;
  env: vscode.GlobalEnvironmentVariableCollection;
  secrets: vscode.SecretStorage;
  key: string | null;
  log: vscode.LogOutputChannel;
}

/** The channel of this activation, for the rotate command; null before it starts or when it could not. */
let active: ActiveChannel | null = null;

/**
 * "Model Perf: Rotate Helper Token": a new token for this workspace, in secret storage and in the
 * environment of terminals opened from now on. Terminals opened before keep the old one, which no
 * longer works: they must be reopened (VS Code offers to relaunch them). Connections that already
 * authenticated (a script running now) go on.
 */
export async function rotateHelperToken(): Promise<string> {
  const current = active;
  if (!current) throw new Error('The helper channel is not running (see the log), so there is no token to rotate');
  const token = newHelperToken();
  if (current.key !== null) await current.secrets.store(secretName(current.key), token);
  current.channel.rotateToken(token);
  current.env.replace(TOKEN_ENV, token);
  current.log.info('Helper token rotated; terminals opened before now must be reopened for `import model_perf` to report');
  void vscode.window.showInformationMessage('Model Perf: a new helper token is in use. Terminals opened before now must be reopened (or relaunched) for `import model_perf` to report.');
  return token;
}
