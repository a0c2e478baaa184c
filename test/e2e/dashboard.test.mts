// A person opens "Model Perf: Open Dashboard" from the palette. With a history of tasks recorded
// through the engine's own store, the figures shown equal the engine's analysis; a hostile model
// type stays text; a malformed message from the webview is rejected, logged, and the panel keeps
// working; no Content-Security-Policy error reaches the console; a task's phases show on its
// timeline and in a Phases table; dark, light, high contrast and narrow-column screenshots are
// saved. A new user (empty history) sees how to record a first task.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { analyzePerformance } from '../../src/core/engine/analysis.js';
import { validateConfig } from '../../src/core/engine/config.js';
import { JsonlHistoryStore } from '../../src/core/history/historyStore.js';
import { defaultHostSettings, toMonitorConfig } from '../../src/host/settings.js';
import type { PerformanceMetrics } from '../../src/shared/metrics.js';
import { formatRatio, formatSeconds } from '../../webview/viewModel.js';
import { makeTask } from '../unit/engine/fakes.js';
import { extensionLog, openWorkbench, runCommand, screenshot, waitForStatusText } from '../harness/workbench.mjs';

// The callbacks given to evaluate() run in the browser; this file compiles without the DOM library,
// so the little of the DOM they touch is declared here.
interface BrowserElement {
  textContent: string | null;
  scrollWidth: number;
  clientWidth: number;
  value: string;
  classList: { contains(name: string): boolean };
  dispatchEvent(event: unknown): boolean;
}
declare const document: {
  querySelector(selector: string): BrowserElement | null;
  querySelectorAll(selector: string): { length: number; [i: number]: BrowserElement };
  documentElement: BrowserElement;
  getElementById(id: string): BrowserElement | null;
  body: BrowserElement;
};
declare const window: unknown;
declare const Event: new (type: string) => unknown;

type Workbench = Awaited<ReturnType<typeof openWorkbench>>;
const open: Workbench[] = [];

after(async () => {
  for (const wb of open) await wb.close().catch(() => undefined);
});

const HOSTILE = '<img src=x onerror=alert(1)>';
/** The seeded task that reported phases, one of them with a name that looks like markup. */
const PHASED = 'seed-12';
const HOSTILE_PHASE = '<b>x</b>';
/** [name, start, end] in seconds from the task start (a 396 s video run). */
const PHASES: [string, number, number][] = [['model_load', 0, 14.6], ['denoise', 14.6, 371.2], ['decode', 371.2, 389], [HOSTILE_PHASE, 389, 396]];

/** A history a user could have: two model types, two resolutions, failures, a cancel, VRAM near full. */
function seededTasks(now: number): PerformanceMetrics[] {
  const tasks: PerformanceMetrics[] = [];
  const add = (i: number, over: Partial<PerformanceMetrics>) => {
    const startTime = now - (20 - i) * 3_600_000 / 2;
    const seconds = over.generationTimeSeconds ?? 120 + i * 7;
    tasks.push(makeTask({
      taskId: `seed-${i}`, startTime, endTime: startTime + seconds * 1000, generationTimeSeconds: seconds,
      peakVramUsageMb: 22_500 + i * 100, averageVramUsageMb: 15_000, vramTotalMb: 24_564, gpuIndices: [0],
      averageCpuUsagePercent: 30 + i, deviceAverageCpuUsagePercent: 30 + i, averageGpuUtilizationPercent: 80, vramScope: 'device', cpuScope: 'device',
      ...over,
    }));
  };
  for (let i = 0; i < 14; i++) {
    const failed = i % 5 === 3;
    const start = now - (20 - i) * 3_600_000 / 2;
    add(i, {
      modelType: i % 2 === 0 ? 'wan-t2v' : 'flux-dev',
      resolution: i % 3 === 0 ? '1080p' : '720p',
      resolutionClass: i % 3 === 0 ? '1080p' : '720p',
      status: failed ? 'failed' : 'succeeded',
      success: !failed,
      errorCategory: failed ? 'oom' : null,
      generationTimeSeconds: failed ? null : 120 + i * 23,
      ...(`seed-${i}` === PHASED ? { phases: PHASES.map(([name, from, to]) => ({ name, startTime: start + from * 1000, endTime: start + to * 1000 })) } : {}),
    });
  }
  add(14, { modelType: 'wan-t2v', status: 'cancelled', success: false, generationTimeSeconds: null });
  add(15, { taskId: HOSTILE, modelType: HOSTILE, resolution: HOSTILE, resolutionClass: null, errorCategory: null, generationTimeSeconds: 95 });
  return tasks;
}

/** A MODEL_PERF_HOME with the tasks written by the engine's history store, as the extension would. */
async function seededHome(tasks: PerformanceMetrics[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'model-perf-e2e-home-'));
  const store = new JsonlHistoryStore(dir, { retentionDays: 90, retentionMaxTasks: 100_000 });
  for (const t of tasks) await store.append(t);
  return dir;
}

/** The dashboard's document: the nested webview iframe whose page holds our heading. */
async function dashboardFrame(page: Page, timeout = 30_000): Promise<Frame> {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    for (const f of page.frames()) {
      const found = await f.evaluate(() => document.querySelector('#app h1')?.textContent === 'Model Performance').catch(() => false);
      if (found) return f;
    }
    await page.waitForTimeout(250);
  }
  throw new Error('the dashboard webview never appeared');
}

/**
 * Picks a colour theme as a person would (Preferences: Color Theme). The harness's
 * `workbench.colorTheme` setting is not applied by this code-server build (it stays on Light+),
 * so the theme is chosen from the palette.
 */
async function setColorTheme(page: Page, label: string, cssClass: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill('>Preferences: Color Theme');
  // Several commands match ("Browse Color Themes in Marketplace" among them): click the exact one.
  await page.locator('.quick-input-list .monaco-list-row[aria-label^="Preferences: Color Theme"]').first().click({ timeout: 10_000 });
  // The theme picker replaces the palette: its box starts empty (the palette's still says ">…").
  await page.waitForFunction(() => document.querySelector('.quick-input-widget input')?.value === '', undefined, { timeout: 10_000 });
  await input.fill(label);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first().click({ timeout: 10_000 });
  await page.waitForFunction((cls) => document.querySelector('.monaco-workbench')?.classList.contains(cls) ?? false, cssClass, { timeout: 10_000 });
}

const DARK = ['Dark Modern', 'vscode-theme-defaults-themes-dark_modern-json'] as const;
const HIGH_CONTRAST = ['Dark High Contrast', 'vscode-theme-defaults-themes-hc_black-json'] as const;
const LIGHT = ['Light Modern', 'vscode-theme-defaults-themes-light_modern-json'] as const;

async function openDashboard(wb: Workbench): Promise<Frame> {
  // The extension is up once its status item shows figures.
  await waitForStatusText(wb.page, /CPU|GPU/, { timeout: 60_000 });
  await runCommand(wb.page, 'Model Perf: Open Dashboard');
  await wb.page.waitForSelector('.tab[aria-label*="Model Performance"]', { timeout: 20_000 });
  return dashboardFrame(wb.page);
}

/** Selects the task with phases in the history table and waits for its Phases table. */
async function showPhasedTask(frame: Frame): Promise<void> {
  await frame.locator('#history tbody tr', { hasText: PHASED }).first().click();
  await frame.waitForSelector('#task-phases:not(.hidden) tbody tr', { timeout: 10_000 });
  await frame.locator('#task-detail .chart-card').first().scrollIntoViewIfNeeded();
  await frame.page().waitForTimeout(300);
}

/** Elements of the page wider than the page itself (what would push a narrow column sideways). */
async function horizontalOverflow(frame: Frame): Promise<number> {
  return frame.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

async function text(frame: Frame, selector: string): Promise<string> {
  return ((await frame.locator(selector).first().textContent({ timeout: 15_000 })) ?? '').trim();
}

function cspErrors(wb: Workbench): string[] {
  return wb.consoleErrors().filter((e) => /Content[- ]Security[- ]Policy|Refused to (load|apply|execute|connect)/i.test(e));
}

test('a new user sees the live charts and how to record a first task', async () => {
  const wb = await openWorkbench({ colorScheme: 'dark' });
  open.push(wb);
  await waitForStatusText(wb.page, /CPU|GPU/, { timeout: 60_000 });
  await setColorTheme(wb.page, ...DARK);
  const frame = await openDashboard(wb);
  assert.ok(await frame.evaluate(() => document.body.classList.contains('vscode-dark')), 'the webview follows the dark theme');
  await frame.waitForSelector('#empty-state:not(.hidden)', { timeout: 20_000 });
  const empty = await text(frame, '#empty-state');
  assert.match(empty, /No tasks recorded yet/);
  assert.match(empty, /Model Perf: Start Task…/);
  assert.match(empty, /model-perf run -- python generate\.py/);
  assert.match(empty, /integrated terminal/);
  assert.equal(await frame.locator('.analysis-sections.hidden').count(), 1, 'analysis is hidden until there is something to analyse');
  // CPU and RAM of this machine are live (no GPU here: the GPU charts say why).
  await frame.waitForFunction(() => /\d+%/.test(document.querySelector('#tile-cpu .tile-value')?.textContent ?? ''), undefined, { timeout: 20_000 });
  assert.match(await text(frame, '#now'), /No GPU figures: /);
  await screenshot(wb.page, 'dashboard-empty-dark');
  assert.deepEqual(cspErrors(wb), []);
  assert.deepEqual(wb.consoleErrors(), []);
  await wb.close();
  open.splice(open.indexOf(wb), 1);
});

test('with a history, the figures equal the engine analysis; hostile text stays text; bad messages are rejected', async () => {
  const now = Date.now();
  const tasks = seededTasks(now);
  const home = await seededHome(tasks);
  const thresholds = validateConfig(toMonitorConfig(defaultHostSettings)).thresholds;
  const expected = analyzePerformance(tasks, thresholds, now, 24);
  assert.ok(expected.bottleneckAnalysis.findings.length > 0, 'the seeded history flags a bottleneck');

  const wb = await openWorkbench({ colorScheme: 'dark', env: { MODEL_PERF_HOME: home } });
  open.push(wb);
  await waitForStatusText(wb.page, /CPU|GPU/, { timeout: 60_000 });
  await setColorTheme(wb.page, ...DARK);
  const dialogs: string[] = [];
  wb.page.on('dialog', (d: { message(): string; dismiss(): Promise<void> }) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  const frame = await openDashboard(wb);
  await frame.waitForSelector('#kpi-tasks .tile-value', { timeout: 20_000 });
  await frame.waitForFunction((n) => document.querySelector('#kpi-tasks .tile-value')?.textContent === String(n), expected.taskCount, { timeout: 20_000 });

  await wb.page.waitForTimeout(1000);
  await screenshot(wb.page, 'dashboard-dark');

  // The numbers a user reads are the engine's, formatted.
  assert.equal(await text(frame, '#kpi-success .tile-value'), formatRatio(expected.successRate));
  assert.equal(await text(frame, '#kpi-average .tile-value'), formatSeconds(expected.averageGenerationTimeSeconds));
  assert.equal(await text(frame, '#kpi-p95 .tile-value'), formatSeconds(expected.p95GenerationTimeSeconds));
  assert.equal(await text(frame, '#kpi-efficiency .tile-value'), formatRatio(expected.resourceEfficiency));
  assert.equal(await text(frame, '#kpi-tasks .tile-value'), String(expected.taskCount));
  const c = expected.statusCounts;
  assert.equal(await text(frame, '#kpi-tasks .tile-sub'), `${c.succeeded} succeeded · ${c.failed} failed · ${c.cancelled} cancelled · ${c.interrupted} interrupted`);
  assert.match(await text(frame, '#efficiency-explanation'), /^Efficiency: Geometric mean of success rate/);
  const bottlenecks = await text(frame, '#bottlenecks');
  for (const f of expected.bottleneckAnalysis.findings) assert.ok(bottlenecks.includes(f.summary), `finding shown: ${f.summary}`);
  assert.match(bottlenecks, /Evidence: .*above the 90\.0% threshold · \d+ tasks/);
  assert.match(bottlenecks, /Why: /, 'each recommendation says why it is shown');
  const breakdown = await text(frame, '#analysis');
  for (const e of expected.byModelType) assert.ok(breakdown.includes(e.key), `model type ${e.key} in the breakdown`);

  // The hostile model type is shown as text, and nothing ran.
  const history = frame.locator('#history table.history');
  await history.waitFor({ timeout: 10_000 });
  const cells = await frame.locator('#history td.text').allTextContents();
  assert.ok(cells.includes(HOSTILE), 'the model type is shown verbatim');
  assert.equal(await frame.evaluate(() => document.querySelectorAll('img').length), 0, 'no <img> element was created');
  assert.deepEqual(dialogs, [], 'no alert ran');

  // Filter by model type and sort by time: the table follows.
  await frame.locator('#history tbody tr', { hasText: HOSTILE }).first().click();
  await frame.waitForSelector('#task-detail:not(.hidden) .detail-head', { timeout: 10_000 });
  assert.ok((await text(frame, '#task-detail .detail-head')).includes(HOSTILE));
  assert.match(await text(frame, '#task-detail'), /Generation time\s*1 min 35 s/);

  // The task that reported phases: its timeline gets a band per phase, and a Phases table below.
  await showPhasedTask(frame);
  const phaseRows = await frame.locator('#task-phases tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from((tr as unknown as { children: ArrayLike<BrowserElement> }).children, (c) => c.textContent ?? '')));
  assert.deepEqual(phaseRows, [
    ['model_load', '+0:00', formatSeconds(14.6)],
    ['denoise', '+0:14', formatSeconds(371.2 - 14.6)],
    ['decode', '+6:11', formatSeconds(389 - 371.2)],
    [HOSTILE_PHASE, '+6:29', formatSeconds(7)],
  ]);
  assert.deepEqual(phaseRows.map((r) => r[2]), ['15 s', '5 min 57 s', '18 s', '7.0 s']);
  assert.equal(await frame.evaluate(() => document.querySelectorAll('#task-phases b').length), 0, 'the markup-like phase name is text, not a <b> element');
  await screenshot(wb.page, 'dashboard-task-phases');
  // A task without phases shows no Phases table at all.
  await frame.locator('#history tbody tr', { hasText: HOSTILE }).first().click();
  await frame.waitForFunction(() => document.querySelector('#task-phases')?.classList.contains('hidden') ?? false, undefined, { timeout: 10_000 });
  assert.equal(await frame.locator('#task-phases table').count(), 0);

  await frame.locator('#bottlenecks').scrollIntoViewIfNeeded();
  await screenshot(wb.page, 'dashboard-dark-analysis');
  await frame.locator('#history').scrollIntoViewIfNeeded();
  await screenshot(wb.page, 'dashboard-dark-history');

  // A malformed message from the webview: rejected and logged by the host, the panel keeps working.
  // It goes the way acquireVsCodeApi().postMessage goes: through the outer webview frame's hook.
  const outer = frame.parentFrame();
  assert.ok(outer, 'the dashboard runs in VS Code\'s nested webview frame');
  await outer.evaluate(() => {
    const post = (window as unknown as { __vscode_post_message__: (command: string, data: unknown) => void }).__vscode_post_message__;
    post('onmessage', { message: { type: 'setWindow', windowHours: '<b>24</b>' } });
    post('onmessage', { message: { type: 'nope' } });
  });
  const deadline = Date.now() + 15_000;
  let log = '';
  while (Date.now() < deadline && !/rejected a message from the webview/.test(log)) {
    await wb.page.waitForTimeout(300);
    log = extensionLog(wb.scratch);
  }
  assert.match(log, /Dashboard: rejected a message from the webview \(windowHours: expected one of 1, 24, 168, 720/);
  assert.match(log, /Dashboard: rejected a message from the webview \(type: expected one of/);
  // Still working: choosing the 7-day window brings a new analysis from the host.
  await frame.evaluate(() => {
    const sel = document.getElementById('window-select');
    if (!sel) throw new Error('no window select');
    sel.value = '168';
    sel.dispatchEvent(new Event('change'));
  });
  await frame.waitForFunction(() => document.getElementById('analysis-title')?.textContent === 'Analysis · last 7 d', undefined, { timeout: 10_000 });
  assert.equal(await text(frame, '#kpi-tasks .tile-value'), String(analyzePerformance(tasks, thresholds, Date.now(), 168).taskCount));

  assert.deepEqual(cspErrors(wb), [], 'no Content-Security-Policy error');
  assert.deepEqual(wb.consoleErrors(), []);
});

test('a long window: the host sends the history one page at a time; older, newer, newest and a filter ask for another', async () => {
  const now = Date.now();
  // 450 tasks in the last 20 h: three pages of at most 200 rows.
  const tasks = Array.from({ length: 450 }, (_, i) => {
    const startTime = now - 20 * 3_600_000 + i * 150_000;
    return makeTask({ taskId: `page-${String(i).padStart(3, '0')}`, startTime, endTime: startTime + 60_000, generationTimeSeconds: 60, modelType: i % 3 === 0 ? 'flux-dev' : 'wan-t2v' });
  });
  const home = await seededHome(tasks);
  const wb = await openWorkbench({ colorScheme: 'dark', env: { MODEL_PERF_HOME: home } });
  open.push(wb);
  const frame = await openDashboard(wb);
  const count = (want: string) => frame.waitForFunction((w) => document.getElementById('history-count')?.textContent === w, want, { timeout: 10_000 });
  const rows = () => frame.locator('#history tbody tr').count();
  const firstId = async () => ((await frame.locator('#history tbody tr .task-id').first().textContent()) ?? '').trim();
  await count('Tasks 1–200 of 450 tasks, newest first.');
  assert.equal(await rows(), 200, 'one page is sent, not the window');
  assert.equal(await firstId(), 'page-449');
  assert.equal(await frame.locator('#page-first[disabled]').count(), 1, 'no newer page on the first');

  await frame.locator('#page-next').click();
  await count('Tasks 201–400 of 450 tasks, newest first.');
  assert.equal(await firstId(), 'page-249');
  await frame.locator('#page-next').click();
  await count('Tasks 401–450 of 450 tasks, newest first.');
  assert.equal(await rows(), 50);
  assert.equal(await frame.locator('#page-next[disabled]').count(), 1, 'no older page on the last');
  await frame.locator('#history nav.pager').scrollIntoViewIfNeeded();
  await screenshot(wb.page, 'dashboard-history-last-page');
  await frame.locator('#page-previous').click();
  await count('Tasks 201–400 of 450 tasks, newest first.');
  await frame.locator('#page-first').click();
  await count('Tasks 1–200 of 450 tasks, newest first.');

  // A filter is applied by the host, over the whole window, from its first page.
  await frame.evaluate(() => {
    const sel = document.getElementById('filter-model');
    if (!sel) throw new Error('no model filter');
    sel.value = 'flux-dev';
    sel.dispatchEvent(new Event('change'));
  });
  await count('Tasks 1–150 of 150 matching tasks (450 in the window), newest first.');
  const models = await frame.locator('#history td.text').evaluateAll((tds) => tds.filter((_, i) => i % 2 === 0).map((td) => (td as unknown as BrowserElement).textContent));
  assert.ok(models.length === 150 && models.every((m) => m === 'flux-dev'), 'only the filtered model type');
  await frame.evaluate(() => (document.getElementById('history-title') as unknown as { scrollIntoView(): void }).scrollIntoView());
  await screenshot(wb.page, 'dashboard-history-filtered');
  assert.deepEqual(cspErrors(wb), [], 'no Content-Security-Policy error');
  assert.deepEqual(wb.consoleErrors(), []);
});

test('the dashboard in a light theme', async () => {
  const tasks = seededTasks(Date.now());
  const home = await seededHome(tasks);
  const wb = await openWorkbench({ colorScheme: 'light', env: { MODEL_PERF_HOME: home } });
  open.push(wb);
  await waitForStatusText(wb.page, /CPU|GPU/, { timeout: 60_000 });
  await setColorTheme(wb.page, ...LIGHT);
  const frame = await openDashboard(wb);
  await frame.waitForSelector('#kpi-tasks .tile-value', { timeout: 20_000 });
  assert.ok(await frame.evaluate(() => document.body.classList.contains('vscode-light')), 'the webview follows the light theme');
  await wb.page.waitForTimeout(1500);
  await screenshot(wb.page, 'dashboard-light');
  assert.deepEqual(cspErrors(wb), []);
  assert.deepEqual(wb.consoleErrors(), []);
});

test('the dashboard in a high contrast theme', async () => {
  const home = await seededHome(seededTasks(Date.now()));
  const wb = await openWorkbench({ colorScheme: 'dark', env: { MODEL_PERF_HOME: home } });
  open.push(wb);
  await waitForStatusText(wb.page, /CPU|GPU/, { timeout: 60_000 });
  await setColorTheme(wb.page, ...HIGH_CONTRAST);
  const frame = await openDashboard(wb);
  await frame.waitForSelector('#kpi-tasks .tile-value', { timeout: 20_000 });
  await frame.waitForFunction(() => document.body.classList.contains('vscode-high-contrast'), undefined, { timeout: 10_000 });
  await wb.page.waitForTimeout(1500);
  await screenshot(wb.page, 'dashboard-high-contrast');
  await showPhasedTask(frame);
  assert.match(await text(frame, '#task-phases'), /model_load.*denoise.*decode/s);
  await screenshot(wb.page, 'dashboard-high-contrast-phases');
  assert.deepEqual(cspErrors(wb), []);
  assert.deepEqual(wb.consoleErrors(), []);
  await wb.close();
  open.splice(open.indexOf(wb), 1);
});

test('the dashboard in a narrow column: nothing pushes the page sideways, wide tables scroll in their card', async () => {
  const home = await seededHome(seededTasks(Date.now()));
  const wb = await openWorkbench({ colorScheme: 'dark', width: 700, height: 900, env: { MODEL_PERF_HOME: home } });
  open.push(wb);
  await waitForStatusText(wb.page, /CPU|GPU/, { timeout: 60_000 });
  await setColorTheme(wb.page, ...DARK);
  const frame = await openDashboard(wb);
  await frame.waitForSelector('#kpi-tasks .tile-value', { timeout: 20_000 });
  await wb.page.waitForTimeout(1500);
  await screenshot(wb.page, 'dashboard-narrow');
  assert.equal(await horizontalOverflow(frame), 0, 'the page does not scroll sideways');
  await showPhasedTask(frame);
  await frame.locator('#history table.history').scrollIntoViewIfNeeded();
  await screenshot(wb.page, 'dashboard-narrow-history');
  assert.equal(await horizontalOverflow(frame), 0, 'the history and its detail stay within the column');
  await frame.locator('#task-phases').scrollIntoViewIfNeeded();
  await screenshot(wb.page, 'dashboard-narrow-phases');
  assert.equal(await horizontalOverflow(frame), 0);
  assert.deepEqual(cspErrors(wb), []);
  assert.deepEqual(wb.consoleErrors(), []);
  await wb.close();
  open.splice(open.indexOf(wb), 1);
});

test('the dashboard comes back after a window reload and keeps working', async () => {
  const wb = await openWorkbench({ colorScheme: 'dark' });
  open.push(wb);
  let frame = await openDashboard(wb);
  await frame.waitForSelector('#empty-state:not(.hidden)', { timeout: 20_000 });
  // As a person would: the workbench saves its editors on the way out and restores them.
  await runCommand(wb.page, 'Developer: Reload Window');
  await wb.page.waitForEvent('load', { timeout: 30_000 });
  await wb.page.waitForSelector('#workbench\\.parts\\.statusbar', { timeout: 60_000 });
  await wb.page.waitForSelector('.tab[aria-label*="Model Performance"]', { timeout: 30_000 });
  frame = await dashboardFrame(wb.page, 60_000);
  await frame.waitForFunction(() => /\d+%/.test(document.querySelector('#tile-cpu .tile-value')?.textContent ?? ''), undefined, { timeout: 30_000 });
  await screenshot(wb.page, 'dashboard-after-reload');
  assert.deepEqual(cspErrors(wb), []);
  await wb.close();
  open.splice(open.indexOf(wb), 1);
});
