// The extension's side of the cluster view: the ClusterMonitor fed from the settings
// (`modelPerf.cluster.prometheusUrl`, `modelPerf.statusBar.source`) and the bearer token kept in
// VS Code's SecretStorage, and the command that sets or clears that token. The token is never
// logged, shown or written anywhere but the secret storage.
import * as vscode from 'vscode';
import { systemClock } from '../core/ports';
import { errorText } from '../core/util/errors';
import { ClusterMonitor } from './clusterMonitor';
import type { HostSettings } from './settings';

const TOKEN_KEY = 'modelPerf.cluster.prometheusToken';
const SET_TOKEN_COMMAND = 'modelPerf.setClusterToken';
/** Longest token accepted (a JWT with many claims is a few KB). */
const MAX_TOKEN_CHARS = 16_384;

/** Why `token` cannot be sent as a bearer token, or null when it can. */
function tokenProblem(token: string): string | null {
  if (token.length > MAX_TOKEN_CHARS) return `A token is at most ${MAX_TOKEN_CHARS} characters.`;
  // An HTTP header value: visible ASCII only (no spaces, no control characters).
  if (!/^[\x21-\x7e]+$/.test(token)) return 'A token holds no spaces, control characters or non-ASCII letters.';
  return null;
}

/**
 * The monitor for these settings; `apply` takes each new reading of the settings (the extension
 * reads them once per change). Polls start once the token has been read from the secret storage.
 */
export function registerCluster(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, initial: HostSettings): { monitor: ClusterMonitor; apply(settings: HostSettings): void } {
  const monitor = new ClusterMonitor({ clock: systemClock, log });
  context.subscriptions.push({ dispose: () => monitor.dispose() });
  let token: string | null = null;
  let settings = initial;
  let tokenRead = false;
  const apply = () => {
    if (!tokenRead) return;
    monitor.configure(settings.clusterPrometheusUrl, token);
    monitor.setStatusBarDemand(settings.statusBarSource === 'cluster');
  };
  const readToken = async () => {
    try {
      token = (await context.secrets.get(TOKEN_KEY)) ?? null;
    } catch (err) {
      log.warn(`Cluster: the token could not be read from the secret storage: ${errorText(err)}`);
      token = null;
    }
    tokenRead = true;
    apply();
  };
  context.subscriptions.push(
    context.secrets.onDidChange((e) => {
      if (e.key === TOKEN_KEY) void readToken();
    }),
    vscode.commands.registerCommand(SET_TOKEN_COMMAND, async () => {
      const entered = await vscode.window.showInputBox({
        title: 'Model Perf: Prometheus token',
        prompt: 'Bearer token sent to the Prometheus of modelPerf.cluster.prometheusUrl. Kept in VS Code\'s secret storage. Leave empty to remove the token.',
        password: true,
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() === '' ? null : tokenProblem(v.trim())),
      });
      if (entered === undefined) return;
      const value = entered.trim();
      if (value === '') {
        await context.secrets.delete(TOKEN_KEY);
        log.info('Cluster: the Prometheus token was removed');
        void vscode.window.showInformationMessage('Model Perf: the Prometheus token was removed.');
      } else {
        await context.secrets.store(TOKEN_KEY, value);
        log.info('Cluster: a Prometheus token was set');
        void vscode.window.showInformationMessage('Model Perf: the Prometheus token was saved in the secret storage.');
      }
      await readToken();
    }),
  );
  void readToken();
  return {
    monitor,
    apply: (next) => {
      settings = next;
      apply();
    },
  };
}
