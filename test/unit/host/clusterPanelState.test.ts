// The Cluster section's rows and the cluster status bar, from a ClusterView: names from other
// machines cleaned and bounded, each failure one message fit for the extension, the status bar's
// summary and busiest nodes, and this machine with a note while the cluster cannot be shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterNode, ClusterView } from '../../../src/core/cluster/clusterView';
import { ClusterError } from '../../../src/core/cluster/prometheusClient';
import { clusterNote, clusterProblem, clusterStatusBar, panelNodes } from '../../../src/host/clusterPanelState';
import { CLUSTER_OFF, checkClusterPanelState, type ClusterPanelState } from '../../../src/shared/clusterMessages';
import { parseToWebview } from '../../../src/shared/protocol';

const GIB = 1024 ** 3;

function node(over: Partial<ClusterNode>): ClusterNode {
  return {
    name: 'a:9478', instance: 'a:9478', job: 'model-perf', sources: ['model-perf'], stale: false, staleReason: null, lastScrapeAgeSeconds: 1,
    scrapeIntervalSeconds: 1, gpus: [], gpusBusy: 0, meanGpuUtilizationRatio: null, cpuUtilizationRatio: null, memoryUsedBytes: null,
    memoryTotalBytes: null, tasksRunning: 0, tasks: [], version: '0.1.0', ...over,
  };
}

const gpu = (id: string, util: number | null) => ({ gpu: id, uuid: `GPU-${id}`, name: 'NVIDIA H100', utilizationRatio: util, memoryUsedBytes: 10 * GIB, memoryTotalBytes: 80 * GIB, temperatureCelsius: 60, powerWatts: 300 });

test('panelNodes: figures kept, hostile names cleaned and bounded, history attached by instance', () => {
  const hostile = `evil\u001b[31m<img src=x onerror=alert(1)>${'x'.repeat(500)}`;
  const view: ClusterView = {
    evaluatedAt: 100,
    nodes: [
      node({ instance: 'b:9478', name: 'b:9478', gpus: [gpu('0', 0.9), gpu('1', 0.5)], gpusBusy: 2, meanGpuUtilizationRatio: 0.7, tasksRunning: 1, tasks: [{ taskId: hostile, modelType: 'sdxl', startTimeSeconds: 50, progressRatio: 0.25 }] }),
      node({ instance: 'c:9400', name: hostile, job: 'dcgm', sources: ['dcgm'], tasksRunning: null, stale: true, staleReason: 'its target is down (up == 0)' }),
    ],
    summary: { nodes: 2, staleNodes: 1, gpus: 2, gpusBusy: 2 },
  };
  const rows = panelNodes(view, new Map([['b:9478', [{ timestampSeconds: 90, value: 0.6 }, { timestampSeconds: 100, value: 0.7 }]]]));
  assert.equal(rows.length, 2);
  const [b, c] = rows as [typeof rows[0], typeof rows[0]];
  assert.deepEqual(b.history, [[90, 0.6], [100, 0.7]]);
  assert.deepEqual(c.history, []);
  assert.equal(b.gpus[0]?.utilizationRatio, 0.9);
  assert.equal(b.gpus[1]?.memoryTotalBytes, 80 * GIB);
  assert.equal(c.tasksRunning, null);
  assert.equal(c.staleReason, 'its target is down (up == 0)');
  for (const name of [c.name, b.tasks[0]?.taskId ?? '']) {
    assert.ok(name.length <= 200, `bounded: ${name.length}`);
    assert.ok(!name.includes('\u001b'), 'no escape sequence');
    assert.ok(name.startsWith('evil'));
  }
  // What the host builds passes the webview's own checker.
  const state: ClusterPanelState = { ...CLUSTER_OFF, configured: true, url: 'http://p:9090', status: 'ok', summary: view.summary, nodes: rows, historySeconds: 900, updatedAtMs: 1 };
  assert.equal(parseToWebview({ type: 'cluster', cluster: state }).ok, true);
});

test('the webview rejects a cluster message that is not the shape (too long a name, a bad status, a bad point)', () => {
  const good: ClusterPanelState = { ...CLUSTER_OFF, configured: true, url: 'http://p:9090', status: 'ok', historySeconds: 900 };
  assert.equal(parseToWebview({ type: 'cluster', cluster: good }).ok, true);
  assert.equal(parseToWebview({ type: 'cluster', cluster: { ...good, status: 'fine' } }).ok, false);
  const row = panelNodes({ evaluatedAt: 0, nodes: [node({})], summary: { nodes: 1, staleNodes: 0, gpus: 0, gpusBusy: 0 } }, new Map())[0];
  assert.equal(parseToWebview({ type: 'cluster', cluster: { ...good, nodes: [{ ...row, name: 'x'.repeat(201) }] } }).ok, false);
  assert.equal(parseToWebview({ type: 'cluster', cluster: { ...good, nodes: [{ ...row, history: [[1, 2, 3]] }] } }).ok, false);
  assert.throws(() => checkClusterPanelState({ ...good, error: { kind: 'teapot', message: 'x', retryInSeconds: 1 } }, ''));
});

test('clusterProblem: each ClusterError keeps its message (the CLI-only timeout advice left out); anything else is named', () => {
  assert.deepEqual(clusterProblem(new ClusterError('network', 'Cannot reach Prometheus at http://p:9090: connection refused (is it running, on that port?).')), {
    kind: 'network', message: 'Cannot reach Prometheus at http://p:9090: connection refused (is it running, on that port?).',
  });
  assert.deepEqual(clusterProblem(new ClusterError('timeout', 'Prometheus at http://p:9090 did not answer within 10 s (--timeout waits longer).')), {
    kind: 'timeout', message: 'Prometheus at http://p:9090 did not answer within 10 s.',
  });
  assert.equal(clusterProblem(new ClusterError('auth', 'Prometheus at http://p:9090 wants a token (HTTP 401): give one with X.')).kind, 'auth');
  assert.deepEqual(clusterProblem(new TypeError('boom')), { kind: 'internal', message: 'The cluster view failed: boom' });
});

test('clusterStatusBar: the summary, the busiest fresh nodes in the tooltip (escaped), none before a good poll or after a failure', () => {
  const nodes = panelNodes({
    evaluatedAt: 0,
    nodes: [
      node({ instance: 'low', name: 'low', gpus: [gpu('0', 0.05)], meanGpuUtilizationRatio: 0.05 }),
      node({ instance: 'hi', name: 'hi*node_[x]', gpus: [gpu('0', 0.9), gpu('1', 0.8)], gpusBusy: 2, meanGpuUtilizationRatio: 0.85 }),
      node({ instance: 'gone', name: 'gone', gpus: [gpu('0', 1)], gpusBusy: 1, meanGpuUtilizationRatio: 1, stale: true }),
    ],
    summary: { nodes: 3, staleNodes: 1, gpus: 4, gpusBusy: 3 },
  }, new Map());
  const ok: ClusterPanelState = { ...CLUSTER_OFF, configured: true, url: 'http://p:9090', status: 'ok', summary: { nodes: 3, staleNodes: 1, gpus: 4, gpusBusy: 3 }, nodes, historySeconds: 900, updatedAtMs: 1 };
  const view = clusterStatusBar(ok);
  assert.ok(view);
  assert.equal(view.text, '$(server-environment) 3 nodes · 3/4 GPUs busy · 1 stale');
  assert.equal(view.accessibleLabel, 'Cluster: 3 nodes, 3/4 GPUs busy, 1 stale');
  const lines = view.tooltipMarkdown.split('\n');
  const hi = lines.findIndex((l) => l.includes('2/2 GPUs busy'));
  const low = lines.findIndex((l) => l.startsWith('- low'));
  assert.ok(hi >= 0 && low > hi, 'busiest first');
  assert.match(lines[hi] ?? '', /^- hi\\\*node\\_\\\[x\\\]: 2\/2 GPUs busy, mean 85%$/);
  assert.ok(!view.tooltipMarkdown.includes('- gone'), 'stale nodes are not among the busiest');
  assert.match(view.tooltipMarkdown, /1 stale node \(not scraped lately\) left out\./);
  assert.equal(clusterStatusBar({ ...ok, status: 'loading' }), null);
  const failed: ClusterPanelState = { ...ok, status: 'error', error: { kind: 'network', message: 'Cannot reach Prometheus at http://p:9090: connection refused.', retryInSeconds: 30 } };
  assert.equal(clusterStatusBar(failed), null);
  assert.equal(clusterNote(failed), '**Cluster unreachable**: Cannot reach Prometheus at http://p:9090: connection refused\\. Showing this machine.');
  assert.match(clusterNote(CLUSTER_OFF), /set `modelPerf\.cluster\.prometheusUrl`/);
  assert.match(clusterNote({ ...ok, status: 'loading', summary: null }), /reading Prometheus/);
});
