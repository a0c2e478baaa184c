// Measures the dashboard webview: the size of its minified bundle, and the time of one live update
// (a snapshot message: validate, append, redraw the three live charts and the tiles) with one hour of
// 1 Hz data for 2 GPUs, in headless Chromium. Prints median and p95; `--json` prints them as JSON,
// `--screenshot FILE` saves the page after the run (and the baseline's, FILE-baseline.png), `--cpu-profile FILE` writes a CDP CPU profile
// of the updates (built unminified then, so functions keep their names; the size is then not the
// shipped one). `--baseline REF` also builds the dashboard of git commit REF (for example `main`)
// and runs both pages in the same browser, their updates interleaved in rounds, so the ratio holds
// on a loaded machine. Builds its own bundles in a temporary folder.
// `--check-redraw` checks the live charts' kept drawing instead of timing it: ticks with unknown
// values (gaps, lone values) in the 5 min and the 1 h range, with frames between some, then the
// same data sent afresh (so every chart is drawn whole) and the plot's pixels compared: the plot
// moved and drawn slice by slice must equal the plot drawn at once. Fails on any difference.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { bundleEngine } from './benchEngine.mjs';

const args = process.argv.slice(2);
const json = args.includes('--json');
const shotIndex = args.indexOf('--screenshot');
const screenshotPath = shotIndex >= 0 ? resolve(args[shotIndex + 1]) : null;
const profileIndex = args.indexOf('--cpu-profile');
const profilePath = profileIndex >= 0 ? resolve(args[profileIndex + 1]) : null;
// 600: with 200 the p95 was the 10th slowest of 190, so two or three preemptions of a loaded machine set it.
const UPDATES = Number(process.env.BENCH_UPDATES ?? 600);
// --tasks N: each update also carries N running tasks (the "Active tasks" cards), as while a run goes on.
const tasksIndex = args.indexOf('--tasks');
const ACTIVE_TASKS = tasksIndex >= 0 ? Number(args[tasksIndex + 1]) : 0;
const baselineIndex = args.indexOf('--baseline');
const BASELINE = baselineIndex >= 0 ? args[baselineIndex + 1] : null;
const CHECK_REDRAW = args.includes('--check-redraw');
// --dpr N: the page's device pixel ratio (1 by default; at a fractional one the live plots are drawn whole each tick).
const dprIndex = args.indexOf('--dpr');
const DPR = dprIndex >= 0 ? Number(args[dprIndex + 1]) : 1;
const ROUNDS = 10;
const BUDGET_BYTES = 400 * 1024;
const BUDGET_MS = 4;

// Runs in the page: one hour of samples as the host's first state, and the snapshot maker for the ticks.
const SETUP = async ({ activeCount, emptyAnalysis, range = '1h', gaps = false }) => {
  const HOUR = 3600;
  const t0 = Date.now() - HOUR * 1000;
  const wave = (i, k) => 50 + 40 * Math.sin(i / (60 + k * 17));
  const gpu = (index, i) => ({
    index, uuid: `GPU-${index}`, name: 'NVIDIA RTX 4090', utilizationPercent: wave(i, index), memoryUtilizationPercent: 20,
    vramUsedMb: 12000 + 100 * wave(i, index + 3), vramTotalMb: 24564, vramUsedPercent: ((12000 + 100 * wave(i, index + 3)) / 24564) * 100,
    temperatureCelsius: 65, powerDrawWatts: 300,
    powerLimitWatts: 450, smClockMhz: 2500, smClockMaxMhz: 3105, clockEventReasons: 0, performanceState: 'P2', mig: false,
  });
  const plain = (i) => ({
    timestamp: t0 + i * 1000, cpuUsagePercent: wave(i, 5), ramUsageMb: 16000 + 50 * wave(i, 7), ramAvailableMb: 16000, ramTotalMb: 32000,
    diskUsagePercent: 40, gpuUsagePercent: 50, vramUsageMb: 24000, vramAvailableMb: 25128, vramTotalMb: 49128, vramUsagePercent: 49,
    temperatureCelsius: 65, gpus: [gpu(0, i), gpu(1, i)],
  });
  // --check-redraw: runs of unknown values, single ones, and stretches of lone known values between them.
  const snap = (i) => {
    const s = plain(i);
    if (!gaps) return s;
    if (i % 53 < 3) s.gpus[0].utilizationPercent = null;
    if (i % 200 < 60 && i % 7 !== 0) s.gpus[1].utilizationPercent = null;
    if (i % 37 === 0) s.gpus[1].vramUsedPercent = null;
    if (i % 101 < 10) s.cpuUsagePercent = null;
    if (i % 89 === 5) s.gpus[0].vramUsedPercent = 100;
    if (i % 89 === 6) s.gpus[0].vramUsedPercent = 0;
    return s;
  };
  // --check-redraw: now and then no sample at all for 6 s (a paused sampler), so the line spans empty columns.
  const missing = (i) => gaps && i % 45 >= 36 && i % 45 < 42;
  const snaps = Array.from({ length: HOUR }, (_, i) => snap(i)).filter((_, i) => !missing(i));
  const running = (k, i) => ({
    task: {
      taskId: `run-${k}`, modelType: 'sdxl', resolution: '1024x1024', resolutionClass: null, steps: 30, status: 'running', startTime: t0 + k * 60_000, endTime: null,
      generationTimeSeconds: null, modelLoadTimeSeconds: null, peakVramUsageMb: 12000 + i, averageVramUsageMb: 11000, peakRamUsageMb: null, averageCpuUsagePercent: null,
      vramScope: 'processTree', ramScope: null, cpuScope: null, gpuIndices: [0], vramTotalMb: 24564, ramTotalMb: null, averageGpuUtilizationPercent: wave(i, k),
      peakGpuUtilizationPercent: null, devicePeakVramUsageMb: null, deviceAverageVramUsageMb: null, devicePeakRamUsageMb: null, deviceAverageRamUsageMb: null,
      deviceAverageCpuUsagePercent: null, peakTemperatureCelsius: null, processTreePeakRamUsageMb: null, processTreeAverageRamUsageMb: null,
      processTreeAverageCpuUsagePercent: null, processTreePeakVramUsageMb: null, processTreeAverageVramUsageMb: null, rootPid: 1000 + k, sampleCount: i,
      optimizationsApplied: [], quantizationUsed: null, offloadUsed: false, success: false, errorCategory: null,
    },
    progressPercent: (i / 30) % 100,
    currentVramMb: 12000,
  });
  const activeAt = (i) => Array.from({ length: activeCount }, (_, k) => running(k, i));
  const col = (f) => snaps.map(f);
  const series = {
    range, resolution: 'sample', timestamps: col((s) => s.timestamp), cpuUsagePercent: col((s) => s.cpuUsagePercent),
    ramUsageMb: col((s) => s.ramUsageMb), ramTotalMb: 32000,
    gpus: [0, 1].map((g) => ({ index: g, name: 'NVIDIA RTX 4090', vramTotalMb: 24564, utilizationPercent: col((s) => s.gpus[g].utilizationPercent), vramUsedPercent: col((s) => s.gpus[g].vramUsedPercent) })),
  };
  const state = {
    now: snaps[snaps.length - 1].timestamp, range, windowHours: 24,
    thresholds: { cpuPercent: 90, ramPercent: 85, vramPercent: 90, minSuccessRate: 0.95, efficiencyBaselineSeconds: 300 },
    gpuAvailability: { provider: 'nvidia', available: true, reason: null }, monitoring: true, latest: snaps[snaps.length - 1], series,
    activeTasks: activeAt(HOUR - 1), analysis: { windowHours: 24, analysis: emptyAnalysis, rows: [], totalRows: 0, matching: 0, offset: 0, filter: { modelType: null, resolution: null, status: null } }, totalTaskCount: 0,
  };
  window.dispatchEvent(new MessageEvent('message', { data: { type: 'state', version: 1, state } }));
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)));
  // The series as held after tick `last`, built afresh (new arrays: the charts start again from it).
  const seriesUpTo = (last) => {
    const all = Array.from({ length: HOUR + last + 1 }, (_, i) => snap(i)).filter((_, i) => !missing(i));
    const c = (f) => all.map(f);
    return {
      range, resolution: 'sample', timestamps: c((s) => s.timestamp), cpuUsagePercent: c((s) => s.cpuUsagePercent), ramUsageMb: c((s) => s.ramUsageMb), ramTotalMb: 32000,
      gpus: [0, 1].map((g) => ({ index: g, name: 'NVIDIA RTX 4090', vramTotalMb: 24564, utilizationPercent: c((s) => s.gpus[g].utilizationPercent), vramUsedPercent: c((s) => s.gpus[g].vramUsedPercent) })),
    };
  };
  window.__bench = { snap: (i) => snap(HOUR + i), missing: (i) => missing(HOUR + i), activeAt: (i) => activeAt(HOUR + i), seriesUpTo };
};

// Runs in the page: `count` live ticks from tick `from`, each timed from the message to the end of its handling.
const MEASURE = async ({ from, count }) => {
  const out = [];
  for (let k = from; k < from + count; k++) {
    const data = { type: 'snapshot', snapshot: window.__bench.snap(k), activeTasks: window.__bench.activeAt(k) };
    const start = performance.now();
    window.dispatchEvent(new MessageEvent('message', { data }));
    out.push(performance.now() - start);
    if (k % 20 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  const rejected = window.__posted.filter((m) => m.type === 'webviewError');
  if (rejected.length) throw new Error(JSON.stringify(rejected[0]));
  return out;
};

// Runs in the page: `count` ticks (a frame after every `frameEvery`), the live plots' visible pixels
// read, the same series sent afresh so each chart draws whole, read again; the differences per chart.
const CHECK_TICKS = async ({ count, frameEvery }) => {
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  for (let k = 0; k < count; k++) {
    if (window.__bench.missing(k)) continue;
    window.dispatchEvent(new MessageEvent('message', { data: { type: 'snapshot', snapshot: window.__bench.snap(k), activeTasks: [] } }));
    if (k % frameEvery === 0) await frame();
  }
  await frame();
};
const CHECK = async ({ count }) => {
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const rings = [...document.querySelectorAll('.chart-box > div > canvas')];
  if (rings.length !== 3) throw new Error(`expected the 3 live plots, found ${rings.length}`);
  const grab = () => rings.map((ring) => {
    const dpr = window.devicePixelRatio || 1;
    const shift = -Number(/translateX\((-?[\d.]+)px\)/.exec(ring.style.transform)?.[1] ?? 'NaN');
    const w = Math.round(ring.parentElement.clientWidth * dpr);
    return { w, data: ring.getContext('2d').getImageData(Math.round(shift * dpr), 0, w, ring.height).data };
  });
  const kept = grab();
  window.dispatchEvent(new MessageEvent('message', { data: { type: 'series', series: window.__bench.seriesUpTo(count - 1) } }));
  await frame();
  const whole = grab();
  // A pixel differing by more than ANTIALIAS (of 255) is a seam, a gap or a doubled line; less is the
  // rasteriser's antialiasing, which differs with the path's length. The first two CSS px are left
  // out: the kept drawing still holds the line entering from a column the whole one has let go.
  const ANTIALIAS = 100;
  const dpr = window.devicePixelRatio || 1;
  return kept.map((a, i) => {
    const b = whole[i];
    const columns = new Set();
    let antialias = 0;
    let inked = 0;
    let maxDelta = 0;
    for (let p = 0; p < a.data.length; p += 4) {
      if (b.data[p + 3] > 0) inked++;
      // Premultiplied (what is composited): a colour under a near-transparent pixel counts for nothing.
      const pm = (d, q) => (d[q] * d[p + 3]) / 255;
      const delta = Math.round(Math.max(Math.abs(pm(a.data, p) - pm(b.data, p)), Math.abs(pm(a.data, p + 1) - pm(b.data, p + 1)), Math.abs(pm(a.data, p + 2) - pm(b.data, p + 2)), Math.abs(a.data[p + 3] - b.data[p + 3])));
      if (delta === 0 || (p / 4) % a.w < 2 * dpr) continue;
      maxDelta = Math.max(maxDelta, delta);
      if (delta <= ANTIALIAS) antialias++;
      else columns.add((p / 4) % a.w);
    }
    return { antialias, inked, maxDelta, columns: [...columns].sort((x, y) => x - y) };
  });
};

const dir = mkdtempSync(join(tmpdir(), 'model-perf-bench-webview-'));
try {
  const build = (root, outdir) => esbuild.build({
    entryPoints: { dashboard: join(root, 'webview/main.ts') }, outdir, bundle: true, minify: profilePath === null, platform: 'browser',
    target: 'es2022', format: 'iife', legalComments: 'none', logLevel: 'warning', nodePaths: [resolve('node_modules')],
  });
  await build('.', dir);
  const baseDir = join(dir, 'baseline');
  if (BASELINE) {
    // The baseline's sources as committed at REF (the page imports only webview/, media/ and src/shared).
    mkdirSync(join(baseDir, 'src'), { recursive: true });
    const tar = execFileSync('git', ['archive', BASELINE, 'webview', 'media', 'src/shared'], { maxBuffer: 1 << 28 });
    execFileSync('tar', ['-x', '-C', baseDir], { input: tar });
    await build(baseDir, baseDir);
  }
  const bundleBytes = statSync(join(dir, 'dashboard.js')).size;
  // The empty analysis as the engine makes it, so the page's validator sees today's shape.
  const analysisEngine = await import(pathToFileURL(await bundleEngine(dir, 'analysis', [
    "export { analyzePerformance } from './src/core/engine/analysis';",
    "export { DEFAULT_THRESHOLDS } from './src/core/engine/config';",
  ])).href);
  const emptyAnalysis = analysisEngine.analyzePerformance([], analysisEngine.DEFAULT_THRESHOLDS, Date.now(), 24);

  // A dark theme's variables, enough for the charts to read their colours.
  const page = `<!DOCTYPE html><html><head><meta charset="utf-8">
<style>:root{--vscode-foreground:#cccccc;--vscode-editor-background:#1f1f1f;--vscode-charts-blue:#3794ff;--vscode-charts-orange:#d18616;
--vscode-charts-green:#89d185;--vscode-charts-purple:#b180d7;--vscode-charts-red:#f14c4c;--vscode-charts-yellow:#cca700;
--vscode-charts-foreground:#cccccc;--vscode-charts-lines:rgba(204,204,204,0.25);--vscode-descriptionForeground:#9d9d9d;
--vscode-font-family:sans-serif;--vscode-font-size:13px;--vscode-panel-border:#444}</style>
<link rel="stylesheet" href="dashboard.css"></head><body class="vscode-dark"><main id="app"></main>
<script>window.__posted=[];window.acquireVsCodeApi=()=>({postMessage:(m)=>window.__posted.push(m),getState:()=>undefined,setState:()=>{}});</script>
<script src="dashboard.js"></script></body></html>`;
  writeFileSync(join(dir, 'bench.html'), page);
  if (BASELINE) writeFileSync(join(baseDir, 'bench.html'), page);

  const browser = await chromium.launch({
    executablePath: process.env.MODEL_PERF_CHROMIUM ?? '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--headless', '--disable-dev-shm-usage'],
  });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: DPR });
    const errors = [];
    const open = async (folder, context = ctx, setup = {}) => {
      const p = await context.newPage();
      p.on('pageerror', (e) => errors.push(e.message));
      p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      await p.goto(pathToFileURL(join(folder, 'bench.html')).href);
      await p.waitForFunction(() => window.__posted.some((m) => m.type === 'ready'));
      await p.evaluate(SETUP, { activeCount: ACTIVE_TASKS, emptyAnalysis, ...setup });
      return p;
    };
    if (CHECK_REDRAW) {
      // 5 min: four columns a sample, the ring drawn afresh every few hundred ticks; 1 h: a column every third sample.
      let differ = false;
      for (const [scale, range, count, frameEvery] of [[1, '5m', 400, 7], [1, '1h', 400, 5], [2, '5m', 400, 7], [2, '1h', 200, 3], [1.25, '5m', 100, 7]]) {
        const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: scale });
        const page = await open(dir, context, { range, gaps: true });
        await page.evaluate(CHECK_TICKS, { count, frameEvery });
        // --screenshot FILE: the page as drawn tick by tick, one per case (FILE-1-5m.png, ...).
        if (screenshotPath) await page.screenshot({ path: screenshotPath.replace(/(\.png)?$/, `-${scale}-${range}.png`) });
        const results = await page.evaluate(CHECK, { count });
        await context.close();
        results.forEach((r, i) => {
          if (r.columns.length > 0) differ = true;
          const where = r.columns.length ? `; FAILS: more in device px columns ${r.columns.slice(0, 12).join(' ')}${r.columns.length > 12 ? ' …' : ''}` : '';
          console.log(`pixel ratio ${scale}, ${range}, ${count} ticks, chart ${i + 1}: of ${r.inked} inked pixels, ${r.antialias} differ from the whole drawing by antialiasing (at most ${r.maxDelta} of 255)${where}`);
        });
      }
      if (errors.length) throw new Error(`errors in the page: ${errors.join('\n')}`);
      if (differ) process.exitCode = 1;
    } else {
      const p = await open(dir);
      const base = BASELINE ? await open(baseDir) : null;
      const cdp = profilePath ? await ctx.newCDPSession(p) : null;
      if (cdp) {
        await cdp.send('Profiler.enable');
        await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
        await cdp.send('Profiler.start');
      }
      const times = [];
      const baseTimes = [];
      const perRound = Math.ceil(UPDATES / ROUNDS);
      for (let r = 0; r < ROUNDS; r++) {
        // Each page is brought to the front for its round, so neither is measured in the background.
        await p.bringToFront();
        times.push(...await p.evaluate(MEASURE, { from: r * perRound, count: perRound }));
        if (base) {
          await base.bringToFront();
          baseTimes.push(...await base.evaluate(MEASURE, { from: r * perRound, count: perRound }));
        }
      }
      if (cdp) writeFileSync(profilePath, JSON.stringify((await cdp.send('Profiler.stop')).profile));
      if (screenshotPath) {
        await p.bringToFront();
        await p.screenshot({ path: screenshotPath, fullPage: true });
        // The baseline's page after the same updates, to compare by eye (FILE-baseline.png).
        if (base) {
          await base.bringToFront();
          await base.screenshot({ path: screenshotPath.replace(/(\.png)?$/, '-baseline.png'), fullPage: true });
        }
      }
      if (errors.length) throw new Error(`errors in the page: ${errors.join('\n')}`);
      const stats = (all) => {
        const warm = all.slice(10).sort((a, b) => a - b);
        const q = (f) => warm[Math.min(warm.length - 1, Math.floor(f * warm.length))];
        return { updates: warm.length, medianMs: +q(0.5).toFixed(2), p95Ms: +q(0.95).toFixed(2), maxMs: +warm[warm.length - 1].toFixed(2) };
      };
      const now = stats(times);
      const baseline = base ? { ref: BASELINE, ...stats(baseTimes) } : null;
      const result = {
        bundleBytes, bundleKb: +(bundleBytes / 1024).toFixed(1), budgetKb: BUDGET_BYTES / 1024, ...now, budgetMs: BUDGET_MS,
        ...(baseline ? { baseline, p95Ratio: +(now.p95Ms / baseline.p95Ms).toFixed(3), medianRatio: +(now.medianMs / baseline.medianMs).toFixed(3) } : {}),
      };
      if (json) console.log(JSON.stringify(result));
      else {
        console.log(`webview bundle: ${result.bundleKb} KB minified (budget ${result.budgetKb} KB)`);
        console.log(`live update, 1 h of 1 Hz data, 2 GPUs, all charts${DPR === 1 ? '' : `, pixel ratio ${DPR}`}: median ${result.medianMs} ms, p95 ${result.p95Ms} ms, max ${result.maxMs} ms over ${result.updates} updates (budget ${BUDGET_MS} ms)`);
        if (baseline) {
          console.log(`  baseline ${baseline.ref}, same run, interleaved: median ${baseline.medianMs} ms, p95 ${baseline.p95Ms} ms, max ${baseline.maxMs} ms; ratio p95 ${result.p95Ratio}, median ${result.medianRatio}`);
        }
      }
      if (bundleBytes > BUDGET_BYTES || result.medianMs > BUDGET_MS) process.exitCode = 1;
    }
  } finally {
    await browser.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
