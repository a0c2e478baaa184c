// The status bar item: shows the engine's latest snapshot, formatted by statusFormat.ts. Redraws
// at most once a second, only when what it shows changed, and not at all while the window is
// unfocused (it catches up on focus), so a 1 Hz monitor costs the workbench almost nothing.
import * as vscode from 'vscode';
import type { ClusterPanelState } from '../shared/clusterMessages';
import type { PerformanceMetrics } from '../shared/metrics';
import type { GpuAvailability, SystemPerformanceSnapshot } from '../shared/snapshot';
import { clusterNote, clusterStatusBar } from './clusterPanelState';
import type { HostSettings } from './settings';
import { formatStatusBar, type StatusBarView } from './statusFormat';

const STATUS_ITEM_ID = 'status';

export interface StatusSource {
  snapshot(): SystemPerformanceSnapshot | null;
  gpu(): GpuAvailability | null;
  activeTasks(): PerformanceMetrics[];
  /** The pid running one of `activeTasks()` outside this window (`model-perf run`); absent or null: this window's. */
  elsewhereOwner?(task: PerformanceMetrics): number | null;
  monitoring(): boolean;
  settings(): HostSettings;
  /** The cluster view, for `modelPerf.statusBar.source`: cluster. */
  cluster?(): ClusterPanelState;
}

export class StatusBarController implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private last: StatusBarView | null = null;
  private lastDrawMs = 0;
  private pending: ReturnType<typeof setTimeout> | undefined;
  private stale = false;
  private readonly focusListener: vscode.Disposable;
  /** Redraws actually applied to the item (for tests and the benchmark). */
  renders = 0;

  constructor(private readonly source: StatusSource) {
    this.item = vscode.window.createStatusBarItem(STATUS_ITEM_ID, vscode.StatusBarAlignment.Left, 90);
    this.item.name = 'Model Performance Monitor';
    this.item.command = 'modelPerf.openDashboard';
    this.focusListener = vscode.window.onDidChangeWindowState((state) => {
      if (state.focused && this.stale) this.update();
    });
    this.render();
    this.applyVisibility();
  }

  /** Shows or hides the item per the settings. */
  applyVisibility(): void {
    if (this.source.settings().statusBarVisible) this.item.show();
    else this.item.hide();
  }

  /** Asks for a redraw; several requests within a second become one. */
  update(): void {
    if (!vscode.window.state.focused) {
      this.stale = true;
      return;
    }
    if (this.pending) return;
    const wait = Math.max(0, 1000 - (Date.now() - this.lastDrawMs));
    if (wait === 0) {
      this.render();
      return;
    }
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.render();
    }, wait);
  }

  /** What the item shows now (for tests and the API). */
  get view(): StatusBarView | null {
    return this.last;
  }

  private render(): void {
    this.stale = false;
    this.lastDrawMs = Date.now();
    const settings = this.source.settings();
    const local = formatStatusBar(this.source.snapshot(), {
      gpu: this.source.gpu(),
      activeTasks: this.source.activeTasks(),
      ...(this.source.elsewhereOwner ? { elsewhereOwner: this.source.elsewhereOwner } : {}),
      now: Date.now(),
      monitoring: this.source.monitoring(),
      format: settings.statusBarFormat,
      gpuSelection: settings.statusBarGpu,
      thresholds: { vramPercent: settings.thresholds.vramPercent, ramPercent: settings.thresholds.ramPercent, temperatureCelsius: settings.thresholds.temperatureCelsius },
    });
    const view = settings.statusBarSource === 'cluster' && this.source.cluster ? withCluster(this.source.cluster(), local) : local;
    const prev = this.last;
    this.last = view;
    if (prev && prev.text === view.text && prev.severity === view.severity && prev.tooltipMarkdown === view.tooltipMarkdown && prev.accessibleLabel === view.accessibleLabel) return;
    this.renders++;
    if (!prev || prev.text !== view.text) this.item.text = view.text;
    this.item.accessibilityInformation = { label: view.accessibleLabel, role: 'button' };
    const md = new vscode.MarkdownString(view.tooltipMarkdown);
    md.isTrusted = { enabledCommands: ['modelPerf.openDashboard', 'modelPerf.exportMetrics', 'modelPerf.showCurrentStatus', 'modelPerf.showLog', 'modelPerf.startMonitoring'] };
    md.supportThemeIcons = true;
    this.item.tooltip = md;
    this.item.backgroundColor = view.severity === 'error'
      ? new vscode.ThemeColor('statusBarItem.errorBackground')
      : view.severity === 'warning' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    this.focusListener.dispose();
    this.item.dispose();
  }
}

/** The cluster's summary, or this machine's figures with a note saying why not the cluster. */
function withCluster(state: ClusterPanelState, local: StatusBarView): StatusBarView {
  return clusterStatusBar(state) ?? { ...local, tooltipMarkdown: `${clusterNote(state)}\n\n---\n\n${local.tooltipMarkdown}` };
}
