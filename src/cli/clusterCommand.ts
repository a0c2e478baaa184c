// `model-perf cluster --prometheus URL`: every node the user's Prometheus knows (model-perf serve
// and DCGM exporter targets), busiest first, stale ones marked. Everything printed from
// Prometheus (node names, GPU names, task ids) is someone else's text: cleaned and bounded.
import { ClusterError, PrometheusClient } from '../core/cluster/prometheusClient';
import type { ClusterNode, ClusterView } from '../core/cluster/clusterView';
import { safeText } from '../shared/text';
import { flagBoolean, flagNumber, flagString, usageLine, type ParsedCommand } from './args';
import type { CliIo } from './io';
import { loadToken } from './serveCommand';
import { errorMessage } from './logger';

const TOKEN_ENV = 'MODEL_PERF_PROMETHEUS_TOKEN';
const GIB = 1024 ** 3;

const pct = (ratio: number | null) => (ratio === null ? 'n/a' : `${Math.round(ratio * 100)} %`);
const gib = (bytes: number | null) => (bytes === null ? 'n/a' : (bytes / GIB).toFixed(1));
const text = (s: string | null, max = 80) => (s === null ? 'n/a' : safeText(s, max));

function nodeLines(node: ClusterNode): string[] {
  const where = node.name === node.instance ? node.sources.join('+') : `${text(node.instance)}, ${node.sources.join('+')}`;
  const head = [`${text(node.name)}  (${where})`];
  if (node.stale) head.push(`STALE: ${node.staleReason ?? ''}`);
  else head.push(`GPUs ${node.gpusBusy}/${node.gpus.length} busy`);
  if (node.cpuUtilizationRatio !== null) head.push(`CPU ${pct(node.cpuUtilizationRatio)}`);
  if (node.memoryTotalBytes !== null) head.push(`RAM ${gib(node.memoryUsedBytes)}/${gib(node.memoryTotalBytes)} GiB`);
  if (node.tasksRunning !== null) head.push(`${node.tasksRunning} task${node.tasksRunning === 1 ? '' : 's'} running`);
  const lines = [head.join('  ·  ')];
  for (const g of node.gpus) {
    const parts = [`  GPU ${text(g.gpu, 8).padEnd(2)} ${text(g.name, 40).padEnd(24)}`, `util ${pct(g.utilizationRatio).padStart(5)}`, `mem ${gib(g.memoryUsedBytes)}/${gib(g.memoryTotalBytes)} GiB`];
    if (g.temperatureCelsius !== null) parts.push(`${Math.round(g.temperatureCelsius)} °C`);
    if (g.powerWatts !== null) parts.push(`${Math.round(g.powerWatts)} W`);
    lines.push(parts.join('  '));
  }
  for (const t of node.tasks) lines.push(`  task ${text(t.taskId, 60)} (${text(t.modelType, 40)})${t.progressRatio !== null ? `  ${pct(t.progressRatio)}` : ''}`);
  return lines;
}

export function clusterText(view: ClusterView, where: string): string {
  const s = view.summary;
  const out = [`${where}: ${s.nodes} node${s.nodes === 1 ? '' : 's'} · ${s.gpusBusy}/${s.gpus} GPUs busy${s.staleNodes ? ` · ${s.staleNodes} stale` : ''}`, ''];
  for (const node of view.nodes) out.push(...nodeLines(node), '');
  return `${out.join('\n').trimEnd()}\n`;
}

export async function clusterCommand(parsed: ParsedCommand, io: CliIo): Promise<number> {
  const url = flagString(parsed, 'prometheus');
  if (url === undefined) {
    io.stderr.write(`model-perf cluster: --prometheus URL is required\n${usageLine('cluster')}\n`);
    return 2;
  }
  let token: string | null;
  try {
    token = await loadToken(flagString(parsed, 'token-file'), io.env, io.cwd, TOKEN_ENV, 1);
  } catch (err) {
    io.stderr.write(`model-perf cluster: ${errorMessage(err)}\n`);
    return 2;
  }
  let client: PrometheusClient;
  try {
    client = new PrometheusClient({ url, token, timeoutMs: Math.round((flagNumber(parsed, 'timeout') ?? 10) * 1000), tokenHint: `--token-file F or $${TOKEN_ENV}` });
  } catch (err) {
    io.stderr.write(`model-perf cluster: ${errorMessage(err)}\n${usageLine('cluster')}\n`);
    return 2;
  }
  try {
    const view = await client.clusterView();
    if (flagBoolean(parsed, 'json')) io.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    else io.stdout.write(clusterText(view, `Prometheus ${new URL(url).origin}`));
    return 0;
  } catch (err) {
    if (!(err instanceof ClusterError)) throw err;
    io.stderr.write(`model-perf cluster: ${err.message}\n`);
    return 1;
  }
}
