// The built `model-perf` as a user runs it: a real process, real child commands, the fake
// nvidia-smi first on PATH, and the history in a temporary MODEL_PERF_HOME. Checks what `run`
// records (status, error category, time, VRAM attributed to the child) and what `export` and
// `status --json` print.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import * as esbuild from 'esbuild';
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import { historyRecords } from '../helpers/historyFiles';
import { buildFakeNvml, useScenario } from '../sampling/gpu/helpers/fakeNvml';
import { RunningElsewhere } from '../../../src/core/metrics/runningMarkers';
import { isProcessAlive } from '../../../src/core/util/process';

const ROOT = join(__dirname, '../../..');
const BIN = join(ROOT, 'test/fixtures/bin');
const skip = process.platform === 'win32' ? 'the fake nvidia-smi is a node script with a shebang' : false;

let work = '';
let cli = '';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  /** From spawning model-perf to its exit: a task it recorded cannot have lasted longer. */
  elapsedMs: number;
}

interface RunOptions {
  env?: Record<string, string>;
  /** Called once the CLI's stdout contains this text (used to send Ctrl-C mid-run). */
  onStdout?: { text: string; then: (pid: number) => void };
}

function runModelPerf(args: string[], home: string, options: RunOptions = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const spawnedAt = Date.now();
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: work,
      env: {
        ...process.env,
        PATH: `${BIN}${delimiter}${process.env.PATH ?? ''}`,
        MODEL_PERF_HOME: home,
        FAKE_NVIDIA_SMI_SCENARIO: '1gpu',
        ...options.env,
      },
      // Its own process group, not the terminal's: a Ctrl-C test signals model-perf alone, so
      // model-perf must pass it on (as it does for any signal not sent by the terminal).
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let fired = false;
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (options.onStdout && !fired && stdout.includes(options.onStdout.text)) {
        fired = true;
        options.onStdout.then(child.pid as number);
      }
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`model-perf ${args.join(' ')} did not finish in 60 s\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, elapsedMs: Date.now() - spawnedAt });
    });
  });
}

const history = historyRecords;

/** A child script: writes its pid where the fake nvidia-smi looks, prints, works, then ends its way. */
const CHILD = `
const fs = require('fs');
if (process.env.FAKE_NVIDIA_SMI_PID_FILE) fs.writeFileSync(process.env.FAKE_NVIDIA_SMI_PID_FILE, String(process.pid));
const mode = process.argv[2];
const ms = Number(process.argv[3] || 0);
process.stdout.write('out: line 1\\n');
process.stderr.write('err: line 1\\n');
const end = Date.now() + ms;
let x = 0;
while (Date.now() < end) x++;
if (mode === 'ok') { process.stdout.write('out: done ' + (x > 0) + '\\n'); process.exit(0); }
if (mode === 'fail') process.exit(1);
if (mode === 'oom') { process.stderr.write('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\\n'); process.exit(1); }
if (mode === 'sigint') process.kill(process.pid, 'SIGINT');
if (mode === 'wait') { process.stdout.write('ready\\n'); setInterval(() => {}, 1000); }
if (mode === 'slowbar') {
  // A tqdm bar moving one step every 250 ms for 5 s: a window beside the run follows it live.
  let i = 0;
  const tick = setInterval(() => {
    i++;
    process.stderr.write('\\rtrain: ' + String(i * 5).padStart(3) + '%|' + '█'.repeat(i >> 1) + ' '.repeat(10 - (i >> 1)) + '| ' + i + '/20 [00:0' + Math.floor(i / 4) + '<00:05, 4.00it/s]');
    if (i === 20) { clearInterval(tick); process.stderr.write('\\n'); }
  }, 250);
}
if (mode === 'bar') {
  // tqdm's redraws on stderr (one write each, split mid-character once), a rich-style log line on stdout.
  for (let i = 0; i <= 50; i += 10) process.stderr.write('\\rSampling: ' + String(i * 2).padStart(3) + '%|' + '█'.repeat(i / 5) + ' '.repeat(10 - i / 5) + '| ' + i + '/50 [00:0' + (i / 10) + '<00:05, 9.80it/s]');
  const split = Buffer.from(' done █\\n');
  process.stderr.write(split.subarray(0, 7));
  process.stderr.write(split.subarray(7));
  process.stdout.write('saved out.png\\n');
  process.exit(0);
}
`;

async function freshHome(name: string): Promise<{ home: string; env: Record<string, string> }> {
  const home = join(work, name);
  const vramFile = join(work, `${name}.vram`);
  // The "GPU" holds 6144 MiB during this run; the child's pid claims it once the child has started.
  await writeFile(vramFile, '6144');
  return { home, env: { FAKE_NVIDIA_SMI_VRAM_FILE: vramFile, FAKE_NVIDIA_SMI_PID_FILE: join(work, `${name}.pid`) } };
}

/**
 * A VS Code window sampling this machine, played by this test process (alive, so its lock holds):
 * it heartbeats the sampler lock and publishes a sample with a GPU the fake nvidia-smi does not
 * have, written beside and renamed into place as a window does. Like a real leader, it lists the
 * GPU processes of the tasks running (their markers): each root pid holds 3 000 MiB.
 */
async function fakeWindow(home: string): Promise<{ stop(): void; rootPids: Set<number> }> {
  await mkdir(home, { recursive: true });
  const gpu = { index: 0, uuid: 'GPU-pub', name: 'Published H100', utilizationPercent: 55, memoryUtilizationPercent: 10, vramUsedMb: 70_000, vramTotalMb: 81_559, temperatureCelsius: 60, powerDrawWatts: 500, powerLimitWatts: 700, smClockMhz: 1980, performanceState: 'P0', mig: false };
  const rootPids = new Set<number>();
  const put = async (name: string, value: unknown) => {
    await writeFile(join(home, `${name}.tmp`), JSON.stringify(value));
    await rename(join(home, `${name}.tmp`), join(home, name));
  };
  const heartbeat = async () => {
    const markers = await readdir(join(home, 'running')).catch(() => [] as string[]);
    for (const m of markers.filter((n) => n.endsWith('.json'))) {
      const marker = JSON.parse(await readFile(join(home, 'running', m), 'utf8').catch(() => '{}')) as { task?: { rootPid?: number } };
      if (typeof marker.task?.rootPid === 'number') rootPids.add(marker.task.rootPid);
    }
    // A time stamped ahead would be stale (the future is not fresh): stamped when written.
    const now = Date.now();
    const processes = [...rootPids].map((pid) => ({ pid, gpuUuid: 'GPU-pub', usedMemoryMb: 3000 }));
    await put('leader.lock', { pid: process.pid, token: 'd'.repeat(32), heartbeatAt: now });
    await put('live-sample.json', { version: 1, pid: process.pid, publishedAt: now, system: { cpuUsagePercent: 12, ramUsedMb: 1000, ramAvailableMb: 3000, ramTotalMb: 4000, diskUsagePercent: 5 }, gpu: { timestamp: now, gpus: [gpu], processes }, availability: { provider: 'nvidia', available: true, reason: null } });
  };
  await heartbeat();
  const beating = setInterval(() => void heartbeat(), 200);
  return {
    rootPids,
    stop: () => {
      clearInterval(beating);
      void rm(join(home, 'leader.lock'), { force: true });
    },
  };
}

describe('model-perf (built CLI)', { skip }, () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'model-perf-cli-'));
    cli = join(work, 'cli.js');
    await writeFile(join(work, 'child.js'), CHILD);
    // Built here, alone, so a half-edited extension elsewhere in the tree cannot break this test.
    await esbuild.build({
      entryPoints: [join(ROOT, 'src/cli/main.ts')],
      outfile: cli,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      logLevel: 'error',
      banner: { js: '#!/usr/bin/env node' },
    });
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('run -- a command that succeeds: output unchanged, exit 0, task recorded with its VRAM', async () => {
    const { home, env } = await freshHome('ok');
    const r = await runModelPerf(['run', '--task-id', 'gen-ok', '--model-type', 'sdxl', '--resolution', '1280x720', '--steps', '30', '--interval', '0.5', '--', process.execPath, 'child.js', 'ok', '1800'], home, { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'out: line 1\nout: done true\n');
    assert.match(r.stderr, /^err: line 1\n/);
    assert.match(r.stderr, /model-perf: task "gen-ok" succeeded after \d+\.\d s\n {2}peak VRAM 6,144 MiB \(its processes\) \| peak RAM [\d,]+ MiB \(its processes\) \| avg CPU [\d,]+ % of one core \| avg GPU util 97 %/);

    const [task, ...more] = await history(home);
    assert.equal(more.length, 0);
    assert.ok(task);
    assert.equal(task.taskId, 'gen-ok');
    assert.equal(task.status, 'succeeded');
    assert.equal(task.success, true);
    assert.equal(task.errorCategory, null);
    assert.equal(task.modelType, 'sdxl');
    assert.equal(task.resolution, '1280x720');
    assert.equal(task.resolutionClass, '720p');
    assert.equal(task.steps, 30);
    // The child works 1.8 s; the task cannot outlast model-perf itself (however loaded the machine).
    assert.ok(task.generationTimeSeconds !== null && task.generationTimeSeconds >= 1.8 && task.generationTimeSeconds <= r.elapsedMs / 1000, `time ${task.generationTimeSeconds} (model-perf ran ${r.elapsedMs} ms)`);
    assert.equal(task.vramScope, 'processTree');
    assert.equal(task.peakVramUsageMb, 6144);
    assert.equal(task.processTreePeakVramUsageMb, 6144);
    assert.equal(task.devicePeakVramUsageMb, 6144);
    assert.deepEqual(task.gpuIndices, [0]);
    assert.equal(task.averageGpuUtilizationPercent, 97);
    assert.equal(task.ramScope, 'processTree');
    assert.ok(task.peakRamUsageMb !== null && task.peakRamUsageMb > 5 && task.peakRamUsageMb < 2000, `ram ${task.peakRamUsageMb}`);
    // A busy loop: its tree's CPU is measured (how much of a core it gets depends on the machine's load).
    assert.ok(task.averageCpuUsagePercent !== null && task.averageCpuUsagePercent > 0, `cpu ${task.averageCpuUsagePercent}`);
    assert.ok(task.rootPid !== null && task.rootPid > 0);
    assert.ok(task.sampleCount >= 3, `samples ${task.sampleCount}`);

    // The same task through `export`, as the extension and scripts read it.
    const ex = await runModelPerf(['export', 'out.json', '--window-hours', '1'], home);
    assert.equal(ex.code, 0, ex.stderr);
    assert.match(ex.stdout, /^Exported 1 task\(s\) from the last 1 h to .*out\.json \(json\)\n$/);
    const doc = JSON.parse(await readFile(join(work, 'out.json'), 'utf8')) as { metrics_count: number; metrics: PerformanceMetrics[]; performance_analysis: { successRate: number } };
    assert.equal(doc.metrics_count, 1);
    // The history line carries its schema version; the exported task is the same record without it.
    const { schemaVersion, ...recorded } = task as PerformanceMetrics & { schemaVersion?: number };
    assert.equal(schemaVersion, 1);
    assert.deepEqual(doc.metrics[0], recorded);
    assert.equal(doc.performance_analysis.successRate, 1);

    const csv = await runModelPerf(['export', 'out.data', '--format', 'csv'], home);
    assert.equal(csv.code, 0, csv.stderr);
    const rows = (await readFile(join(work, 'out.data'), 'utf8')).trim().split('\r\n');
    assert.equal(rows.length, 2);
    assert.match(rows[1] as string, /^gen-ok,/);

    const an = await runModelPerf(['analyze', '--json'], home);
    assert.equal(an.code, 0, an.stderr);
    assert.equal((JSON.parse(an.stdout) as { taskCount: number }).taskCount, 1);
  });

  test("run -- the command's progress bar becomes the task's progress and, without --steps, its steps", async () => {
    const { home, env } = await freshHome('bar');
    const r = await runModelPerf(['run', '--task-id', 'gen-bar', '--interval', '0.5', '--', process.execPath, 'child.js', 'bar'], home, { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /50\/50 \[00:05<00:05, 9\.80it\/s\] done █\n/, 'the output itself is passed on unchanged');
    const [task] = await history(home);
    assert.equal(task?.taskId, 'gen-bar');
    assert.equal(task?.stepsCompleted, 50);
    assert.equal(task?.stepsTotal, 50);
    assert.equal(task?.steps, 50, 'the bar gives the steps the command line did not');
    assert.equal(task?.stepsPerSecond, 9.8);
  });

  test('run -- failures: exit status passed on, error category from the exit and the output', async () => {
    const { home, env } = await freshHome('fail');
    const fail = await runModelPerf(['run', '--task-id', 'f1', '--', process.execPath, 'child.js', 'fail'], home, { env });
    assert.equal(fail.code, 1);
    assert.match(fail.stderr, /task "f1" failed \(exit_code_1, exit code 1\)/);
    const oom = await runModelPerf(['run', '--task-id', 'f2', '--', process.execPath, 'child.js', 'oom'], home, { env });
    assert.equal(oom.code, 1);
    assert.match(oom.stderr, /torch\.OutOfMemoryError: CUDA out of memory/);
    const int = await runModelPerf(['run', '--task-id', 'f3', '--', process.execPath, 'child.js', 'sigint'], home, { env });
    assert.equal(int.code, 130);
    const missing = await runModelPerf(['run', '--', 'no-such-command-model-perf'], home, { env });
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /model-perf run: cannot run "no-such-command-model-perf": not found \(check the name and PATH\); nothing was recorded/);

    const tasks = await history(home);
    const ranMs: Record<string, number> = { f1: fail.elapsedMs, f2: oom.elapsedMs, f3: int.elapsedMs };
    assert.deepEqual(
      tasks.map((t) => [t.taskId, t.status, t.success, t.errorCategory]),
      [
        ['f1', 'failed', false, 'exit_code_1'],
        ['f2', 'failed', false, 'out_of_memory'],
        ['f3', 'interrupted', false, 'interrupted'],
      ],
    );
    for (const t of tasks) {
      // Shorter than one interval, still timed and sampled (start and end samples).
      assert.ok(t.generationTimeSeconds !== null && t.generationTimeSeconds > 0 && t.generationTimeSeconds <= (ranMs[t.taskId] ?? 0) / 1000, `${t.taskId} time ${t.generationTimeSeconds}`);
      assert.ok(t.sampleCount >= 1);
      assert.equal(t.devicePeakVramUsageMb, 6144);
    }
  });

  test('run: Ctrl-C is passed to the command, the task is recorded as interrupted, exit 130', async () => {
    const { home, env } = await freshHome('ctrlc');
    const r = await runModelPerf(['run', '--task-id', 'c1', '--', process.execPath, 'child.js', 'wait'], home, {
      env,
      onStdout: { text: 'ready', then: (pid) => process.kill(pid, 'SIGINT') },
    });
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /task "c1" was interrupted \(interrupted, signal SIGINT\)/);
    const [task] = await history(home);
    assert.equal(task?.status, 'interrupted');
    assert.equal(task?.errorCategory, 'interrupted');
    assert.equal(task?.success, false);
  });

  test('run: the Python helper in the command reports phases and settings to this run', async () => {
    const { home, env } = await freshHome('helper');
    const code = "import model_perf as mp, time\nwith mp.phase('model_load'):\n    time.sleep(0.2)\nmp.set(model_load_time_seconds=7.5, quantization='int8')\nmp.phase('denoise')\ntime.sleep(0.3)\nprint('on' if mp.enabled() else 'off')";
    // The bundle of this test lives in a temporary folder: point PYTHONPATH at the helper ourselves.
    const r = await runModelPerf(['run', '--task-id', 'py-helper', '--interval', '0.5', '--', 'python3', '-c', code], home, { env: { ...env, PYTHONPATH: join(ROOT, 'media', 'python') } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'on\n');
    const [task] = await history(home);
    assert.equal(task?.modelLoadTimeSeconds, 7.5);
    assert.equal(task?.quantizationUsed, 'int8');
    assert.deepEqual(task?.phases?.map((p) => p.name), ['model_load', 'denoise']);
  });

  test('status --json: every GPU of the fake, or the reason there is none', async () => {
    const home = join(work, 'status');
    const two = await runModelPerf(['status', '--json'], home, { env: { FAKE_NVIDIA_SMI_SCENARIO: '2gpu' } });
    assert.equal(two.code, 0, two.stderr);
    const s = JSON.parse(two.stdout) as { gpus: { index: number; name: string; vramUsedMb: number }[]; gpuAvailability: { available: boolean }; cpuUsagePercent: number | null; ramTotalMb: number };
    assert.deepEqual(
      s.gpus.map((g) => [g.index, g.name, g.vramUsedMb]),
      [
        [0, 'NVIDIA RTX A6000', 40211],
        [1, 'NVIDIA RTX A6000', 3],
      ],
    );
    assert.equal(s.gpuAvailability.available, true);
    assert.ok(s.ramTotalMb > 0);
    assert.equal(typeof s.cpuUsagePercent, 'number');

    // PATH without any nvidia-smi: no GPU, and the reason says what was looked for.
    const none = await runModelPerf(['status', '--json'], home, { env: { PATH: dirname(process.execPath) } });
    assert.equal(none.code, 0, none.stderr);
    const n = JSON.parse(none.stdout) as { gpus: unknown[]; gpuAvailability: { available: boolean; reason: string } };
    assert.deepEqual(n.gpus, []);
    assert.equal(n.gpuAvailability.available, false);
    assert.match(n.gpuAvailability.reason, /nvidia-smi not found on PATH/);

    const text = await runModelPerf(['status'], home, { env: { FAKE_NVIDIA_SMI_SCENARIO: 'driver-not-loaded' } });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^GPU {3}none: .*driver/im);
  });

  test('status --gpu-backend nvml: the GPUs of the NVIDIA library, loaded by the built CLI; without it, the nvidia-smi stream and the reason', async () => {
    const home = join(work, 'nvml');
    const lib = buildFakeNvml('full');
    await mkdir(home, { recursive: true });
    // The built CLI finds koffi beside it, as the packaged one does in dist/node_modules.
    await symlink(join(ROOT, 'node_modules'), join(work, 'node_modules'));
    useScenario(home, { gpus: [{ name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-nvml-0', util: 12, memTotalMib: 81559, memUsedMib: 2048 }] });
    const scenario = { FAKE_NVML_SCENARIO: process.env.FAKE_NVML_SCENARIO as string, MODEL_PERF_DEBUG: '1' };
    const r = await runModelPerf(['status', '--json', '--gpu-backend', 'nvml'], home, { env: { ...scenario, LD_LIBRARY_PATH: dirname(lib) } });
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { gpus: { name: string; uuid: string; utilizationPercent: number; vramUsedMb: number }[]; gpuAvailability: { available: boolean } };
    assert.deepEqual(s.gpus.map((g) => [g.name, g.uuid, g.utilizationPercent, g.vramUsedMb]), [['NVIDIA H100 80GB HBM3', 'GPU-nvml-0', 12, 2048]]);
    assert.match(r.stderr, /GPU figures come from NVML \(libnvidia-ml\.so\.1, 1 GPU\(s\)\); no nvidia-smi runs\./);

    // No library on the loader's path (this machine has no driver): the fake nvidia-smi, and why.
    const fallback = await runModelPerf(['status', '--json', '--gpu-backend', 'nvml'], home, { env: { ...scenario, LD_LIBRARY_PATH: '' } });
    assert.equal(fallback.code, 0, fallback.stderr);
    assert.deepEqual((JSON.parse(fallback.stdout) as { gpus: { name: string }[] }).gpus.map((g) => g.name), ['NVIDIA GeForce RTX 4090']);
    assert.match(fallback.stderr, /NVML is not usable: the NVIDIA management library was not found .* Reading GPUs through nvidia-smi instead\./);
  });

  test('status while a VS Code window samples this machine: its figures, and no nvidia-smi started here', async () => {
    const home = join(work, 'follow');
    const window = await fakeWindow(home);
    const log = join(home, 'nvidia-smi-calls.jsonl');
    const r = await runModelPerf(['status', '--json'], home, { env: { FAKE_NVIDIA_SMI_LOG: log } }).finally(() => window.stop());
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { gpus: { name: string; vramUsedMb: number }[]; ramTotalMb: number };
    assert.deepEqual(s.gpus.map((g) => [g.name, g.vramUsedMb]), [['Published H100', 70_000]]);
    assert.equal(s.ramTotalMb, 4000);
    assert.equal(await readFile(log, 'utf8').catch(() => ''), '', 'nvidia-smi was not run');
    // --nvidia-smi asks for this machine's own reading: the fake then answers.
    const own = await runModelPerf(['status', '--json', '--nvidia-smi', join(BIN, 'nvidia-smi')], home, {});
    assert.equal(own.code, 0, own.stderr);
    assert.equal((JSON.parse(own.stdout) as { gpus: { name: string }[] }).gpus[0]?.name, 'NVIDIA GeForce RTX 4090');
  });

  test("run beside a window that samples this machine: its figures, its per-process list for the run's own VRAM, no nvidia-smi started", async () => {
    const home = join(work, 'run-beside');
    const window = await fakeWindow(home);
    const log = join(work, 'run-beside-nvidia-smi.jsonl');
    const r = await runModelPerf(['run', '--task-id', 'beside', '--interval', '0.25', '--', process.execPath, 'child.js', 'ok', '1500'], home, { env: { FAKE_NVIDIA_SMI_LOG: log } }).finally(() => window.stop());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await readFile(log, 'utf8').catch(() => ''), '', 'no nvidia-smi was started by run');
    const [task] = await history(home);
    assert.equal(task?.taskId, 'beside');
    // The window published 70 000 MiB on the device, 3 000 of them held by the run's process.
    assert.equal(task?.vramScope, 'processTree');
    assert.equal(task?.processTreePeakVramUsageMb, 3000);
    assert.equal(task?.devicePeakVramUsageMb, 70_000);
    assert.ok(window.rootPids.size > 0, "the window saw the run's running marker");

    // Alone (no window: its lock is gone), the same run samples the machine itself.
    const aloneLog = join(work, 'run-alone-nvidia-smi.jsonl');
    const alone = await runModelPerf(['run', '--task-id', 'alone', '--interval', '0.25', '--', process.execPath, 'child.js', 'ok', '500'], home, { env: { FAKE_NVIDIA_SMI_LOG: aloneLog } });
    assert.equal(alone.code, 0, alone.stderr);
    assert.notEqual(await readFile(aloneLog, 'utf8').catch(() => ''), '', 'alone, run starts its own nvidia-smi');
  });

  test("run publishes its progress live: a window's follower of the markers sees it move before the run ends", async () => {
    const home = join(work, 'run-live');
    const seen: number[] = [];
    const window = new RunningElsewhere({ storageDir: home, hostname: hostname(), ownPid: process.pid, isAlive: isProcessAlive, onChange: () => {}, pollMs: 100 });
    await window.start();
    const record = setInterval(() => {
      const steps = window.tasks()[0]?.stepsCompleted;
      if (typeof steps === 'number' && seen.at(-1) !== steps) seen.push(steps);
    }, 20);
    const r = await runModelPerf(['run', '--task-id', 'live', '--', process.execPath, 'child.js', 'slowbar'], home).finally(() => {
      clearInterval(record);
      window.dispose();
    });
    assert.equal(r.code, 0, r.stderr);
    // Its start and the once-a-minute refresh would give at most two readings: live, one a second.
    const moving = seen.filter((s) => s > 0 && s < 20);
    assert.ok(moving.length >= 3, `progress seen moving while the run went on: ${seen.join(',')}`);
    assert.deepEqual([...seen].sort((a, b) => a - b), seen, 'never backwards');
    assert.equal((await history(home))[0]?.stepsCompleted, 20);
  });

  test('watch --count on a pipe prints one line per sample; bad flags exit 2', async () => {
    const home = join(work, 'watch');
    const w = await runModelPerf(['watch', '--interval', '0.25', '--count', '3'], home);
    assert.equal(w.code, 0, w.stderr);
    const lines = w.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\S+ cpu=\S+ ram=\d+\/\d+MiB disk=\S+ gpu0=97%,20314\/24564MiB,71C$/);
    const bad = await runModelPerf(['watch', '--interval', '0'], home);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trimEnd().split('\n').length, 2);
  });
});
