// The poller a long-lived face will use: steady polls while Prometheus answers, doubling pauses
// while it fails (capped), back to the interval after a success, one poll at a time, nothing after
// stop. Fake clock; no real time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, ClusterPoller, clusterSummaryText } from '../../../src/core/cluster/clusterPoller';
import type { ClusterView } from '../../../src/core/cluster/clusterView';
import { FakeClock, flushPromises } from '../helpers/fakeClock';

const view = (nodes: number, gpus: number, busy: number, stale = 0): ClusterView => ({ evaluatedAt: 0, nodes: [], summary: { nodes, staleNodes: stale, gpus, gpusBusy: busy } });

test('backoff: interval, then doubling per failure in a row, capped', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 100].map((f) => backoffMs(f, 15_000, 300_000)), [15_000, 15_000, 30_000, 60_000, 120_000, 240_000, 300_000, 300_000]);
});

test('polls every interval while it answers; backs off while it fails; recovers; stops', async () => {
  const clock = new FakeClock();
  let failing = false;
  let calls = 0;
  const seen: string[] = [];
  const poller = new ClusterPoller({
    clock,
    intervalMs: 1000,
    maxBackoffMs: 8000,
    source: {
      clusterView: async () => {
        calls++;
        if (failing) throw new Error('down');
        return view(2, 4, 1);
      },
    },
    onView: (v) => seen.push(clusterSummaryText(v)),
    onError: (_e, retryInMs) => seen.push(`error, retry in ${retryInMs}`),
  });
  poller.start();
  await flushPromises();
  await clock.advance(2000);
  assert.equal(calls, 3);
  failing = true;
  // Failures at +1 s, then after 1, 2, 4, 8, 8 s.
  await clock.advance(1000 + 1000 + 2000 + 4000 + 8000 + 8000);
  assert.deepEqual(seen.slice(3), ['error, retry in 1000', 'error, retry in 2000', 'error, retry in 4000', 'error, retry in 8000', 'error, retry in 8000', 'error, retry in 8000']);
  failing = false;
  await clock.advance(8000);
  assert.equal(seen.at(-1), '2 nodes · 1/4 GPUs busy');
  const before = calls;
  await clock.advance(1000);
  assert.equal(calls, before + 1, 'back to the interval after a success');
  poller.stop();
  await clock.advance(60_000);
  assert.equal(calls, before + 1);
  assert.equal(clock.pending, 0);
});

test('one poll at a time: a slow answer is not overtaken by refreshNow or the schedule', async () => {
  const clock = new FakeClock();
  let release: () => void = () => undefined;
  let calls = 0;
  const poller = new ClusterPoller({
    clock,
    intervalMs: 1000,
    source: {
      clusterView: () => {
        calls++;
        return new Promise<ClusterView>((resolve) => (release = () => resolve(view(1, 1, 1))));
      },
    },
    onView: () => undefined,
    onError: () => undefined,
  });
  poller.start();
  poller.refreshNow();
  await clock.advance(10_000);
  assert.equal(calls, 1);
  release();
  await poller.whenIdle();
  await clock.advance(1000);
  assert.equal(calls, 2);
  poller.stop();
});

test('summary line, as the status bar would show it', () => {
  assert.equal(clusterSummaryText(view(12, 96, 61)), '12 nodes · 61/96 GPUs busy');
  assert.equal(clusterSummaryText(view(1, 8, 0, 1)), '1 node · 0/8 GPUs busy · 1 stale');
});
