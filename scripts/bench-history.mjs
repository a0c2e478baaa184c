// The history store at size: what start-up, a window's load, an append and a 24 h analysis cost
// with 1 k to 1 M tasks on disk (spread over 30 days), each measured in a fresh node process so
// resident memory is that operation's. Fixtures are generated once into the temp folder (about
// 0.7 KB a task) and reused; every run works on a copy-on-write view of them (hard links, the
// newest segment copied) so appends never change the fixture.
//
//   node scripts/bench-history.mjs [--tasks N] [--scales 1000,10000,100000] [--repeats R] [--no-old] [--out FILE]
//
// --tasks: the big fixture (default 1 000 000). --scales: smaller fixtures for the scaling table.
// --no-old: skip the comparison with the single-file store of commit ff72e32 (it cannot load past
// about 390 k tasks, so it runs at the smaller scales only). --json: print one JSON line of the
// headline figures last (for `npm run bench`). Prints a table and ratios and writes
// bench-results/bench-history.json.
//
// Activation rows: the real extension (src/host/extension.ts bundled with `vscode` aliased to
// scripts/benchVscodeStub.cjs, the fake nvidia-smi, 1 GPU) activated over an empty history and over
// the big fixture: time to the status bar's first figures, time until activate() resolves, and
// the process's resident and heap memory 2 s later (after a GC). Over the big fixture twice: with
// the default history.maxTasks (a window holds the newest 100 000) and with maxTasks 1 000 000.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleEngine } from './benchEngine.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DAY_MS = 86_400_000;
const FIXTURE_VERSION = 3;
const OLD_COMMIT = 'ff72e32';

function parseArgs(argv) {
  const o = { tasks: 1_000_000, scales: [1_000, 10_000, 100_000], repeats: 5, old: true, out: join(ROOT, 'bench-results/bench-history.json'), role: null, engine: null, dir: null, now: 0, json: false, maxTasks: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--tasks') o.tasks = Number(v());
    else if (a === '--scales') o.scales = v().split(',').filter((x) => x !== '').map(Number).filter((n) => n > 0);
    else if (a === '--repeats') o.repeats = Number(v());
    else if (a === '--no-old') o.old = false;
    else if (a === '--out') o.out = resolve(v());
    else if (a === '--role') o.role = v();
    else if (a === '--engine') o.engine = v();
    else if (a === '--dir') o.dir = v();
    else if (a === '--now') o.now = Number(v());
    else if (a === '--json') o.json = true;
    else if (a === '--max-tasks') o.maxTasks = Number(v());
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// The engine, bundled from src/ (and the old store from git, for the comparison)

async function bundle(dir, old) {
  const outfile = await bundleEngine(dir, 'engine', [
    "export { JsonlHistoryStore, serializeRecord, segmentNameFor } from './src/core/history/historyStore';",
    "export { analyzePerformance } from './src/core/engine/analysis';",
    "export { DEFAULT_THRESHOLDS } from './src/core/engine/config';",
  ]);
  const extension = await bundleEngine(dir, 'extension', ["export { activate } from './src/host/extension';"], { requireShim: true, alias: { vscode: join(ROOT, 'scripts/benchVscodeStub.cjs') } });
  let oldfile = null;
  if (old) {
    let source;
    try {
      source = execFileSync('git', ['show', `${OLD_COMMIT}:src/core/history/historyStore.ts`], { cwd: ROOT, encoding: 'utf8' });
    } catch {
      return { engine: outfile, extension, old: null };
    }
    oldfile = join(dir, 'old-store.mjs');
    const esbuild = await import('esbuild');
    await esbuild.build({
      stdin: { contents: source, resolveDir: join(ROOT, 'src/core/history'), loader: 'ts', sourcefile: 'old-historyStore.ts' },
      outfile: oldfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      logLevel: 'error',
    });
  }
  return { engine: outfile, extension, old: oldfile };
}

// ---------------------------------------------------------------------------------------------
// Fixtures: N tasks evenly over 30 days ending at a fixed `now`, written as day segments

function fixtureTask(i, startTime) {
  const res = ['720p', '1080p', '480p'][i % 3];
  return {
    taskId: `bench-${i}`,
    modelType: ['wan-t2v', 'sdxl', 'hunyuan'][i % 3],
    resolution: res,
    resolutionClass: res,
    steps: 20 + (i % 30),
    status: i % 17 === 0 ? 'failed' : 'succeeded',
    success: i % 17 !== 0,
    startTime,
    endTime: startTime + 60_000 + (i % 600) * 1000,
    generationTimeSeconds: 60 + (i % 600),
    modelLoadTimeSeconds: 5,
    peakVramUsageMb: 8000 + (i % 4000),
    averageVramUsageMb: 7000,
    peakRamUsageMb: 9000,
    averageCpuUsagePercent: 40,
    averageGpuUtilizationPercent: 90,
    errorCategory: i % 17 === 0 ? 'oom' : null,
    gpuIndices: [0],
    optimizationsApplied: ['xformers'],
    sampleCount: 60,
    offloadUsed: false,
  };
}

async function makeFixture(E, n) {
  const dir = join(tmpdir(), `model-perf-bench-history-v${FIXTURE_VERSION}-${n}`);
  const metaFile = join(dir, 'meta.json');
  if (existsSync(metaFile)) return { dir, ...JSON.parse(readFileSync(metaFile, 'utf8')) };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'history'), { recursive: true });
  const now = Date.UTC(2026, 10, 29, 12);
  const started = Date.now();
  const span = 30 * DAY_MS - 20 * 60_000; // every task has ended by `now`
  let stream = null;
  let current = null;
  let bytes = 0;
  // Each segment with the summary the store keeps beside it (as appends and migration leave it).
  // Tasks near midnight alternate between two days' segments, so counts are kept per segment.
  const counts = new Map();
  for (let i = 0; i < n; i++) {
    const t = fixtureTask(i, now - 30 * DAY_MS + Math.floor((i / n) * span));
    const name = E.segmentNameFor(t);
    if (name !== current) {
      if (stream) await new Promise((r) => stream.end(r));
      stream = createWriteStream(join(dir, 'history', name), { flags: 'a' });
      current = name;
    }
    const line = E.serializeRecord(t);
    const size = Buffer.byteLength(line);
    bytes += size;
    const c = counts.get(name) ?? { bytes: 0, tasks: 0 };
    c.bytes += size;
    c.tasks++;
    counts.set(name, c);
    if (!stream.write(line)) await new Promise((r) => stream.once('drain', r));
  }
  if (stream) await new Promise((r) => stream.end(r));
  for (const [name, c] of counts) {
    writeFileSync(join(dir, 'history', name.replace(/\.jsonl$/, '.summary.json')), JSON.stringify({ bytes: c.bytes, tasks: c.tasks, newerSchema: 0, unreadable: 0, torn: false }));
  }
  writeFileSync(metaFile, JSON.stringify({ n, now, bytes }));
  console.error(`  generated ${n} tasks (${(bytes / 1e6).toFixed(0)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s: ${dir}`);
  return { dir, n, now, bytes };
}

/** A working copy of a fixture: segments hard-linked (never written), the newest copied (appends go there). */
function workCopy(fixture, into, legacy = false) {
  rmSync(into, { recursive: true, force: true });
  mkdirSync(join(into, 'history'), { recursive: true, mode: 0o700 });
  if (!fixture) return into;
  const all = readdirSync(join(fixture.dir, 'history')).sort();
  const names = all.filter((x) => x.endsWith('.jsonl'));
  if (legacy) {
    // The single file of the old store: all segments in one.
    rmSync(join(into, 'history'), { recursive: true });
    const out = join(into, 'history.jsonl');
    for (const n of names) writeFileSync(out, readFileSync(join(fixture.dir, 'history', n)), { flag: 'a' });
    return into;
  }
  const newest = names[names.length - 1];
  for (const n of all) {
    const src = join(fixture.dir, 'history', n);
    const dst = join(into, 'history', n);
    // The newest segment and its summary are written by appends: copies, never the fixture.
    if (newest && n.startsWith(newest.replace(/\.jsonl$/, ''))) copyFileSync(src, dst);
    else linkSync(src, dst);
  }
  return into;
}

// ---------------------------------------------------------------------------------------------
// Children: one operation each, reporting time and memory

/** The extension's activation over `o.dir` (see the header): time to the first figures, memory after. */
async function activationChild(o) {
  process.env.BENCH_VSCODE_SETTINGS = JSON.stringify({
    storageDirectory: o.dir,
    'gpu.nvidiaSmiPath': join(ROOT, 'test/fixtures/bin/nvidia-smi'),
    'history.retentionDays': 36_500,
    ...(o.maxTasks > 0 ? { 'history.maxTasks': o.maxTasks } : {}),
  });
  process.env.FAKE_NVIDIA_SMI_SCENARIO = '1gpu';
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const ext = await import(pathToFileURL(o.engine).href);
  const { statusTexts, extensionContext } = globalThis.benchVscode;
  const context = extensionContext(ROOT, o.dir);
  await ext.activate(context);
  const activateMs = performance.now() - t0;
  const cpuMs = (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1000;
  // The first text is the placeholder drawn when the item is made; the first figures come after.
  const started = performance.now();
  while (statusTexts.length < 2 && performance.now() - started < 30_000) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 2000));
  globalThis.gc?.();
  const m = process.memoryUsage();
  const out = { ms: activateMs, firstTextMs: statusTexts[0] ? statusTexts[0].atMs - t0 : null, figuresMs: statusTexts[1] ? statusTexts[1].atMs - t0 : null, figures: statusTexts[1]?.text ?? null, cpuMs, rssMb: m.rss / 1048576, heapMb: m.heapUsed / 1048576, peakRssMb: process.resourceUsage().maxRSS / 1024 };
  for (const d of context.subscriptions) {
    try {
      d.dispose();
    } catch {
      // disposal errors do not change the figures
    }
  }
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

async function child(o) {
  if (o.role === 'activate') return activationChild(o);
  const E = await import(pathToFileURL(o.engine).href);
  const now = o.now;
  const opts = { retentionDays: 90, retentionMaxTasks: 1_000_000, onWarning: () => undefined };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const out = {};
  if (o.role === 'run-noload') {
    // The same without loading any task: what `run` costs once it stops loading a history it never shows.
    const store = new E.JsonlHistoryStore(o.dir, opts);
    await store.recoverInterrupted(now, new Set());
    const task = { ...fixtureTask(0, now - 5000), taskId: `run-${process.pid}`, endTime: now };
    await store.markRunning({ ...task, status: 'running', endTime: null }, now);
    await store.append(task);
    await store.clearRunning(task.taskId);
    out.loaded = 0;
  } else if (o.role === 'run') {
    // The store's part of `model-perf run -- true`: recover dead tasks, load what its monitor keeps
    // (maxHistorySize 1: run shows no other task), mark the task running, append it, clear the marker.
    const store = new E.JsonlHistoryStore(o.dir, opts);
    await store.recoverInterrupted(now, new Set());
    const loaded = await store.load(now, { lastN: 1 });
    const task = { ...fixtureTask(0, now - 5000), taskId: `run-${process.pid}`, endTime: now };
    await store.markRunning({ ...task, status: 'running', endTime: null }, now);
    await store.append(task);
    await store.clearRunning(task.taskId);
    out.loaded = loaded.tasks.length;
  } else if (o.role === 'window') {
    // What a window shows at activation: the newest maxHistorySize tasks.
    const store = new E.JsonlHistoryStore(o.dir, opts);
    out.loaded = (await store.load(now, { lastN: 10_000 })).tasks.length;
  } else if (o.role === 'analyze') {
    const store = new E.JsonlHistoryStore(o.dir, opts);
    const tasks = [];
    for await (const t of store.iterate({ nowMs: now, sinceMs: now - DAY_MS })) tasks.push(t);
    const a = E.analyzePerformance(tasks, E.DEFAULT_THRESHOLDS, now, 24);
    out.loaded = tasks.length;
    out.analysed = a.totalTasks ?? tasks.length;
  } else if (o.role === 'append') {
    const store = new E.JsonlHistoryStore(o.dir, opts);
    await store.append({ ...fixtureTask(1, now - 5000), taskId: 'warm', endTime: now });
    const times = [];
    for (let i = 0; i < 20; i++) {
      const a = performance.now();
      await store.append({ ...fixtureTask(i, now - 5000), taskId: `append-${i}`, endTime: now });
      times.push(performance.now() - a);
    }
    out.appendMs = median(times);
  } else if (o.role === 'old-load') {
    const store = new E.JsonlHistoryStore(o.dir, opts);
    try {
      out.loaded = (await store.load(now)).tasks.length;
    } catch (err) {
      out.error = err.message;
    }
  }
  out.ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  // CPU time moves less than wall time on a shared machine: both are reported.
  out.cpuMs = (cpu.user + cpu.system) / 1000;
  out.rssMb = process.resourceUsage().maxRSS / 1024;
  out.heapMb = process.memoryUsage().heapUsed / 1048576;
  process.stdout.write(JSON.stringify(out));
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function runChild(engine, role, dir, now, maxTasks = 0) {
  return new Promise((resolveRun, reject) => {
    const started = performance.now();
    const p = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--role', role, '--engine', engine, '--dir', dir, '--now', String(now), '--max-tasks', String(maxTasks)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (d) => (text += d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${role} child exited ${code}`));
      resolveRun({ ...JSON.parse(text), wallMs: performance.now() - started });
    });
  });
}

async function repeat(o, engine, role, fixture, legacy = false, maxTasks = 0) {
  const runs = [];
  const work = join(tmpdir(), `model-perf-bench-history-work-${process.pid}`);
  for (let i = 0; i < o.repeats; i++) {
    workCopy(fixture, work, legacy);
    runs.push(await runChild(engine, role, work, fixture?.now ?? Date.UTC(2026, 10, 29, 12), maxTasks));
  }
  rmSync(work, { recursive: true, force: true });
  const pick = (k) => median(runs.map((r) => r[k]));
  return { wallMs: pick('wallMs'), ms: pick('ms'), cpuMs: pick('cpuMs'), rssMb: Math.max(...runs.map((r) => r.rssMb)), heapMb: pick('heapMb'), loaded: runs[0].loaded, appendMs: runs[0].appendMs, error: runs[0].error, ...(role === 'activate' ? { figuresMs: pick('figuresMs'), firstTextMs: pick('firstTextMs'), figures: runs[0].figures, peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)) } : {}) };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.role) return child(o);
  const build = join(tmpdir(), `model-perf-bench-history-build-${process.pid}`);
  mkdirSync(build, { recursive: true });
  const { engine, extension, old } = await bundle(build, o.old);
  const E = await import(pathToFileURL(engine).href);
  console.log(`History store at size: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${o.repeats} runs per row (median; memory is the peak)`);
  const rows = [];
  const fmt = (x, d = 0) => (x === undefined || x === null ? '-' : x.toFixed(d));
  const row = (name, r) => {
    rows.push({ name, ...r });
    console.log(`  ${name.padEnd(44)} ${fmt(r.wallMs).padStart(7)} ms process   ${fmt(r.ms).padStart(7)} ms work ${fmt(r.cpuMs).padStart(6)} ms CPU  ${fmt(r.rssMb).padStart(5)} MB RSS  ${fmt(r.heapMb).padStart(5)} MB heap  ${r.loaded ?? ''}${r.appendMs !== undefined ? ` append ${fmt(r.appendMs, 2)} ms` : ''}${r.error ? ` ERROR: ${r.error}` : ''}`);
    if (r.figuresMs !== undefined) console.log(`  ${''.padEnd(44)} first figures in the status bar at ${fmt(r.figuresMs)} ms ("${r.figures}"), activate() resolved at ${fmt(r.ms)} ms`);
    return r;
  };

  const none = row('run -- true (store part), empty history', await repeat(o, engine, 'run', null));
  const noneNoLoad = row('run -- true, no history load, empty history', await repeat(o, engine, 'run-noload', null));
  const fixtures = [];
  for (const n of [...o.scales, o.tasks]) fixtures.push(await makeFixture(E, n));
  for (const f of fixtures) {
    row(`run -- true (store part), ${f.n} tasks`, await repeat(o, engine, 'run', f));
    row(`run -- true, no history load, ${f.n} tasks`, await repeat(o, engine, 'run-noload', f));
    row(`window load (newest 10 000), ${f.n} tasks`, await repeat(o, engine, 'window', f));
    row(`analysis of a 24 h window, ${f.n} tasks`, await repeat(o, engine, 'analyze', f));
    row(`append (median of 20), ${f.n} tasks`, await repeat({ ...o, repeats: 1 }, engine, 'append', f));
    if (old && f.n <= 100_000) row(`OLD single file: load, ${f.n} tasks`, await repeat({ ...o, repeats: Math.min(o.repeats, 3) }, old, 'old-load', f, true));
  }
  // The extension's activation: empty, then the big fixture with the default maxTasks and with 1 M.
  const bigFixture = fixtures[fixtures.length - 1];
  const actNone = row('activation, empty history', await repeat(o, extension, 'activate', null));
  const actBig = row(`activation, ${o.tasks} tasks (maxTasks default 100 000)`, await repeat(o, extension, 'activate', bigFixture));
  const actBigAll = row(`activation, ${o.tasks} tasks, maxTasks ${o.tasks}`, await repeat({ ...o, repeats: Math.min(o.repeats, 2) }, extension, 'activate', bigFixture, false, o.tasks));
  const big = rows.find((r) => r.name === `run -- true (store part), ${o.tasks} tasks`);
  const bigAnalysis = rows.find((r) => r.name === `analysis of a 24 h window, ${o.tasks} tasks`);
  const bigWindow = rows.find((r) => r.name === `window load (newest 10 000), ${o.tasks} tasks`);
  const bigNoLoad = rows.find((r) => r.name === `run -- true, no history load, ${o.tasks} tasks`);
  const ratio = big.wallMs / none.wallMs;
  const ratioNoLoad = bigNoLoad.wallMs / noneNoLoad.wallMs;
  console.log('');
  console.log(`  run -- true start-up (process), ${o.tasks} tasks ÷ none: ${ratio.toFixed(2)} (target ≤ 1.2)  [${big.wallMs.toFixed(0)} / ${none.wallMs.toFixed(0)} ms]; run's monitor keeps its newest task only`);
  console.log(`  the same without loading tasks (recover, mark, append, clear): ${ratioNoLoad.toFixed(2)}  [${bigNoLoad.wallMs.toFixed(0)} / ${noneNoLoad.wallMs.toFixed(0)} ms]`);
  console.log(`  analysis of a 24 h window over ${o.tasks} tasks: ${bigAnalysis.ms.toFixed(0)} ms wall, ${bigAnalysis.cpuMs.toFixed(0)} ms CPU (target < 500), ${bigAnalysis.rssMb.toFixed(0)} MB resident (target < 200)`);
  console.log(`  memory of a window's load with ${o.tasks} tasks: ${bigWindow.rssMb.toFixed(0)} MB resident, ${bigWindow.heapMb.toFixed(0)} MB heap`);
  const activationRatio = actBig.figuresMs / actNone.figuresMs;
  console.log(`  activation to the status bar's first figures, ${o.tasks} tasks ÷ none: ${activationRatio.toFixed(2)} (target ≤ 1.2)  [${actBig.figuresMs.toFixed(0)} / ${actNone.figuresMs.toFixed(0)} ms]; with maxTasks ${o.tasks}: ${(actBigAll.figuresMs / actNone.figuresMs).toFixed(2)}`);
  console.log(`  extension host after activation: none ${actNone.rssMb.toFixed(0)} MB resident (${actNone.heapMb.toFixed(0)} MB heap); ${o.tasks} tasks ${actBig.rssMb.toFixed(0)} MB (${actBig.heapMb.toFixed(0)} MB heap); with maxTasks ${o.tasks} ${actBigAll.rssMb.toFixed(0)} MB (${actBigAll.heapMb.toFixed(0)} MB heap), activate() after ${(actBigAll.ms / 1000).toFixed(1)} s`);
  mkdirSync(dirname(o.out), { recursive: true });
  const ratios = { runStartup1MOverNone: ratio, runStartupWithoutLoad1MOverNone: ratioNoLoad, activationFigures1MOverNone: activationRatio };
  writeFileSync(o.out, JSON.stringify({ node: process.version, cpus: cpus().length, rows, ratios }, null, 2));
  if (o.json) {
    const pick = (r) => ({ ms: r.ms, cpuMs: r.cpuMs, rssMb: r.rssMb, heapMb: r.heapMb, ...(r.figuresMs !== undefined ? { figuresMs: r.figuresMs } : {}) });
    console.log(JSON.stringify({ tasks: o.tasks, ratios, analysis: { ...pick(bigAnalysis), loaded: bigAnalysis.loaded }, activation: { none: pick(actNone), big: pick(actBig), bigAllTasks: pick(actBigAll) } }));
  }
  rmSync(build, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
