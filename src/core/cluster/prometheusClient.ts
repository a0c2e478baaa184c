// Asks a Prometheus server's HTTP API for the cluster view. Each kind of failure becomes one
// ClusterError whose message a user can act on: the server cannot be reached, it does not answer
// in time, it wants (another) token, the URL is not Prometheus' API, or it holds none of our or
// DCGM's metrics. No retry storm: only the first query is retried, twice, after growing pauses,
// and only for failures a retry can cure (network, timeout, 5xx); the rest run once, a few at a
// time, and the first failure stops them all.
import { buildClusterView, CLUSTER_QUERIES, UP_QUERY, type ClusterAnswers, type ClusterQueryName, type ClusterView } from './clusterView';
import { parseQueryAnswer, PrometheusAnswerError, type QueryData, type RangeSeries } from './prometheusApi';

/** An answer larger than this is not read (a cluster view is a few MB at most). */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;
/** Pauses before the retries of the first query. */
export const RETRY_DELAYS_MS: readonly number[] = [500, 2000];
/** Queries in flight at once. */
const CONCURRENCY = 4;

export type ClusterErrorKind = 'url' | 'network' | 'timeout' | 'auth' | 'notPrometheus' | 'query' | 'noMetrics';

export class ClusterError extends Error {
  constructor(
    readonly kind: ClusterErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ClusterError';
  }
}

export interface PrometheusClientOptions {
  /** The server's base URL (`http://host:9090`, or with a path prefix behind a proxy). */
  url: string;
  token?: string | null;
  timeoutMs?: number;
  /** Tests: a fake fetch and instant pauses. */
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Where the token comes from, for the 401 message. */
  tokenHint?: string;
}

/** The base URL checked and without a trailing slash; throws ClusterError('url'). */
export function checkPrometheusUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ClusterError('url', `${JSON.stringify(raw.slice(0, 200))} is not a URL (e.g. http://prometheus:9090)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ClusterError('url', `${url.protocol} is not http or https (e.g. http://prometheus:9090)`);
  url.pathname = url.pathname.replace(/\/+$/, '');
  url.search = '';
  url.hash = '';
  return url;
}

const retryable = (err: unknown) => err instanceof ClusterError && (err.kind === 'network' || err.kind === 'timeout' || (err.kind === 'notPrometheus' && /HTTP 5\d\d/.test(err.message)));

export class PrometheusClient {
  private readonly base: URL;
  private readonly timeoutMs: number;
  private readonly doFetch: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly where: string;

  constructor(private readonly options: PrometheusClientOptions) {
    this.base = checkPrometheusUrl(options.url);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.doFetch = options.fetch ?? fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    // Never show credentials a user put in the URL.
    const shown = new URL(this.base.href);
    shown.username = '';
    shown.password = '';
    this.where = shown.href.replace(/\/$/, '');
  }

  /** An instant query at `timeSeconds`. */
  async query(promql: string, timeSeconds: number, signal?: AbortSignal): Promise<QueryData> {
    return this.get('/api/v1/query', { query: promql, time: String(timeSeconds) }, signal);
  }

  /** A range query (`step` in seconds), for a node's recent history. */
  async queryRange(promql: string, startSeconds: number, endSeconds: number, stepSeconds: number, signal?: AbortSignal): Promise<RangeSeries[]> {
    const data = await this.get('/api/v1/query_range', { query: promql, start: String(startSeconds), end: String(endSeconds), step: String(stepSeconds) }, signal);
    if (data.resultType !== 'matrix') throw new ClusterError('notPrometheus', `${this.where} answered a range query with a ${data.resultType}, not a matrix`);
    return data.result;
  }

  /**
   * Every node with our or DCGM's metrics, as of Prometheus' own clock (asked first, with
   * `time()`), so a client whose clock is off does not make fresh nodes look stale.
   */
  async clusterView(): Promise<ClusterView> {
    // The first query says whether the server is there at all; only it is retried.
    const clock = await this.withRetries(() => this.query('time()', Date.now() / 1000));
    const nowSeconds = clock.resultType === 'scalar' ? (clock.result[0]?.value ?? Number.NaN) : Number.NaN;
    if (!Number.isFinite(nowSeconds)) throw new ClusterError('notPrometheus', `${this.where} answered time() with no time: is it Prometheus?`);
    const names = Object.keys(CLUSTER_QUERIES) as ClusterQueryName[];
    const answers = {} as ClusterAnswers;
    let up: RangeSeries[] = [];
    const jobs: (() => Promise<void>)[] = [
      async () => {
        const data = await this.query(UP_QUERY, nowSeconds, abort.signal);
        if (data.resultType !== 'matrix') throw new ClusterError('notPrometheus', `${this.where} answered ${UP_QUERY} with a ${data.resultType}, not a matrix: is it Prometheus?`);
        up = data.result;
      },
      ...names.map((name) => async () => {
        const data = await this.query(CLUSTER_QUERIES[name], nowSeconds, abort.signal);
        answers[name] = data.resultType === 'vector' ? data.result : [];
      }),
    ];
    const abort = new AbortController();
    let next = 0;
    const worker = async () => {
      while (next < jobs.length && !abort.signal.aborted) await (jobs[next++] as () => Promise<void>)();
    };
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    } catch (err) {
      abort.abort();
      throw err;
    }
    if (names.every((n) => answers[n].length === 0)) {
      throw new ClusterError(
        'noMetrics',
        `Prometheus at ${this.where} has none of model-perf's metrics (model_perf_*) nor NVIDIA DCGM exporter's (DCGM_FI_DEV_*) from the last hour: add \`model-perf serve\` or dcgm-exporter targets to its scrape configuration (README, "More than one machine").`,
      );
    }
    return buildClusterView(answers, up, nowSeconds);
  }

  /**
   * Each node's mean GPU utilisation (0..1) over the last `rangeSeconds` before `endSeconds`, one
   * point per `stepSeconds`, from range queries over both exporters: a small history per node.
   */
  async utilizationHistory(endSeconds: number, rangeSeconds = 3600, stepSeconds = 60): Promise<Map<string, { timestampSeconds: number; value: number }[]>> {
    const start = endSeconds - rangeSeconds;
    const [ours, dcgm] = await Promise.all([
      this.queryRange('avg by (instance) (model_perf_gpu_utilization_ratio)', start, endSeconds, stepSeconds),
      this.queryRange('avg by (instance) (DCGM_FI_DEV_GPU_UTIL) / 100', start, endSeconds, stepSeconds),
    ]);
    const out = new Map<string, { timestampSeconds: number; value: number }[]>();
    for (const series of [...ours, ...dcgm]) {
      const instance = series.labels.instance;
      if (instance && !out.has(instance)) out.set(instance, series.points.filter((p) => Number.isFinite(p.value)));
    }
    return out;
  }

  private async withRetries<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined || !retryable(err)) throw err;
        await this.sleep(delay);
      }
    }
  }

  private async get(path: string, params: Record<string, string>, signal?: AbortSignal): Promise<QueryData> {
    const url = new URL(this.base.href);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let response: Response;
    let text: string;
    try {
      response = await this.doFetch(url, { headers, signal: combined, redirect: 'error' });
      text = await readBounded(response, MAX_ANSWER_BYTES);
    } catch (err) {
      throw this.transportError(err, timeout);
    }
    if (response.status === 401) throw new ClusterError('auth', `Prometheus at ${this.where} wants a token (HTTP 401): give one with ${this.options.tokenHint ?? 'a bearer token'}.`);
    if (response.status === 403) throw new ClusterError('auth', `Prometheus at ${this.where} refused the token (HTTP 403): check it, and that it may read the query API.`);
    // 400 and 422 carry the API's own error in JSON; other statuses are not the API talking.
    if (response.status !== 200 && response.status !== 400 && response.status !== 422) {
      throw new ClusterError('notPrometheus', `${this.where} answered HTTP ${response.status} to ${path}: is this the Prometheus server's address (e.g. http://prometheus:9090)?`);
    }
    try {
      return parseQueryAnswer(text);
    } catch (err) {
      if (err instanceof PrometheusAnswerError && err.errorType !== null) throw new ClusterError('query', `${err.message} (${err.errorType})`);
      throw new ClusterError('notPrometheus', `${this.where} did not answer as Prometheus' API does (${err instanceof Error ? err.message : String(err)}): is this the Prometheus server's address?`);
    }
  }

  private transportError(err: unknown, timeout: AbortSignal): ClusterError {
    if (err instanceof ClusterError) return new ClusterError(err.kind, `${this.where} ${err.message}`);
    if (timeout.aborted) return new ClusterError('timeout', `Prometheus at ${this.where} did not answer within ${this.timeoutMs / 1000} s (--timeout waits longer).`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ECONNREFUSED' ? 'connection refused (is it running, on that port?)'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'no such host'
      : code === 'ECONNRESET' ? 'the connection was reset'
      : code === 'EHOSTUNREACH' || code === 'ENETUNREACH' ? 'the host is unreachable'
      : (cause?.message ?? (err instanceof Error ? err.message : String(err)));
    return new ClusterError('network', `Cannot reach Prometheus at ${this.where}: ${why}.`);
  }
}

/** The body as text, refusing more than `maxBytes` (read in chunks, never whole). Throws ClusterError('notPrometheus'). */
export async function readBounded(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) throw new ClusterError('notPrometheus', `sent an answer of ${declared} bytes, more than the ${maxBytes} bytes read: is this the Prometheus server's address?`);
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new ClusterError('notPrometheus', `sent an answer larger than the ${maxBytes} bytes read: is this the Prometheus server's address?`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
