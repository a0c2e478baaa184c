// The state behind `model-perf serve`: the latest snapshot, the finished tasks folded into totals
// (on each history change, not per scrape) and the tasks running on the node (re-listed at most
// every RUNNING_REFRESH_MS, in the background). A scrape only renders what is already in memory,
// and reuses the text rendered since the last change: it never waits on sampling, and sampling
// never waits on a scrape.
import type { PerformanceMonitor } from '../engine/monitor';
import type { Clock } from '../ports';
import type { Disposable } from '../util/emitter';
import { renderExposition, taskTotals, type ExpositionFormat, type NodeExpositionInput, type RunningTaskView, type TaskTotals } from './openMetrics';

/** How often the running-task markers are listed again (they change about once a minute). */
const RUNNING_REFRESH_MS = 2000;

export interface NodeExporterOptions {
  monitor: PerformanceMonitor;
  version: string;
  clock: Clock;
  /** Lists the tasks running on this node now (markers in the storage folder). */
  listRunning: () => Promise<RunningTaskView[]>;
  /** Reports a listing that failed (once per failure streak). */
  onLog?: (message: string) => void;
}

export class NodeExporter {
  private totals: TaskTotals;
  private running: RunningTaskView[] = [];
  private readonly rendered = new Map<ExpositionFormat, string>();
  private readonly subscriptions: Disposable[] = [];
  private listing: Promise<void> | null = null;
  private lastListedAt = Number.NEGATIVE_INFINITY;
  private listFailed = false;

  constructor(private readonly options: NodeExporterOptions) {
    this.totals = taskTotals(options.monitor.getHistory());
    const changed = () => this.rendered.clear();
    this.subscriptions.push(
      options.monitor.on('snapshot', () => {
        changed();
        this.refreshRunning();
      }),
      options.monitor.on('historyChanged', () => {
        this.totals = taskTotals(options.monitor.getHistory());
        changed();
      }),
      options.monitor.on('gpuAvailabilityChanged', changed),
    );
  }

  /** The exposition of the latest state in `format` (cached until the state changes). */
  scrape(format: ExpositionFormat): string {
    let text = this.rendered.get(format);
    if (text === undefined) {
      text = renderExposition(this.input(), format);
      this.rendered.set(format, text);
    }
    return text;
  }

  input(): NodeExpositionInput {
    const status = this.options.monitor.getCurrentSystemStatus();
    const snapshot = 'error' in status ? null : (({ activeTasks: _a, gpuAvailability: _g, ...s }) => s)(status);
    return { snapshot, gpuAvailability: this.options.monitor.getGpuAvailability(), totals: this.totals, running: this.running, version: this.options.version };
  }

  /** Lists running tasks now (the first scrape should not show "none running" by mistake). */
  async refreshRunningNow(): Promise<void> {
    this.lastListedAt = Number.NEGATIVE_INFINITY;
    this.refreshRunning();
    await this.listing;
  }

  private refreshRunning(): void {
    const now = this.options.clock.now();
    if (this.listing || now - this.lastListedAt < RUNNING_REFRESH_MS) return;
    this.lastListedAt = now;
    this.listing = this.options
      .listRunning()
      .then(
        (tasks) => {
          this.running = tasks;
          this.rendered.clear();
          this.listFailed = false;
        },
        (err: unknown) => {
          if (!this.listFailed) this.options.onLog?.(`Cannot list the running tasks: ${err instanceof Error ? err.message : String(err)}`);
          this.listFailed = true;
        },
      )
      .finally(() => {
        this.listing = null;
      });
  }

  dispose(): void {
    for (const s of this.subscriptions.splice(0)) s.dispose();
  }
}
