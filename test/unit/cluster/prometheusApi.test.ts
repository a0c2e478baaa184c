// Prometheus' API answers parsed as hostile input: recorded answers of Prometheus 2.42
// (test/fixtures/prometheus), and handwritten bad ones, each refused with a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_LABELS, MAX_SERIES, parseQueryAnswer, parseSampleValue, PrometheusAnswerError } from '../../../src/core/cluster/prometheusApi';

const fixture = (name: string) => readFileSync(join(__dirname, '../../fixtures/prometheus', name), 'utf8');

test('recorded: an instant vector, a raw matrix of up, a range answer', () => {
  const vector = parseQueryAnswer(fixture('vector-gpu-util.json'));
  assert.equal(vector.resultType, 'vector');
  assert.equal(vector.result.length, 2);
  assert.equal(vector.result[0]?.labels.instance, '127.0.0.1:19101');
  assert.equal(vector.result[0]?.labels.name, 'NVIDIA RTX A6000');
  assert.equal((vector.result[0] as { value: number }).value, 0.88);
  const up = parseQueryAnswer(fixture('matrix-up.json'));
  assert.equal(up.resultType, 'matrix');
  assert.equal(up.resultType === 'matrix' && up.result[0]?.points.length, 6);
  assert.equal(up.resultType === 'matrix' && up.result[0]?.points[0]?.timestampSeconds, 1795944658.199);
  const range = parseQueryAnswer(fixture('range-cpu.json'));
  assert.equal(range.resultType === 'matrix' && range.result[0]?.points.at(-1)?.value, 1);
});

test("recorded: the API's own error keeps its type and reason", () => {
  assert.throws(
    () => parseQueryAnswer(fixture('error-bad-data.json')),
    (err: unknown) => err instanceof PrometheusAnswerError && err.errorType === 'bad_data' && /^Prometheus refused the query: invalid parameter "query": 1:4: parse error/.test(err.message),
  );
});

test('sample values: numbers as strings, NaN and infinities; anything else refused', () => {
  assert.equal(parseSampleValue('1.5'), 1.5);
  assert.equal(parseSampleValue('-2e3'), -2000);
  assert.ok(Number.isNaN(parseSampleValue('NaN')));
  assert.equal(parseSampleValue('+Inf'), Number.POSITIVE_INFINITY);
  assert.equal(parseSampleValue('-Inf'), Number.NEGATIVE_INFINITY);
  for (const bad of [1.5, '', '0x10', '1,5', ' 1', 'Infinity', null, '9'.repeat(100)]) assert.equal(parseSampleValue(bad), null, String(bad));
});

test('hostile answers: each refused with what is wrong, never a crash or a half-read view', () => {
  const cases: [string, RegExp][] = [
    ['<html>502 Bad Gateway</html>', /not JSON/],
    ['null', /not a Prometheus API answer/],
    ['[]', /not a Prometheus API answer/],
    ['{"status":"ok"}', /not a Prometheus API answer/],
    ['{"status":"success"}', /no "data"/],
    ['{"status":"success","data":{"resultType":"string","result":[1,"x"]}}', /unexpected result type "string"/],
    ['{"status":"success","data":{"resultType":"vector","result":{}}}', /"result" is not a list/],
    ['{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"1"]}]}}', /series of the answer is malformed/],
    ['{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,1]}]}}', /series of the answer is malformed/],
    ['{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":["1","1"]}]}}', /series of the answer is malformed/],
    ['{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]}]}}', /series of the answer is malformed/],
    ['{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2]]}]}}', /point of the answer is malformed/],
    ['{"status":"success","data":{"resultType":"matrix","result":[{"metric":{}}]}}', /series of the answer is malformed/],
    ['{"status":"error"}', /refused the query: no reason given/],
    [`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"${'x'.repeat(5000)}"},"value":[1,"1"]}]}}`, /malformed/],
  ];
  for (const [text, message] of cases) assert.throws(() => parseQueryAnswer(text), (err: unknown) => err instanceof PrometheusAnswerError && message.test(err.message), text.slice(0, 80));
  const manyLabels = Object.fromEntries(Array.from({ length: MAX_LABELS + 1 }, (_, i) => [`l${i}`, 'v']));
  assert.throws(() => parseQueryAnswer(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: manyLabels, value: [1, '1'] }] } })), PrometheusAnswerError);
  const many = JSON.stringify({ status: 'success', data: { resultType: 'vector', result: Array.from({ length: MAX_SERIES + 1 }, () => 0) } });
  assert.throws(() => parseQueryAnswer(many), /more than the 100000 read/);
});

test('labels named like object internals stay plain data', () => {
  const r = parseQueryAnswer('{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__proto__":"x","constructor":"y","instance":"n"},"value":[1,"2"]}]}}');
  assert.equal(r.resultType === 'vector' && r.result[0]?.labels.instance, 'n');
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

test('an error text is bounded', () => {
  assert.throws(() => parseQueryAnswer(JSON.stringify({ status: 'error', errorType: 'x'.repeat(1000), error: 'y'.repeat(100_000) })), (err: unknown) => err instanceof PrometheusAnswerError && err.message.length < 600 && (err.errorType?.length ?? 0) <= 64);
});
