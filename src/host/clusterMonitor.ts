// Keeps the Cluster section's state: one PrometheusClient for the configured URL and token, one
// ClusterPoller (its interval and its backoff after failures: no retry storm), and polls only
// while someone looks (a dashboard panel is open, or the status bar shows the cluster). Each
// poll also asks for the last minutes of mean GPU utilisation per node (range queries) for the
// small histories. Pure of `vscode`: the extension gives it the URL, the token and a clock.
import { ClusterPoller } from '../core/cluster/clusterPoller';
import type { ClusterView } from '../core/cluster/clusterView';
import { ClusterError, PrometheusClient, readBounded } from '../core/cluster/prometheusClient';
import type { Clock } from '../core/ports';
import { errorText } from '../core/util/errors';
import { CLUSTER_OFF, checkRecentTasks, type ClusterPanelState, type RecentTasks } from '../shared/clusterMessages';
import { parseWith } from '../shared/guard';
import { safeText } from '../shared/text';
import { clusterProblem, panelNodes } from './clusterPanelState';

/** The history drawn per node: the last 15 minutes, a point every 15 s. */
const HISTORY_SECONDS = 15 * 60;
const HISTORY_STEP_SECONDS = 15;
const TOKEN_HINT = 'the command "Model Perf: Set Cluster Token…"';
/** A node's /tasks/recent: how many, how long to wait, how much to read. */
const RECENT_TASKS_LIMIT = 20;
const RECENT_TASKS_TIMEOUT_MS = 5000;
const RECENT_TASKS_MAX_BYTES = 1024 * 1024;
/** `host:port` as Prometheus names a scrape target (a name, IPv4, or [IPv6]). */
const INSTANCE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\]):\d{1,5}$/;

type HistoryPoints = Map<string, { timestampSeconds: number; value: number }[]>;

interface ClusterClient {
  clusterView(): Promise<ClusterView>;
  utilizationHistory(endSeconds: number, rangeSeconds?: number, stepSeconds?: number): Promise<HistoryPoints>;
}

export interface ClusterMonitorOptions {
  clock: Clock;
  intervalMs?: number;
  maxBackoffMs?: number;
  log: { warn(message: string): void };
  /** Tests: a fake client instead of PrometheusClient, a fake fetch for the nodes. */
  client?: (url: string, token: string | null) => ClusterClient;
  fetch?: typeof fetch;
}

/** A URL as shown: credentials a user wrote into it left out. */
function shownUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = '';
    u.password = '';
    return u.href.replace(/\/$/, '');
  } catch {
    return raw.slice(0, 200);
  }
}

export class ClusterMonitor {
  private url = '';
  private token: string | null = null;
  private state: ClusterPanelState = CLUSTER_OFF;
  private poller: ClusterPoller | null = null;
  private readonly listeners = new Set<(state: ClusterPanelState) => void>();
  private statusBarWants = false;
  private historyFailureLogged = false;

  constructor(private readonly options: ClusterMonitorOptions) {}

  get current(): ClusterPanelState {
    return this.state;
  }

  /** True while Prometheus is being asked (a URL is set and someone looks). */
  get polling(): boolean {
    return this.poller !== null;
  }

  /** A new URL or token starts over (the old poll's answer is dropped); the same ones change nothing. */
  configure(url: string, token: string | null): void {
    if (url === this.url && token === this.token) return;
    this.url = url;
    this.token = token;
    this.stopPoller();
    this.historyFailureLogged = false;
    this.set(url === '' ? CLUSTER_OFF : { ...CLUSTER_OFF, configured: true, url: shownUrl(url), status: 'loading', historySeconds: HISTORY_SECONDS });
    this.syncDemand();
  }

  /** The status bar shows the cluster (`modelPerf.statusBar.source`: cluster): it needs polls too. */
  setStatusBarDemand(wants: boolean): void {
    this.statusBarWants = wants;
    this.syncDemand();
  }

  /** Called with the state after every change; while any listener is subscribed, polls run. */
  subscribe(listener: (state: ClusterPanelState) => void): { dispose(): void } {
    this.listeners.add(listener);
    this.syncDemand();
    return {
      dispose: () => {
        this.listeners.delete(listener);
        this.syncDemand();
      },
    };
  }

  /** A poll now (the section's Refresh); ignored while one is in flight. */
  refreshNow(): void {
    this.poller?.refreshNow();
  }

  /**
   * A node's recent tasks from its `model-perf serve` (GET http://INSTANCE/tasks/recent), for a
   * model-perf node of the current view only: the address comes from Prometheus' labels, so
   * nothing else is ever asked. The Prometheus token is not sent to nodes. Never throws.
   */
  async recentTasks(instance: string): Promise<{ recent: RecentTasks | null; error: string | null }> {
    const node = this.state.nodes.find((n) => n.instance === instance);
    if (!node || !node.sources.includes('model-perf')) return { recent: null, error: 'This node runs no model-perf serve: it has no task list.' };
    if (!INSTANCE.test(instance)) return { recent: null, error: `${instance} is not a host:port address that can be asked.` };
    const url = `http://${instance}/tasks/recent?limit=${RECENT_TASKS_LIMIT}`;
    try {
      const response = await (this.options.fetch ?? fetch)(url, { signal: AbortSignal.timeout(RECENT_TASKS_TIMEOUT_MS), redirect: 'error', headers: { Accept: 'application/json' } });
      if (response.status === 401 || response.status === 403) return { recent: null, error: `${url} wants a token (HTTP ${response.status}): the node's tasks can be read only where it serves without one.` };
      if (response.status === 404) return { recent: null, error: `${url} answered 404: the node's model-perf is older than its /tasks/recent.` };
      if (response.status !== 200) return { recent: null, error: `${url} answered HTTP ${response.status}.` };
      const text = await readBounded(response, RECENT_TASKS_MAX_BYTES);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return { recent: null, error: `${url} did not answer JSON.` };
      }
      const parsed = parseWith(checkRecentTasks, body);
      return parsed.ok ? { recent: parsed.msg, error: null } : { recent: null, error: `${url} answered something else than a task list (${safeText(parsed.error, 200)}).` };
    } catch (err) {
      if (err instanceof ClusterError) return { recent: null, error: `${url} sent more than ${RECENT_TASKS_MAX_BYTES / 1024} KB.` };
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      return { recent: null, error: timedOut ? `${url} did not answer within ${RECENT_TASKS_TIMEOUT_MS / 1000} s.` : `Cannot reach ${url} from this machine (${safeText(errorText((err as { cause?: unknown }).cause ?? err), 200)}).` };
    }
  }

  dispose(): void {
    this.stopPoller();
    this.listeners.clear();
  }

  /** Resolves when the poll in flight (if any) has settled (tests). */
  whenIdle(): Promise<void> {
    return this.poller?.whenIdle() ?? Promise.resolve();
  }

  private syncDemand(): void {
    const wanted = this.url !== '' && (this.statusBarWants || this.listeners.size > 0);
    if (wanted && !this.poller) this.startPoller();
    else if (!wanted) this.stopPoller();
  }

  private startPoller(): void {
    let client: ClusterClient;
    try {
      client = this.options.client ? this.options.client(this.url, this.token) : new PrometheusClient({ url: this.url, token: this.token, tokenHint: TOKEN_HINT });
    } catch (err) {
      // The settings reader lets only http(s) URLs through; this is the last guard.
      this.set({ ...this.state, status: 'error', error: { ...clusterProblem(err), retryInSeconds: 0 } });
      return;
    }
    let history: HistoryPoints = new Map();
    const poller = new ClusterPoller({
      clock: this.options.clock,
      intervalMs: this.options.intervalMs,
      maxBackoffMs: this.options.maxBackoffMs,
      source: {
        clusterView: async () => {
          const view = await client.clusterView();
          try {
            history = await client.utilizationHistory(view.evaluatedAt, HISTORY_SECONDS, HISTORY_STEP_SECONDS);
          } catch (err) {
            // The nodes are worth showing without their history; said once per configuration.
            history = new Map();
            if (!this.historyFailureLogged) this.options.log.warn(`Cluster: the utilisation history could not be read: ${errorText(err)}`);
            this.historyFailureLogged = true;
          }
          return view;
        },
      },
      onView: (view) => {
        if (this.poller !== poller) return;
        this.set({ ...this.state, status: 'ok', error: null, updatedAtMs: this.options.clock.now(), summary: { ...view.summary }, nodes: panelNodes(view, history) });
      },
      onError: (err, retryInMs) => {
        if (this.poller !== poller) return;
        const problem = clusterProblem(err);
        // Logged when the kind of failure changes, not at every retry.
        if (this.state.error?.message !== problem.message) this.options.log.warn(`Cluster: ${problem.message}`);
        this.set({ ...this.state, status: 'error', error: { ...problem, retryInSeconds: Math.round(retryInMs / 1000) } });
      },
    });
    this.poller = poller;
    poller.start();
  }

  private stopPoller(): void {
    this.poller?.stop();
    this.poller = null;
  }

  private set(state: ClusterPanelState): void {
    this.state = state;
    for (const listener of [...this.listeners]) listener(state);
    this.onChange?.(state);
  }

  /** One more listener that does not count as demand (the status bar, which sets its own). */
  onChange: ((state: ClusterPanelState) => void) | null = null;
}
