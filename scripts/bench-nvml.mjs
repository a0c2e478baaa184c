// The NVML backend against the nvidia-smi stream: own-process CPU per GPU sample of each provider,
// read at a fixed cadence, minus the same loop with no provider (the floor). NVML reads the
// stand-in library (test/fixtures/nvml/fake_nvml.c, built with cc); the stream reads the fake
// nvidia-smi (test/fixtures/bin), whose own CPU (a child) is not counted here: scripts/bench.mjs
// prices the real tool's work. The stand-in answers each call in well under a microsecond; the
// real driver's calls cost more (and some, such as power on older boards, much more), so these
// rows price the binding and the provider, not the driver. Real figures await a GPU machine.
//
//   node scripts/bench-nvml.mjs [--duration S] [--interval MS] [--quick] [--json]
//
// --duration: seconds measured per side (default 10; --quick 3). --interval: the cadence both
// providers are read at (default 100 ms, faster than the extension's 1 s so the figures settle
// sooner; a sample costs the same at any cadence). --json: one JSON line at the end (bench.mjs).
// NVML sides also report a hot loop (reads back to back): the provider's own cost without the timer
// wake-ups and cold caches that dominate a sample at a slow cadence.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleEngine } from './benchEngine.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FAKE_NVIDIA_SMI = join(ROOT, 'test/fixtures/bin/nvidia-smi');
const WARMUP_MS = 2000;
const SIDES = ['idle', 'stream', 'nvml', 'nvml+processes'];

function parseArgs(argv) {
  const o = { duration: 10, interval: 100, json: false, worker: null, gpus: 1, engine: null, dir: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === '--duration') o.duration = num();
    else if (a === '--interval') o.interval = Math.max(50, num());
    else if (a === '--quick') o.duration = 3;
    else if (a === '--json') o.json = true;
    else if (a === '--worker') o.worker = argv[++i];
    else if (a === '--gpus') o.gpus = num();
    else if (a === '--engine') o.engine = argv[++i];
    else if (a === '--dir') o.dir = argv[++i];
    else throw new Error(`unknown argument ${a}; usage: node scripts/bench-nvml.mjs [--duration S] [--interval MS] [--quick] [--json]`);
  }
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One side in its own process: start, warm up, then own CPU (process.cpuUsage: children excluded) over the window. */
async function worker(o) {
  const E = await import(pathToFileURL(o.engine).href);
  let provider = null;
  let counters = null;
  if (o.worker.startsWith('nvml')) {
    const lib = E.buildFakeNvml('full');
    const gpus = Array.from({ length: o.gpus }, (_, i) => ({ util: 50 + i, memutil: 20, memTotalMib: 81559, memUsedMib: 40000, temp: 60, powerMw: 300000, powerLimitMw: 700000, smClock: 1980 }));
    E.useScenario(o.dir, { gpus, processes: gpus.map((_, i) => [i, 1000 + i, 512]) });
    counters = E.fakeNvmlCounters(lib);
    // With processes: asked at every fresh reading (the extension asks every 5 s while a task runs).
    provider = new E.NvmlProvider({ candidates: [lib], computeAppsIntervalMs: o.worker === 'nvml+processes' ? 1 : 0 });
  } else if (o.worker === 'stream') {
    process.env.FAKE_NVIDIA_SMI_SCENARIO = `${o.gpus}gpu`;
    provider = new E.NvidiaSmiProvider({ nvidiaSmiPath: FAKE_NVIDIA_SMI, computeAppsIntervalMs: 0 });
  }
  if (provider) {
    const a = await provider.start(o.interval);
    if (!a.available) throw new Error(`${o.worker} did not start: ${a.reason}`);
  }
  let samples = 0;
  let gpusSeen = 0;
  let stopped = false;
  let next = performance.now();
  const tick = async () => {
    if (stopped) return;
    const s = provider ? await provider.read() : { gpus: [] };
    if (s) {
      samples++;
      gpusSeen = s.gpus.length;
    }
    next += o.interval;
    setTimeout(tick, Math.max(0, next - performance.now()));
  };
  await tick();
  await sleep(WARMUP_MS);
  const cpu0 = process.cpuUsage();
  const n0 = samples;
  const calls0 = counters?.calls() ?? 0;
  const t0 = performance.now();
  await sleep(o.duration * 1000);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const n = samples - n0;
  const calls = (counters?.calls() ?? 0) - calls0;
  stopped = true;
  await provider?.stop();
  // NVML only: the same reads back to back on a hand-moved clock (warm caches, no timer wake-up),
  // the provider's and the binding's own cost without the event loop around it.
  let hotUsPerRead = null;
  if (o.worker.startsWith('nvml')) {
    let t = 0;
    const clock = { now: () => t, setTimeout: () => ({ unref() {} }), clearTimeout() {} };
    const hot = new E.NvmlProvider({ candidates: [E.buildFakeNvml('full')], clock, computeAppsIntervalMs: o.worker === 'nvml+processes' ? 1 : 0 });
    await hot.start(o.interval);
    const reads = 5000;
    for (let i = 0; i < 500; i++) { t += o.interval; await hot.read(); }
    const h0 = process.cpuUsage();
    for (let i = 0; i < reads; i++) { t += o.interval; await hot.read(); }
    const h = process.cpuUsage(h0);
    hotUsPerRead = (h.user + h.system) / reads;
    await hot.stop();
  }
  process.stdout.write(`${JSON.stringify({ side: o.worker, gpus: o.gpus, gpusSeen, samples: n, wallMs, ownMs: (cpu.user + cpu.system) / 1000, libraryCallsPerSample: counters ? calls / Math.max(1, n) : null, hotUsPerRead })}\n`);
  setTimeout(() => process.exit(0), 200).unref();
}

function runWorker(args) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('close', (code) => {
      try {
        resolveRun(JSON.parse(out.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`worker ${args.join(' ')} failed (exit ${code}): ${out.slice(0, 300)}`));
      }
    });
  });
}

const fmt = (v, d = 3) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));

async function main(o) {
  const dir = await mkdtemp(join(tmpdir(), 'model-perf-bench-nvml-'));
  try {
    const engine = await bundleEngine(dir, 'nvml-engine', [
      "export { NvmlProvider } from './src/core/sampling/gpu/nvmlProvider';",
      "export { NvidiaSmiProvider } from './src/core/sampling/gpu/nvidiaSmiProvider';",
      "export { buildFakeNvml, useScenario, fakeNvmlCounters } from './test/unit/sampling/gpu/helpers/fakeNvml';",
    ], { requireShim: true });
    // Built once here, so the workers never race to compile it.
    (await import(pathToFileURL(engine).href)).buildFakeNvml('full');
    const runs = [];
    for (const gpus of [1, 8]) {
      for (const side of SIDES) {
        const r = await runWorker(['--worker', side, '--gpus', String(gpus), '--engine', engine, '--dir', dir, '--duration', String(o.duration), '--interval', String(o.interval)]);
        r.ownMsPerSample = r.ownMs / Math.max(1, r.samples);
        runs.push(r);
        if (!o.json) console.log(`  ${side} ${gpus} GPU: ${r.samples} samples, own ${fmt(r.ownMsPerSample)} ms/sample`);
      }
    }
    const rows = [];
    for (const gpus of [1, 8]) {
      const floor = runs.find((r) => r.side === 'idle' && r.gpus === gpus);
      for (const side of SIDES.slice(1)) {
        const r = runs.find((x) => x.side === side && x.gpus === gpus);
        rows.push({ side, gpus, samples: r.samples, gpusSeen: r.gpusSeen, ownMsPerSample: r.ownMsPerSample, netMsPerSample: Math.max(0, r.ownMsPerSample - floor.ownMsPerSample), libraryCallsPerSample: r.libraryCallsPerSample, hotUsPerRead: r.hotUsPerRead });
      }
    }
    const ratio = (gpus) => {
      const nvml = rows.find((r) => r.side === 'nvml' && r.gpus === gpus);
      const stream = rows.find((r) => r.side === 'stream' && r.gpus === gpus);
      return stream.netMsPerSample > 0 ? nvml.netMsPerSample / stream.netMsPerSample : null;
    };
    const result = {
      note: 'own-process CPU per sample, the same read loop without a provider subtracted; NVML against the stand-in library (its call cost is not the real driver\'s), the stream against the fake nvidia-smi (its own CPU, a child process, excluded; bench.mjs prices it). Real figures await a GPU machine.',
      intervalMs: o.interval,
      durationSeconds: o.duration,
      rows,
      nvmlOverStream: { gpus1: ratio(1), gpus8: ratio(8) },
    };
    if (o.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    console.log('');
    console.log(`side             GPUs  samples  own ms/sample  net of floor  library calls/sample  hot loop us/read   (read every ${o.interval} ms, ${o.duration} s per side)`);
    for (const r of rows) {
      console.log(`${r.side.padEnd(15)}  ${String(r.gpus).padStart(4)}  ${String(r.samples).padStart(7)}  ${fmt(r.ownMsPerSample).padStart(13)}  ${fmt(r.netMsPerSample).padStart(12)}  ${fmt(r.libraryCallsPerSample, 1).padStart(20)}  ${fmt(r.hotUsPerRead, 1).padStart(16)}`);
    }
    console.log(`nvml / stream (net): 1 GPU ${fmt(result.nvmlOverStream.gpus1)}, 8 GPUs ${fmt(result.nvmlOverStream.gpus8)}`);
    console.log(`Note: ${result.note}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const o = parseArgs(process.argv.slice(2));
if (o.worker) await worker(o);
else await main(o);
