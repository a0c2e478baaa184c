// The Cluster section's poller in the host: polls only while a URL is set and someone looks (an
// open dashboard, or the status bar in cluster mode), one clear error per failure with the next
// try's delay, backs off while failing, starts over on a new URL or token (an old answer is
// dropped), logs a failure once per kind, and shows nodes without history when only the range
// queries fail. Fake clock and fake client: no network, no real time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterView } from '../../../src/core/cluster/clusterView';
import { ClusterError } from '../../../src/core/cluster/prometheusClient';
import { ClusterMonitor } from '../../../src/host/clusterMonitor';
import type { ClusterPanelState } from '../../../src/shared/clusterMessages';
import { FakeClock, flushPromises } from '../helpers/fakeClock';

const view: ClusterView = {
  evaluatedAt: 1000,
  nodes: [{
    name: 'gpu-1', instance: 'gpu-1:9478', job: 'model-perf', sources: ['model-perf'], stale: false, staleReason: null, lastScrapeAgeSeconds: 1,
    scrapeIntervalSeconds: 1, gpus: [], gpusBusy: 0, meanGpuUtilizationRatio: 0.5, cpuUtilizationRatio: null, memoryUsedBytes: null,
    memoryTotalBytes: null, tasksRunning: 0, tasks: [], version: null,
  }],
  summary: { nodes: 1, staleNodes: 0, gpus: 0, gpusBusy: 0 },
};

function setup() {
  const clock = new FakeClock();
  const calls: { url: string; token: string | null }[] = [];
  const warnings: string[] = [];
  let fail: unknown = null;
  let historyFails = false;
  let polls = 0;
  const monitor = new ClusterMonitor({
    clock,
    intervalMs: 1000,
    maxBackoffMs: 8000,
    log: { warn: (m) => warnings.push(m) },
    client: (url, token) => {
      calls.push({ url, token });
      return {
        clusterView: async () => {
          polls++;
          if (fail) throw fail;
          return view;
        },
        utilizationHistory: async () => {
          if (historyFails) throw new Error('range query refused');
          return new Map([['gpu-1:9478', [{ timestampSeconds: 990, value: 0.4 }, { timestampSeconds: 1000, value: 0.5 }]]]);
        },
      };
    },
  });
  const seen: ClusterPanelState[] = [];
  return {
    clock, monitor, calls, warnings, seen,
    get polls() { return polls; },
    failWith(err: unknown) { fail = err; },
    failHistory(v: boolean) { historyFails = v; },
    look: () => monitor.subscribe((s) => seen.push(s)),
  };
}

test('no URL or nobody looking: no poll; a dashboard subscription polls; its end stops the polls', async () => {
  const t = setup();
  const sub = t.look();
  await t.clock.advance(5000);
  assert.equal(t.polls, 0, 'no URL, no poll');
  assert.equal(t.monitor.current.configured, false);
  sub.dispose();
  t.monitor.configure('http://prom:9090', null);
  await t.clock.advance(5000);
  assert.equal(t.polls, 0, 'a URL but nobody looking: no poll');
  assert.equal(t.monitor.current.status, 'loading');
  const look = t.look();
  await flushPromises();
  assert.equal(t.polls, 1);
  assert.equal(t.monitor.current.status, 'ok');
  assert.equal(t.monitor.current.url, 'http://prom:9090');
  assert.deepEqual(t.monitor.current.summary, view.summary);
  assert.deepEqual(t.monitor.current.nodes[0]?.history, [[990, 0.4], [1000, 0.5]]);
  assert.equal(t.monitor.current.updatedAtMs, t.clock.now());
  await t.clock.advance(3000);
  assert.equal(t.polls, 4, 'every interval');
  look.dispose();
  assert.equal(t.monitor.polling, false);
  await t.clock.advance(10_000);
  assert.equal(t.polls, 4);
  t.monitor.setStatusBarDemand(true);
  await flushPromises();
  assert.equal(t.polls, 5, 'the status bar in cluster mode polls too');
  t.monitor.dispose();
});

test('a failure is one message with the next try; the pause doubles, capped; the last nodes stay; one log line per kind', async () => {
  const t = setup();
  t.monitor.configure('http://prom:9090', null);
  t.look();
  await flushPromises();
  assert.equal(t.monitor.current.nodes.length, 1);
  t.failWith(new ClusterError('network', 'Cannot reach Prometheus at http://prom:9090: connection refused (is it running, on that port?).'));
  const before = t.polls;
  await t.clock.advance(1000);
  assert.equal(t.monitor.current.status, 'error');
  assert.deepEqual(t.monitor.current.error, { kind: 'network', message: 'Cannot reach Prometheus at http://prom:9090: connection refused (is it running, on that port?).', retryInSeconds: 1 });
  assert.equal(t.monitor.current.nodes.length, 1, 'the last good nodes stay shown');
  await t.clock.advance(60_000);
  // Pauses 1, 2, 4, 8, 8, 8 … s: far fewer than one a second.
  const failedPolls = t.polls - before;
  assert.ok(failedPolls >= 8 && failedPolls <= 10, `backed off: ${failedPolls} polls in 61 s`);
  assert.equal(t.monitor.current.error?.retryInSeconds, 8);
  assert.equal(t.warnings.length, 1, t.warnings.join('\n'));
  t.failWith(new ClusterError('auth', 'Prometheus at http://prom:9090 wants a token (HTTP 401): give one with the command.'));
  await t.clock.advance(8000);
  assert.equal(t.monitor.current.error?.kind, 'auth');
  assert.equal(t.warnings.length, 2);
  t.failWith(null);
  await t.clock.advance(8000);
  assert.equal(t.monitor.current.status, 'ok');
  assert.equal(t.monitor.current.error, null);
  t.monitor.dispose();
});

test('a new token or URL starts over with a new client; an answer for the old one is dropped', async () => {
  const t = setup();
  t.monitor.configure('http://prom:9090', null);
  t.look();
  await flushPromises();
  t.monitor.configure('http://prom:9090', null);
  assert.equal(t.calls.length, 1, 'the same settings change nothing');
  t.monitor.configure('http://prom:9090', 's3cret');
  await flushPromises();
  assert.deepEqual(t.calls.at(-1), { url: 'http://prom:9090', token: 's3cret' });
  t.monitor.configure('http://user:pw@other:9090/prom/', 's3cret');
  assert.equal(t.monitor.current.status, 'loading');
  assert.equal(t.monitor.current.nodes.length, 0, 'the old server\'s nodes are not shown as the new one\'s');
  assert.equal(t.monitor.current.url, 'http://other:9090/prom', 'credentials in the URL are never shown');
  await flushPromises();
  assert.equal(t.monitor.current.status, 'ok');
  t.monitor.configure('', null);
  assert.equal(t.monitor.current.configured, false);
  assert.equal(t.monitor.polling, false);
  assert.ok(!JSON.stringify(t.seen).includes('s3cret'), 'the token never reaches the webview state');
  t.monitor.dispose();
});

test('range queries failing: the nodes are shown without history, and that is logged once', async () => {
  const t = setup();
  t.failHistory(true);
  t.monitor.configure('http://prom:9090', null);
  t.look();
  await flushPromises();
  await t.clock.advance(3000);
  assert.equal(t.monitor.current.status, 'ok');
  assert.deepEqual(t.monitor.current.nodes[0]?.history, []);
  assert.deepEqual(t.warnings, ['Cluster: the utilisation history could not be read: range query refused']);
  t.monitor.dispose();
});

test('recentTasks: asks only a model-perf node of the view, at http://INSTANCE/tasks/recent, without the Prometheus token; each failure in words', async () => {
  const asked: { url: string; auth: string | null }[] = [];
  let answer: () => Response = () => new Response('{}');
  const clock = new FakeClock();
  const dcgmView: ClusterView = { ...view, nodes: [...view.nodes, { ...view.nodes[0] as ClusterView['nodes'][0], instance: 'gpu-2:9400', name: 'gpu-2', sources: ['dcgm'] }] };
  const monitor = new ClusterMonitor({
    clock,
    log: { warn: () => undefined },
    client: () => ({ clusterView: async () => dcgmView, utilizationHistory: async () => new Map() }),
    fetch: (async (url: string | URL, init?: RequestInit) => {
      asked.push({ url: String(url), auth: new Headers(init?.headers).get('authorization') });
      return answer();
    }) as typeof fetch,
  });
  monitor.configure('http://prom:9090', 'prom-token');
  monitor.subscribe(() => undefined);
  await flushPromises();
  const good = { node: 'gpu-1', version: '1.0.0', tasks: [{ taskId: 't1', modelType: 'sdxl', resolution: '1024x1024', status: 'succeeded', startTime: 1, endTime: 2, generationTimeSeconds: 1, peakVramUsageMb: null, errorCategory: null }] };
  answer = () => new Response(JSON.stringify(good));
  assert.deepEqual(await monitor.recentTasks('gpu-1:9478'), { recent: good, error: null });
  assert.deepEqual(asked, [{ url: 'http://gpu-1:9478/tasks/recent?limit=20', auth: null }]);
  assert.match((await monitor.recentTasks('gpu-2:9400')).error ?? '', /runs no model-perf serve/);
  assert.match((await monitor.recentTasks('evil.example:80')).error ?? '', /runs no model-perf serve/, 'an instance not in the view is never asked');
  assert.equal(asked.length, 1);
  answer = () => new Response('no', { status: 401 });
  assert.match((await monitor.recentTasks('gpu-1:9478')).error ?? '', /wants a token \(HTTP 401\)/);
  answer = () => new Response('not json');
  assert.match((await monitor.recentTasks('gpu-1:9478')).error ?? '', /did not answer JSON/);
  answer = () => new Response(JSON.stringify({ ...good, tasks: [{ ...good.tasks[0], status: 'exploded' }] }));
  assert.match((await monitor.recentTasks('gpu-1:9478')).error ?? '', /something else than a task list/);
  answer = () => new Response('x'.repeat(2 * 1024 * 1024));
  assert.match((await monitor.recentTasks('gpu-1:9478')).error ?? '', /sent more than 1024 KB/);
  answer = () => {
    throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
  };
  assert.match((await monitor.recentTasks('gpu-1:9478')).error ?? '', /^Cannot reach http:\/\/gpu-1:9478\/tasks\/recent\?limit=20 from this machine \(connect ECONNREFUSED\)\.$/);
  monitor.dispose();
});
