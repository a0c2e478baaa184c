// The dashboard's host side: one webview panel (command `modelPerf.openDashboard`, restored after a
// reload by a serializer), a strict nonce-based Content-Security-Policy, and the message loop.
// It posts nothing while the panel is hidden and sends a full state when it is shown again; every
// message from the webview is validated and a bad one is logged and ignored.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { MinuteRollup } from '../core/engine/snapshotRing';
import { systemClock } from '../core/ports';
import { errorText } from '../core/util/errors';
import type { PerformanceAnalysis, PerformanceMetrics } from '../shared/metrics';
import {
  parseFromWebview, parsePersistedViewState, PROTOCOL_VERSION,
  type AnalysisWindowHours, type DashboardThresholds, type FromWebview, type LiveRange, type ToWebview,
} from '../shared/protocol';
import type { GpuAvailability, SystemPerformanceSnapshot } from '../shared/snapshot';
import type { ClusterPanelState, RecentTasks } from '../shared/clusterMessages';
import {
  buildActiveTasks, buildAnalysisView, buildComparison, buildHistoryPage, CoalescedRefresh, buildSeries, buildState, buildTaskDetail, NO_HISTORY_FILTER, stateMessage, type HistoryPosition,
} from './dashboardData';

const DASHBOARD_VIEW_TYPE = 'modelPerf.dashboard';
const OPEN_DASHBOARD_COMMAND = 'modelPerf.openDashboard';
const START_TASK_COMMAND = 'modelPerf.startTask';

interface DataSourceDisposable {
  dispose(): void;
}

/**
 * What the dashboard reads from the engine. Every figure is the engine's; the dashboard only
 * reshapes and formats it. Times are epoch ms; `null` is unknown.
 */
export interface DashboardDataSource {
  /** The engine's clock (so tests with a fake clock see consistent windows). */
  now(): number;
  /** True while the sampling loop runs. */
  isMonitoring(): boolean;
  /** The newest snapshot, or null before the first sample. */
  latestSnapshot(): SystemPerformanceSnapshot | null;
  /** Full-rate snapshots taken at or after `sinceMs`, oldest first (the 5 min and 1 h charts). */
  recentSnapshots(sinceMs: number): SystemPerformanceSnapshot[];
  /** Per-minute roll-ups whose minute starts at or after `sinceMs`, oldest first (the 24 h chart, old task timelines). */
  minuteRollups(sinceMs: number): MinuteRollup[];
  /** Running tasks with their live figures. */
  activeTasks(): PerformanceMetrics[];
  /** The pid of the process running one of `activeTasks()` outside this window (`model-perf run`); absent or null: this window's. */
  elsewhereOwner?(task: PerformanceMetrics): number | null;
  /** Progress of a running task in percent (0..100) where the task reports it; absent or null: unknown. */
  taskProgressPercent?(taskId: string): number | null;
  /** The engine's analysis of the tasks started in the last `windowHours`. */
  analysis(windowHours: number): PerformanceAnalysis;
  /** Finished tasks started in the last `windowHours` (every kept task for null), oldest first. */
  history(windowHours: number | null): PerformanceMetrics[];
  /**
   * The same analysis from aggregates kept task by task (findings as of the latest full analysis):
   * what a task end posts. Optional: `analysis` otherwise.
   */
  liveAnalysis?(windowHours: number): PerformanceAnalysis;
  /**
   * A page of the window's finished tasks newest first, not copied (read, never kept): `offset`
   * matches skipped, at most `limit`; `total` counts the matches. Optional: `history` otherwise.
   */
  historyPage?(windowHours: number, offset: number, limit: number, match: ((t: PerformanceMetrics) => boolean) | null): { tasks: readonly PerformanceMetrics[]; total: number };
  /** How many finished tasks the engine keeps (without copying them). */
  historyCount(): number;
  /** Where GPU figures come from, or why there are none. */
  gpuAvailability(): GpuAvailability;
  /** The limits drawn as threshold lines (the engine's analysis thresholds). */
  thresholds(): DashboardThresholds;
  /** Called after each new snapshot. */
  onSnapshot(listener: (snapshot: SystemPerformanceSnapshot) => void): DataSourceDisposable;
  /**
   * Called when a task starts or is updated (`finished` false: only the running tasks changed), and
   * when one ends or the history is reloaded (`finished` true: the analysis changed too).
   */
  onTasksChanged(listener: (finished: boolean) => void): DataSourceDisposable;
  /** Called when a GPU appears or is lost (optional: otherwise the next full state carries it). */
  onGpuAvailabilityChanged?(listener: (availability: GpuAvailability) => void): DataSourceDisposable;
  /** The Cluster section's state (ClusterMonitor); a subscription is what makes it poll. */
  cluster?: {
    readonly current: ClusterPanelState;
    subscribe(listener: (state: ClusterPanelState) => void): DataSourceDisposable;
    refreshNow(): void;
    recentTasks(instance: string): Promise<{ recent: RecentTasks | null; error: string | null }>;
  };
}

/** The page: a stylesheet and a script from the bundle, nothing inline, one fresh nonce. */
function dashboardHtml(opts: { cspSource: string; nonce: string; scriptUri: string; styleUri: string }): string {
  const csp = [
    "default-src 'none'",
    `img-src ${opts.cspSource} data:`,
    `style-src ${opts.cspSource}`,
    `font-src ${opts.cspSource}`,
    `script-src 'nonce-${opts.nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${opts.styleUri}">
<title>Model Performance</title>
</head>
<body>
<main id="app" class="loading"><p class="muted">Loading the dashboard…</p></main>
<script nonce="${opts.nonce}" src="${opts.scriptUri}"></script>
</body>
</html>`;
}

function makeNonce(): string {
  return randomBytes(18).toString('base64');
}

/** Webview options: scripts on, and only the bundle and media folders readable. */
function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')],
    // Not retained when hidden: a hidden dashboard costs nothing and is rebuilt from a full state.
    retainContextWhenHidden: false,
  };
}

const TASKS_DEBOUNCE_MS = 250;
/**
 * A task end posts the kept aggregates at once; the full analysis (findings need the runs
 * themselves) follows, coalesced: at most one per this many ms, and only while the panel is shown.
 */
const FULL_ANALYSIS_INTERVAL_MS = 5_000;

class DashboardPanel implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;
  /** Something changed while hidden: send a full state when shown. */
  private stale = false;
  private range: LiveRange;
  private windowHours: AnalysisWindowHours;
  private lastSeriesMinute = 0;
  private tasksTimer: ReturnType<typeof setTimeout> | undefined;
  /** A task ended (or the history was reloaded) since the last analysis was posted. */
  private analysisDue = false;
  private reloadedForVersion = false;
  private readonly fullAnalysis: CoalescedRefresh;
  /** The history table's first row and filter. */
  private history: HistoryPosition = { offset: 0, filter: NO_HISTORY_FILTER };

  constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly source: DashboardDataSource,
    private readonly log: vscode.LogOutputChannel,
    private readonly onExport: () => Thenable<unknown>,
    initial: { range: LiveRange; windowHours: AnalysisWindowHours },
    private readonly onDisposed: () => void,
  ) {
    this.range = initial.range;
    this.windowHours = initial.windowHours;
    this.fullAnalysis = new CoalescedRefresh(systemClock, FULL_ANALYSIS_INTERVAL_MS, () => {
      if (this.live()) this.postAnalysis(false);
      else this.stale = true;
    });
    panel.webview.options = webviewOptions(extensionUri);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'icon.svg');
    this.render();
    this.disposables.push(
      panel.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      panel.onDidChangeViewState(() => {
        if (!panel.visible) return;
        // Shown again: a fresh webview document announces `ready`; one that survived catches up here.
        if (this.ready && this.stale) this.postFullState();
      }),
      panel.onDidDispose(() => this.dispose()),
      toVscode(source.onSnapshot((s) => this.snapshotArrived(s))),
      toVscode(source.onTasksChanged((finished) => this.tasksChanged(finished))),
    );
    if (source.cluster) {
      this.disposables.push(toVscode(source.cluster.subscribe((cluster) => {
        if (this.live()) this.post({ type: 'cluster', cluster });
        else this.stale = true;
      })));
    }
    if (source.onGpuAvailabilityChanged) {
      this.disposables.push(toVscode(source.onGpuAvailabilityChanged((availability) => {
        if (this.live()) this.post({ type: 'gpuAvailability', availability });
        else this.stale = true;
      })));
    }
  }

  private render(): void {
    const webview = this.panel.webview;
    this.ready = false;
    webview.html = dashboardHtml({
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview', 'dashboard.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview', 'dashboard.css')).toString(),
    });
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
  }

  private live(): boolean {
    return this.ready && this.panel.visible;
  }

  private post(msg: ToWebview): void {
    void this.panel.webview.postMessage(msg).then(undefined, (err: unknown) => this.log.warn(`Dashboard: a ${msg.type} message could not be posted: ${String(err)}`));
  }

  private postFullState(): void {
    this.stale = false;
    if (this.tasksTimer) {
      clearTimeout(this.tasksTimer);
      this.tasksTimer = undefined;
    }
    try {
      const state = buildState(this.source, this.range, this.windowHours, this.history);
      this.fullAnalysis.ran();
      this.lastSeriesMinute = Math.floor(state.now / 60_000);
      this.post(stateMessage(state));
      if (this.source.cluster) this.post({ type: 'cluster', cluster: this.source.cluster.current });
    } catch (err) {
      this.log.error(`Dashboard: the state could not be built: ${errorText(err)}`);
      this.post({ type: 'notice', level: 'error', text: `The dashboard could not read the engine's figures: ${errorText(err)}` });
    }
  }

  private snapshotArrived(snapshot: SystemPerformanceSnapshot): void {
    if (!this.live()) {
      this.stale = true;
      return;
    }
    this.post({ type: 'snapshot', snapshot, activeTasks: buildActiveTasks(this.source) });
    // The 24 h chart is per-minute: refresh its columns once a minute instead of per sample.
    const minute = Math.floor(snapshot.timestamp / 60_000);
    if (this.range === '24h' && minute !== this.lastSeriesMinute) {
      this.lastSeriesMinute = minute;
      this.post({ type: 'series', series: buildSeries(this.source, this.range, this.source.now()) });
    }
  }

  private tasksChanged(finished: boolean): void {
    if (!this.live()) {
      this.stale = true;
      return;
    }
    // A running task's progress changes no finished task: the analysis is rebuilt only when one ends.
    this.analysisDue ||= finished;
    if (this.tasksTimer) return;
    this.tasksTimer = setTimeout(() => {
      this.tasksTimer = undefined;
      if (!this.live()) {
        this.stale = true;
        return;
      }
      if (this.analysisDue) {
        this.postAnalysis(true);
        if (this.source.liveAnalysis) this.fullAnalysis.request();
      }
      this.analysisDue = false;
      this.post({ type: 'activeTasks', activeTasks: buildActiveTasks(this.source) });
    }, TASKS_DEBOUNCE_MS);
  }

  private postAnalysis(live = false): void {
    try {
      if (!live) this.fullAnalysis.ran();
      const { analysis, totalTaskCount } = buildAnalysisView(this.source, this.windowHours, this.history, live);
      this.history = { offset: analysis.offset, filter: analysis.filter };
      this.post({ type: 'analysis', analysis, totalTaskCount });
    } catch (err) {
      this.log.error(`Dashboard: the analysis could not be built: ${errorText(err)}`);
    }
  }

  private receive(raw: unknown): void {
    const parsed = parseFromWebview(raw);
    if (!parsed.ok) {
      this.log.warn(`Dashboard: rejected a message from the webview (${parsed.error})`);
      return;
    }
    try {
      this.handle(parsed.msg);
    } catch (err) {
      this.log.error(`Dashboard: handling "${parsed.msg.type}" failed: ${errorText(err)}`);
    }
  }

  private handle(msg: FromWebview): void {
    switch (msg.type) {
      case 'ready':
        if (msg.version !== PROTOCOL_VERSION) {
          this.log.warn(`Dashboard: the webview speaks protocol ${msg.version}, the host ${PROTOCOL_VERSION}; reloading it`);
          if (!this.reloadedForVersion) {
            this.reloadedForVersion = true;
            this.render();
          }
          return;
        }
        this.ready = true;
        this.range = msg.range;
        this.windowHours = msg.windowHours;
        this.postFullState();
        return;
      case 'setRange':
        this.range = msg.range;
        this.lastSeriesMinute = Math.floor(this.source.now() / 60_000);
        if (this.live()) this.post({ type: 'series', series: buildSeries(this.source, this.range, this.source.now()) });
        return;
      case 'setWindow':
        this.windowHours = msg.windowHours;
        this.history = { offset: 0, filter: this.history.filter };
        if (this.live()) this.postAnalysis();
        return;
      case 'selectTask':
        this.post({ type: 'taskDetail', taskId: msg.taskId, startTime: msg.startTime, detail: buildTaskDetail(this.source, msg.taskId, msg.startTime, this.windowHours) });
        return;
      case 'compareTasks':
        this.post({ type: 'comparison', tasks: buildComparison(this.source, msg.tasks, this.windowHours) });
        return;
      case 'historyPage': {
        const page = buildHistoryPage(this.source, this.windowHours, msg.offset, msg.filter);
        this.history = { offset: page.offset, filter: page.filter };
        this.post({ type: 'historyPage', windowHours: this.windowHours, page });
        return;
      }
      case 'export':
        Promise.resolve(this.onExport()).then(undefined, (err: unknown) => {
          this.log.error(`Dashboard: export failed: ${errorText(err)}`);
          this.post({ type: 'notice', level: 'error', text: `Export failed: ${errorText(err)}` });
        });
        return;
      case 'startTask':
        void vscode.commands.executeCommand(START_TASK_COMMAND).then(undefined, (err: unknown) => this.log.error(`Dashboard: "Start Task" failed: ${errorText(err)}`));
        return;
      case 'clusterRefresh':
        this.source.cluster?.refreshNow();
        return;
      case 'clusterTasks': {
        const instance = msg.instance;
        void this.source.cluster?.recentTasks(instance).then((r) => {
          if (this.live()) this.post({ type: 'clusterTasks', instance, ...r });
        });
        return;
      }
      case 'webviewError':
        this.log.warn(`Dashboard webview: ${msg.message}`);
        return;
    }
  }

  dispose(): void {
    if (this.tasksTimer) clearTimeout(this.tasksTimer);
    this.fullAnalysis.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
    this.onDisposed();
  }
}

function toVscode(d: DataSourceDisposable): vscode.Disposable {
  return new vscode.Disposable(() => d.dispose());
}

/**
 * Registers the `modelPerf.openDashboard` command and the serializer that restores the panel
 * after a window reload. One panel at a time: the command reveals it when open.
 */
export function registerDashboard(
  context: vscode.ExtensionContext,
  source: DashboardDataSource,
  log: vscode.LogOutputChannel,
  onExport: () => Thenable<unknown>,
): vscode.Disposable {
  let current: DashboardPanel | undefined;
  const attach = (panel: vscode.WebviewPanel, state: unknown) => {
    current?.dispose();
    const created: DashboardPanel = new DashboardPanel(panel, context.extensionUri, source, log, onExport, parsePersistedViewState(state), () => {
      if (current === created) current = undefined;
    });
    current = created;
  };
  return vscode.Disposable.from(
    vscode.commands.registerCommand(OPEN_DASHBOARD_COMMAND, () => {
      if (current) {
        current.reveal();
        return;
      }
      const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, 'Model Performance', vscode.ViewColumn.Active, webviewOptions(context.extensionUri));
      attach(panel, undefined);
    }),
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        attach(panel, state);
      },
    }),
    { dispose: () => current?.panel.dispose() },
  );
}
