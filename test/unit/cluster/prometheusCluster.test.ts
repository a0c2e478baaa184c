// The whole path with a real Prometheus (Debian's `prometheus`, 2.42, offline): it scrapes two
// `model-perf serve` nodes (the built CLI, different fake GPUs through the fake nvidia-smi) and a
// static target serving DCGM-exporter text, every second; `model-perf cluster --json` must show
// each node with the right figures, and a node whose serve stops must turn stale (up == 0).
// Everything listens on 127.0.0.1; every wait is bounded; every process is killed at the end,
// also when an assertion fails. Skipped (saying why) where prometheus is not installed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import type { ClusterView } from '../../../src/core/cluster/clusterView';
import { PrometheusClient } from '../../../src/core/cluster/prometheusClient';
import { freePort, startTestCluster, testClusterSkip as skip, type TestCluster } from '../helpers/testCluster';
import { waitUntil } from '../helpers/waitUntil';

const ROOT = join(__dirname, '../../..');
const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

let work = '';
let cli = '';

function runCluster(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'cluster', ...args], { cwd: work, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('model-perf cluster against a real Prometheus', { skip }, () => {
  let promUrl = '';
  let cluster: TestCluster;
  let nodeA: TestCluster['nodeA'];
  let nodeB: TestCluster['nodeB'];
  let dcgmPort = 0;

  before(async () => {
    cluster = await startTestCluster(async (dir) => {
      work = dir;
      cli = join(dir, 'cli.js');
      await esbuild.build({ entryPoints: [join(ROOT, 'src/cli/main.ts')], outfile: cli, bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'error', banner: { js: '#!/usr/bin/env node' } });
      return cli;
    });
    ({ promUrl, nodeA, nodeB, dcgmPort } = cluster);
  });

  after(async () => {
    await cluster?.stop();
  });

  test('every node with the right figures, then a stopped node turns stale', async () => {
    const instanceA = `127.0.0.1:${nodeA.port}`;
    const instanceB = `127.0.0.1:${nodeB.port}`;
    const instanceC = `127.0.0.1:${dcgmPort}`;
    const view = await waitUntil(
      'three nodes with their GPUs in the cluster view',
      async () => {
        const r = await runCluster(['--prometheus', promUrl, '--json']);
        if (r.code !== 0) return false;
        const v = JSON.parse(r.stdout) as ClusterView;
        const counts = new Map(v.nodes.map((n) => [n.instance, n.gpus.length]));
        return counts.get(instanceA) === 2 && counts.get(instanceB) === 8 && counts.get(instanceC) === 2 && v.nodes.every((n) => !n.stale && n.scrapeIntervalSeconds !== null) && v;
      },
      { timeoutMs: 60_000, everyMs: 500 },
    );
    assert.equal(view.summary.nodes, 3);
    assert.equal(view.summary.gpus, 12);
    // Busy (>= 10 %): A's first GPU (88 %), all of B's (90..97 %), C's first (64 %).
    assert.equal(view.summary.gpusBusy, 10);
    const byInstance = new Map(view.nodes.map((n) => [n.instance, n]));
    const a = byInstance.get(instanceA);
    const b = byInstance.get(instanceB);
    const c = byInstance.get(instanceC);
    assert.ok(a && b && c);
    // Busiest first: B (mean 93.5 %), A (44 %), C (33.5 %).
    assert.deepEqual(view.nodes.map((n) => n.instance), [instanceB, instanceA, instanceC]);

    assert.equal(a.name, instanceA);
    assert.deepEqual(a.sources, ['model-perf']);
    assert.equal(a.job, 'model-perf');
    assert.equal(a.gpus[0]?.name, 'NVIDIA RTX A6000');
    assert.equal(a.gpus[0]?.uuid, 'GPU-0a1b2c3d-1111-2222-3333-444455556666');
    assert.equal(a.gpus[0]?.utilizationRatio, 0.88);
    assert.equal(a.gpus[0]?.memoryUsedBytes, 40211 * MIB);
    assert.equal(a.gpus[0]?.memoryTotalBytes, 49140 * MIB);
    assert.equal(a.gpus[0]?.temperatureCelsius, 78);
    assert.equal(a.gpus[0]?.powerWatts, 281.22);
    assert.equal(a.gpus[1]?.utilizationRatio, 0);
    assert.equal(a.tasksRunning, 0);
    assert.ok(a.memoryTotalBytes !== null && a.memoryTotalBytes > 0.1 * GIB);
    assert.equal(a.version, JSON.parse(spawnSync('node', ['-p', 'JSON.stringify(require("./package.json").version)'], { cwd: ROOT, encoding: 'utf8' }).stdout));

    assert.equal(b.gpus.length, 8);
    assert.equal(b.gpus[7]?.name, 'NVIDIA H100 80GB HBM3');
    assert.equal(b.gpus[0]?.utilizationRatio, 0.9);
    assert.equal(b.gpus[0]?.memoryUsedBytes, 70000 * MIB);
    assert.equal(b.gpusBusy, 8);

    assert.equal(c.name, 'dcgm-node-7');
    assert.deepEqual(c.sources, ['dcgm']);
    assert.equal(c.tasksRunning, null);
    assert.equal(c.gpus[0]?.name, 'NVIDIA A100-SXM4-40GB');
    assert.equal(c.gpus[0]?.uuid, 'GPU-dcgm-0');
    assert.equal(c.gpus[0]?.utilizationRatio, 0.64);
    assert.equal(c.gpus[0]?.memoryUsedBytes, 30000 * MIB);
    assert.equal(c.gpus[0]?.memoryTotalBytes, 40960 * MIB);
    assert.equal(c.gpus[0]?.temperatureCelsius, 55);
    assert.equal(c.gpus[0]?.powerWatts, 250.5);
    for (const n of view.nodes) {
      // Every second, give or take the scrape loop's jitter.
      assert.ok(n.scrapeIntervalSeconds !== null && Math.abs(n.scrapeIntervalSeconds - 1) < 0.1, `${n.instance} is scraped every second: ${n.scrapeIntervalSeconds}`);
      assert.ok(n.lastScrapeAgeSeconds !== null && n.lastScrapeAgeSeconds < 30);
    }

    // The per-node history the dashboard will draw, from range queries over both exporters.
    const history = await new PrometheusClient({ url: promUrl }).utilizationHistory(view.evaluatedAt, 30, 1);
    const last = (instance: string) => history.get(instance)?.at(-1)?.value;
    assert.ok(Math.abs((last(instanceB) ?? 0) - 0.935) < 1e-9, `B's mean utilisation: ${last(instanceB)}`);
    assert.ok(Math.abs((last(instanceA) ?? 0) - 0.44) < 1e-9, `A's mean utilisation: ${last(instanceA)}`);
    assert.ok(Math.abs((last(instanceC) ?? 0) - 0.335) < 1e-9, `C's mean utilisation: ${last(instanceC)}`);

    // The text view says the same in words.
    const text = await runCluster(['--prometheus', promUrl]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Prometheus http:\/\/127\.0\.0\.1:\d+: 3 nodes · 10\/12 GPUs busy\n/);
    assert.match(text.stdout, /\ndcgm-node-7 {2}\(127\.0\.0\.1:\d+, dcgm\) {2}· {2}GPUs 1\/2 busy\n/);

    // Node A stops: its target goes down and the view marks it stale, its last figures kept.
    nodeA.proc.child.kill('SIGTERM');
    const after = await waitUntil(
      'node A marked stale',
      async () => {
        const r = await runCluster(['--prometheus', promUrl, '--json']);
        const v = r.code === 0 ? (JSON.parse(r.stdout) as ClusterView) : null;
        return v?.nodes.find((n) => n.instance === instanceA)?.stale && v;
      },
      { timeoutMs: 60_000, everyMs: 500 },
    );
    const staleA = after.nodes.find((n) => n.instance === instanceA);
    assert.equal(staleA?.staleReason, 'its target is down (up == 0)');
    assert.equal(staleA?.gpus.length, 2);
    assert.equal(after.nodes.at(-1)?.instance, instanceA, 'stale nodes come last');
    assert.equal(after.summary.staleNodes, 1);
    assert.equal(after.summary.gpusBusy, 9);
  });

  test('a wrong path, a closed port and a target that is not Prometheus each get one clear message', async () => {
    const wrongPath = await runCluster(['--prometheus', `${promUrl}/nothing-here`]);
    assert.equal(wrongPath.code, 1);
    assert.match(wrongPath.stderr, /^model-perf cluster: http:\/\/127\.0\.0\.1:\d+\/nothing-here answered HTTP 404 to \/api\/v1\/query: is this the Prometheus server's address/);
    const port = await freePort();
    const refused = await runCluster(['--prometheus', `http://127.0.0.1:${port}`, '--timeout', '2']);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, `model-perf cluster: Cannot reach Prometheus at http://127.0.0.1:${port}: connection refused (is it running, on that port?).\n`);
    // A serve target is not Prometheus' API.
    const notProm = await runCluster(['--prometheus', `http://127.0.0.1:${nodeB.port}`]);
    assert.equal(notProm.code, 1);
    assert.match(notProm.stderr, /answered HTTP 404 to \/api\/v1\/query/);
  });
});
