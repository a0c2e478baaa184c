// The cluster settings: an http(s) Prometheus URL or nothing (anything else is named in one
// warning and the view stays off), and where the status bar reads from; both in package.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultHostSettings, readSettings } from '../../../src/host/settings';

function read(values: Record<string, unknown>) {
  const warnings: string[] = [];
  const s = readSettings({ get: <T>(key: string) => values[key] as T }, (m) => warnings.push(m));
  return { s, warnings };
}

test('cluster settings: off and local by default', () => {
  const { s, warnings } = read({});
  assert.equal(s.clusterPrometheusUrl, '');
  assert.equal(s.statusBarSource, 'local');
  assert.deepEqual(warnings, []);
});

test('cluster settings: an http or https URL is kept (trimmed); anything else is one clear warning and off', () => {
  assert.equal(read({ 'cluster.prometheusUrl': ' http://prometheus:9090 ' }).s.clusterPrometheusUrl, 'http://prometheus:9090');
  assert.equal(read({ 'cluster.prometheusUrl': 'https://prom.example.org/prometheus/' }).s.clusterPrometheusUrl, 'https://prom.example.org/prometheus/');
  for (const [bad, why] of [['ftp://prom:21', /ftp: is not http or https/], ['prometheus:9090', /prometheus: is not http or https/], ['not a url', /"not a url" is not a URL/], [42, /must be a text/]] as const) {
    const { s, warnings } = read({ 'cluster.prometheusUrl': bad });
    assert.equal(s.clusterPrometheusUrl, '', String(bad));
    assert.equal(warnings.length, 1, String(bad));
    assert.match(warnings[0] ?? '', why);
    if (typeof bad === 'string') assert.match(warnings[0] ?? '', /^Setting modelPerf\.cluster\.prometheusUrl must be the http or https address of a Prometheus server, e\.g\. http:\/\/prometheus:9090 .*the cluster view stays off\.$/);
  }
});

test('cluster settings: statusBar.source is local or cluster', () => {
  assert.equal(read({ 'statusBar.source': 'cluster' }).s.statusBarSource, 'cluster');
  const { s, warnings } = read({ 'statusBar.source': 'remote' });
  assert.equal(s.statusBarSource, 'local');
  assert.match(warnings[0] ?? '', /modelPerf\.statusBar\.source must be one of "local", "cluster"/);
});

test('cluster settings and the token command are contributed with the same defaults', () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, { default?: unknown; enum?: string[]; pattern?: string }> }; commands: { command: string }[] };
  };
  const props = pkg.contributes.configuration.properties;
  assert.equal(props['modelPerf.cluster.prometheusUrl']?.default, defaultHostSettings.clusterPrometheusUrl);
  assert.equal(props['modelPerf.statusBar.source']?.default, defaultHostSettings.statusBarSource);
  assert.deepEqual(props['modelPerf.statusBar.source']?.enum, ['local', 'cluster']);
  const pattern = new RegExp(props['modelPerf.cluster.prometheusUrl']?.pattern ?? '$^');
  assert.ok(pattern.test('') && pattern.test('http://p:9090') && !pattern.test('ftp://p'));
  assert.ok(pkg.contributes.commands.some((c) => c.command === 'modelPerf.setClusterToken'));
});
