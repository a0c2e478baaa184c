// `model-perf serve`: the HTTP face (only GET /metrics, bearer token compared in constant time,
// formats by Accept), the rules on where it may listen and which tokens it takes, the running-task
// markers it lists (another process's files: hostile), and the whole command in-process against
// the fake nvidia-smi, scraped over loopback.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { runCli } from '../../../src/cli/cli';
import { bearerMatches, checkToken, createMetricsServer, isLoopback, loadToken, recentTasks, type MetricsServerOptions } from '../../../src/cli/serveCommand';
import { checkRecentTasks, type RecentTasks } from '../../../src/shared/clusterMessages';
import { makeTask } from '../engine/fakes';
import { SharedEngine } from '../../../src/core/machine';
import { parseRunningMarker, readRunningTasks } from '../../../src/core/metrics/runningMarkers';
import { waitUntil } from '../helpers/waitUntil';
import { testIo, type TestIo } from '../helpers/cliIo';

const ROOT = join(__dirname, '../../..');
const TOKEN = 'a'.repeat(20) + 'b'.repeat(12);
const work = mkdtemp(join(tmpdir(), 'model-perf-serve-'));
after(async () => rm(await work, { recursive: true, force: true }));

async function withServer(token: string | null, fn: (base: string) => Promise<void>, recent?: MetricsServerOptions['recentTasks']): Promise<void> {
  const server = createMetricsServer({ scrape: (format) => `body:${format}\n`, token, ...(recent ? { recentTasks: recent } : {}) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('GET /metrics: the text format by default, OpenMetrics when the Accept header asks', async () => {
  await withServer(null, async (base) => {
    const plain = await fetch(`${base}/metrics`);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(await plain.text(), 'body:prometheus\n');
    const om = await fetch(`${base}/metrics?x=1`, { headers: { Accept: 'application/openmetrics-text;version=1.0.0,text/plain;q=0.5' } });
    assert.equal(om.headers.get('content-type'), 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.equal(await om.text(), 'body:openmetrics\n');
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });
});

test('anything but GET/HEAD /metrics is refused with a status that says why', async () => {
  await withServer(null, async (base) => {
    assert.equal((await fetch(`${base}/`)).status, 404);
    assert.equal((await fetch(`${base}/metrics/../etc/passwd`)).status, 404);
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });
});

test('with a token: no header, a wrong token, a prefix of it or another scheme get 401; the token gets the metrics', async () => {
  await withServer(TOKEN, async (base) => {
    for (const authorization of [undefined, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, 'Bearer ', `Bearer ${TOKEN} extra`]) {
      const r = await fetch(`${base}/metrics`, { headers: authorization === undefined ? {} : { Authorization: authorization } });
      assert.equal(r.status, 401, String(authorization));
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="model-perf"');
      assert.doesNotMatch(await r.text(), /body:/);
    }
    // Unauthenticated requests learn nothing, not even which paths exist.
    assert.equal((await fetch(`${base}/nothing`)).status, 401);
    const ok = await fetch(`${base}/metrics`, { headers: { Authorization: `bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
  });
});

test('bearerMatches: exact token only', () => {
  assert.equal(bearerMatches(`Bearer ${TOKEN}`, TOKEN), true);
  assert.equal(bearerMatches(undefined, TOKEN), false);
  assert.equal(bearerMatches('Bearer', TOKEN), false);
  assert.equal(bearerMatches(`Bearer ${'x'.repeat(1_000_000)}`, TOKEN), false);
});

test('loopback addresses', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '[::1]', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a);
  for (const a of ['0.0.0.0', '::', '10.0.0.5', 'example.org', '128.0.0.1', '::ffff:10.0.0.1']) assert.equal(isLoopback(a), false, a);
});

test('tokens: from a file (trimmed), else the environment; empty, short, multi-word or oversized ones are refused', async () => {
  const dir = await work;
  const file = join(dir, 'token');
  await writeFile(file, `  ${TOKEN}\n`);
  assert.equal(await loadToken(file, {}, dir, 'MODEL_PERF_TOKEN'), TOKEN);
  assert.equal(await loadToken('token', { MODEL_PERF_TOKEN: 'ignored-when-a-file-is-given' }, dir, 'MODEL_PERF_TOKEN'), TOKEN);
  assert.equal(await loadToken(undefined, { MODEL_PERF_TOKEN: TOKEN }, dir, 'MODEL_PERF_TOKEN'), TOKEN);
  assert.equal(await loadToken(undefined, {}, dir, 'MODEL_PERF_TOKEN'), null);
  assert.throws(() => checkToken('   \n', 'the file'), /the file is empty/);
  assert.throws(() => checkToken('short', 'the file'), /at least 16/);
  assert.throws(() => checkToken(`${TOKEN} ${TOKEN}`, 'the file'), /one token on one line/);
  await writeFile(join(dir, 'huge'), 'x'.repeat(100_000));
  await assert.rejects(loadToken('huge', {}, dir, 'MODEL_PERF_TOKEN'), /cannot read the token file .*huge/);
  await assert.rejects(loadToken('missing', {}, dir, 'MODEL_PERF_TOKEN'), /cannot read the token file .*missing/);
});

test('running markers: this host only, well-formed only, progress where reported', () => {
  const task = { taskId: 'gen-1', modelType: 'sdxl', startTime: 5, stepsCompleted: 3, stepsTotal: 10 };
  assert.deepEqual(parseRunningMarker(JSON.stringify({ hostname: 'h', task }), 'h'), task);
  assert.equal(parseRunningMarker(JSON.stringify({ hostname: 'other', task }), 'h'), null);
  for (const bad of ['', 'null', '[]', '{"hostname":"h"}', JSON.stringify({ hostname: 'h', task: { ...task, taskId: 5 } }), JSON.stringify({ hostname: 'h', task: { ...task, startTime: 'x' } }), JSON.stringify({ hostname: 'h', task: { ...task, taskId: '' } })]) {
    assert.equal(parseRunningMarker(bad, 'h'), null, bad);
  }
  assert.deepEqual(parseRunningMarker(JSON.stringify({ hostname: 'h', task: { ...task, stepsCompleted: 'x', stepsTotal: null } }), 'h'), { ...task, stepsCompleted: null, stepsTotal: null });
});

test('readRunningTasks: skips dead owners, corrupt and oversized files; a missing folder is none running', async () => {
  const dir = join(await work, 'markers');
  assert.deepEqual(await readRunningTasks(dir, 'h', () => true), []);
  await mkdir(join(dir, 'running'), { recursive: true });
  const marker = (taskId: string, startTime: number) => JSON.stringify({ hostname: 'h', ownerPid: 1, task: { taskId, modelType: 'm', startTime } });
  await writeFile(join(dir, 'running', '100-aaaa.json'), marker('late', 20));
  await writeFile(join(dir, 'running', '101-bbbb.json'), marker('early', 10));
  await writeFile(join(dir, 'running', '200-cccc.json'), marker('dead', 1));
  await writeFile(join(dir, 'running', '102-dddd.json'), '{not json');
  await writeFile(join(dir, 'running', '103-eeee.json'), `{"hostname":"h","pad":"${'x'.repeat(300_000)}"}`);
  const tasks = await readRunningTasks(dir, 'h', (pid) => pid !== 200);
  assert.deepEqual(tasks.map((t) => t.taskId), ['early', 'late']);
});

function io(env: NodeJS.ProcessEnv): TestIo {
  return testIo({ env });
}

test('serve refuses a non-loopback address without --allow-remote, and without a token with it', async () => {
  const home = join(await work, 'refuse');
  const t = io({ MODEL_PERF_HOME: home });
  assert.equal(await runCli(['serve', '--bind', '0.0.0.0', '--no-gpu'], t), 2);
  assert.match(t.err.text, /0\.0\.0\.0 is reachable from other machines: add --allow-remote/);
  const t2 = io({ MODEL_PERF_HOME: home });
  assert.equal(await runCli(['serve', '--bind', '0.0.0.0', '--allow-remote', '--no-gpu'], t2), 2);
  assert.match(t2.err.text, /needs a token: --token-file F or \$MODEL_PERF_TOKEN/);
  const t3 = io({ MODEL_PERF_HOME: home, MODEL_PERF_TOKEN: 'short' });
  assert.equal(await runCli(['serve', '--no-gpu'], t3), 2);
  assert.match(t3.err.text, /\$MODEL_PERF_TOKEN holds a token of 5 characters/);
});

test('serve in-process: 2 fake GPUs scraped over loopback, a recorded task counted, stops on SIGTERM', async (ctx) => {
  const home = join(await work, 'home');
  await mkdir(home, { recursive: true });
  // Recent, or the history's retention would drop it.
  const startTime = Date.now() - 60_000;
  await writeFile(join(home, 'history.jsonl'), `${JSON.stringify({ schemaVersion: 1, taskId: 'done-1', modelType: 'sdxl', resolution: '1280x720', resolutionClass: '720p', steps: 30, status: 'succeeded', startTime, endTime: startTime + 13_000, generationTimeSeconds: 13, success: true })}\n`);
  await mkdir(join(home, 'running'));
  // Owned by a live process other than this one (serve runs in this process and would take a
  // marker of its own pid for a leftover of an earlier process).
  await writeFile(join(home, 'running', `${process.ppid}-abcd.json`), JSON.stringify({ schemaVersion: 1, ownerPid: process.ppid, hostname: hostname(), updatedAt: Date.now(), task: { taskId: 'live-1', modelType: 'flux', startTime: 1000, stepsCompleted: 5, stepsTotal: 20 } }));
  const t = io({ MODEL_PERF_HOME: home, PATH: `${join(ROOT, 'test/fixtures/bin')}${delimiter}${process.env.PATH ?? ''}`, FAKE_NVIDIA_SMI_SCENARIO: '2gpu', MODEL_PERF_TOKEN: TOKEN });
  const done = runCli(['serve', '--port', '0', '--interval', '0.25'], t);
  // Stopped also when an assertion fails, or the test run would wait for it for ever: a hook of this
  // test's own, run before the file's removal of the work folder (a root hook added here would run after it).
  ctx.after(() => t.signal('SIGTERM'));
  const port = await waitUntil('serve to listen', () => /serving http:\/\/127\.0\.0\.1:(\d+)\/metrics \(bearer token required\)/.exec(t.out.text)?.[1]);
  const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })).text();
  const text = await waitUntil('two GPUs in the exposition', async () => {
    const body = await scrape();
    return (body.match(/^model_perf_gpu_utilization_ratio\{/gm)?.length ?? 0) === 2 && body;
  });
  assert.match(text, /^model_perf_tasks_total\{status="succeeded",model_type="sdxl",resolution_class="720p"\} 1$/m);
  assert.match(text, /^model_perf_task_generation_seconds_count 1$/m);
  assert.match(text, /^model_perf_tasks_running 1$/m);
  assert.match(text, /^model_perf_task_progress_ratio\{task_id="live-1",model_type="flux"\} 0\.25$/m);
  assert.match(text, /^model_perf_gpu_monitoring_available\{provider="nvidia"\} 1$/m);
  assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 401);
  t.signal('SIGTERM');
  assert.equal(await done, 0, t.err.text);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
});

test('serve says so when the port is taken', async () => {
  await withServer(null, async (base) => {
    const port = new URL(base).port;
    const t = io({ MODEL_PERF_HOME: join(await work, 'taken') });
    assert.equal(await runCli(['serve', '--port', port, '--no-gpu'], t), 1);
    assert.match(t.err.text, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: port ${port} is in use \\(choose another with --port\\)`));
  });
});

test("serve beside a VS Code window: serves the window's figures and starts no nvidia-smi stream of its own", async (ctx) => {
  const home = join(await work, 'shared');
  const bin = join(ROOT, 'test/fixtures/bin');
  const path = `${bin}${delimiter}${process.env.PATH ?? ''}`;
  // The window samples 8 fake GPUs; serve, were it to sample itself, would see 2 and log its runs.
  const window = new SharedEngine({ settings: { config: { monitoringIntervalMs: 250 }, nvidiaSmiPath: null, storageDir: home }, diskPath: home, logger: { info() {}, warn() {}, error() {} }, env: { ...process.env, PATH: path, FAKE_NVIDIA_SMI_SCENARIO: '8gpu' } });
  await window.start();
  const log = join(await work, 'serve-nvidia-smi.log');
  const t = io({ MODEL_PERF_HOME: home, PATH: path, FAKE_NVIDIA_SMI_SCENARIO: '2gpu', FAKE_NVIDIA_SMI_LOG: log });
  const done = runCli(['serve', '--port', '0', '--interval', '0.25'], t);
  ctx.after(async () => {
    t.signal('SIGTERM');
    await window.dispose();
  });
  assert.equal(window.role, 'leader');
  const port = await waitUntil('serve to listen', () => /serving http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(t.out.text)?.[1]);
  await waitUntil("the window's 8 GPUs in the exposition", async () => {
    const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return (body.match(/^model_perf_gpu_utilization_ratio\{/gm)?.length ?? 0) === 8;
  });
  const runs = (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => l.includes('-lms'));
  assert.deepEqual(runs, [], 'no nvidia-smi stream started by serve');
  t.signal('SIGTERM');
  assert.equal(await done, 0, t.err.text);
});

// GET /tasks/recent: the node's last finished tasks as JSON, newest first, bounded by ?limit=
// (1..100, default 20), names cleaned, behind the same token as /metrics, and what it sends
// passes the checker the extension reads it with.
const history = Array.from({ length: 30 }, (_, i) => makeTask({ taskId: `t-${i}`, startTime: 1_000_000 + i * 1000, status: i === 3 ? 'failed' : 'succeeded', errorCategory: i === 3 ? 'out_of_memory' : null }));
const recentOfHistory = (limit: number) => recentTasks(history, limit, 'gpu-node-1', '1.2.3');

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
  }, recentOfHistory);
});

test('GET /tasks/recent follows the token rules of /metrics', async () => {
  await withServer(TOKEN, async (base) => {
    assert.equal((await fetch(`${base}/tasks/recent`)).status, 401);
    assert.equal((await fetch(`${base}/tasks/recent`, { headers: { Authorization: 'Bearer wrong' } })).status, 401);
    assert.equal((await fetch(`${base}/tasks/recent`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 200);
  }, recentOfHistory);
});
