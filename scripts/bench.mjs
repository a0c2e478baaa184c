// `npm run bench`: what the engine costs. (1) Our sampling at 1 Hz against a naive peer (systeminformation
// currentLoad + mem + fsSize and one `nvidia-smi --query-gpu` spawn per poll), each in its own process,
// same fake nvidia-smi (1 and 8 GPUs), same duration, start-up (--startup) excluded. Each side's
// cost is its OWN process CPU, read by this parent from /proc at two marks the side prints (so the
// measurement never counts itself; children excluded: the fake nvidia-smi is a node script that costs
// far more than the real tool) plus the GPU tool's work it caused, counted in the fake's call log
// (spawns, streamed lines) and PRICED at the real tool's cost (see TOOL_PRICES). Rows: a window's
// engine with no task and with one task followed (1 and 8 GPUs) and the CLI's `model-perf run`;
// event-loop delay. (2) Analysis of 100 000 tasks over 30 days. (3) Heap growth over a simulated
// 24 h at 1 Hz with tasks coming and going. Prints a table, writes bench-results/bench.json.
//
//   node scripts/bench.mjs [--duration S] [--startup S] [--quick] [--check] [--out FILE] [--no-webview] [--windows]
//
// It also runs scripts/bench-webview.mjs (the dashboard: bundle size and one live update in
// headless Chromium; --no-webview skips it), scripts/bench-history.mjs and bench-import.mjs (the
// history at 1 M tasks: a 24 h analysis, `run` start-up, the extension's activation and memory;
// an import of 200 000 tasks; bench-dashboard.mjs, a task end's dashboard update at 100 000 ÷
// 1 000 tasks held; about 4 minutes, the 1 M fixture made once in the temp folder;
// --no-history skips them) and, with --windows, scripts/bench-windows.mjs (the
// extension's cost with one and three VS Code windows in code-server; about 5 minutes).
// --duration: seconds of CPU measurement per side (default 30: a 10 s window moved by ±15 % from run to run at 1 Hz; the event-loop phase runs half as long).
// --startup: seconds of each side's start-up left out of its CPU (default 20: see DEFAULT_STARTUP_SECONDS).
// --quick: a smoke run (3 s per side, fewer repeats, 2 simulated hours): figures are rough.
// --check: exit 1 when a target is missed (default: report only, exit 0); `npm run bench --check`
// and `npm run bench -- --check` both work. The unit tests assert no time: the targets live here.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { flagsOf } from './args.mjs';
import { bundleEngine } from './benchEngine.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FAKE_NVIDIA_SMI = join(ROOT, 'test/fixtures/bin/nvidia-smi');
/** USER_HZ: the unit of utime/stime in /proc/PID/stat on every mainstream Linux. */
const TICKS_PER_SECOND = 100;
const HOUR_MS = 3_600_000;
/**
 * Default seconds after a side starts before its CPU is counted (--startup). Not 3: a node process
 * that has just loaded the engine bundle and does nothing else spends about 2.8 ms of CPU per
 * second in V8's background threads (compiling, collecting) until second 13 or so, and 0.2 ms per
 * second after 25 s (measured on this project's 2-core machine): counted from second 3, a
 * 10-second window measures that warm-up, not the steady state a window lives in for hours.
 */
const DEFAULT_STARTUP_SECONDS = 20;

/**
 * What the real nvidia-smi costs, for pricing the work counted in the fake's log. Each price says
 * where it comes from; replace them with figures measured on a GPU machine (with the date) when one
 * is lent: none was for these figures.
 */
const TOOL_PRICES = {
  spawnMs: {
    value: 7,
    source: 'one-off `nvidia-smi --query-gpu=... --format=csv` run: about 7 ms of CPU (netdata/netdata issue 10362); the same price for a `--query-compute-apps` run (not measured separately)',
  },
  streamLineMs: {
    value: 0.3,
    source: 'one line printed by a looping `-lms` child: priced at the parse cost of one streamed sample on this project\'s machines (about 0.3 ms, project notes on GPU sampling), an upper bound per line; the real tool\'s per-iteration cost is NOT measured (no GPU machine lent)',
  },
};
const DAY_MS = 24 * HOUR_MS;

// ---------------------------------------------------------------------------------------------
// Arguments

function parseArgs(argv) {
  const opts = { duration: null, quick: false, check: false, webview: true, windows: false, out: join(ROOT, 'bench-results/bench.json'), startup: null, role: null, engine: null, side: null, storage: null, gpus: 1, hours: 24, tasks: 100_000, repeats: 9, history: true };
  for (const [a, value] of flagsOf(argv, fail)) {
    if (a === '--duration') opts.duration = Number(value());
    else if (a === '--quick') opts.quick = true;
    else if (a === '--startup') opts.startup = Number(value());
    else if (a === '--check') opts.check = true;
    else if (a === '--no-webview') opts.webview = false;
    else if (a === '--windows') opts.windows = true;
    else if (a === '--no-history') opts.history = false;
    else if (a === '--out') opts.out = resolve(value());
    else if (a === '--role') opts.role = value();
    else if (a === '--engine') opts.engine = value();
    else if (a === '--side') opts.side = value();
    else if (a === '--storage') opts.storage = value();
    else if (a === '--gpus') opts.gpus = Number(value());
    else if (a === '--hours') opts.hours = Number(value());
    else if (a === '--tasks') opts.tasks = Number(value());
    else if (a === '--repeats') opts.repeats = Number(value());
    else if (a === '--help' || a === '-h') {
      console.log('Usage: node scripts/bench.mjs [--duration S] [--quick] [--check] [--out FILE] [--no-webview] [--no-history] [--windows]');
      process.exit(0);
    } else fail(`unknown argument ${JSON.stringify(a)}`);
  }
  // `npm run bench --check` (without `--`) does not pass --check on: npm takes it for its own
  // config and sets npm_config_check. Honour that spelling too, so a check never silently reports only.
  if (process.env.npm_config_check === 'true' && opts.role === null) opts.check = true;
  if (opts.duration === null) opts.duration = opts.quick ? 3 : 30;
  if (opts.startup === null) opts.startup = opts.quick ? 5 : DEFAULT_STARTUP_SECONDS;
  if (!(opts.duration >= 1 && opts.duration <= 600)) fail(`--duration must be between 1 and 600 seconds (got ${opts.duration})`);
  if (!(opts.startup >= 1 && opts.startup <= 600)) fail(`--startup must be between 1 and 600 seconds (got ${opts.startup})`);
  return opts;
}

function fail(message) {
  console.error(`bench: ${message}`);
  console.error('Usage: node scripts/bench.mjs [--duration S] [--quick] [--check] [--out FILE]');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// CPU of this process and of its children, from /proc

async function readTicks(pid) {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 (utime, stime, cutime, cstime) are f[11..14] counted from field 3 (state).
    return { own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
  } catch {
    return null;
  }
}

/** Pids of a process's live children (every thread may be a parent). */
async function livePids(pid) {
  const pids = new Set();
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
    for (const p of text.trim().split(/\s+/)) if (/^\d+$/.test(p)) pids.add(Number(p));
  }
  return pids;
}

/**
 * A reading of all CPU spent by children: the reaped ones (cutime + cstime of this process) plus
 * what the live ones have spent so far. The difference of two readings is the children's CPU in
 * between: a child alive at the first and reaped before the second is counted once.
 */
async function childrenCpu(parent) {
  const self = await readTicks(parent);
  const live = new Map();
  for (const pid of await livePids(parent)) {
    const t = await readTicks(pid);
    if (t) live.set(pid, t.own + t.reaped);
  }
  return { reapedTicks: self?.reaped ?? 0, live };
}

function childrenDeltaMs(a, b) {
  let ticks = b.reapedTicks - a.reapedTicks;
  for (const v of b.live.values()) ticks += v;
  for (const v of a.live.values()) ticks -= v;
  return (ticks / TICKS_PER_SECOND) * 1000;
}

// ---------------------------------------------------------------------------------------------
// The engine, bundled once from src/ for the workers

function buildEngine(dir) {
  return bundleEngine(dir, 'engine', [
    "export { PerformanceMonitor } from './src/core/engine/monitor';",
    "export { MemoryHistoryStore } from './src/core/history/historyStore';",
    "export { ProcSystemSampler } from './src/core/sampling/os/procSystemSampler';",
    "export { ProcTreeSampler } from './src/core/sampling/os/procTreeSampler';",
    "export { NvidiaSmiProvider } from './src/core/sampling/gpu/nvidiaSmiProvider';",
    "export { SharedEngine } from './src/core/machine';",
    "export { NVIDIA_QUERY_FIELDS } from './src/core/sampling/gpu/nvidiaSmiParser';",
    "export { analyzePerformance } from './src/core/engine/analysis';",
    "export { DEFAULT_THRESHOLDS } from './src/core/engine/config';",
  ]);
}

/** The CLI as shipped (dist/cli.js), bundled from src/ so the bench needs no prior build. */
async function buildCli(dir) {
  const esbuild = await import('esbuild');
  const outfile = join(dir, 'cli.cjs');
  await esbuild.build({ entryPoints: [join(ROOT, 'src/cli/main.ts')], outfile, bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['vscode'], logLevel: 'error' });
  return outfile;
}

// ---------------------------------------------------------------------------------------------
// Own CPU of a process, children excluded

/**
 * CPU a process has spent itself, all its threads, children excluded: from /proc/PID/task/STAR/schedstat
 * (nanoseconds; /proc/PID/stat counts 10 ms ticks, too coarse for a few ms per second) and, as a
 * cross-check, utime + stime of /proc/PID/stat. A thread that ended in between is lost from the
 * schedstat sum; node's threads live as long as the process.
 */
async function ownCpu(pid) {
  let ns = 0;
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const text = await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '');
    const n = Number(text.split(' ')[0]);
    if (Number.isFinite(n)) ns += n;
  }
  const ticks = await readTicks(pid);
  return { ms: ns / 1e6, statMs: ticks ? (ticks.own / TICKS_PER_SECOND) * 1000 : null };
}

/** The fake nvidia-smi's log between two instants: spawns by kind, streamed lines, priced. */
async function toolWork(logFile, fromMs, toMs) {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const work = { spawns: 0, gpuQuerySpawns: 0, computeAppsSpawns: 0, streamsStarted: 0, streamedLines: 0 };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    if (!(e.t >= fromMs && e.t <= toMs)) continue;
    if (Array.isArray(e.args)) {
      work.spawns++;
      if (e.args.includes('-lms')) work.streamsStarted++;
      else if (e.args.some((a) => String(a).startsWith('--query-compute-apps'))) work.computeAppsSpawns++;
      else work.gpuQuerySpawns++;
    } else if (Number.isFinite(e.lines)) work.streamedLines += e.lines;
  }
  work.pricedMs = work.spawns * TOOL_PRICES.spawnMs.value + work.streamedLines * TOOL_PRICES.streamLineMs.value;
  return work;
}

// ---------------------------------------------------------------------------------------------
// Worker: one sampling side for one phase each of CPU and event-loop delay

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A VS Code window's engine as shipped (core/machine.ts SharedEngine): sampler lock and its
 * heartbeat, the published live sample, the history folder, the /proc samplers and the
 * long-lived `nvidia-smi -lms` stream; per-process GPU memory only while a task runs. Variants:
 *  - `engine-idle`: no task (an open window);
 *  - `engine-task`: one running task whose process tree (this process's) is followed.
 */
async function engineSide(engine, variant, storageDir) {
  const E = await import(pathToFileURL(engine).href);
  const quiet = { info() {}, warn() {}, error() {} };
  const shared = new E.SharedEngine({
    settings: { config: { monitoringIntervalMs: 1000 }, nvidiaSmiPath: FAKE_NVIDIA_SMI, storageDir },
    diskPath: process.cwd(),
    logger: quiet,
    env: process.env,
  });
  const monitor = shared.monitor;
  let samples = 0;
  let gpusSeen = 0;
  monitor.on('snapshot', (s) => {
    samples++;
    gpusSeen = s.gpus.length;
  });
  await shared.start();
  if (shared.role !== 'leader') throw new Error(`the bench engine did not take the sampler lock in ${storageDir} (role ${shared.role})`);
  if (!monitor.getGpuAvailability().available) throw new Error(`the fake nvidia-smi did not start: ${monitor.getGpuAvailability().reason}`);
  if (variant === 'engine-task') monitor.startTaskMonitoring('bench', 'bench', '720p', 0, { rootPid: process.pid });
  return { count: () => samples, gpus: () => gpusSeen, stop: () => shared.dispose() };
}

async function naiveSide() {
  const si = (await import('systeminformation')).default;
  const execFileP = promisify(execFile);
  const E_FIELDS = 'index,uuid,name,utilization.gpu,utilization.memory,memory.used,memory.total,temperature.gpu,power.draw,power.limit,clocks.sm,pstate,mig.mode.current';
  let samples = 0;
  let gpusSeen = 0;
  let timer = null;
  let stopped = false;
  let next = performance.now();
  const poll = async () => {
    const [, , , smi] = await Promise.all([si.currentLoad(), si.mem(), si.fsSize(), execFileP(FAKE_NVIDIA_SMI, [`--query-gpu=${E_FIELDS}`, '--format=csv,noheader,nounits'])]);
    gpusSeen = smi.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.split(', ')).length;
    samples++;
  };
  const loop = async () => {
    if (stopped) return;
    await poll();
    next += 1000;
    timer = setTimeout(loop, Math.max(0, next - performance.now()));
  };
  await loop();
  return {
    count: () => samples,
    gpus: () => gpusSeen,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Nothing but a 1 Hz timer: the floor both sides are compared against for event-loop delay. */
async function idleSide() {
  let samples = 0;
  const t = setInterval(() => samples++, 1000);
  return { count: () => samples, gpus: () => 0, stop: async () => clearInterval(t) };
}

/** p99 and more of the event-loop delay over `ms`, with a 1 ms histogram timer. */
async function eventLoopDelay(ms) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await sleep(ms);
  h.disable();
  return { p99Ms: h.percentile(99) / 1e6, p999Ms: h.percentile(99.9) / 1e6, maxMs: h.max / 1e6 };
}

/** Starts an idle process that measures event-loop delay for `ms` once it is ready; resolves when it is. */
function startFloorSibling(ms) {
  return new Promise((ready, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--role', 'eld-floor', '--duration', String(ms / 1000)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let started = false;
    const result = new Promise((resolveResult, rejectResult) => {
      child.on('close', (code) => {
        try {
          if (code !== 0) throw new Error(`the event-loop floor process exited with ${code}`);
          resolveResult(JSON.parse(out.trim().split('\n').pop()));
        } catch (err) {
          rejectResult(err);
        }
      });
    });
    child.on('error', reject);
    child.stdout.on('data', (c) => {
      out += c;
      if (!started && out.startsWith('ready\n')) {
        started = true;
        out = out.slice('ready\n'.length);
        ready(result);
      }
    });
  });
}

async function floorWorker(opts) {
  await sleep(200);
  process.stdout.write('ready\n');
  process.stdout.write(`${JSON.stringify(await eventLoopDelay(opts.duration * 1000))}\n`);
}

async function samplerWorker(opts) {
  const durationMs = opts.duration * 1000;
  const startedAt = performance.now();
  const side = opts.side.startsWith('engine') ? await engineSide(opts.engine, opts.side, opts.storage) : opts.side === 'naive' ? await naiveSide() : await idleSide();
  // Start-up is not counted: the first --startup seconds (nvidia-smi probe, si's first calls, V8
  // warm-up) and, with a task, the start of the per-process child (the provider looks every 5 s).
  await sleep(Math.max(0, opts.startup * 1000 - (performance.now() - startedAt)));
  if (opts.side === 'engine-task') await untilLogged(process.env.FAKE_NVIDIA_SMI_LOG, '--query-compute-apps', 15_000);

  // The CPU window is read from OUTSIDE (the parent reads this process's /proc files when it sees
  // each mark): reading them here would count the measurement's own work as the side's.
  const n0 = side.count();
  const t0 = performance.now();
  process.stdout.write(`mark ${n0}\n`);
  await sleep(durationMs);
  const samples = side.count() - n0;
  const wallMs = performance.now() - t0;
  process.stdout.write(`mark ${side.count()}\n`);
  await sleep(100); // the parent's reading happens while this process sleeps

  // Event-loop delay in a separate phase: the 1 ms histogram timer itself costs CPU. An idle
  // sibling process measures at the same moment: its delay is the floor this shared machine gives
  // right now (neighbours on 2 cores raise it), so "added" compares like with like in time.
  const floorRun = await startFloorSibling(durationMs / 2);
  const eld = await eventLoopDelay(durationMs / 2);
  const floor = await floorRun;

  const gpus = side.gpus();
  await side.stop();
  process.stdout.write(
    `${JSON.stringify({
      side: opts.side,
      gpusAsked: opts.gpus,
      gpusSeen: gpus,
      wallMs,
      samples,
      eldP99Ms: eld.p99Ms,
      eldP999Ms: eld.p999Ms,
      eldMaxMs: eld.maxMs,
      floorEldP99Ms: floor.p99Ms,
      addedEldP99Ms: Math.max(0, eld.p99Ms - floor.p99Ms),
    })}\n`,
  );
  // A provider's child or si's timers must not keep the worker alive.
  setTimeout(() => process.exit(0), 500).unref();
}

/** Waits until the fake nvidia-smi's log has a spawn whose arguments mention `what`. */
async function untilLogged(logFile, what, timeoutMs) {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if ((await readFile(logFile, 'utf8').catch(() => '')).includes(what)) {
      await sleep(500); // and its first block
      return;
    }
    await sleep(100);
  }
  throw new Error(`the fake nvidia-smi was not asked for ${what} within ${timeoutMs / 1000} s`);
}

/**
 * `model-perf run -- sleep N` as a user runs it (the CLI bundle, the fake nvidia-smi), measured
 * from outside: its own CPU between second STARTUP_SECONDS and the end of the window, children
 * (the sleep, the fake) excluded, and the tool work in its log over the same window.
 */
async function measureCliRun(cli, dir, durationSeconds, startupSeconds) {
  const home = await mkdtemp(join(dir, 'cli-home-'));
  const log = join(dir, 'smi-cli-run.jsonl');
  const child = spawn(process.execPath, [cli, 'run', '--nvidia-smi', FAKE_NVIDIA_SMI, '--', 'sleep', String(startupSeconds + durationSeconds + 2)], {
    cwd: home,
    env: { ...process.env, MODEL_PERF_HOME: home, FAKE_NVIDIA_SMI_SCENARIO: '1gpu', FAKE_NVIDIA_SMI_LOG: log },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const closed = new Promise((r) => child.on('close', (code) => r(code)));
  await sleep(startupSeconds * 1000);
  const own0 = await ownCpu(child.pid);
  const from = Date.now();
  const t0 = performance.now();
  await sleep(durationSeconds * 1000);
  const own1 = await ownCpu(child.pid);
  const wallMs = performance.now() - t0;
  const to = Date.now();
  const code = await closed;
  if (code !== 0) throw new Error(`model-perf run exited with ${code}: ${stderr.slice(-500)}`);
  return {
    side: 'cli-run',
    gpusAsked: 1,
    gpusSeen: 1,
    wallMs,
    windowFromMs: from,
    windowToMs: to,
    // run samples at its default 1 s interval: samples are counted by time, not observed.
    samples: Math.round(wallMs / 1000),
    ownMs: own1.ms - own0.ms,
    ownStatMs: own0.statMs === null || own1.statMs === null ? null : own1.statMs - own0.statMs,
    fakeChildMs: null,
    tool: await toolWork(log, from, to),
  };
}

// ---------------------------------------------------------------------------------------------
// Worker: analysis of many tasks

const MODEL_TYPES = ['sdxl', 'sd15', 'flux-dev', 'wan-t2v', 'hunyuan', 'ltx-video', 'cogvideo', 'svd'];
const RESOLUTIONS = ['720p', '1080p', '1280x720', '1920x1080', '512x512', '4k'];

/** Deterministic pseudo-random numbers, so every run analyses the same tasks. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeTasks(count, nowMs, spanMs) {
  const r = rng(42);
  const tasks = [];
  for (let i = 0; i < count; i++) {
    const startTime = nowMs - spanMs + (spanMs * i) / count;
    const u = r();
    const status = u < 0.85 ? 'succeeded' : u < 0.93 ? 'failed' : u < 0.97 ? 'cancelled' : 'interrupted';
    const seconds = 20 + r() * 900;
    const peakVram = 4000 + r() * 20000;
    const ramPeak = 2000 + r() * 14000;
    const cpu = r() * 100;
    tasks.push({
      taskId: `task-${i}`,
      modelType: MODEL_TYPES[i % MODEL_TYPES.length],
      resolution: RESOLUTIONS[(i >> 3) % RESOLUTIONS.length],
      resolutionClass: null,
      steps: 30,
      status,
      startTime,
      endTime: status === 'interrupted' ? startTime + seconds * 500 : startTime + seconds * 1000,
      generationTimeSeconds: status === 'interrupted' ? null : seconds,
      modelLoadTimeSeconds: r() * 60,
      peakVramUsageMb: peakVram,
      averageVramUsageMb: peakVram * 0.8,
      peakRamUsageMb: ramPeak,
      averageCpuUsagePercent: cpu,
      vramScope: 'processTree',
      ramScope: 'processTree',
      cpuScope: 'processTree',
      gpuIndices: [0],
      vramTotalMb: 24564,
      ramTotalMb: 32000,
      averageGpuUtilizationPercent: r() * 100,
      peakGpuUtilizationPercent: 100,
      devicePeakVramUsageMb: peakVram + 500,
      deviceAverageVramUsageMb: peakVram * 0.8 + 500,
      devicePeakRamUsageMb: ramPeak + 4000,
      deviceAverageRamUsageMb: ramPeak + 3000,
      deviceAverageCpuUsagePercent: cpu / 8,
      peakTemperatureCelsius: 60 + r() * 25,
      processTreePeakRamUsageMb: ramPeak,
      processTreeAverageRamUsageMb: ramPeak * 0.8,
      processTreeAverageCpuUsagePercent: cpu,
      processTreePeakVramUsageMb: peakVram,
      processTreeAverageVramUsageMb: peakVram * 0.8,
      rootPid: 1000 + (i % 30000),
      sampleCount: Math.round(seconds),
      optimizationsApplied: i % 3 === 0 ? ['xformers'] : [],
      quantizationUsed: i % 5 === 0 ? 'int8' : null,
      offloadUsed: i % 7 === 0,
      success: status === 'succeeded',
      errorCategory: status === 'failed' ? (i % 2 ? 'out_of_memory' : 'exit_code_1') : status === 'interrupted' ? 'interrupted' : null,
    });
  }
  return tasks;
}

async function analysisWorker(opts) {
  const E = await import(pathToFileURL(opts.engine).href);
  const nowMs = Date.UTC(2026, 0, 31);
  const tasks = makeTasks(opts.tasks, nowMs, 30 * DAY_MS);
  const windowHours = 30 * 24;
  // Two runs to let the JIT settle, then the measured ones.
  for (let i = 0; i < 2; i++) E.analyzePerformance(tasks, E.DEFAULT_THRESHOLDS, nowMs, windowHours);
  const times = [];
  let analysis = null;
  for (let i = 0; i < opts.repeats; i++) {
    const t0 = performance.now();
    analysis = E.analyzePerformance(tasks, E.DEFAULT_THRESHOLDS, nowMs, windowHours);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({ tasks: tasks.length, analysed: analysis.taskCount, repeats: times.length, medianMs: times[Math.floor(times.length / 2)], minMs: times[0], maxMs: times[times.length - 1] })}\n`,
  );
}

// ---------------------------------------------------------------------------------------------
// Worker: heap growth over a simulated day

/** A clock that moves only when told: fires due timers in order, letting each sample settle. */
class ManualClock {
  constructor(startMs) {
    this.t = startMs;
    this.timers = [];
    this.nextId = 1;
  }
  now() {
    return this.t;
  }
  setTimeout(fn, ms) {
    const h = { id: this.nextId++, due: this.t + Math.max(0, ms), fn, unref() {} };
    this.timers.push(h);
    return h;
  }
  clearTimeout(h) {
    const i = this.timers.indexOf(h);
    if (i >= 0) this.timers.splice(i, 1);
  }
  async advanceTo(target) {
    for (;;) {
      let next = null;
      for (const h of this.timers) if (h.due <= target && (!next || h.due < next.due || (h.due === next.due && h.id < next.id))) next = h;
      if (!next) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.t = next.due;
      next.fn();
      // The fakes answer in microtasks, so one macrotask turn lets the whole sample finish.
      await new Promise((r) => setImmediate(r));
    }
    this.t = target;
  }
}

/** A history store that keeps nothing, so only the monitor's own memory is measured. */
const nullStore = {
  location: null,
  append: async () => {},
  load: async () => ({ tasks: [], warnings: [], needsCompaction: false }),
  compact: async () => ({ kept: 0, droppedExpired: 0, droppedOverCount: 0, droppedCorrupt: 0, keptUnknownSchema: 0 }),
  markRunning: async () => {},
  clearRunning: async () => {},
  recoverInterrupted: async () => [],
};

function heapAfterGc() {
  for (let i = 0; i < 4; i++) global.gc();
  return process.memoryUsage().heapUsed;
}

async function memoryWorker(opts) {
  if (typeof global.gc !== 'function') throw new Error('the memory worker needs node --expose-gc');
  const E = await import(pathToFileURL(opts.engine).href);
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const r = rng(7);
  const gpuCount = 8;
  const gpuReading = (i) => ({
    index: i,
    uuid: `GPU-${i}`,
    name: 'NVIDIA H100 80GB HBM3',
    utilizationPercent: Math.round(r() * 100),
    memoryUtilizationPercent: Math.round(r() * 100),
    vramUsedMb: Math.round(r() * 80000),
    vramTotalMb: 81559,
    temperatureCelsius: 40 + Math.round(r() * 40),
    powerDrawWatts: r() * 700,
    powerLimitWatts: 700,
    smClockMhz: 1980,
    performanceState: 'P0',
    mig: false,
  });
  let running = new Set();
  const monitor = new E.PerformanceMonitor(
    { monitoringIntervalMs: 1000 },
    {
      clock,
      historyStore: nullStore,
      systemSampler: { sample: async () => ({ cpuUsagePercent: r() * 100, ramUsedMb: 20000 + r() * 10000, ramAvailableMb: 30000, ramTotalMb: 64000, diskUsagePercent: 50 }) },
      gpuProvider: {
        kind: 'nvidia',
        start: async () => ({ provider: 'nvidia', available: true, reason: null }),
        read: async () => ({
          timestamp: clock.now(),
          gpus: Array.from({ length: gpuCount }, (_, i) => gpuReading(i)),
          processes: [...running].map((pid, i) => ({ pid, gpuUuid: `GPU-${i % gpuCount}`, usedMemoryMb: Math.round(r() * 20000) })),
        }),
        availability: () => ({ provider: 'nvidia', available: true, reason: null }),
        stop: async () => {},
      },
      processSampler: { sampleTree: async (pid) => (running.has(pid) ? { rootPid: pid, pids: [pid, pid + 1], rssMb: 1000 + r() * 5000, cpuPercent: r() * 400 } : null) },
    },
  );
  let snapshots = 0;
  monitor.on('snapshot', () => snapshots++);
  await monitor.startMonitoring();
  const base = heapAfterGc();
  const start = clock.now();
  // A task starts every 2 minutes and runs 30 s to 4 minutes (so some overlap); one in ten fails.
  let taskNo = 0;
  const live = new Map();
  let afterFirstHour = null;
  const totalMs = opts.hours * HOUR_MS;
  const wall0 = performance.now();
  for (let t = 1000; t <= totalMs; t += 1000) {
    await clock.advanceTo(start + t);
    if (t % 120_000 === 0) {
      const id = `sim-${taskNo++}`;
      const pid = 10_000 + taskNo;
      running.add(pid);
      monitor.startTaskMonitoring(id, MODEL_TYPES[taskNo % MODEL_TYPES.length], RESOLUTIONS[taskNo % RESOLUTIONS.length], 30, { rootPid: pid });
      live.set(id, { pid, endAt: t + 30_000 + Math.round(r() * 210_000) });
    }
    for (const [id, task] of live) {
      if (task.endAt > t) continue;
      live.delete(id);
      running.delete(task.pid);
      await monitor.completeTaskMonitoring(id, r() > 0.1, null);
    }
    if (t === HOUR_MS) afterFirstHour = heapAfterGc();
  }
  const end = heapAfterGc();
  const wallMs = performance.now() - wall0;
  await monitor.dispose();
  running = new Set();
  process.stdout.write(
    `${JSON.stringify({
      simulatedHours: opts.hours,
      snapshots,
      tasks: taskNo,
      gpus: gpuCount,
      heapBaseMb: base / 1048576,
      heapEndMb: end / 1048576,
      growthMb: (end - base) / 1048576,
      growthAfterFirstHourMb: afterFirstHour === null ? null : (end - afterFirstHour) / 1048576,
      wallMs,
    })}\n`,
  );
}

// ---------------------------------------------------------------------------------------------
// Orchestration

/**
 * Runs a worker and resolves with its last output line as JSON. `onMark(pid)` is awaited for each
 * `mark N` line the worker prints (a sampler side marks the start and end of its CPU window).
 */
function runWorker(args, env = {}, nodeFlags = [], onMark = null) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, fileURLToPath(import.meta.url), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let pending = '';
    let marks = Promise.resolve();
    child.stdout.on('data', (c) => {
      out += c;
      pending += c;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (onMark && line.startsWith('mark ')) marks = marks.then(() => onMark(child.pid, Number(line.slice(5))));
      }
    });
    child.on('error', reject);
    child.on('close', async (code) => {
      await marks.catch(reject);
      if (code !== 0) return reject(new Error(`bench worker ${args.join(' ')} exited with ${code}`));
      const line = out.trim().split('\n').pop();
      try {
        resolvePromise(JSON.parse(line));
      } catch {
        reject(new Error(`bench worker ${args.join(' ')} printed no result: ${out}`));
      }
    });
  });
}

const fmt = (n, d = 2) => (n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(d));

/** Per-sample figures of one side: own CPU, the priced tool work, their total. */
function samplerFigures(r) {
  const per = (ms) => (r.samples > 0 && ms !== null ? ms / r.samples : null);
  const totalMs = r.ownMs + r.tool.pricedMs;
  return {
    ...r,
    totalMs,
    ownMsPerSample: per(r.ownMs),
    ownStatMsPerSample: per(r.ownStatMs),
    toolMsPerSample: per(r.tool.pricedMs),
    msPerSample: per(totalMs),
    fakeChildMsPerSample: per(r.fakeChildMs),
    spawnsPerMinute: (r.tool.spawns / r.wallMs) * 60_000,
    coreSharePercent: (totalMs / r.wallMs) * 100,
  };
}

async function main(opts) {
  if (process.platform !== 'linux') fail('the benchmark reads /proc and runs the fake nvidia-smi: Linux only');
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'model-perf-bench-'));
  try {
    const engine = await buildEngine(dir);
    console.log(
      `model-perf bench: ${opts.quick ? 'quick smoke run, ' : ''}${opts.duration} s of CPU per side (+${opts.duration / 2} s event-loop phase), ${cpus().length} cores, node ${process.version}`,
    );

    const sampler = [];
    const measure = async (side, gpus) => {
      const log = join(dir, `smi-${side}-${gpus}.jsonl`);
      const storage = await mkdtemp(join(dir, `storage-${side}-${gpus}-`));
      // The window: the worker's own CPU and its children's, read from here at its two marks.
      const marks = [];
      const atMark = async (pid) => {
        const at = Date.now();
        marks.push({ at, own: await ownCpu(pid), kids: await childrenCpu(pid) });
      };
      const worker = await runWorker(['--role', 'sampler', '--side', side, '--gpus', String(gpus), '--engine', engine, '--storage', storage, '--duration', String(opts.duration), '--startup', String(opts.startup)], {
        FAKE_NVIDIA_SMI_SCENARIO: `${gpus}gpu`,
        FAKE_NVIDIA_SMI_LOG: log,
      }, [], atMark);
      if (marks.length !== 2) throw new Error(`the ${side} worker marked its window ${marks.length} time(s), not 2`);
      const [m0, m1] = marks;
      const raw = {
        ...worker,
        windowFromMs: m0.at,
        windowToMs: m1.at,
        ownMs: m1.own.ms - m0.own.ms,
        ownStatMs: m0.own.statMs === null || m1.own.statMs === null ? null : m1.own.statMs - m0.own.statMs,
        fakeChildMs: Math.max(0, childrenDeltaMs(m0.kids, m1.kids)),
      };
      const r = samplerFigures({ ...raw, tool: await toolWork(log, raw.windowFromMs, raw.windowToMs) });
      if (side !== 'idle' && r.gpusSeen !== gpus) throw new Error(`${side} saw ${r.gpusSeen} GPU(s) with the ${gpus}-GPU fake`);
      sampler.push(r);
      console.log(`  sampler ${side}${side === 'idle' ? '' : ` ${gpus} GPU`}: own ${fmt(r.ownMsPerSample, 3)} + tool ${fmt(r.toolMsPerSample, 3)} ms/sample, ${r.tool.spawns} spawn(s), p99 event-loop delay ${fmt(r.eldP99Ms)} ms`);
      return r;
    };
    await measure('idle', 1);
    for (const gpus of [1, 8]) for (const side of ['engine-idle', 'engine-task', 'naive']) await measure(side, gpus);
    const cliRun = samplerFigures(await measureCliRun(await buildCli(dir), dir, opts.duration, opts.startup));
    sampler.push(cliRun);
    console.log(`  sampler model-perf run 1 GPU: own ${fmt(cliRun.ownMsPerSample, 3)} + tool ${fmt(cliRun.toolMsPerSample, 3)} ms/sample, ${cliRun.tool.spawns} spawn(s)`);
    const analysis = await runWorker(['--role', 'analysis', '--engine', engine, '--tasks', '100000', '--repeats', String(opts.quick ? 3 : 9)]);
    console.log(`  analysis: median ${fmt(analysis.medianMs, 1)} ms`);
    const memory = await runWorker(['--role', 'memory', '--engine', engine, '--hours', String(opts.quick ? 2 : 24)], {}, ['--expose-gc']);
    console.log(`  memory: ${fmt(memory.growthMb)} MB over ${memory.simulatedHours} simulated h (${fmt(memory.wallMs / 1000, 1)} s)`);

    let webview = null;
    if (opts.webview) {
      webview = await runScriptJson(['scripts/bench-webview.mjs', '--json'], 'dashboard');
      if (webview) console.log(`  dashboard: ${webview.bundleKb} KB bundle, live update median ${webview.medianMs} ms, p95 ${webview.p95Ms} ms`);
    }
    // One Prometheus scrape of `model-perf serve` with 8 GPUs (scripts/bench-serve.mjs): server side, render included.
    const serve = (await runScriptJson(['scripts/bench-serve.mjs', '--json', '--scrapes', opts.quick ? '1000' : '3000'], 'serve')) ?? null;
    if (serve) console.log(`  serve: a scrape of 8 GPUs, server side median ${fmt(serve.serve.medianMs, 2)} ms, p95 ${fmt(serve.serve.p95Ms, 2)} ms`);
    // The NVML backend against the stream (scripts/bench-nvml.mjs): report only, against a stand-in library.
    const nvml = (await runScriptJson(['scripts/bench-nvml.mjs', '--json', ...(opts.quick ? ['--quick'] : [])], 'nvml')) ?? null;
    if (nvml) console.log(`  nvml: own ms/sample net of the floor, 1 GPU ${fmt(nvml.rows.find((r) => r.side === 'nvml').netMsPerSample, 3)} (stream ${fmt(nvml.rows.find((r) => r.side === 'stream').netMsPerSample, 3)})`);
    let history = null;
    let historyImport = null;
    let dashboardUpdate = null;
    if (opts.history) {
      const tasks = opts.quick ? 100_000 : 1_000_000;
      history = await runScriptJson(['scripts/bench-history.mjs', '--tasks', String(tasks), '--scales', '', '--repeats', opts.quick ? '1' : '3', '--no-old', '--json', '--out', join(dir, 'bench-history.json')], 'history');
      if (history) console.log(`  history: 24 h analysis over ${history.tasks} tasks ${fmt(history.analysis.cpuMs)} ms CPU; activation to first figures ${fmt(history.ratios.activationFigures1MOverNone, 2)} × empty`);
      historyImport = await runScriptJson(['scripts/bench-import.mjs', '--tasks', opts.quick ? '20000' : '200000', '--json'], 'import');
      if (historyImport) console.log(`  import: ${historyImport.tasks} tasks in ${historyImport.seconds} s`);
      dashboardUpdate = await runScriptJson(['scripts/bench-dashboard.mjs', '--json'], 'dashboard update');
      if (dashboardUpdate) console.log(`  dashboard update after a task end: ${fmt(dashboardUpdate.ratio, 2)} (100 000 ÷ 1 000 tasks)`);
    }
    let windows = null;
    if (opts.windows) {
      const file = join(dir, 'windows.json');
      if (await runScriptJson(['scripts/bench-windows.mjs', '--duration', String(opts.quick ? 10 : 30), '--json', file], 'windows', false) !== undefined) {
        windows = JSON.parse(await readFile(file, 'utf8'));
      }
    }

    const rows = [];
    const find = (side, gpus) => sampler.find((s) => s.side === side && s.gpusAsked === gpus);
    /** Own + priced tool against the naive poller's own + priced tool, and the own-CPU and spawn targets. */
    const compare = (side, gpus, label, ratioTarget, ownTargetMs) => {
      const ours = find(side, gpus);
      const naive = find('naive', gpus);
      const ratio = ours.msPerSample / naive.msPerSample;
      rows.push({
        name: `${label}, ${gpus} GPU: (own + priced tool) / naive`,
        value: ratio,
        unit: 'ratio',
        display: `${fmt(ours.msPerSample, 3)} / ${fmt(naive.msPerSample, 2)} ms = ${fmt(ratio, 3)}`,
        target: `<= ${ratioTarget}`,
        pass: ratio <= ratioTarget,
      });
      rows.push({ name: '  own CPU per sample (children excluded)', value: ours.ownMsPerSample, unit: 'ms', display: `${fmt(ours.ownMsPerSample, 3)} ms (naive ${fmt(naive.ownMsPerSample, 2)} ms)`, target: `<= ${ownTargetMs} ms`, pass: ours.ownMsPerSample <= ownTargetMs });
      rows.push({ name: '  nvidia-smi spawns in steady state', value: ours.tool.spawns, unit: 'count', display: `${ours.tool.spawns} (naive ${naive.tool.spawns})`, target: '0', pass: ours.tool.spawns === 0 });
      if (ours.addedEldP99Ms !== undefined) {
        rows.push({ name: '  event-loop delay p99 added: ours (naive)', value: ours.addedEldP99Ms, unit: 'ms', display: `${fmt(ours.addedEldP99Ms)} ms (${fmt(naive.addedEldP99Ms)} ms)`, target: '< 2 ms', pass: ours.addedEldP99Ms < 2 });
      }
    };
    for (const gpus of [1, 8]) {
      compare('engine-idle', gpus, 'window engine, no task', 0.05, 1);
      compare('engine-task', gpus, 'window engine, one task followed', 0.1, 2);
    }
    compare('cli-run', 1, 'model-perf run (one task)', 0.1, 2);
    rows.push({ name: `analysis of ${analysis.tasks.toLocaleString('en-US')} tasks, 30-day window (median)`, value: analysis.medianMs, unit: 'ms', display: `${fmt(analysis.medianMs, 1)} ms`, target: '< 50 ms', pass: analysis.medianMs < 50 });
    rows.push({
      name: `heap growth, ${memory.simulatedHours} simulated h at 1 Hz, ${memory.tasks} tasks`,
      value: memory.growthMb,
      unit: 'MB',
      display: `${fmt(memory.growthMb)} MB (after hour 1: ${fmt(memory.growthAfterFirstHourMb)} MB)`,
      target: '< 10 MB',
      pass: memory.growthMb < 10,
    });

    if (webview) {
      rows.push({ name: 'dashboard bundle (minified)', value: webview.bundleKb, unit: 'KB', display: `${fmt(webview.bundleKb, 1)} KB`, target: '< 400 KB', pass: webview.bundleKb < 400 });
      rows.push({ name: 'dashboard live update, 1 h at 1 Hz, 2 GPUs (p95)', value: webview.p95Ms, unit: 'ms', display: `${fmt(webview.p95Ms)} ms (median ${fmt(webview.medianMs)} ms)`, target: '< 4 ms', pass: webview.p95Ms < 4 });
    }
    if (serve) {
      rows.push({ name: `serve: one scrape, 8 GPUs, ${serve.exposition_bytes} bytes (server side, render included; median)`, value: serve.serve.medianMs, unit: 'ms', display: `${fmt(serve.serve.medianMs, 2)} ms (p95 ${fmt(serve.serve.p95Ms, 2)} ms; render alone ${fmt(serve.render.medianMs, 2)} ms)`, target: '< 1 ms', pass: serve.serve.medianMs < 1 });
    }
    if (nvml) {
      for (const gpus of [1, 8]) {
        const mine = nvml.rows.find((r) => r.side === 'nvml' && r.gpus === gpus);
        const stream = nvml.rows.find((r) => r.side === 'stream' && r.gpus === gpus);
        rows.push({
          name: `NVML backend (stand-in library, not the real driver), ${gpus} GPU: own CPU / stream's`,
          value: nvml.nvmlOverStream[`gpus${gpus}`],
          unit: 'ratio',
          display: `${fmt(mine.netMsPerSample, 3)} / ${fmt(stream.netMsPerSample, 3)} ms = ${fmt(nvml.nvmlOverStream[`gpus${gpus}`], 2)}`,
          target: '',
          pass: null,
        });
      }
    }
    if (history) {
      const n = history.tasks.toLocaleString('en-US');
      const a = history.analysis;
      rows.push({ name: `history: analysis of a 24 h window over ${n} tasks (CPU)`, value: a.cpuMs, unit: 'ms', display: `${fmt(a.cpuMs)} ms CPU (${fmt(a.ms)} ms wall), ${fmt(a.rssMb)} MB resident`, target: '< 500 ms, < 200 MB', pass: a.cpuMs < 500 && a.rssMb < 200 });
      rows.push({ name: `history: run -- true start-up, ${n} tasks / none`, value: history.ratios.runStartup1MOverNone, unit: 'ratio', display: fmt(history.ratios.runStartup1MOverNone, 2), target: '<= 1.2', pass: history.ratios.runStartup1MOverNone <= 1.2 });
      const act = history.activation;
      rows.push({ name: `activation to the status bar's first figures, ${n} tasks / none`, value: history.ratios.activationFigures1MOverNone, unit: 'ratio', display: `${fmt(act.big.figuresMs)} / ${fmt(act.none.figuresMs)} ms = ${fmt(history.ratios.activationFigures1MOverNone, 2)}`, target: '<= 1.2', pass: history.ratios.activationFigures1MOverNone <= 1.2 });
      rows.push({ name: `extension host after activation, ${n} tasks (none)`, value: act.big.rssMb, unit: 'MB', display: `${fmt(act.big.rssMb)} MB resident, ${fmt(act.big.heapMb)} MB heap (${fmt(act.none.rssMb)} / ${fmt(act.none.heapMb)} MB)`, target: '', pass: null });
      rows.push({ name: `  the same with history.maxTasks ${n} (all held)`, value: act.bigAllTasks.rssMb, unit: 'MB', display: `${fmt(act.bigAllTasks.rssMb)} MB resident, ${fmt(act.bigAllTasks.heapMb)} MB heap; activate() after ${fmt(act.bigAllTasks.ms / 1000, 1)} s`, target: '', pass: null });
    }
    if (dashboardUpdate) {
      const [small, big] = [dashboardUpdate.results[0], dashboardUpdate.results[dashboardUpdate.results.length - 1]];
      rows.push({ name: `dashboard update after a task end, ${big.tasks.toLocaleString('en-US')} tasks / ${small.tasks.toLocaleString('en-US')}`, value: dashboardUpdate.ratio, unit: 'ratio', display: `${fmt(big.medianMs, 1)} / ${fmt(small.medianMs, 1)} ms = ${fmt(dashboardUpdate.ratio, 1)}`, target: '<= 1.5', pass: dashboardUpdate.ratio <= 1.5 });
      // The full analysis the kept aggregates leave to a coalesced refresh (findings): at most one per 5 s while shown.
      const share = big.fullMedianMs / 5000;
      // Report only: an absolute time on a shared machine; what bounds it is the one-per-5-s rule (unit-tested).
      rows.push({ name: `  its coalesced full analysis (findings; one per 5 s at most while shown), ${big.tasks.toLocaleString('en-US')} / ${small.tasks.toLocaleString('en-US')} tasks`, value: share, unit: 'ratio', display: `${fmt(big.fullMedianMs, 1)} / ${fmt(small.fullMedianMs, 1)} ms; at 100 000, ${fmt(share * 100, 1)}% of 5 s`, target: '', pass: null });
    }
    if (historyImport) {
      rows.push({ name: `import of ${historyImport.tasks.toLocaleString('en-US')} tasks (batched append)`, value: historyImport.seconds, unit: 's', display: `${historyImport.seconds} s (${historyImport.appendSeconds} s appending), ${historyImport.peakRssMb} MB peak RSS`, target: '', pass: historyImport.ok ? null : false });
    }
    if (windows) {
      rows.push({ name: 'extension in code-server, 1 window: CPU added', value: windows.addedPercent.oneWindow, unit: '%', display: `${fmt(windows.addedPercent.oneWindow)} % of one core`, target: '', pass: null });
      rows.push({ name: 'extension in code-server, 3 windows: CPU added', value: windows.addedPercent.threeWindows, unit: '%', display: `${fmt(windows.addedPercent.threeWindows)} % of one core`, target: '', pass: null });
    }

    const nameWidth = Math.max(...rows.map((r) => r.name.length));
    const valueWidth = Math.max(...rows.map((r) => r.display.length));
    console.log('');
    console.log(`${'measure'.padEnd(nameWidth)}  ${'measured'.padEnd(valueWidth)}  target    result`);
    for (const r of rows) console.log(`${r.name.padEnd(nameWidth)}  ${r.display.padEnd(valueWidth)}  ${r.target.padEnd(8)}  ${r.pass === null ? '' : r.pass ? 'PASS' : 'FAIL'}`);
    console.log('');
    console.log('side          GPUs  samples  own ms/sample  (stat ticks)  tool ms/sample  spawns  lines  fake children ms/sample  p99 ms  floor p99 ms');
    for (const x of sampler) {
      console.log(
        `${x.side.padEnd(12)}  ${String(x.side === 'idle' ? '-' : x.gpusAsked).padStart(4)}  ${String(x.samples).padStart(7)}  ${fmt(x.ownMsPerSample, 3).padStart(13)}  ${fmt(x.ownStatMsPerSample, 2).padStart(12)}  ${fmt(x.toolMsPerSample, 3).padStart(14)}  ${String(x.tool.spawns).padStart(6)}  ${String(x.tool.streamedLines).padStart(5)}  ${fmt(x.fakeChildMsPerSample, 2).padStart(23)}  ${fmt(x.eldP99Ms).padStart(6)}  ${fmt(x.floorEldP99Ms).padStart(12)}`,
      );
    }
    console.log('');
    console.log(`Own CPU: /proc/PID/task/*/schedstat (all threads) of the side's process from second ${opts.startup} for ${opts.duration} s, read by this`);
    console.log('   parent at the worker\'s two marks (nothing measures inside the side), children excluded ("stat ticks": utime+stime, 10 ms resolution).');
    console.log('   "idle" is a node process with a 1 Hz timer only: the floor every side pays.');
    console.log('Tool work: counted in the fake nvidia-smi\'s log over the same window and priced; the fake\'s own CPU ("fake children", a node script) is shown for reference only, never added.');
    console.log(`  priced: spawn = ${TOOL_PRICES.spawnMs.value} ms: ${TOOL_PRICES.spawnMs.source}`);
    console.log(`  priced: streamed line = ${TOOL_PRICES.streamLineMs.value} ms: ${TOOL_PRICES.streamLineMs.source}`);

    const result = {
      generatedAt: new Date().toISOString(),
      machine: { cpuModel: cpus()[0]?.model ?? null, cores: cpus().length, node: process.version, platform: process.platform },
      settings: { quick: opts.quick, durationSeconds: opts.duration, startupExcludedSeconds: opts.startup, eventLoopPhaseSeconds: opts.duration / 2, nvidiaSmi: 'test/fixtures/bin/nvidia-smi (fake, a node script): its CPU is excluded, its work counted and priced' },
      toolPrices: TOOL_PRICES,
      rows: rows.map(({ display: _display, ...r }) => r),
      sampler,
      analysis,
      memory,
      webview,
      nvml,
      serve,
      history,
      historyImport,
      dashboardUpdate,
      windows,
      allPass: rows.every((r) => r.pass !== false),
      wallSeconds: (performance.now() - started) / 1000,
    };
    await mkdir(dirname(opts.out), { recursive: true });
    await writeFile(opts.out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nwrote ${opts.out} (${fmt(result.wallSeconds, 0)} s)`);
    if (!result.allPass) console.log(`some targets were missed${opts.check ? '' : ' (report only; --check makes that exit 1)'}`);
    return result.allPass || !opts.check ? 0 : 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs another bench script; with `json`, parses the last line of its output. Returns undefined
 * (and says why) when it fails, so one missing piece (no Chromium) does not lose the rest.
 */
function runScriptJson(args, what, json = true) {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (!json) {
        if (code !== 0) console.log(`  ${what}: failed (exit ${code})`);
        resolveRun(code === 0 ? null : undefined);
        return;
      }
      try {
        resolveRun(JSON.parse(last));
      } catch {
        console.log(`  ${what}: no result (exit ${code}): ${last.slice(0, 200)}`);
        resolveRun(undefined);
      }
    });
  });
}

const opts = parseArgs(process.argv.slice(2));
if (opts.role === 'sampler') await samplerWorker(opts);
else if (opts.role === 'eld-floor') await floorWorker(opts);
else if (opts.role === 'analysis') await analysisWorker(opts);
else if (opts.role === 'memory') await memoryWorker(opts);
else if (opts.role !== null) fail(`unknown role ${JSON.stringify(opts.role)}`);
else process.exitCode = await main(opts);
