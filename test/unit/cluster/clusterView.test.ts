// The cluster view assembled from Prometheus answers (handwritten, as the API returns them):
// nodes by instance named by DCGM's Hostname, DCGM's units converted, busiest first, and the
// three ways a node turns stale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClusterView, CLUSTER_QUERIES, scrapesByInstance, type ClusterAnswers, type ClusterQueryName } from '../../../src/core/cluster/clusterView';
import type { InstantSample, RangeSeries } from '../../../src/core/cluster/prometheusApi';

const NOW = 1_800_000_000;
const MIB = 1024 ** 2;

function answers(fill: Partial<Record<ClusterQueryName, InstantSample[]>>): ClusterAnswers {
  const out = {} as ClusterAnswers;
  for (const name of Object.keys(CLUSTER_QUERIES) as ClusterQueryName[]) out[name] = fill[name] ?? [];
  return out;
}

const s = (labels: Record<string, string>, value: number): InstantSample => ({ labels, value, timestampSeconds: NOW });
/** `up` scraped every `every` s until `lastAgo` s before NOW, with `value` last. */
function up(instance: string, every: number, lastAgo: number, value = 1, job = 'model-perf'): RangeSeries {
  const points = Array.from({ length: 10 }, (_, i) => ({ timestampSeconds: NOW - lastAgo - (9 - i) * every, value: i === 9 ? value : 1 }));
  return { labels: { __name__: 'up', instance, job }, points };
}

const ours = (instance: string, gpu: string, extra: Record<string, string> = {}) => ({ instance, job: 'model-perf', gpu, uuid: `GPU-${instance}-${gpu}`, name: 'NVIDIA RTX A6000', ...extra });
const dcgm = (instance: string, gpu: string) => ({ instance, job: 'dcgm', gpu, UUID: `GPU-d-${gpu}`, modelName: 'NVIDIA A100-SXM4-40GB', Hostname: 'gpu-node-7', device: `nvidia${gpu}` });

test('our nodes and a DCGM node: figures in base units, DCGM converted, named by Hostname, busiest first', () => {
  const view = buildClusterView(
    answers({
      gpuUtil: [s(ours('a:9478', '0'), 0.2), s(ours('a:9478', '1'), 0.05), s(ours('b:9478', '0'), 0.9)],
      gpuMemUsed: [s(ours('a:9478', '0'), 10 * MIB)],
      gpuMemTotal: [s(ours('a:9478', '0'), 100 * MIB)],
      cpu: [s({ instance: 'a:9478', job: 'model-perf' }, 0.5)],
      tasksRunning: [s({ instance: 'a:9478', job: 'model-perf' }, 1)],
      taskStart: [s({ instance: 'a:9478', job: 'model-perf', task_id: 'gen-1', model_type: 'sdxl' }, NOW - 60)],
      taskProgress: [s({ instance: 'a:9478', job: 'model-perf', task_id: 'gen-1', model_type: 'sdxl' }, 0.25)],
      build: [s({ instance: 'a:9478', job: 'model-perf', version: '0.1.0' }, 1)],
      dcgmUtil: [s(dcgm('c:9400', '0'), 64), s(dcgm('c:9400', '1'), 3)],
      dcgmFbUsed: [s(dcgm('c:9400', '0'), 30000)],
      dcgmFbFree: [s(dcgm('c:9400', '0'), 10960)],
      dcgmTemp: [s(dcgm('c:9400', '0'), 55)],
      dcgmPower: [s(dcgm('c:9400', '0'), 250.5)],
    }),
    [up('a:9478', 15, 3), up('b:9478', 15, 3), up('c:9400', 15, 3, 1, 'dcgm')],
    NOW,
  );
  assert.deepEqual(view.nodes.map((n) => n.name), ['b:9478', 'gpu-node-7', 'a:9478']);
  assert.deepEqual(view.summary, { nodes: 3, staleNodes: 0, gpus: 5, gpusBusy: 3 });
  const [b, c, a] = view.nodes;
  assert.equal(a?.gpus[0]?.memoryUsedBytes, 10 * MIB);
  assert.equal(a?.gpus[0]?.memoryTotalBytes, 100 * MIB);
  assert.equal(a?.gpusBusy, 1);
  assert.equal(a?.cpuUtilizationRatio, 0.5);
  assert.equal(a?.version, '0.1.0');
  assert.deepEqual(a?.tasks, [{ taskId: 'gen-1', modelType: 'sdxl', startTimeSeconds: NOW - 60, progressRatio: 0.25 }]);
  assert.equal(a?.tasksRunning, 1);
  assert.equal(b?.tasksRunning, 0, 'a model-perf node without the gauge runs the tasks it lists');
  assert.equal(c?.instance, 'c:9400');
  assert.deepEqual(c?.sources, ['dcgm']);
  assert.equal(c?.tasksRunning, null);
  assert.equal(c?.gpus[0]?.utilizationRatio, 0.64);
  assert.equal(c?.gpus[0]?.memoryUsedBytes, 30000 * MIB);
  assert.equal(c?.gpus[0]?.memoryTotalBytes, 40960 * MIB);
  assert.equal(c?.gpus[0]?.name, 'NVIDIA A100-SXM4-40GB');
  assert.equal(c?.gpus[0]?.uuid, 'GPU-d-0');
  assert.equal(c?.gpus[1]?.memoryTotalBytes, null, 'no total without both used and free');
  assert.equal(c?.scrapeIntervalSeconds, 15);
  assert.equal(c?.lastScrapeAgeSeconds, 3);
});

test('stale: target down (up == 0), no scrape for more than two intervals, or not scraped lately at all', () => {
  const gpu = (instance: string) => s(ours(instance, '0'), 0.9);
  const view = buildClusterView(
    answers({ gpuUtil: [gpu('down:1'), gpu('late:1'), gpu('gone:1'), gpu('ok:1'), gpu('edge:1')], taskStart: [s({ instance: 'down:1', task_id: 't', model_type: 'm' }, NOW)] }),
    [up('down:1', 15, 2, 0), up('late:1', 15, 31), up('ok:1', 15, 14), up('edge:1', 15, 30)],
    NOW,
  );
  const by = new Map(view.nodes.map((n) => [n.instance, n]));
  assert.equal(by.get('down:1')?.staleReason, 'its target is down (up == 0)');
  assert.deepEqual(by.get('down:1')?.tasks, [], 'a down node shows no running tasks');
  assert.equal(by.get('late:1')?.staleReason, 'no scrape for 31 s (every 15 s before)');
  assert.equal(by.get('gone:1')?.staleReason, 'not scraped in the last 5m (its last values are shown)');
  assert.equal(by.get('ok:1')?.stale, false);
  assert.equal(by.get('edge:1')?.stale, false, 'exactly two intervals is not yet stale');
  assert.deepEqual(view.nodes.slice(-3).map((n) => n.stale), [true, true, true], 'stale nodes last');
  assert.equal(view.summary.gpusBusy, 2, 'stale nodes do not count as busy');
});

test('scrapesByInstance: median gap of the last scrapes, the latest of two jobs, series without points ignored', () => {
  const jittery: RangeSeries = { labels: { instance: 'x' }, points: [0, 10, 20, 31, 40, 50, 95].map((t) => ({ timestampSeconds: t, value: 1 })) };
  assert.equal(scrapesByInstance([jittery]).get('x')?.intervalSeconds, 10);
  const single: RangeSeries = { labels: { instance: 'y' }, points: [{ timestampSeconds: 5, value: 1 }] };
  assert.equal(scrapesByInstance([single]).get('y')?.intervalSeconds, null);
  const older: RangeSeries = { labels: { instance: 'z', job: 'a' }, points: [{ timestampSeconds: 5, value: 0 }] };
  const newer: RangeSeries = { labels: { instance: 'z', job: 'b' }, points: [{ timestampSeconds: 9, value: 1 }] };
  assert.equal(scrapesByInstance([newer, older]).get('z')?.lastValue, 1);
  assert.equal(scrapesByInstance([{ labels: { instance: 'e' }, points: [] }, { labels: {}, points: [{ timestampSeconds: 1, value: 1 }] }]).size, 0);
});

test('hostile answers: series without instance or gpu labels are skipped, NaN and infinities are unknown', () => {
  const view = buildClusterView(
    answers({ gpuUtil: [s({ gpu: '0' }, 0.5), s({ instance: 'n:1' }, 0.5), s(ours('n:1', '0'), Number.NaN), s(ours('n:1', '1'), Number.POSITIVE_INFINITY)], cpu: [s({ instance: 'n:1' }, Number.NaN)] }),
    [up('n:1', 1, 0)],
    NOW,
  );
  assert.equal(view.nodes.length, 1);
  assert.deepEqual(view.nodes[0]?.gpus.map((g) => g.utilizationRatio), [null, null]);
  assert.equal(view.nodes[0]?.cpuUtilizationRatio, null);
  assert.equal(view.nodes[0]?.meanGpuUtilizationRatio, null);
});

test('GPUs in numeric order (10 after 9)', () => {
  const view = buildClusterView(answers({ gpuUtil: ['10', '9', '0'].map((g) => s(ours('n:1', g), 0.1)) }), [up('n:1', 1, 0)], NOW);
  assert.deepEqual(view.nodes[0]?.gpus.map((g) => g.gpu), ['0', '9', '10']);
});
