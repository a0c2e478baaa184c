// `model-perf run -- CMD`: runs a command as a monitored task. Its process tree is the task; its
// output is forwarded chunk by chunk, unchanged, while the last 64 KB are kept to name a failure;
// the finished task goes to the shared history and a summary to stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { HelperChannel, HelperRouter } from '../core/runs/helperChannel';
import { TrackedRun } from '../core/runs/trackedRuns';
import { defaultStorageDir, HISTORY_DIR_NAME, segmentNameFor } from '../core/history/historyStore';
import { ensurePrivateDir } from '../core/util/privateFiles';
import { processRelations, type ProcRelations } from '../core/runs/procRelations';
import { safeErrorText, safeLabel, safeText, taskIdProblem } from '../shared/text';
import { createMachineMonitor } from '../core/machine';
import type { PerformanceMonitor } from '../core/engine/monitor';
import { explicitGpuChoice, flagBoolean, flagNumber, flagString, gpuBackendFlag, usageLine, type ParsedCommand } from './args';
import { runSummary } from './format';
import { BROKEN_PIPE_EXIT_CODE, KILL_GRACE_MS, type CliIo, type OutStream, type StopSignal } from './io';
import { cliLogger, errorMessage } from './logger';
import { classifyOutcome, OutputTail, signalNumber, type ChildEnd } from './outcome';
import { deviceEnvironment } from '../core/sampling/os/processEnv';

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

/**
 * Forwards every chunk at once and unchanged; pauses the child's pipe while our stream is full.
 * Returns a function that resumes it for good: once our reader is gone, no 'drain' ever comes and
 * the child must not block on a full pipe while it is asked to stop.
 */
function forward(source: Readable, target: OutStream, tail: OutputTail, onText?: (text: string) => void): () => void {
  let draining = false;
  // Text for the progress parser: a character split across two chunks is joined, never mangled.
  const decoder = new StringDecoder('utf8');
  source.on('data', (chunk: Buffer) => {
    tail.push(chunk);
    if (onText) onText(decoder.write(chunk));
    if (!target.write(chunk) && target.once && !draining) {
      source.pause();
      target.once('drain', () => source.resume());
    }
  });
  return () => {
    draining = true;
    source.resume();
  };
}

/**
 * Every process below `rootPid` (children first found, then theirs), read before any is killed: a
 * killed parent's children move to init and could no longer be found. At most `limit` pids.
 */
async function descendants(relations: ProcRelations, rootPid: number, limit = 4096): Promise<number[]> {
  const found: number[] = [];
  const seen = new Set<number>([rootPid]);
  let level = [rootPid];
  for (let depth = 0; depth < 64 && level.length > 0 && found.length < limit; depth++) {
    const next: number[] = [];
    for (const pid of level) {
      for (const child of await relations.children(pid)) {
        if (seen.has(child)) continue;
        seen.add(child);
        found.push(child);
        next.push(child);
      }
    }
    level = next;
  }
  return found.slice(0, limit);
}

/**
 * SIGKILL for the command and every process it started: its process group when it made one of its
 * own (never ours: the child's pid is not our group), and each descendant found. ESRCH (already
 * gone) is expected and ignored.
 */
async function killProcessTree(rootPid: number, relations: ProcRelations): Promise<void> {
  const below = await descendants(relations, rootPid);
  const kill = (target: number) => {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone, or not ours to kill
    }
  };
  if (process.platform !== 'win32') kill(-rootPid);
  kill(rootPid);
  for (const pid of below) kill(pid);
}

function spawnFailure(rawCommand: string, err: NodeJS.ErrnoException): { message: string; exitCode: number } {
  const command = safeText(rawCommand, 200);
  // Shell conventions: 127 for "not found", 126 for "found but cannot be run".
  if (err.code === 'ENOENT') return { message: `cannot run "${command}": not found (check the name and PATH)`, exitCode: 127 };
  if (err.code === 'EACCES') return { message: `cannot run "${command}": permission denied (is it executable?)`, exitCode: 126 };
  return { message: `cannot run "${command}": ${safeErrorText(err.message)}`, exitCode: 126 };
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
  const shownCommand = safeText(command, 200);
  const intervalMs = Math.round((flagNumber(parsed, 'interval') ?? 1) * 1000);
  const explicitId = flagString(parsed, 'task-id');
  const idProblem = explicitId === undefined ? null : taskIdProblem(explicitId);
  if (idProblem !== null) {
    io.stderr.write(`model-perf run: --task-id: ${idProblem}\n${usageLine('run')}\n`);
    return 2;
  }
  const taskId = explicitId ?? defaultTaskId(commandLine, Date.now());
  // Labels are only shown: cleaned and cut (shared/text.ts) rather than refused.
  const modelType = safeLabel(flagString(parsed, 'model-type') ?? scriptName(commandLine));
  const resolution = safeLabel(flagString(parsed, 'resolution') ?? '');
  const steps = flagNumber(parsed, 'steps') ?? 0;
  const logger = cliLogger(io, 'run');
  const graceMs = io.killGraceMs ?? KILL_GRACE_MS;
  const relations = processRelations();

  let stopSignal: StopSignal | null = null;
  let signalsSeen = 0;
  let child: ChildProcess | null = null;
  /** Set when our stdout's reader went away while the command still ran, and we stopped it. */
  let stoppedForClosedOutput = false;
  let killedAfterGrace = false;
  let graceTimer: NodeJS.Timeout | null = null;
  let forceTimer: NodeJS.Timeout | null = null;
  let forceClose: () => void = () => {};
  const forced = new Promise<void>((resolve) => (forceClose = resolve));
  let resumeOutput: (() => void)[] = [];
  const running = (): boolean => child !== null && child.exitCode === null && child.signalCode === null;

  /**
   * A command asked to stop gets `graceMs` to clean up; then it and every process it started get
   * SIGKILL. A grandchild that escaped the kill but holds the output pipe must not keep us either:
   * 2 s after the kill we stop waiting for the pipes to close.
   */
  const killLater = (why: string): void => {
    if (graceTimer !== null || !running()) return;
    graceTimer = setTimeout(() => {
      const proc = child;
      if (!proc || !running() || proc.pid === undefined) return;
      killedAfterGrace = true;
      io.stderr.write(`model-perf run: "${shownCommand}" did not stop within ${graceMs / 1000} s of ${why}; killing it and the processes it started (SIGKILL)\n`);
      void killProcessTree(proc.pid, relations).finally(() => {
        forceTimer = setTimeout(forceClose, 2000);
      });
    }, graceMs);
  };

  const unsubscribe = io.onStopSignal((signal) => {
    stopSignal ??= signal;
    signalsSeen++;
    if (!child || !running()) return;
    killLater(signal);
    // A Ctrl-C typed at the terminal has already reached the child (same process group); a second
    // SIGINT would cut its clean-up short. A signal sent to model-perf alone, or a repeat, is passed on.
    if (signal === 'SIGINT' && signalsSeen === 1 && io.terminalSignalsReachChildren()) return;
    child.kill(signal);
  });
  // `run -- CMD | head -1`: once head exits, nobody reads; a Unix tool then ends (SIGPIPE). Stop
  // the command the usual way (SIGTERM, then SIGKILL after the grace) and record the task.
  let outputGone = false;
  const stopForClosedOutput = (): void => {
    for (const resume of resumeOutput) resume();
    resumeOutput = [];
    if (!child || !running() || stoppedForClosedOutput) return;
    stoppedForClosedOutput = true;
    io.stderr.write(`model-perf run: the output was closed (no reader left); stopping "${shownCommand}"\n`);
    child.kill('SIGTERM');
    killLater('SIGTERM');
  };
  const unsubscribePipe = io.stdout.onBrokenPipe?.(() => {
    outputGone = true;
    stopForClosedOutput();
  });

  let monitor: PerformanceMonitor | null = null;
  let channel: HelperChannel | null = null;
  let progress: TrackedRun[] = [];
  try {
    // The history folder holds this user's runs: private (0700) whatever the umask, an open one
    // tightened with a warning. A folder that cannot be made is reported by the history store.
    await ensurePrivateDir(defaultStorageDir(io.env), (message) => logger.warn(message)).catch(() => undefined);
    monitor = await createMachineMonitor({
      intervalMs,
      enableGpu: !flagBoolean(parsed, 'no-gpu'),
      nvidiaSmiPath: flagString(parsed, 'nvidia-smi') ?? null,
      ...gpuBackendFlag(parsed),
      diskPath: io.cwd,
      env: io.env,
      logger,
      // One task is watched closely: per-process GPU memory every 2 intervals (at least 1 s)
      // instead of the extension's 5 s, so short runs still get their own VRAM figure.
      gpuProcessIntervalMs: Math.max(1000, 2 * intervalMs),
      // `run` appends its one task and shows none of the others: read only the newest, so a
      // million tasks on disk cost the start-up nothing.
      // Its marker carries its progress (rewritten when it moves, at most once a second): a VS
      // Code window on this machine shows the run live, as it shows its own terminal runs.
      config: { maxHistorySize: 1, liveProgressMarkerMs: 1000 },
      // Beside a window (or `serve`) that samples this machine, read its figures: no second
      // nvidia-smi. Alone, sample here and publish for the others. An explicit GPU choice
      // (--no-gpu, --nvidia-smi) means this machine's own reading.
      ...(explicitGpuChoice(parsed) ? {} : { shareSamplerIn: defaultStorageDir(io.env) }),
    });
    await monitor.startMonitoring();
    if (stopSignal !== null) {
      io.stderr.write(`model-perf run: stopped by ${stopSignal} before "${shownCommand}" started; nothing was recorded\n`);
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
    const exited = new Promise<ChildEnd>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
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
    proc.on('error', (err) => logger.warn(`could not signal "${shownCommand}": ${err.message}`));
    monitor.startTaskMonitoring(taskId, modelType, resolution, steps, { rootPid: proc.pid ?? null, workingDirectory: io.cwd, deviceEnvironment: deviceEnvironment(env) });
    // Progress bars become the task's progress as in a terminal run: one parser per stream (tqdm
    // draws on stderr, rich and Keras on stdout), so the two never mix inside one line.
    const guess = { taskId, modelType, resolution, steps, scriptName: scriptName([command, ...args]) };
    progress = [new TrackedRun(taskId, 'cli', guess, monitor, logger, Date.now), new TrackedRun(taskId, 'cli', guess, monitor, logger, Date.now)];
    const [outProgress, errProgress] = progress as [TrackedRun, TrackedRun];
    resumeOutput = [
      forward(proc.stdout as Readable, io.stdout, tail, (text) => outProgress.feed(text)),
      forward(proc.stderr as Readable, io.stderr, tail, (text) => errProgress.feed(text)),
    ];
    // The reader may have gone while the command started.
    if (outputGone) stopForClosedOutput();

    // The monitor reports a failed save as an error event (and logs it): the summary must not say "recorded".
    let saveError: string | null = null;
    const saveWatch = monitor.on('error', (e) => {
      if (e.kind === 'history' && e.message.startsWith(`Task "${taskId}" could not be saved`)) saveError = e.message;
    });
    const end = await Promise.race([
      closed,
      forced.then(async () => {
        proc.stdout?.destroy();
        proc.stderr?.destroy();
        return exited;
      }),
    ]);
    // The last reading goes into the record before the end; nothing reaches the task after it.
    for (const p of progress) p.flush();
    const outcome = classifyOutcome(end, tail.text(), stopSignal ?? (stoppedForClosedOutput ? 'SIGPIPE' : null));
    // Ctrl-C (or a stop signal to model-perf, or a closed output) is recorded as `interrupted`, not
    // as a plain failure; `killed` when it had to be killed after the grace period.
    const interrupted = outcome.errorCategory === 'interrupted';
    const category = killedAfterGrace ? 'killed' : stopSignal === null && stoppedForClosedOutput ? 'output_closed' : 'interrupted';
    const task = interrupted
      ? await monitor.interruptTaskMonitoring(taskId, category)
      : await monitor.completeTaskMonitoring(taskId, outcome.success, outcome.errorCategory);
    saveWatch.dispose();
    const location = monitor.storageLocation;
    io.stderr.write(runSummary(task, outcome.exitDescription, location && saveError === null ? join(location, HISTORY_DIR_NAME, segmentNameFor(task)) : null));
    // The reason and where the task waits were printed just above by the logger.
    if (saveError !== null) io.stderr.write(`  NOT recorded in the history yet (see above); the command's exit code is kept\n`);
    const gpu = monitor.getGpuAvailability();
    if (!gpu.available && !flagBoolean(parsed, 'no-gpu')) io.stderr.write(`  no GPU figures: ${gpu.reason ?? 'no GPU found'}\n`);
    // Stopped because nobody reads: end as a tool killed by SIGPIPE would (141), unless the kill
    // after the grace period says more (137).
    if (interrupted && stopSignal === null && stoppedForClosedOutput && !killedAfterGrace) return BROKEN_PIPE_EXIT_CODE;
    return outcome.exitCode;
  } catch (err) {
    io.stderr.write(`model-perf run: ${errorMessage(err)}\n`);
    if (child && running()) child.kill('SIGTERM');
    return 1;
  } finally {
    if (graceTimer) clearTimeout(graceTimer);
    if (forceTimer) clearTimeout(forceTimer);
    unsubscribe();
    unsubscribePipe?.();
    for (const p of progress) p.flush();
    await channel?.dispose();
    await monitor?.dispose();
  }
}
