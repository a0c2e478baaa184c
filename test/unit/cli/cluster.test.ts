// `model-perf cluster`'s face: the text view (someone else's labels neutralised), and its usage
// mistakes (no URL, a URL that is not http) as exit 2 with the usage line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../../../src/cli/cli';
import { clusterText } from '../../../src/cli/clusterCommand';
import type { ClusterNode, ClusterView } from '../../../src/core/cluster/clusterView';
import { testIo, type TestIo } from '../helpers/cliIo';

function io(): TestIo {
  return testIo();
}

const node = (over: Partial<ClusterNode>): ClusterNode => ({
  name: 'n',
  instance: 'n',
  job: 'model-perf',
  sources: ['model-perf'],
  stale: false,
  staleReason: null,
  lastScrapeAgeSeconds: 1,
  scrapeIntervalSeconds: 15,
  gpus: [],
  gpusBusy: 0,
  meanGpuUtilizationRatio: null,
  cpuUtilizationRatio: null,
  memoryUsedBytes: null,
  memoryTotalBytes: null,
  tasksRunning: null,
  tasks: [],
  version: null,
  ...over,
});

test('text view: summary, a line per node and per GPU and task, stale reason, hostile labels neutralised', () => {
  const view: ClusterView = {
    evaluatedAt: 0,
    summary: { nodes: 2, staleNodes: 1, gpus: 2, gpusBusy: 1 },
    nodes: [
      node({
        name: 'evil\u001b]0;pwned\u0007host',
        instance: '10.0.0.1:9400',
        sources: ['dcgm'],
        gpus: [{ gpu: '0', uuid: 'u', name: 'A100\u001b[2J', utilizationRatio: 0.64, memoryUsedBytes: 2 * 1024 ** 3, memoryTotalBytes: 4 * 1024 ** 3, temperatureCelsius: 55.4, powerWatts: 250.5 }],
        gpusBusy: 1,
      }),
      node({ name: 'b:9478', instance: 'b:9478', stale: true, staleReason: 'its target is down (up == 0)', tasksRunning: 1, tasks: [{ taskId: 'gen\n1', modelType: 'sdxl', startTimeSeconds: 1, progressRatio: 0.5 }], gpus: [{ gpu: '0', uuid: null, name: null, utilizationRatio: null, memoryUsedBytes: null, memoryTotalBytes: null, temperatureCelsius: null, powerWatts: null }] }),
    ],
  };
  const text = clusterText(view, 'Prometheus http://p:9090');
  assert.doesNotMatch(text, /\u001b|\u0007/);
  assert.equal(
    text,
    [
      'Prometheus http://p:9090: 2 nodes · 1/2 GPUs busy · 1 stale',
      '',
      'evilhost  (10.0.0.1:9400, dcgm)  ·  GPUs 1/1 busy',
      '  GPU 0  A100                      util  64 %  mem 2.0/4.0 GiB  55 °C  251 W',
      '',
      'b:9478  (model-perf)  ·  STALE: its target is down (up == 0)  ·  1 task running',
      '  GPU 0  n/a                       util   n/a  mem n/a/n/a GiB',
      '  task gen 1 (sdxl)  50 %',
      '',
    ].join('\n'),
  );
});

test('cluster without --prometheus, or with a URL that is not http: exit 2 with the usage line', async () => {
  const a = io();
  assert.equal(await runCli(['cluster'], a), 2);
  assert.match(a.err.text, /^model-perf cluster: --prometheus URL is required\nUsage: model-perf cluster --prometheus URL/);
  const b = io();
  assert.equal(await runCli(['cluster', '--prometheus', 'ftp://x'], b), 2);
  assert.match(b.err.text, /^model-perf cluster: ftp: is not http or https \(e\.g\. http:\/\/prometheus:9090\)\nUsage:/);
  assert.equal(a.out.text + b.out.text, '');
});
