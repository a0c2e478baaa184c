// Prometheus' HTTP API answers (/api/v1/query, /api/v1/query_range), parsed as hostile input: the
// server may be anything at that URL, a proxy's error page, or a Prometheus holding series with
// labels someone else chose. Every shape is checked, sizes are bounded, and what is not an answer
// is a PrometheusAnswerError with a sentence a user can act on. Pure: no node, no I/O.

/** Series kept from one answer; a cluster has far fewer (a node has a few dozen). */
export const MAX_SERIES = 100_000;
/** Points kept per series of a matrix. */
const MAX_POINTS_PER_SERIES = 20_000;
/** Labels kept per series, and the length of a label name or value. */
export const MAX_LABELS = 64;
const MAX_LABEL_CHARS = 1024;

export type Labels = Readonly<Record<string, string>>;

/** One series' value at one time (an instant vector's element). */
export interface InstantSample {
  labels: Labels;
  /** Seconds since the epoch. */
  timestampSeconds: number;
  value: number;
}

/** One series' points over time (a matrix element), oldest first. */
export interface RangeSeries {
  labels: Labels;
  points: { timestampSeconds: number; value: number }[];
}

export type QueryData = { resultType: 'vector'; result: InstantSample[] } | { resultType: 'matrix'; result: RangeSeries[] } | { resultType: 'scalar'; result: InstantSample[] };

/** What was answered is not an answer of the API (or is its error): `message` says what. */
export class PrometheusAnswerError extends Error {
  constructor(
    message: string,
    /** The API's own errorType (`bad_data`, `timeout`, ...) when it sent one. */
    readonly errorType: string | null = null,
  ) {
    super(message);
    this.name = 'PrometheusAnswerError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A sample value: the API sends numbers as strings (`"1.5"`, `"NaN"`, `"+Inf"`). */
export function parseSampleValue(v: unknown): number | null {
  if (typeof v !== 'string' || v.length > 64) return null;
  if (v === 'NaN') return Number.NaN;
  if (v === '+Inf' || v === 'Inf') return Number.POSITIVE_INFINITY;
  if (v === '-Inf') return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)) return null;
  return Number(v);
}

function parsePoint(p: unknown): { timestampSeconds: number; value: number } | null {
  if (!Array.isArray(p) || p.length !== 2) return null;
  const [t, v] = p as [unknown, unknown];
  if (typeof t !== 'number' || !Number.isFinite(t)) return null;
  const value = parseSampleValue(v);
  return value === null ? null : { timestampSeconds: t, value };
}

function parseLabels(m: unknown): Labels | null {
  if (!isObject(m)) return null;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let n = 0;
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== 'string' || k.length > MAX_LABEL_CHARS || v.length > MAX_LABEL_CHARS) return null;
    if (++n > MAX_LABELS) return null;
    out[k] = v;
  }
  return out;
}

/**
 * The `data` of a successful answer, from the response body's text. Throws PrometheusAnswerError
 * for the API's own error answers (with its message) and for anything that is not the API's JSON.
 */
export function parseQueryAnswer(text: string): QueryData {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new PrometheusAnswerError('the answer is not JSON');
  }
  if (!isObject(body) || (body.status !== 'success' && body.status !== 'error')) throw new PrometheusAnswerError('the answer is not a Prometheus API answer (no "status")');
  if (body.status === 'error') {
    const errorType = typeof body.errorType === 'string' ? body.errorType.slice(0, 64) : null;
    const error = typeof body.error === 'string' ? body.error.slice(0, 500) : 'no reason given';
    throw new PrometheusAnswerError(`Prometheus refused the query: ${error}`, errorType);
  }
  const data = body.data;
  if (!isObject(data)) throw new PrometheusAnswerError('the answer has no "data"');
  const { resultType, result } = data;
  if (resultType === 'scalar') {
    const point = parsePoint(result);
    if (!point) throw new PrometheusAnswerError('the scalar answer is malformed');
    return { resultType: 'scalar', result: [{ labels: {}, ...point }] };
  }
  if (resultType !== 'vector' && resultType !== 'matrix') throw new PrometheusAnswerError(`the answer has an unexpected result type ${JSON.stringify(String(resultType).slice(0, 32))}`);
  if (!Array.isArray(result)) throw new PrometheusAnswerError('the answer\'s "result" is not a list');
  if (result.length > MAX_SERIES) throw new PrometheusAnswerError(`the answer holds ${result.length} series, more than the ${MAX_SERIES} read`);
  if (resultType === 'vector') {
    const samples: InstantSample[] = [];
    for (const item of result) {
      const labels = isObject(item) ? parseLabels(item.metric) : null;
      const point = isObject(item) ? parsePoint(item.value) : null;
      if (!labels || !point) throw new PrometheusAnswerError('a series of the answer is malformed');
      samples.push({ labels, ...point });
    }
    return { resultType, result: samples };
  }
  const series: RangeSeries[] = [];
  for (const item of result) {
    const labels = isObject(item) ? parseLabels(item.metric) : null;
    if (!labels || !isObject(item) || !Array.isArray(item.values)) throw new PrometheusAnswerError('a series of the answer is malformed');
    const points: { timestampSeconds: number; value: number }[] = [];
    for (const raw of (item.values as unknown[]).slice(-MAX_POINTS_PER_SERIES)) {
      const p = parsePoint(raw);
      if (!p) throw new PrometheusAnswerError('a point of the answer is malformed');
      points.push(p);
    }
    points.sort((a, b) => a.timestampSeconds - b.timestampSeconds);
    series.push({ labels, points });
  }
  return { resultType, result: series };
}
