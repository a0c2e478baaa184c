// Keeps a cluster view fresh for a long-lived face (the extension's status bar and dashboard, a
// next step): one poll at a time, every `intervalMs` while Prometheus answers, and after a failure
// a pause that doubles with each failure in a row up to `maxBackoffMs`, so an unreachable or
// refusing Prometheus is asked less and less often, never in a storm. Also the pure summary line
// (`12 nodes · 61/96 GPUs busy`).
import type { Clock, TimerHandle } from '../ports';
import type { ClusterView } from './clusterView';

const DEFAULT_POLL_INTERVAL_MS = 15_000;
const DEFAULT_MAX_BACKOFF_MS = 5 * 60_000;

interface ClusterSource {
  clusterView(): Promise<ClusterView>;
}

export interface ClusterPollerOptions {
  source: ClusterSource;
  clock: Clock;
  intervalMs?: number;
  maxBackoffMs?: number;
  onView: (view: ClusterView) => void;
  /** A failure, and how long until the next try. Called on every failure (the face shows the latest). */
  onError: (err: unknown, retryInMs: number) => void;
}

/** The pause after `failures` failures in a row: interval × 2^(failures − 1), at most `max`. */
export function backoffMs(failures: number, intervalMs: number, maxMs: number): number {
  if (failures <= 0) return intervalMs;
  return Math.min(maxMs, intervalMs * 2 ** Math.min(30, failures - 1));
}

export class ClusterPoller {
  private timer: TimerHandle | null = null;
  private failures = 0;
  private running = false;
  private inFlight: Promise<void> | null = null;

  constructor(private readonly options: ClusterPollerOptions) {}

  /** Polls now, then on its own schedule until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.poll();
  }

  stop(): void {
    this.running = false;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Resolves when the poll in flight (if any) has settled. */
  whenIdle(): Promise<void> {
    return this.inFlight ?? Promise.resolve();
  }

  /** Polls at once (a user pressed refresh), unless a poll is already in flight. */
  refreshNow(): void {
    if (!this.running || this.inFlight) return;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
    this.poll();
  }

  private poll(): void {
    const interval = this.options.intervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    const max = this.options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
    this.inFlight = this.options.source.clusterView().then(
      (view) => {
        this.failures = 0;
        if (this.running) this.options.onView(view);
        this.schedule(interval);
      },
      (err: unknown) => {
        this.failures++;
        const wait = backoffMs(this.failures, interval, max);
        if (this.running) this.options.onError(err, wait);
        this.schedule(wait);
      },
    ).finally(() => {
      this.inFlight = null;
    });
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = null;
      this.poll();
    }, ms);
    this.timer.unref?.();
  }
}

/** `12 nodes · 61/96 GPUs busy` (`· 2 stale` when some are), for a status bar. */
export function clusterSummaryText(view: ClusterView): string {
  const s = view.summary;
  return `${s.nodes} node${s.nodes === 1 ? '' : 's'} · ${s.gpusBusy}/${s.gpus} GPUs busy${s.staleNodes > 0 ? ` · ${s.staleNodes} stale` : ''}`;
}
