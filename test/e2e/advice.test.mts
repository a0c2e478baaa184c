// A person with a history of runs opens the dashboard: the findings lead the page (a GPU held below
// its clocks by heat, a model that spends its runs loading); a run that died out of memory shows its
// last minute (memory against the GPU's, the phase it died in); ticking two runs in the history
// compares them (timelines overlaid, what differs highlighted). Screenshots under test-output/.
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
import type { CompactTimeline, PerformanceMetrics } from '../../src/shared/metrics.js';
import { makeTask } from '../unit/engine/fakes.js';
import { fakeToolsPath } from '../harness/codeServer.mjs';
import { openWorkbench, runCommand, screenshot, screenshotDir, waitForStatusText } from '../harness/workbench.mjs';

declare const document: {
  querySelector(selector: string): { textContent: string | null; classList: { contains(name: string): boolean } } | null;
  querySelectorAll(selector: string): { length: number };
};

type Workbench = Awaited<ReturnType<typeof openWorkbench>>;
const open: Workbench[] = [];
after(async () => {
  for (const wb of open) await wb.close().catch(() => undefined);
});

/** A run's timeline: `seconds` long, a point every 5 s, then its last minute every second. */
function timeline(seconds: number, at: (o: number) => { util: number; vram: number; own: number; cores: number; throttled?: number }): CompactTimeline {
  const offsets = [...Array.from({ length: Math.floor((seconds - 60) / 5) }, (_, i) => i * 5), ...Array.from({ length: 60 }, (_, i) => seconds - 59 + i)];
  const p = offsets.map(at);
  const throttled = p.some((x) => x.throttled !== undefined);
  return {
    offsetSeconds: offsets,
    gpuUtilizationPercent: p.map((x) => x.util),
    deviceVramMb: p.map((x) => x.vram),
    ownVramMb: p.map((x) => x.own),
    cpuCores: p.map((x) => x.cores),
    ramMb: p.map(() => 9000),
    ...(throttled ? { throttledPercent: p.map((x) => (x.throttled ? 100 : 0)), throttleReasons: p.map((x) => (x.throttled ? 0x40 : 0)) } : {}),
  };
}

const OOM = 'wan-1080p-oom';
const RUN_A = 'wan-720p-a';
const RUN_B = 'wan-720p-b';

function seeded(now: number): PerformanceMetrics[] {
  const tasks: PerformanceMetrics[] = [];
  const base = { modelType: 'wan-t2v', gpuIndices: [0], vramTotalMb: 24_564, vramScope: 'processTree' as const, cpuScope: 'processTree' as const, averageGpuUtilizationPercent: 94 };
  // Six 720p runs: the GPU overheated (hw_thermal_slowdown) for the second half of each.
  for (let i = 0; i < 6; i++) {
    const start = now - (8 - i) * 3_600_000;
    const id = i === 4 ? RUN_A : i === 5 ? RUN_B : `wan-720p-${i}`;
    const seconds = i === 5 ? 260 : 200;
    tasks.push(makeTask({
      ...base, taskId: id, resolution: '1280x720', resolutionClass: '720p', steps: 30, startTime: start, endTime: start + seconds * 1000, generationTimeSeconds: seconds,
      modelLoadTimeSeconds: 20, peakVramUsageMb: i === 5 ? 19_800 : 18_200, processTreePeakVramUsageMb: 17_000,
      gitCommit: { hash: i === 5 ? 'def5678' : 'abc1234', branch: 'main', dirty: i === 5 },
      phases: [{ name: 'model_load', startTime: start, endTime: start + 20_000 }, { name: 'denoise', startTime: start + 20_000, endTime: start + (seconds - 15) * 1000 }, { name: 'vae_decode', startTime: start + (seconds - 15) * 1000, endTime: start + seconds * 1000 }],
      timeline: timeline(seconds, (o) => ({ util: o < 20 ? 10 : 96, vram: 18_000 + (i === 5 ? 1600 : 0), own: 17_000, cores: 1.1, throttled: o > seconds / 2 ? 1 : 0 })),
    }));
  }
  // A 1080p run that ran out of memory in its VAE decode.
  const start = now - 30 * 60_000;
  tasks.push(makeTask({
    ...base, taskId: OOM, resolution: '1920x1080', resolutionClass: '1080p', steps: 30, startTime: start, endTime: start + 240_000, generationTimeSeconds: null,
    status: 'failed', success: false, errorCategory: 'out_of_memory', peakVramUsageMb: 24_400, processTreePeakVramUsageMb: 23_400,
    phases: [{ name: 'model_load', startTime: start, endTime: start + 20_000 }, { name: 'denoise', startTime: start + 20_000, endTime: start + 200_000 }, { name: 'vae_decode', startTime: start + 200_000, endTime: null }],
    timeline: timeline(240, (o) => ({ util: o > 235 ? 4 : 97, vram: o < 200 ? 21_000 : Math.min(24_400, 21_000 + (o - 200) * 120), own: o < 200 ? 20_000 : Math.min(23_400, 20_000 + (o - 200) * 120), cores: 1.0 })),
  }));
  return tasks;
}

async function dashboardFrame(page: Page): Promise<Frame> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    for (const f of page.frames()) {
      if (await f.evaluate(() => document.querySelector('#app h1')?.textContent === 'Model Performance').catch(() => false)) return f;
    }
    await page.waitForTimeout(250);
  }
  throw new Error('the dashboard webview never appeared');
}

test('findings lead the dashboard; a failed run shows its last minute; two runs compare side by side', async () => {
  const now = Date.now();
  const tasks = seeded(now);
  const home = mkdtempSync(join(tmpdir(), 'model-perf-e2e-advice-'));
  const store = new JsonlHistoryStore(home, { retentionDays: 90, retentionMaxTasks: 100_000 });
  for (const t of tasks) await store.append(t);
  const expected = analyzePerformance(tasks, validateConfig(toMonitorConfig(defaultHostSettings)).thresholds, now, 24).findings;
  assert.ok(expected.some((f) => f.kind === 'throttled'), expected.map((f) => f.kind).join());

  // The fake nvidia-smi's GPU is hot and at its power cap now (clock event reasons 0x44).
  const wb = await openWorkbench({
    colorScheme: 'dark', width: 1400, height: 1000,
    env: { MODEL_PERF_HOME: home, PATH: fakeToolsPath, FAKE_NVIDIA_SMI_SCENARIO: 'throttled' },
  });
  open.push(wb);
  await waitForStatusText(wb.page, /CPU|GPU/, { timeout: 60_000 });
  await runCommand(wb.page, 'Model Perf: Open Dashboard');
  const frame = await dashboardFrame(wb.page);
  // The live GPU tile says what holds its clocks down.
  await frame.waitForFunction(() => /held by sw_power_cap, hw_thermal_slowdown/.test(document.querySelector('#tile-gpu-0')?.textContent ?? ''), undefined, { timeout: 20_000 });

  // The findings lead: the first card of the page, above the live charts, the engine's findings in its order.
  await frame.waitForSelector('#findings .finding', { timeout: 20_000 });
  const kinds = await frame.locator('#findings .finding').evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { kind: string } }).dataset.kind));
  assert.deepEqual(kinds, expected.map((f) => f.kind));
  const firstCard = await frame.evaluate(() => document.querySelector('section.card:not(.hidden)')?.textContent ?? '');
  assert.match(firstCard, /^Findings/);
  const throttled = await frame.locator('#findings .finding[data-kind="throttled"]').textContent();
  assert.match(throttled ?? '', /held down by heat \(hw_thermal_slowdown: clocks halved\)/);
  await frame.locator('#findings').scrollIntoViewIfNeeded();
  await wb.page.waitForTimeout(500);
  await screenshot(wb.page, 'advice-findings');

  // The out-of-memory run: its post-mortem shows the last minute and what it died in.
  await frame.locator('#history tbody tr', { hasText: OOM }).first().click();
  await frame.waitForSelector('#task-postmortem:not(.hidden) dl', { timeout: 10_000 });
  const pm = (await frame.locator('#task-postmortem').textContent()) ?? '';
  assert.match(pm, /Post-mortem: its last minute/);
  // The machine's samples of that hour are gone (a seeded history): the task's kept timeline draws its chart.
  assert.equal(await frame.evaluate(() => document.querySelector('#task-detail .chart-empty')?.classList.contains('hidden') ?? false), true, 'the task chart is drawn');
  assert.match((await frame.locator('#task-detail').textContent()) ?? '', /From the task's own kept timeline/);
  assert.match(pm, /GPU memory at the end\s*23\.8 GB of 24\.0 GB \(99%\)/);
  assert.match(pm, /Ended\s*Failed \(out_of_memory\)/);
  assert.match(pm, /Phase at the end\s*vae_decode/);
  assert.match(pm, /Samples in the last minute\s*60/);
  await frame.locator('#task-postmortem').scrollIntoViewIfNeeded();
  await wb.page.waitForTimeout(500);
  await screenshot(wb.page, 'advice-postmortem');
  // The post-mortem alone, small enough for the README (media/screenshots/dashboard-postmortem.png).
  await frame.locator('#task-postmortem').screenshot({ path: join(screenshotDir, 'advice-postmortem-panel.png') });
  // A run that succeeded has no post-mortem.
  await frame.locator('#history tbody tr', { hasText: RUN_A }).first().click();
  await frame.waitForFunction(() => document.querySelector('#task-postmortem')?.classList.contains('hidden') ?? false, undefined, { timeout: 10_000 });

  // Compare two runs: tick both; the chart and the table of differences appear.
  await frame.locator('#history tbody tr', { hasText: RUN_A }).first().locator('input[type="checkbox"]').check();
  assert.equal(await frame.evaluate(() => document.querySelector('#task-compare')?.classList.contains('hidden') ?? false), true, 'one tick: nothing to compare yet');
  await frame.locator('#history tbody tr', { hasText: RUN_B }).first().locator('input[type="checkbox"]').check();
  await frame.waitForSelector('#task-compare:not(.hidden) table.compare-table', { timeout: 10_000 });
  const rows = await frame.locator('#task-compare tbody tr').evaluateAll((trs) => trs.map((tr) => ({
    cells: Array.from((tr as unknown as { children: ArrayLike<{ textContent: string | null }> }).children, (c) => c.textContent ?? ''),
    differs: (tr as unknown as { classList: { contains(n: string): boolean } }).classList.contains('differs'),
  })));
  const row = (label: string) => rows.find((r) => r.cells[0] === label);
  assert.deepEqual(row('Time')?.cells, ['Time', '3 min 20 s', '4 min 20 s', '+1 min 00 s (+30%)']);
  assert.deepEqual(row('Git commit')?.cells.slice(1, 3), ['abc1234 (main)', 'def5678 (main), uncommitted changes']);
  assert.equal(row('Git commit')?.differs, true);
  assert.equal(row('Resolution')?.differs, false);
  assert.deepEqual(row('Phase denoise')?.cells.slice(1), ['2 min 45 s', '3 min 45 s', '+1 min 00 s (+36%)']);
  assert.equal(await frame.evaluate(() => document.querySelectorAll('#task-compare canvas').length), 1);
  await frame.locator('#task-compare').scrollIntoViewIfNeeded();
  await wb.page.waitForTimeout(500);
  await screenshot(wb.page, 'advice-compare');

  assert.deepEqual(wb.consoleErrors(), []);
});
