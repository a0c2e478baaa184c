// The Cluster section's and the cluster status bar's words and rows, from the core's ClusterView
// and the poller's errors. Pure (no `vscode`), so plain-node tests cover it. Every string that
// came from Prometheus (node, job, GPU and task names) is cleaned and bounded here, once, before
// it goes to the webview or into the status bar's Markdown.
import { clusterSummaryText } from '../core/cluster/clusterPoller';
import type { ClusterView } from '../core/cluster/clusterView';
import { ClusterError } from '../core/cluster/prometheusClient';
import { errorText } from '../core/util/errors';
import {
  MAX_CLUSTER_GPUS, MAX_CLUSTER_NAME, MAX_CLUSTER_NODES, MAX_CLUSTER_POINTS, MAX_CLUSTER_TASKS,
  type ClusterErrorKind, type ClusterNodeRow, type ClusterPanelState,
} from '../shared/clusterMessages';
import { safeText } from '../shared/text';
import { escapeMarkdown, type StatusBarView } from './statusFormat';

/** Nodes named in the status bar's tooltip. */
const TOOLTIP_NODES = 5;

const clean = (s: string) => safeText(s, MAX_CLUSTER_NAME);
const cleanOrNull = (s: string | null) => (s === null ? null : clean(s));

/** The view's nodes as the webview takes them, each with its utilisation history (by instance). */
export function panelNodes(view: ClusterView, history: ReadonlyMap<string, readonly { timestampSeconds: number; value: number }[]>): ClusterNodeRow[] {
  return view.nodes.slice(0, MAX_CLUSTER_NODES).map((n) => ({
    ...n,
    name: clean(n.name),
    instance: clean(n.instance),
    job: cleanOrNull(n.job),
    sources: [...n.sources],
    staleReason: n.staleReason === null ? null : safeText(n.staleReason, 500),
    version: n.version === null ? null : safeText(n.version, 64),
    gpus: n.gpus.slice(0, MAX_CLUSTER_GPUS).map((g) => ({ ...g, gpu: clean(g.gpu), uuid: cleanOrNull(g.uuid), name: cleanOrNull(g.name) })),
    tasks: n.tasks.slice(0, MAX_CLUSTER_TASKS).map((t) => ({ ...t, taskId: clean(t.taskId), modelType: clean(t.modelType) })),
    history: (history.get(n.instance) ?? []).slice(-MAX_CLUSTER_POINTS).map((p): [number, number] => [p.timestampSeconds, p.value]),
  }));
}

/** One message a user can act on, for any failure of a poll. */
export function clusterProblem(err: unknown): { kind: ClusterErrorKind; message: string } {
  if (!(err instanceof ClusterError)) return { kind: 'internal', message: `The cluster view failed: ${safeText(errorText(err), 500)}` };
  // The CLI's advice (its --timeout flag) means nothing here.
  const message = err.kind === 'timeout' ? err.message.replace(/ \(--timeout[^)]*\)/, '') : err.message;
  return { kind: err.kind, message: safeText(message, 1000) };
}

/**
 * The status bar in `cluster` mode: the summary (`12 nodes · 61/96 GPUs busy`) and the busiest
 * nodes in the tooltip once a poll succeeded; null while there is nothing to show, so the caller
 * shows this machine (with `clusterNote` in the tooltip).
 */
export function clusterStatusBar(state: ClusterPanelState): StatusBarView | null {
  if (state.status !== 'ok' || state.summary === null) return null;
  const s = state.summary;
  const summary = clusterSummaryText({ evaluatedAt: 0, nodes: [], summary: s });
  const fresh = state.nodes.filter((n) => !n.stale);
  const busiest = [...fresh].sort((a, b) => (b.meanGpuUtilizationRatio ?? -1) - (a.meanGpuUtilizationRatio ?? -1)).slice(0, TOOLTIP_NODES);
  const pct = (r: number | null) => (r === null ? 'n/a' : `${Math.round(r * 100)}%`);
  const lines = [
    `**Cluster** · ${escapeMarkdown(summary)}`,
    '',
    ...busiest.map((n) => `- ${escapeMarkdown(n.name)}: ${n.gpusBusy}/${n.gpus.length} GPUs busy, mean ${pct(n.meanGpuUtilizationRatio)}`),
    ...(fresh.length > busiest.length ? [`- … and ${fresh.length - busiest.length} more`] : []),
    ...(s.staleNodes > 0 ? ['', `${s.staleNodes} stale node${s.staleNodes === 1 ? '' : 's'} (not scraped lately) left out.`] : []),
    '',
    `From ${escapeMarkdown(state.url ?? 'Prometheus')} · [Open Dashboard](command:modelPerf.openDashboard)`,
  ];
  return {
    text: `$(server-environment) ${summary}`,
    accessibleLabel: `Cluster: ${summary.replace(/ · /g, ', ')}`,
    tooltipMarkdown: lines.join('\n'),
    severity: null,
  };
}

/** The note the local status bar carries in `cluster` mode while the cluster cannot be shown. */
export function clusterNote(state: ClusterPanelState): string {
  if (!state.configured) return '**Cluster**: set `modelPerf.cluster.prometheusUrl` to show the cluster here; showing this machine.';
  if (state.status === 'error' && state.error) return `**Cluster unreachable**: ${escapeMarkdown(state.error.message)} Showing this machine.`;
  return '**Cluster**: reading Prometheus…; showing this machine meanwhile.';
}
