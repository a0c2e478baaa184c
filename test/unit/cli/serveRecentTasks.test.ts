// GET /tasks/recent on `model-perf serve`: the node's last finished tasks as JSON, newest first,
// bounded by ?limit= (1..100, default 20), names cleaned, behind the same token as /metrics, and
// what it sends passes the checker the extension reads it with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createMetricsServer, recentTasks } from '../../../src/cli/serveCommand';
import { checkRecentTasks, type RecentTasks } from '../../../src/shared/clusterMessages';
import { makeTask } from '../engine/fakes';

const TOKEN = 'a-token-of-enough-length-0123456789';
const history = Array.from({ length: 30 }, (_, i) => makeTask({ taskId: `t-${i}`, startTime: 1_000_000 + i * 1000, status: i === 3 ? 'failed' : 'succeeded', errorCategory: i === 3 ? 'out_of_memory' : null }));

async function withServer(token: string | null, fn: (base: string) => Promise<void>): Promise<void> {
  const server = createMetricsServer({ scrape: () => 'm\n', token, recentTasks: (limit) => recentTasks(history, limit, 'gpu-node-1', '1.2.3') });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('recentTasks: the last N finished tasks, newest first, running ones and control characters left out', () => {
  const r = recentTasks([...history, makeTask({ taskId: 'live', status: 'running', endTime: null })], 3, 'node\u001b[2J', '1.2.3');
  assert.deepEqual(r.tasks.map((t) => t.taskId), ['t-29', 't-28', 't-27']);
  assert.ok(!r.node.includes('\u001b'));
  assert.equal(checkRecentTasks(r, '').tasks.length, 3);
  const failed = recentTasks(history, 30, 'n', 'v').tasks.find((t) => t.taskId === 't-3');
  assert.equal(failed?.status, 'failed');
  assert.equal(failed?.errorCategory, 'out_of_memory');
});

test('GET /tasks/recent: JSON, 20 by default, ?limit= from 1 to 100, anything else 400; other methods 404', async () => {
  await withServer(null, async (base) => {
    const plain = await fetch(`${base}/tasks/recent`);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('content-type'), 'application/json; charset=utf-8');
    const body = checkRecentTasks(await plain.json(), '') as RecentTasks;
    assert.equal(body.node, 'gpu-node-1');
    assert.equal(body.version, '1.2.3');
    assert.equal(body.tasks.length, 20);
    assert.equal(body.tasks[0]?.taskId, 't-29');
    assert.equal(((await (await fetch(`${base}/tasks/recent?limit=2`)).json()) as RecentTasks).tasks.length, 2);
    for (const bad of ['0', '101', '-1', 'x', '1e2', '']) assert.equal((await fetch(`${base}/tasks/recent?limit=${bad}`)).status, 400, bad);
    assert.equal((await fetch(`${base}/tasks/recent`, { method: 'POST', body: 'x' })).status, 404);
  });
});

test('GET /tasks/recent follows the token rules of /metrics', async () => {
  await withServer(TOKEN, async (base) => {
    assert.equal((await fetch(`${base}/tasks/recent`)).status, 401);
    assert.equal((await fetch(`${base}/tasks/recent`, { headers: { Authorization: 'Bearer wrong' } })).status, 401);
    assert.equal((await fetch(`${base}/tasks/recent`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 200);
  });
});
