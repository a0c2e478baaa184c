// The status bar item: shows the engine's latest snapshot, formatted by statusFormat.ts. Redraws
// at most once a second and only when what it shows changed, so a 1 Hz monitor costs the
// workbench almost nothing.
import * as vscode from 'vscode';
import type { GpuAvailability, SystemPerformanceSnapshot } from '../shared/snapshot';
import { formatStatusBar, type StatusBarView } from './statusFormat';

export const STATUS_ITEM_ID = 'status';

export class StatusBarController implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private last: StatusBarView | null = null;
  private lastDrawMs = 0;
  private pending: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly source: () => { snapshot: SystemPerformanceSnapshot | null; gpu: GpuAvailability | null; activeTaskCount: number }) {
    this.item = vscode.window.createStatusBarItem(STATUS_ITEM_ID, vscode.StatusBarAlignment.Left, 90);
    this.item.name = 'Model Performance Monitor';
    this.item.command = 'modelPerf.showCurrentStatus';
    this.render();
    this.item.show();
  }

  /** Asks for a redraw; several requests within a second become one. */
  update(): void {
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
    this.lastDrawMs = Date.now();
    const { snapshot, gpu, activeTaskCount } = this.source();
    const view = formatStatusBar(snapshot, { gpu, activeTaskCount, now: Date.now() });
    const prev = this.last;
    this.last = view;
    if (prev && prev.text === view.text && prev.severity === view.severity && prev.tooltipMarkdown === view.tooltipMarkdown) return;
    if (!prev || prev.text !== view.text) this.item.text = view.text;
    this.item.accessibilityInformation = { label: view.accessibleLabel, role: 'button' };
    const md = new vscode.MarkdownString(view.tooltipMarkdown);
    md.isTrusted = { enabledCommands: ['modelPerf.showCurrentStatus', 'modelPerf.showLog'] };
    md.supportThemeIcons = true;
    this.item.tooltip = md;
    this.item.backgroundColor = view.severity === 'error'
      ? new vscode.ThemeColor('statusBarItem.errorBackground')
      : view.severity === 'warning' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    this.item.dispose();
  }
}
