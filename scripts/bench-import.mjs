// `model-perf import` at size: writes a JSON (or CSV) export of N synthetic tasks over 30 days into a
// temp folder, then imports it into an empty history there, in a child process of its own so that
// its peak resident memory is the import's alone. Prints the time, the peak RSS and the check that
// every task arrived once. Everything happens under a throwaway temp folder, removed at the end.
//
//   node scripts/bench-import.mjs [--tasks N] [--format json|csv] [--one-by-one] [--json]
//
// --one-by-one: one store.append per task, as before the batched append (for the comparison).
//
// --tasks: how many tasks (default 200 000). --json: print the result as one JSON line.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { flagsOf } from './args.mjs';
import { bundleEngine } from './benchEngine.mjs';

const DAY_MS = 86_400_000;

function parseArgs(argv) {
  const opts = { tasks: 200_000, format: 'json', json: false, role: null, engine: null, file: null, home: null, oneByOne: false };
  for (const [a, value] of flagsOf(argv, fail)) {
    if (a === '--tasks') opts.tasks = Number(value());
    else if (a === '--format') opts.format = value();
    else if (a === '--json') opts.json = true;
    else if (a === '--one-by-one') opts.oneByOne = true;
    else if (a === '--role') opts.role = value();
    else if (a === '--engine') opts.engine = value();
    else if (a === '--file') opts.file = value();
    else if (a === '--home') opts.home = value();
    else if (a === '--help' || a === '-h') {
      console.log('Usage: node scripts/bench-import.mjs [--tasks N] [--format json|csv] [--one-by-one] [--json]');
      process.exit(0);
    } else fail(`unknown argument ${JSON.stringify(a)}`);
  }
  if (!Number.isInteger(opts.tasks) || opts.tasks < 1 || opts.tasks > 10_000_000) fail('--tasks must be a whole number from 1 to 10000000');
  if (opts.format !== 'json' && opts.format !== 'csv') fail('--format must be json or csv');
  return opts;
}

function fail(message) {
  console.error(`bench-import: ${message}`);
  process.exit(2);
}

function buildEngine(dir) {
  return bundleEngine(dir, 'engine', [
    "export { importHistory } from './src/core/history/importer';",
    "export { buildExportDocument, writeExport } from './src/core/history/exporter';",
    "export { JsonlHistoryStore } from './src/core/history/historyStore';",
  ]);
}

/** A finished task as the engine records one, with every figure set (the widest record). */
function syntheticTask(i, n, nowMs) {
  const start = nowMs - 30 * DAY_MS + Math.floor((i / n) * 30 * DAY_MS);
  const seconds = 20 + (i % 300);
  const ok = i % 17 !== 0;
  return {
    taskId: `bench-${i}-${start}`,
    modelType: ['wan-t2v', 'sdxl', 'flux'][i % 3],
    resolution: ['720p', '1080p', '1280x720'][i % 3],
    resolutionClass: ['720p', '1080p', '720p'][i % 3],
    steps: 30,
    status: ok ? 'succeeded' : 'failed',
    success: ok,
    errorCategory: ok ? null : 'out_of_memory',
    startTime: start,
    endTime: start + seconds * 1000,
    generationTimeSeconds: seconds,
    modelLoadTimeSeconds: 4.5,
    peakVramUsageMb: 18_000 + (i % 4000),
    averageVramUsageMb: 16_000,
    peakRamUsageMb: 9000,
    averageCpuUsagePercent: 130.5,
    vramScope: 'processTree',
    ramScope: 'processTree',
    cpuScope: 'processTree',
    gpuIndices: [0],
    vramTotalMb: 24_576,
    ramTotalMb: 64_000,
    averageGpuUtilizationPercent: 91.2,
    peakGpuUtilizationPercent: 100,
    devicePeakVramUsageMb: 19_000,
    deviceAverageVramUsageMb: 17_000,
    devicePeakRamUsageMb: 20_000,
    deviceAverageRamUsageMb: 18_000,
    deviceAverageCpuUsagePercent: 12.5,
    peakTemperatureCelsius: 74,
    processTreePeakRamUsageMb: 9000,
    processTreeAverageRamUsageMb: 8500,
    processTreeAverageCpuUsagePercent: 130.5,
    processTreePeakVramUsageMb: 18_000,
    processTreeAverageVramUsageMb: 16_000,
    rootPid: 1000 + (i % 30_000),
    sampleCount: seconds,
    optimizationsApplied: ['fp16'],
    quantizationUsed: null,
    offloadUsed: false,
    stepsCompleted: 30,
    stepsTotal: 30,
    stepsPerSecond: 1.5,
    progressUpdatedAt: start + seconds * 1000,
    phases: [
      { name: 'model_load', startTime: start, endTime: start + 4500 },
      { name: 'denoise', startTime: start + 4500, endTime: start + seconds * 1000 },
    ],
  };
}

/** The measured side: one import into an empty history. */
async function importSide(opts) {
  const E = await import(pathToFileURL(opts.engine).href);
  const history = new E.JsonlHistoryStore(opts.home, { retentionDays: 90, retentionMaxTasks: 10_000_000 });
  // Appends run one after another, so the time inside them adds up to the writing phase.
  let appendNs = 0n;
  const store = {
    load: (nowMs) => history.load(nowMs),
    iterate: (options) => history.iterate(options),
    append: async (task) => {
      const t0 = process.hrtime.bigint();
      await history.append(task);
      appendNs += process.hrtime.bigint() - t0;
    },
    // The batched append (one lock, one write per day segment), unless --one-by-one.
    ...(opts.oneByOne
      ? {}
      : {
          appendMany: async (tasks, onWritten) => {
            const t0 = process.hrtime.bigint();
            await history.appendMany(tasks, onWritten);
            appendNs += process.hrtime.bigint() - t0;
          },
        }),
  };
  const cpuStart = process.cpuUsage();
  const started = process.hrtime.bigint();
  const report = await E.importHistory(opts.file, store, { partial: false, nowMs: Date.now(), spoolDir: opts.home });
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  const appendMs = Number(appendNs) / 1e6;
  // CPU time as well as wall time: on a shared machine the wall time says more about the neighbours.
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  // maxRSS is in KiB on Linux and macOS.
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ elapsedMs, appendMs, cpuMs, peakRssMb, imported: report.imported, rejected: report.rejected, duplicates: report.duplicates, fileError: report.fileError })}\n`);
}

function runChild(args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`the import side exited with ${code}`))));
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.role === 'import') return importSide(opts);
  const dir = await mkdtemp(join(tmpdir(), 'mpm-bench-import-'));
  try {
    const engine = await buildEngine(dir);
    const E = await import(pathToFileURL(engine).href);
    const nowMs = Date.now();
    const tasks = Array.from({ length: opts.tasks }, (_, i) => syntheticTask(i, opts.tasks, nowMs));
    const file = join(dir, `export.${opts.format}`);
    await E.writeExport(file, opts.format, E.buildExportDocument(tasks, { successRate: 1 }, 720, nowMs, { hostname: 'bench' }));
    tasks.length = 0;
    const fileMb = (await stat(file)).size / 1024 / 1024;
    const home = join(dir, 'home');
    const result = JSON.parse(await runChild(['--role', 'import', '--engine', engine, '--file', file, '--home', home, ...(opts.oneByOne ? ['--one-by-one'] : [])]));
    // The history is one segment per day under history/: count the records of every segment.
    const historyDir = join(home, 'history');
    const segments = (await readdir(historyDir)).filter((n) => n.endsWith('.jsonl'));
    let lines = 0;
    for (const n of segments) lines += (await readFile(join(historyDir, n), 'utf8')).split('\n').filter((l) => l !== '').length;
    const ok = result.imported === opts.tasks && result.rejected === 0 && lines === opts.tasks;
    const summary = { tasks: opts.tasks, format: opts.format, append: opts.oneByOne ? 'one by one' : 'batched', fileMb: Number(fileMb.toFixed(1)), seconds: Number((result.elapsedMs / 1000).toFixed(2)), appendSeconds: Number((result.appendMs / 1000).toFixed(2)), cpuSeconds: Number((result.cpuMs / 1000).toFixed(2)), tasksPerSecond: Math.round(opts.tasks / (result.elapsedMs / 1000)), peakRssMb: Math.round(result.peakRssMb), historyLines: lines, ok };
    if (opts.json) console.log(JSON.stringify(summary));
    else {
      console.log(`import of ${opts.tasks} tasks (${opts.format}, ${summary.fileMb} MB) into an empty history`);
      console.log(`  time      ${summary.seconds} s (${summary.tasksPerSecond} tasks/s), of which ${summary.appendSeconds} s appending (${opts.oneByOne ? 'one store.append per task' : 'batched: one lock and one write per day segment per 4 MB of records'})`);
      console.log(`  CPU       ${summary.cpuSeconds} s (user + system of the importing process)`);
      console.log(`  peak RSS  ${summary.peakRssMb} MB (the importing process, node included)`);
      console.log(`  history   ${lines} lines${ok ? '' : '  MISMATCH'}`);
    }
    if (!ok) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
