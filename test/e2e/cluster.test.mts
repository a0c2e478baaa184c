// A person whose jobs run on GPU nodes sets `modelPerf.cluster.prometheusUrl` to their Prometheus
// and `modelPerf.statusBar.source` to cluster. One real test cluster for the suite (Debian's
// prometheus at 1 s scrapes, two `model-perf serve` with 2 RTX A6000 and 8 H100 fake GPUs, a
// static DCGM-exporter target): the status bar shows its summary and busiest nodes; the
// dashboard's Cluster section shows every node with the figures Prometheus holds, busiest first,
// with a history line each, sortable, a node's GPUs and recent tasks on a click; Set Cluster
// Token… takes a token in a hidden input and never logs it; when the URL points at nothing,
// the section says so in one message and the status bar falls back to this machine with a note.
// Screenshot: test-output/cluster-dashboard.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Frame, Page } from 'playwright-core';
import type { ClusterView } from '../../src/core/cluster/clusterView.js';
import { PrometheusClient } from '../../src/core/cluster/prometheusClient.js';
import { freePort, startTestCluster, testClusterSkip, type TestCluster } from '../unit/helpers/testCluster.js';
import { waitUntil } from '../unit/helpers/waitUntil.js';
import { formatGibOf, formatRatioPercent, nodeGpuMemory } from '../../webview/clusterModel.js';
import { panelNodes } from '../../src/host/clusterPanelState.js';
import { repoRoot } from '../harness/codeServer.mjs';
import { extensionLog, openWorkbench, runCommand, screenshot, statusItemSelector, waitForStatusText } from '../harness/workbench.mjs';

// The callbacks given to evaluate() run in the browser; this file compiles without the DOM library.
interface BrowserElement {
  textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): BrowserElement | null;
  querySelectorAll(selector: string): BrowserElement[];
  classList: { contains(name: string): boolean };
}
declare const document: {
  querySelector(selector: string): BrowserElement | null;
  querySelectorAll(selector: string): ArrayLike<BrowserElement>;
};

type Workbench = Awaited<ReturnType<typeof openWorkbench>>;
const RUN_ID = 'e2e-cluster-run-<b>1</b>';

interface ShownRow {
  instance: string;
  name: string;
  gpus: string;
  util: string;
  mem: string;
  tasks: string;
  spark: boolean;
  stale: boolean;
}

async function clusterFrame(page: Page, timeout = 30_000): Promise<Frame> {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    for (const f of page.frames()) {
      if (await f.evaluate(() => document.querySelector('#cluster') !== null).catch(() => false)) return f;
    }
    await page.waitForTimeout(250);
  }
  throw new Error('the dashboard webview never appeared');
}

async function shownRows(frame: Frame): Promise<ShownRow[]> {
  return frame.evaluate(() => Array.from(document.querySelectorAll('#cluster tr.node')).map((tr) => ({
    instance: tr.getAttribute('data-instance') ?? '',
    name: tr.querySelector('.node-name strong')?.textContent ?? '',
    gpus: tr.querySelector('.gpu-count')?.textContent ?? '',
    util: tr.querySelector('.util')?.textContent ?? '',
    mem: tr.querySelector('.mem')?.textContent ?? '',
    tasks: tr.querySelector('.tasks')?.textContent ?? '',
    spark: tr.querySelector('svg.spark polyline') !== null,
    stale: tr.classList.contains('stale'),
  })));
}

describe('the cluster view in the workbench', { skip: testClusterSkip }, () => {
  let cluster: TestCluster;
  let wb: Workbench;
  let view: ClusterView;

  before(async () => {
    cluster = await startTestCluster(join(repoRoot, 'dist/cli.js'));
    // Prometheus holds every node's GPUs before the workbench opens.
    const client = new PrometheusClient({ url: cluster.promUrl });
    view = await waitUntil('three fresh nodes in Prometheus', async () => {
      const v = await client.clusterView().catch(() => null);
      const gpus = new Map(v?.nodes.map((n) => [n.instance, n.gpus.length]));
      return v && gpus.get(cluster.nodeA.instance) === 2 && gpus.get(cluster.nodeB.instance) === 8 && gpus.get(cluster.dcgmInstance) === 2 && v.nodes.every((n) => !n.stale) && v;
    }, { timeoutMs: 60_000, everyMs: 500 });
    // A task recorded on node A by the CLI, for the node's recent tasks (its serve reads its history).
    const run = spawnSync(process.execPath, [join(repoRoot, 'dist/cli.js'), 'run', '--no-gpu', '--task-id', RUN_ID, '--model-type', 'sdxl', '--resolution', '1024x1024', '--', process.execPath, '-e', '0'], {
      env: { ...process.env, MODEL_PERF_HOME: join(cluster.work, 'node-a') }, encoding: 'utf8', timeout: 60_000,
    });
    assert.equal(run.status, 0, run.stderr);
    wb = await openWorkbench({ settings: { 'modelPerf.cluster.prometheusUrl': cluster.promUrl, 'modelPerf.statusBar.source': 'cluster' } });
  });

  after(async () => {
    await wb?.close().catch(() => undefined);
    await cluster?.stop();
  });

  test('the status bar shows the cluster summary, its tooltip the busiest nodes', async () => {
    const text = await waitForStatusText(wb.page, /nodes · /, { timeout: 60_000 });
    assert.equal(text, '3 nodes · 10/12 GPUs busy');
    await wb.page.locator(statusItemSelector()).first().hover();
    const hover = wb.page.locator('.monaco-hover, .workbench-hover', { hasText: 'Cluster' }).first();
    await hover.waitFor({ state: 'visible', timeout: 10_000 });
    const lines: string[] = (await hover.innerText() as string).split('\n').map((l: string) => l.trim()).filter(Boolean);
    const at = (s: string) => lines.findIndex((l) => l.includes(s));
    assert.ok(at(`${cluster.nodeB.instance}: 8/8 GPUs busy, mean 94%`) >= 0, lines.join('\n'));
    assert.ok(at(`${cluster.nodeA.instance}: 1/2 GPUs busy, mean 44%`) > at(cluster.nodeB.instance), 'busiest first');
    assert.ok(at('dcgm-node-7: 1/2 GPUs busy, mean 34%') > at(cluster.nodeA.instance), lines.join('\n'));
    await wb.page.mouse.move(700, 400);
  });

  test('the Cluster section shows every node with Prometheus\' figures, busiest first, a history line each; a click shows its GPUs', async () => {
    await runCommand(wb.page, 'Model Perf: Open Dashboard');
    await wb.page.waitForSelector('.tab[aria-label*="Model Performance"]', { timeout: 20_000 });
    const frame = await clusterFrame(wb.page);
    await frame.waitForSelector('#cluster:not(.hidden)', { timeout: 20_000 });
    // Every node with its history line (a poll every 15 s: two points of history take a poll or two).
    const rows = await waitUntil('three nodes with history lines', async () => {
      const r = await shownRows(frame);
      return r.length === 3 && r.every((x) => x.spark) && r;
    }, { timeoutMs: 90_000, everyMs: 500 });
    assert.deepEqual(rows.map((r) => r.instance), [cluster.nodeB.instance, cluster.nodeA.instance, cluster.dcgmInstance], 'busiest first');
    const [b, a, c] = rows as [ShownRow, ShownRow, ShownRow];
    assert.deepEqual([b.name, b.gpus, b.util, b.mem, b.tasks], [cluster.nodeB.instance, '8/8', '94%', '549.6/637.2 GiB', '0']);
    assert.deepEqual([a.name, a.gpus, a.util, a.mem, a.tasks], [cluster.nodeA.instance, '1/2', '44%', '39.3/96.0 GiB', '0']);
    assert.deepEqual([c.name, c.gpus, c.util, c.mem, c.tasks], ['dcgm-node-7', '1/2', '34%', '29.4/80.0 GiB', '–']);
    // The same figures as Prometheus' own answers, formatted as the section formats them.
    for (const node of panelNodes(view, new Map())) {
      const shown = rows.find((r) => r.instance === node.instance);
      assert.equal(shown?.util, formatRatioPercent(node.meanGpuUtilizationRatio), node.instance);
      const mem = nodeGpuMemory(node);
      assert.equal(shown?.mem, formatGibOf(mem.used, mem.total), node.instance);
    }
    assert.match(await frame.locator('#cluster-status').innerText(), /^3 nodes · 10\/12 GPUs busy · Prometheus http:\/\/127\.0\.0\.1:\d+ · updated \d+ s ago$/);
    assert.ok(await frame.locator('#cluster-error.hidden').count() === 1, 'no error shown');

    // Sorted by name instead; a click on GPU util sorts busiest first again, a second click least busy first.
    const byUtil = [cluster.nodeB.instance, cluster.nodeA.instance, cluster.dcgmInstance];
    await frame.locator('#cluster th button', { hasText: 'Node' }).click();
    assert.deepEqual((await shownRows(frame)).map((r) => r.name), [cluster.nodeA.instance, cluster.nodeB.instance, 'dcgm-node-7'].sort((x, y) => x.localeCompare(y, 'en', { numeric: true })));
    await frame.locator('#cluster th button', { hasText: 'GPU util' }).click();
    assert.deepEqual((await shownRows(frame)).map((r) => r.instance), byUtil);
    await frame.locator('#cluster th button', { hasText: 'GPU util' }).click();
    assert.deepEqual((await shownRows(frame)).map((r) => r.instance), [...byUtil].reverse());
    await frame.locator('#cluster th button', { hasText: 'GPU util' }).click();

    // A click on the DCGM node shows its GPUs, named as DCGM names them.
    await frame.locator(`#cluster tr.node[data-instance="${cluster.dcgmInstance}"]`).click();
    const detail = frame.locator('#cluster tr.cluster-detail');
    await detail.waitFor({ timeout: 10_000 });
    const detailText = await detail.innerText();
    assert.match(detailText, /NVIDIA A100-SXM4-40GB\s+64%\s+29\.3\/40\.0 GiB\s+55 °C\s+251 W/);
    assert.match(detailText, /runs no model-perf serve/);
    // Node A's recent tasks, asked of its serve: the task the CLI recorded there (its id, markup-like, stays text).
    await frame.locator(`#cluster tr.node[data-instance="${cluster.nodeA.instance}"]`).click();
    const recentButton = frame.locator('#cluster .cluster-recent-button');
    await recentButton.click();
    const recentTable = frame.locator('#cluster table.cluster-recent');
    await waitUntil('node A\'s recent tasks', async () => {
      if ((await recentTable.count()) > 0) return true;
      if (await frame.locator('#cluster .cluster-recent-error').count()) await recentButton.click();
      return false;
    }, { timeoutMs: 30_000, everyMs: 500 });
    const recentText = await recentTable.innerText();
    assert.match(recentText, new RegExp(`${RUN_ID.replace(/[<>/]/g, (c) => `\\${c}`)}\\s+sdxl\\s+1024x1024\\s+Succeeded`));
    assert.equal(await frame.locator('#cluster table.cluster-recent b').count(), 0, 'a task id is text, not markup');
    await frame.locator('#cluster').scrollIntoViewIfNeeded();
    await wb.page.waitForTimeout(300);
    mkdirSync(join(repoRoot, 'test-output'), { recursive: true });
    await frame.locator('#cluster').screenshot({ path: join(repoRoot, 'test-output', 'cluster-dashboard.png') });
    await screenshot(wb.page, 'cluster-dashboard-full');
    assert.deepEqual(wb.consoleErrors(), []);
  });

  test('Set Cluster Token… asks in a hidden input, keeps the token out of the log, and the view goes on', async () => {
    const secret = 'e2e-secret-token-0123456789abcdef';
    await runCommand(wb.page, 'Model Perf: Set Cluster Token…');
    const input = wb.page.locator('.quick-input-widget input[type="password"]');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill('has a space');
    await wb.page.locator('.quick-input-widget', { hasText: 'no spaces' }).first().waitFor({ timeout: 10_000 });
    await input.fill(secret);
    await wb.page.keyboard.press('Enter');
    await wb.page.locator('.notifications-toasts', { hasText: 'token was saved in the secret storage' }).first().waitFor({ timeout: 15_000 });
    // A new token starts over: Prometheus (which ignores it) is asked again, and answers.
    await waitForStatusText(wb.page, /^3 nodes · 10\/12 GPUs busy$/, { timeout: 60_000 });
    await runCommand(wb.page, 'Model Perf: Set Cluster Token…');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await wb.page.keyboard.press('Enter');
    await wb.page.locator('.notifications-toasts', { hasText: 'token was removed' }).first().waitFor({ timeout: 15_000 });
    const log = extensionLog(wb.scratch);
    assert.match(log, /Cluster: a Prometheus token was set/);
    assert.ok(!log.includes(secret), 'the token is never logged');
  });

  test('a Prometheus that cannot be reached: one message in the section; the status bar shows this machine with a note', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    // The user changes the setting in the Settings editor.
    await runCommand(wb.page, 'Preferences: Open User Settings');
    await wb.page.waitForSelector('.settings-editor', { timeout: 20_000 });
    await wb.page.locator('.settings-editor .settings-header .suggest-input-container').first().click();
    await wb.page.keyboard.type('modelPerf.cluster.prometheusUrl');
    const input = wb.page.locator('.settings-editor input[aria-label="modelPerf.cluster.prometheusUrl"]').first();
    await input.waitFor({ state: 'visible', timeout: 20_000 });
    await input.fill(closed);
    await input.press('Tab');
    await runCommand(wb.page, 'Model Perf: Open Dashboard');
    const frame = await clusterFrame(wb.page);
    await frame.waitForSelector('#cluster-error:not(.hidden)', { timeout: 60_000 });
    assert.match(await frame.locator('#cluster-error').innerText(), new RegExp(`^Cannot reach Prometheus at ${closed.replace(/\./g, '\\.')}: connection refused \\(is it running, on that port\\?\\)\\. Next try in \\d+ s\\.$`));
    assert.equal(await frame.locator('#cluster tr.node').count(), 0, 'the old server\'s nodes are not shown as this one\'s');
    const text = await waitForStatusText(wb.page, /CPU \d+%/, { timeout: 30_000 });
    assert.doesNotMatch(text, /nodes/);
    await wb.page.locator(statusItemSelector()).first().hover();
    const hover = wb.page.locator('.monaco-hover, .workbench-hover', { hasText: 'Cluster unreachable' }).first();
    await hover.waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await hover.innerText(), /Cluster unreachable: Cannot reach Prometheus at http:\/\/127\.0\.0\.1:\d+: connection refused/);
    await screenshot(wb.page, 'cluster-unreachable');
    await wb.page.mouse.move(700, 400);
  });
});
