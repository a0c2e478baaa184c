// The Prometheus client against a fake fetch: one clear message per failure (network, timeout,
// 401/403, not Prometheus, the API's own error, no metrics), retries only of the first query and
// only for what a retry can cure, with growing pauses (no retry storm), and the token sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_QUERIES, UP_QUERY } from '../../../src/core/cluster/clusterView';
import { checkPrometheusUrl, ClusterError, MAX_ANSWER_BYTES, PrometheusClient, RETRY_DELAYS_MS } from '../../../src/core/cluster/prometheusClient';

type Handler = (query: string, url: URL, init: RequestInit | undefined) => Response | Promise<Response>;

function fakeFetch(handler: Handler): { fetch: typeof fetch; calls: { query: string; url: URL; headers: Record<string, string> }[] } {
  const calls: { query: string; url: URL; headers: Record<string, string> }[] = [];
  const f = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const query = url.searchParams.get('query') ?? '';
    calls.push({ query, url, headers: (init?.headers ?? {}) as Record<string, string> });
    return handler(query, url, init);
  }) as typeof fetch;
  return { fetch: f, calls };
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const vector = (result: unknown[]) => json({ status: 'success', data: { resultType: 'vector', result } });
const UP = json({ status: 'success', data: { resultType: 'matrix', result: [{ metric: { instance: 'n:1', job: 'j' }, values: [[99, '1'], [100, '1']] }] } });
/** Prometheus' clock, answered to time(): the evaluation time of every other query. */
const TIME = () => json({ status: 'success', data: { resultType: 'scalar', result: [100, '100'] } });
const refused = () => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9090'), { code: 'ECONNREFUSED' }) });

function client(handler: Handler, extra: { timeoutMs?: number; token?: string } = {}) {
  const fake = fakeFetch(handler);
  const sleeps: number[] = [];
  const c = new PrometheusClient({ url: 'http://prom.example:9090/', fetch: fake.fetch, sleep: async (ms) => void sleeps.push(ms), tokenHint: '--token-file F', ...extra });
  return { c, calls: fake.calls, sleeps };
}

async function failure(p: Promise<unknown>): Promise<ClusterError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ClusterError, String(err));
    return err;
  }
  throw new Error('expected a ClusterError');
}

test("a working Prometheus: its clock first, then every query at that time, the token sent, nodes built", async () => {
  const { c, calls } = client((q) => (q === 'time()' ? TIME() : q === UP_QUERY ? UP.clone() : q === CLUSTER_QUERIES.gpuUtil ? vector([{ metric: { instance: 'n:1', gpu: '0' }, value: [100, '0.5'] }]) : vector([])), { token: 'secret-token' });
  const view = await c.clusterView();
  assert.equal(view.nodes.length, 1);
  assert.equal(view.nodes[0]?.gpus[0]?.utilizationRatio, 0.5);
  assert.equal(calls[0]?.query, 'time()');
  assert.equal(calls.length, 2 + Object.keys(CLUSTER_QUERIES).length);
  for (const call of calls.slice(1)) {
    assert.equal(call.url.pathname, '/api/v1/query');
    assert.equal(call.url.searchParams.get('time'), '100');
    assert.equal(call.headers.Authorization, 'Bearer secret-token');
  }
});

test('connection refused: retried twice after growing pauses, then one message', async () => {
  const { c, calls, sleeps } = client(() => {
    throw refused();
  });
  const err = await failure(c.clusterView());
  assert.equal(err.kind, 'network');
  assert.equal(err.message, 'Cannot reach Prometheus at http://prom.example:9090: connection refused (is it running, on that port?).');
  assert.equal(calls.length, 1 + RETRY_DELAYS_MS.length);
  assert.deepEqual(sleeps, [...RETRY_DELAYS_MS]);
});

test('a 503 once, then up: the retry cures it', async () => {
  let n = 0;
  const { c, sleeps } = client((q) => (q === 'time()' ? (n++ === 0 ? new Response('busy', { status: 503 }) : TIME()) : q === UP_QUERY ? UP.clone() : vector([{ metric: { instance: 'n:1' }, value: [100, '1'] }])));
  assert.equal((await c.clusterView()).nodes.length, 1);
  assert.deepEqual(sleeps, [RETRY_DELAYS_MS[0]]);
});

test('401 and 403: one message each, never retried', async () => {
  const a = client(() => new Response('no', { status: 401 }));
  const e401 = await failure(a.c.clusterView());
  assert.equal(e401.kind, 'auth');
  assert.equal(e401.message, 'Prometheus at http://prom.example:9090 wants a token (HTTP 401): give one with --token-file F.');
  assert.equal(a.calls.length, 1);
  const b = client(() => new Response('no', { status: 403 }));
  assert.match((await failure(b.c.clusterView())).message, /refused the token \(HTTP 403\)/);
  assert.equal(b.calls.length, 1);
});

test('a timeout: says how long it waited and how to wait longer', async () => {
  const { c, calls } = client((_q, _u, init) => new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))), { timeoutMs: 20 });
  // A real fetch's socket keeps the process alive while it waits; the fake has none, and the
  // timeout's own timer does not (it is unref'd).
  const keepAlive = setInterval(() => undefined, 1000);
  const err = await failure(c.clusterView()).finally(() => clearInterval(keepAlive));
  assert.equal(err.kind, 'timeout');
  assert.equal(err.message, 'Prometheus at http://prom.example:9090 did not answer within 0.02 s (--timeout waits longer).');
  assert.equal(calls.length, 3);
});

test('not Prometheus: an HTML page, a 404, JSON of another shape, an answer too large', async () => {
  for (const response of [() => new Response('<html>login</html>'), () => new Response('nope', { status: 404 }), () => json({ hello: 'world' }), () => new Response('x', { headers: { 'Content-Length': String(MAX_ANSWER_BYTES + 1) } })]) {
    const { c, calls } = client(response);
    const err = await failure(c.clusterView());
    assert.equal(err.kind, 'notPrometheus', err.message);
    assert.match(err.message, /is this the Prometheus server's address|more than the \d+ bytes read/);
    assert.equal(calls.length, 1, 'not retried');
  }
  // A body larger than the limit without a Content-Length is cut off while read.
  const big = new ReadableStream({
    pull(controller) {
      controller.enqueue(new Uint8Array(1024 * 1024));
    },
  });
  const { c } = client(() => new Response(big));
  assert.match((await failure(c.clusterView())).message, /larger than the \d+ bytes read/);
});

test("the API's own error (bad_data) is shown with its reason, not retried", async () => {
  const { c, calls } = client(() => json({ status: 'error', errorType: 'bad_data', error: 'parse error' }, 400));
  const err = await failure(c.clusterView());
  assert.equal(err.kind, 'query');
  assert.equal(err.message, 'Prometheus refused the query: parse error (bad_data)');
  assert.equal(calls.length, 1);
});

test('none of our or DCGM metrics: one message that says what to add', async () => {
  const { c } = client((q) => (q === 'time()' ? TIME() : q === UP_QUERY ? UP.clone() : vector([])));
  const err = await failure(c.clusterView());
  assert.equal(err.kind, 'noMetrics');
  assert.match(err.message, /^Prometheus at http:\/\/prom\.example:9090 has none of model-perf's metrics \(model_perf_\*\) nor NVIDIA DCGM exporter's \(DCGM_FI_DEV_\*\)/);
});

test('a later query failing stops the rest: no storm of doomed queries', async () => {
  const { c, calls, sleeps } = client((q) => {
    if (q === 'time()') return TIME();
    throw refused();
  });
  assert.equal((await failure(c.clusterView())).kind, 'network');
  assert.ok(calls.length <= 1 + 4, `${calls.length} calls`);
  assert.deepEqual(sleeps, []);
});

test('range queries: the matrix, on query_range with start, end and step', async () => {
  const { c, calls } = client(() => json({ status: 'success', data: { resultType: 'matrix', result: [{ metric: { instance: 'n:1' }, values: [[1, '0.5'], [2, '0.75']] }] } }));
  const series = await c.queryRange('model_perf_gpu_utilization_ratio', 1, 2, 1);
  assert.deepEqual(series[0]?.points.map((p) => p.value), [0.5, 0.75]);
  assert.equal(calls[0]?.url.pathname, '/api/v1/query_range');
  assert.equal(calls[0]?.url.searchParams.get('step'), '1');
});

test('utilisation history per node: range queries over both exporters, by instance', async () => {
  const { c, calls } = client((q) =>
    json({ status: 'success', data: { resultType: 'matrix', result: q.includes('DCGM') ? [{ metric: { instance: 'd:9400' }, values: [[60, '0.64'], [120, 'NaN']] }] : [{ metric: { instance: 'n:9478' }, values: [[60, '0.5'], [120, '0.75']] }, { metric: {}, values: [[60, '1']] }] } }),
  );
  const history = await c.utilizationHistory(120, 60, 60);
  assert.deepEqual([...history.keys()].sort(), ['d:9400', 'n:9478']);
  assert.deepEqual(history.get('n:9478')?.map((p) => p.value), [0.5, 0.75]);
  assert.deepEqual(history.get('d:9400')?.map((p) => p.value), [0.64]);
  assert.deepEqual(calls.map((x) => [x.url.pathname, x.url.searchParams.get('start'), x.url.searchParams.get('end'), x.url.searchParams.get('step')]), [
    ['/api/v1/query_range', '60', '120', '60'],
    ['/api/v1/query_range', '60', '120', '60'],
  ]);
});

test('a server whose time() is no time is not Prometheus', async () => {
  const { c } = client(() => json({ status: 'success', data: { resultType: 'vector', result: [] } }));
  assert.match((await failure(c.clusterView())).message, /answered time\(\) with no time/);
});

test('URLs: http(s) only; a path prefix kept; credentials never shown in messages', async () => {
  assert.throws(() => checkPrometheusUrl('prometheus:9090x'), /is not http or https|is not a URL/);
  assert.throws(() => checkPrometheusUrl('not a url'), /is not a URL/);
  assert.throws(() => checkPrometheusUrl('file:///etc/passwd'), /file: is not http or https/);
  const fake = fakeFetch(() => UP.clone());
  await new PrometheusClient({ url: 'https://proxy.example/prom/', fetch: fake.fetch }).query('up', 1);
  assert.equal(fake.calls[0]?.url.href.split('?')[0], 'https://proxy.example/prom/api/v1/query');
  const leaky = new PrometheusClient({ url: 'http://user:pw@prom.example:9090', fetch: fakeFetch(() => new Response('', { status: 401 })).fetch });
  assert.doesNotMatch((await failure(leaky.clusterView())).message, /pw/);
});
