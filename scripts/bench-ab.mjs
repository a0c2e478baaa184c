// The engine's own CPU now against the engine of another commit, both running AT ONCE on the same
// machine, so that a change's effect is not lost in the drift between two runs of the benchmark
// (the same side measured twenty minutes apart here moved by 20 %). Each side is the bench's own
// sampler worker (scripts/bench.mjs --role sampler) with the fake nvidia-smi; its own CPU (all
// threads, children excluded) is read from /proc/PID/task/*/schedstat by this process at each
// window's edges. Linux only.
//
//   node scripts/bench-ab.mjs --baseline REF [--side engine-idle|engine-task] [--gpus 1|8]
//                             [--warm S] [--window S] [--windows N]
//
// --baseline: a git commit (for example `HEAD~3` or `main`) whose src/ is bundled as the other side.
// --side: no task (default) or one task followed; --gpus: the fake's GPU count (default 1).
// --warm: seconds left out after both sides started (default 30); --window: seconds per window
// (default 40); --windows: how many (default 4). Prints each window's figures and the means.
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flagsOf } from './args.mjs';
import { bundleEngine } from './benchEngine.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENGINE_EXPORTS = ["export { SharedEngine } from './src/core/machine';"];

function parseArgs(argv) {
  const opts = { baseline: null, side: 'engine-idle', gpus: 1, warm: 30, window: 40, windows: 4 };
  for (const [a, value] of flagsOf(argv, fail)) {
    if (a === '--baseline') opts.baseline = value();
    else if (a === '--side') opts.side = value();
    else if (a === '--gpus') opts.gpus = Number(value());
    else if (a === '--warm') opts.warm = Number(value());
    else if (a === '--window') opts.window = Number(value());
    else if (a === '--windows') opts.windows = Number(value());
    else fail(`unknown argument ${JSON.stringify(a)}`);
  }
  if (!opts.baseline) fail('--baseline REF is required');
  if (!['engine-idle', 'engine-task'].includes(opts.side)) fail('--side is engine-idle or engine-task');
  if (![1, 8].includes(opts.gpus)) fail('--gpus is 1 or 8 (the fake\'s recorded scenarios)');
  for (const k of ['warm', 'window', 'windows']) if (!(opts[k] >= 1)) fail(`--${k} must be 1 or more`);
  // Each side's worker measures for at most 600 s (bench.mjs's own limit).
  if (opts.warm + opts.window * opts.windows > 590) fail('--warm + --window x --windows must stay under 590 s');
  return opts;
}

function fail(message) {
  console.error(`bench-ab: ${message}`);
  console.error('Usage: node scripts/bench-ab.mjs --baseline REF [--side engine-idle|engine-task] [--gpus 1|8] [--warm S] [--window S] [--windows N]');
  process.exit(2);
}

/** CPU time of every thread of `pid` so far, in ms (children are other processes: not counted). */
async function threadsCpuMs(pid) {
  let ns = 0;
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const n = Number((await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '')).split(' ')[0]);
    if (Number.isFinite(n)) ns += n;
  }
  return ns / 1e6;
}

/** Starts one sampler worker; resolves once it has printed its first mark (started, GPUs seen). */
function startSide(name, engine, storage, opts, dir) {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'scripts/bench.mjs'), '--role', 'sampler', '--side', opts.side, '--gpus', String(opts.gpus), '--engine', engine, '--storage', storage, '--duration', '600', '--startup', '1'],
    { cwd: ROOT, env: { ...process.env, FAKE_NVIDIA_SMI_SCENARIO: `${opts.gpus}gpu`, FAKE_NVIDIA_SMI_LOG: join(dir, `smi-${name}.jsonl`) }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((ready, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      if (out.includes('mark ')) ready(child);
    });
    child.on('exit', (code) => reject(new Error(`the ${name} side exited (${code}) before it started: ${out}`)));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  if (process.platform !== 'linux') fail('reads /proc: Linux only');
  const opts = parseArgs(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), 'model-perf-ab-'));
  const children = [];
  try {
    const current = await bundleEngine(dir, 'current', ENGINE_EXPORTS);
    const baseRoot = join(dir, 'baseline-src');
    await mkdir(baseRoot);
    const tar = execFileSync('git', ['archive', opts.baseline, 'src'], { cwd: ROOT, maxBuffer: 1 << 28 });
    execFileSync('tar', ['-x', '-C', baseRoot], { input: tar });
    const baseline = await bundleEngine(dir, 'baseline', ENGINE_EXPORTS, { root: baseRoot });
    const sides = [];
    for (const [name, engine] of [['baseline', baseline], ['current', current]]) {
      const storage = join(dir, `storage-${name}`);
      await mkdir(storage);
      const child = await startSide(name, engine, storage, opts, dir);
      children.push(child);
      sides.push({ name, pid: child.pid });
    }
    console.log(`bench-ab: ${opts.side}, ${opts.gpus} GPU(s): ${opts.baseline} against the working tree, both running at once; ${opts.warm} s warm-up, ${opts.windows} x ${opts.window} s`);
    await sleep(opts.warm * 1000);
    const totals = sides.map(() => 0);
    for (let w = 0; w < opts.windows; w++) {
      const before = await Promise.all(sides.map((s) => threadsCpuMs(s.pid)));
      await sleep(opts.window * 1000);
      const after = await Promise.all(sides.map((s) => threadsCpuMs(s.pid)));
      const perSecond = sides.map((_, i) => (after[i] - before[i]) / opts.window);
      perSecond.forEach((v, i) => (totals[i] += v));
      console.log(`  window ${w + 1}: ${sides.map((s, i) => `${s.name} ${perSecond[i].toFixed(3)}`).join(', ')} ms of own CPU per second`);
    }
    const means = totals.map((t) => t / opts.windows);
    console.log(`  mean: ${sides.map((s, i) => `${s.name} ${means[i].toFixed(3)}`).join(', ')} ms/s; current / baseline ${(means[1] / means[0]).toFixed(3)}`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await sleep(500);
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench-ab: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
