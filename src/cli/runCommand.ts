// `model-perf run -- CMD`: runs a command as a monitored task. Its process tree is the task; its
// output is forwarded chunk by chunk, unchanged, while the last 64 KB are kept to name a failure;
// the finished task goes to the shared history and a summary to stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import { HelperChannel, HelperRouter } from '../core/runs/helperChannel';
import { HISTORY_DIR_NAME, segmentNameFor } from '../core/history/historyStore';
import { processRelations } from '../core/runs/procRelations';
import { createMachineMonitor } from '../core/machine';
import type { PerformanceMonitor } from '../core/engine/monitor';
import { flagBoolean, flagNumber, flagString, type ParsedCommand } from './args';
import { runSummary } from './format';
import type { CliIo, OutStream, StopSignal } from './io';
import { cliLogger, errorMessage } from './logger';
import { classifyOutcome, OutputTail, signalNumber, type ChildEnd } from './outcome';

const INTERPRETER = /^(python[\d.]*|pythonw?|node|deno|bun|bash|sh|zsh|ruby|perl|julia|Rscript|torchrun|accelerate|uv|poetry|conda|deepspeed)(\.exe)?$/i;
const SCRIPT = /\.(py|js|mjs|cjs|ts|sh|bash|rb|pl|jl|R|ipynb)$/i;

/** A short name for the task: the script an interpreter runs (`generate`), else the command's name. */
export function scriptName(commandLine: readonly string[]): string {
  const [cmd = 'command', ...args] = commandLine;
  const base = basename(cmd);
  if (!INTERPRETER.test(base)) return base.replace(/\.(exe|cmd|bat)$/i, '');
  const script = args.find((a) => !a.startsWith('-') && SCRIPT.test(a));
  if (script) return basename(script).replace(SCRIPT, '');
  const m = args.indexOf('-m');
  if (m >= 0 && args[m + 1]) return args[m + 1] as string;
  return base;
}

function stamp(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export function defaultTaskId(commandLine: readonly string[], nowMs: number): string {
  const slug =
    scriptName(commandLine)
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'task';
  return `${slug}-${stamp(nowMs)}-${randomBytes(2).toString('hex')}`;
}

/** Forwards every chunk at once and unchanged; pauses the child's pipe while our stream is full. */
function forward(source: Readable, target: OutStream, tail: OutputTail): void {
  source.on('data', (chunk: Buffer) => {
    tail.push(chunk);
    if (!target.write(chunk) && target.once) {
      source.pause();
      target.once('drain', () => source.resume());
    }
  });
}

function spawnFailure(command: string, err: NodeJS.ErrnoException): { message: string; exitCode: number } {
  // Shell conventions: 127 for "not found", 126 for "found but cannot be run".
  if (err.code === 'ENOENT') return { message: `cannot run "${command}": not found (check the name and PATH)`, exitCode: 127 };
  if (err.code === 'EACCES') return { message: `cannot run "${command}": permission denied (is it executable?)`, exitCode: 126 };
  return { message: `cannot run "${command}": ${err.message}`, exitCode: 126 };
}

/** The folder of model_perf.py: beside the bundle (dist/cli.js -> media/python), or from the sources. */
const HELPER_DIR = [join(__dirname, '..', 'media', 'python'), join(__dirname, '..', '..', 'media', 'python')].find((d) => existsSync(join(d, 'model_perf.py'))) ?? join(__dirname, '..', 'media', 'python');

/** Starts the helper's channel for the child and adds its variables to `env`; null if it cannot start. */
async function startHelperChannel(monitor: PerformanceMonitor, logger: ReturnType<typeof cliLogger>, env: NodeJS.ProcessEnv): Promise<HelperChannel | null> {
  const router = new HelperRouter(monitor, processRelations(), logger);
  const channel = new HelperChannel({ log: logger, onMessage: (m) => void router.enqueue(m) });
  try {
    await channel.start();
  } catch (err) {
    logger.warn(`the Python helper's channel could not start (${errorMessage(err)}); model_perf calls in the script do nothing`);
    return null;
  }
  Object.assign(env, channel.env());
  if (existsSync(join(HELPER_DIR, 'model_perf.py'))) env.PYTHONPATH = env.PYTHONPATH ? `${HELPER_DIR}${delimiter}${env.PYTHONPATH}` : HELPER_DIR;
  return channel;
}

export async function runCommand(parsed: ParsedCommand, io: CliIo): Promise<number> {
  const commandLine = parsed.commandLine;
  const [command, ...args] = commandLine as [string, ...string[]];
  const intervalMs = Math.round((flagNumber(parsed, 'interval') ?? 1) * 1000);
  const taskId = flagString(parsed, 'task-id') ?? defaultTaskId(commandLine, Date.now());
  const modelType = flagString(parsed, 'model-type') ?? scriptName(commandLine);
  const resolution = flagString(parsed, 'resolution') ?? '';
  const steps = flagNumber(parsed, 'steps') ?? 0;
  const logger = cliLogger(io, 'run');

  let stopSignal: StopSignal | null = null;
  let signalsSeen = 0;
  let child: ChildProcess | null = null;
  const unsubscribe = io.onStopSignal((signal) => {
    stopSignal ??= signal;
    signalsSeen++;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    // A Ctrl-C typed at the terminal has already reached the child (same process group); a second
    // SIGINT would cut its clean-up short. A signal sent to model-perf alone, or a repeat, is passed on.
    if (signal === 'SIGINT' && signalsSeen === 1 && io.terminalSignalsReachChildren()) return;
    child.kill(signal);
  });

  let monitor: PerformanceMonitor | null = null;
  let channel: HelperChannel | null = null;
  try {
    monitor = await createMachineMonitor({
      intervalMs,
      enableGpu: !flagBoolean(parsed, 'no-gpu'),
      nvidiaSmiPath: flagString(parsed, 'nvidia-smi') ?? null,
      diskPath: io.cwd,
      env: io.env,
      logger,
      // One task is watched closely: per-process GPU memory every 2 intervals (at least 1 s)
      // instead of the extension's 5 s, so short runs still get their own VRAM figure.
      gpuProcessIntervalMs: Math.max(1000, 2 * intervalMs),
    });
    await monitor.startMonitoring();
    if (stopSignal !== null) {
      io.stderr.write(`model-perf run: stopped by ${stopSignal} before "${command}" started; nothing was recorded\n`);
      return 128 + signalNumber(stopSignal);
    }

    const env = { ...io.env };
    // A pipe makes Python buffer its output in blocks; unbuffered keeps the stream live.
    if (env.PYTHONUNBUFFERED === undefined) env.PYTHONUNBUFFERED = '1';
    // The Python helper (`import model_perf`) reports to this run, not to a VS Code window around it.
    channel = await startHelperChannel(monitor, logger, env);
    const proc = spawn(command, args, { cwd: io.cwd, env, stdio: [io.childStdin, 'pipe', 'pipe'] });
    child = proc;
    const tail = new OutputTail();
    const closed = new Promise<ChildEnd>((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
    const started = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      proc.once('spawn', () => resolve(null));
      proc.once('error', (err) => resolve(err));
    });
    if (started) {
      const failure = spawnFailure(command, started);
      io.stderr.write(`model-perf run: ${failure.message}; nothing was recorded\n`);
      return failure.exitCode;
    }
    // After a successful start, an 'error' only reports a failed kill(): the exit still follows.
    proc.on('error', (err) => logger.warn(`could not signal "${command}": ${err.message}`));
    monitor.startTaskMonitoring(taskId, modelType, resolution, steps, { rootPid: proc.pid ?? null });
    forward(proc.stdout as Readable, io.stdout, tail);
    forward(proc.stderr as Readable, io.stderr, tail);

    // The monitor reports a failed save as an error event (and logs it): the summary must not say "recorded".
    let saveError: string | null = null;
    const saveWatch = monitor.on('error', (e) => {
      if (e.kind === 'history' && e.message.startsWith(`Task "${taskId}" could not be saved`)) saveError = e.message;
    });
    const end = await closed;
    const outcome = classifyOutcome(end, tail.text(), stopSignal);
    // Ctrl-C (or a stop signal to model-perf) is recorded as `interrupted`, not as a plain failure.
    const task = outcome.errorCategory === 'interrupted'
      ? await monitor.interruptTaskMonitoring(taskId)
      : await monitor.completeTaskMonitoring(taskId, outcome.success, outcome.errorCategory);
    saveWatch.dispose();
    const location = monitor.storageLocation;
    io.stderr.write(runSummary(task, outcome.exitDescription, location && saveError === null ? join(location, HISTORY_DIR_NAME, segmentNameFor(task)) : null));
    // The reason and where the task waits were printed just above by the logger.
    if (saveError !== null) io.stderr.write(`  NOT recorded in the history yet (see above); the command's exit code is kept\n`);
    const gpu = monitor.getGpuAvailability();
    if (!gpu.available && !flagBoolean(parsed, 'no-gpu')) io.stderr.write(`  no GPU figures: ${gpu.reason ?? 'no GPU found'}\n`);
    return outcome.exitCode;
  } catch (err) {
    io.stderr.write(`model-perf run: ${errorMessage(err)}\n`);
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return 1;
  } finally {
    unsubscribe();
    await channel?.dispose();
    await monitor?.dispose();
  }
}
