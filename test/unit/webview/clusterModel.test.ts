// The Cluster section's pure part: busiest first with stale nodes last whatever the column,
// unknown values after known ones, a stable order between polls, column clicks, figures as
// text, the status line and the sparkline's points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_OFF, type ClusterNodeRow, type ClusterPanelState } from '../../../src/shared/clusterMessages';
import { parseFromWebview } from '../../../src/shared/protocol';
import {
  clusterStatusLine, DEFAULT_CLUSTER_SORT, formatGibOf, nextSort, nodeGpuMemory, sortNodes, sparklinePoints,
} from '../../../webview/clusterModel';

const GIB = 1024 ** 3;

function row(name: string, util: number | null, over: Partial<ClusterNodeRow> = {}): ClusterNodeRow {
  return {
    name, instance: `${name}:9478`, job: 'model-perf', sources: ['model-perf'], stale: false, staleReason: null, lastScrapeAgeSeconds: 1, scrapeIntervalSeconds: 1, version: null,
    gpus: [{ gpu: '0', uuid: null, name: 'H100', utilizationRatio: util, memoryUsedBytes: 10 * GIB, memoryTotalBytes: 80 * GIB, temperatureCelsius: null, powerWatts: null }],
    gpusBusy: util !== null && util >= 0.1 ? 1 : 0, meanGpuUtilizationRatio: util, cpuUtilizationRatio: null, memoryUsedBytes: null, memoryTotalBytes: null,
    tasksRunning: 0, tasks: [], history: [], ...over,
  };
}

test('sortNodes: busiest first by default, unknown after known, stale last, ties by name', () => {
  const nodes = [row('idle', 0.02), row('unknown', null), row('busy', 0.95), row('gone', 1, { stale: true }), row('b-mid', 0.5), row('a-mid', 0.5)];
  assert.deepEqual(sortNodes(nodes, DEFAULT_CLUSTER_SORT).map((n) => n.name), ['busy', 'a-mid', 'b-mid', 'idle', 'unknown', 'gone']);
  assert.deepEqual(sortNodes(nodes, { key: 'utilization', descending: false }).map((n) => n.name), ['idle', 'a-mid', 'b-mid', 'busy', 'unknown', 'gone']);
  assert.deepEqual(sortNodes(nodes, { key: 'name', descending: false }).map((n) => n.name), ['a-mid', 'b-mid', 'busy', 'idle', 'unknown', 'gone']);
  // The input is not reordered.
  assert.equal(nodes[0]?.name, 'idle');
});

test('sortNodes: by memory share, GPUs busy and tasks; a DCGM node (tasks unknown) after known counts', () => {
  const full = row('full', 0.1, { gpus: [{ gpu: '0', uuid: null, name: null, utilizationRatio: 0.1, memoryUsedBytes: 79 * GIB, memoryTotalBytes: 80 * GIB, temperatureCelsius: null, powerWatts: null }] });
  const dcgm = row('dcgm', 0.3, { tasksRunning: null, sources: ['dcgm'] });
  const two = row('two', 0.3, { tasksRunning: 2 });
  assert.deepEqual(sortNodes([row('x', 0.5), full, two], { key: 'memory', descending: true }).map((n) => n.name), ['full', 'two', 'x']);
  assert.deepEqual(sortNodes([dcgm, row('x', 0.5), two], { key: 'tasks', descending: true }).map((n) => n.name), ['two', 'x', 'dcgm']);
  assert.deepEqual(sortNodes([row('idle', 0), row('x', 0.5)], { key: 'gpus', descending: true }).map((n) => n.name), ['x', 'idle']);
});

test('nextSort: the same column flips; another starts highest first (names A to Z)', () => {
  assert.deepEqual(nextSort(DEFAULT_CLUSTER_SORT, 'utilization'), { key: 'utilization', descending: false });
  assert.deepEqual(nextSort(DEFAULT_CLUSTER_SORT, 'memory'), { key: 'memory', descending: true });
  assert.deepEqual(nextSort(DEFAULT_CLUSTER_SORT, 'name'), { key: 'name', descending: false });
});

test('figures: GPU memory summed over the node, GiB with one decimal, unknown as N/A', () => {
  const n = row('a', 0.5, { gpus: [...row('a', 0.5).gpus, { gpu: '1', uuid: null, name: null, utilizationRatio: null, memoryUsedBytes: null, memoryTotalBytes: 40 * GIB, temperatureCelsius: null, powerWatts: null }] });
  assert.deepEqual(nodeGpuMemory(n), { used: 10 * GIB, total: 120 * GIB });
  assert.equal(formatGibOf(10 * GIB, 120 * GIB), '10.0/120.0 GiB');
  assert.equal(formatGibOf(null, null), 'N/A');
  assert.deepEqual(nodeGpuMemory(row('none', null, { gpus: [] })), { used: null, total: null });
});

test('status line: a hint when off, reading before the first answer, then the summary, the server and the age', () => {
  assert.match(clusterStatusLine(CLUSTER_OFF, 0), /^Set modelPerf\.cluster\.prometheusUrl/);
  const base: ClusterPanelState = { ...CLUSTER_OFF, configured: true, url: 'http://p:9090', status: 'loading', historySeconds: 900 };
  assert.equal(clusterStatusLine(base, 0), 'Reading Prometheus http://p:9090…');
  const ok: ClusterPanelState = { ...base, status: 'ok', summary: { nodes: 12, staleNodes: 1, gpus: 96, gpusBusy: 61 }, updatedAtMs: 10_000 };
  assert.equal(clusterStatusLine(ok, 14_000), '12 nodes · 61/96 GPUs busy · 1 stale · Prometheus http://p:9090 · updated 4 s ago');
  assert.equal(clusterStatusLine({ ...ok, status: 'error' }, 190_000), '12 nodes · 61/96 GPUs busy · 1 stale · Prometheus http://p:9090 · updated 3 min ago');
});

test('sparkline: time on x over the range ending at the last point, 0..1 on y (top is 100 %), clamped; none below two points', () => {
  assert.equal(sparklinePoints([[100, 0.5]], 900, 120, 28), '');
  assert.equal(sparklinePoints([[0, 0], [450, 0.5], [900, 1]], 900, 120, 28), '0.0,28.0 60.0,14.0 120.0,0.0');
  // Points older than the range are left out; values out of 0..1 are clamped.
  assert.equal(sparklinePoints([[-100, 0.3], [0, -1], [900, 2]], 900, 120, 28), '0.0,28.0 120.0,0.0');
});

test('the section\'s Refresh message is exact', () => {
  assert.equal(parseFromWebview({ type: 'clusterRefresh' }).ok, true);
  assert.equal(parseFromWebview({ type: 'clusterRefresh', url: 'http://evil' }).ok, false);
});
