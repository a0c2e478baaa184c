// The command-line face: parses the arguments and runs one command against the engine built by
// createMachineMonitor. `runCli` resolves to the exit status instead of exiting, so tests run it
// in-process; 0 = done, 1 = failed, 2 = bad usage, and `run` passes on its command's status.
import { hostname } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { version } from '../../package.json';
import { HISTORY_DIR_NAME, JsonlHistoryStore, defaultStorageDir } from '../core/history/historyStore';
import { DEFAULT_CONFIG } from '../core/engine/config';
import { importHistory, safeText, type ImportProblem } from '../core/history/importer';
import { createMachineMonitor } from '../core/machine';
import type { PerformanceMonitor } from '../core/engine/monitor';
import type { ExportFormat } from '../core/history/exporter';
import { explicitGpuChoice, flagBoolean, flagNumber, flagString, gpuBackendFlag, helpText, parseArgs, usageLine, UsageError, type ParsedCommand } from './args';
import { analysisText, statusText, watchLine, watchScreen } from './format';
import { BROKEN_PIPE_EXIT_CODE, type CliIo } from './io';
import { cliLogger, errorMessage } from './logger';
import { clusterCommand } from './clusterCommand';
import { runCommand } from './runCommand';
import { serveCommand } from './serveCommand';

export type { CliIo, OutStream, StopSignal } from './io';
export { BufferStream } from './io';

/** How long `status` waits between its two samples: CPU % is a rate and needs an interval. */
const STATUS_SAMPLE_GAP_MS = 500;
const DEFAULT_WINDOW_HOURS = 24;

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: ParsedCommand;
  try {
    const result = parseArgs(argv);
    if (result.kind === 'help') {
      io.stdout.write(helpText(result.command));
      return 0;
    }
    if (result.kind === 'version') {
      io.stdout.write(`model-perf ${version}\n`);
      return 0;
    }
    parsed = result.parsed;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const prefix = err.command ? `model-perf ${err.command}` : 'model-perf';
    io.stderr.write(`${prefix}: ${err.message}\n${usageLine(err.command)}\n`);
    return 2;
  }

  try {
    switch (parsed.command) {
      case 'status':
        return await statusCommand(parsed, io);
      case 'run':
        return await runCommand(parsed, io);
      case 'analyze':
        return await analyzeCommand(parsed, io);
      case 'export':
        return await exportCommand(parsed, io);
      case 'import':
        return await importCommand(parsed, io);
      case 'watch':
        return await watchCommand(parsed, io);
      case 'serve':
        return await serveCommand(parsed, io);
      case 'cluster':
        return await clusterCommand(parsed, io);
    }
  } catch (err) {
    io.stderr.write(`model-perf ${parsed.command}: ${errorMessage(err)}\n`);
    return 1;
  }
}

function samplingMonitor(parsed: ParsedCommand, io: CliIo, intervalMs?: number): Promise<PerformanceMonitor> {
  return createMachineMonitor({
    ...(intervalMs !== undefined ? { intervalMs } : {}),
    enableGpu: !flagBoolean(parsed, 'no-gpu'),
    nvidiaSmiPath: flagString(parsed, 'nvidia-smi') ?? null,
    ...gpuBackendFlag(parsed),
    // Status and watch read the machine, not the history: no file is touched.
    storageDir: false,
    diskPath: io.cwd,
    env: io.env,
    logger: cliLogger(io, parsed.command),
    // No task to attribute GPU memory to, so no per-process query.
    gpuProcessIntervalMs: 0,
    // While a VS Code window samples this machine, show its figures: no second nvidia-smi.
    ...(explicitGpuChoice(parsed) ? {} : { followWindowsIn: defaultStorageDir(io.env) }),
  });
}

async function statusCommand(parsed: ParsedCommand, io: CliIo): Promise<number> {
  const monitor = await samplingMonitor(parsed, io);
  try {
    await monitor.startMonitoring();
    await new Promise((resolve) => setTimeout(resolve, STATUS_SAMPLE_GAP_MS));
    await monitor.sampleNow();
    const status = monitor.getCurrentSystemStatus();
    if (flagBoolean(parsed, 'json')) io.stdout.write(`${JSON.stringify({ hostname: hostname(), ...status }, null, 2)}\n`);
    else io.stdout.write(statusText(status, hostname()));
    return 'error' in status ? 1 : 0;
  } finally {
    await monitor.dispose();
  }
}

/**
 * A monitor over the shared history only (no sampling, no GPU tool started), holding the tasks of
 * the window the command shows: its cost follows the window, not the history's size.
 */
async function historyMonitor(parsed: ParsedCommand, io: CliIo, windowHours: number): Promise<PerformanceMonitor | null> {
  const monitor = await createMachineMonitor({
    enableGpu: false,
    env: io.env,
    logger: cliLogger(io, parsed.command),
    // Analyse everything the history keeps, not only the extension's in-memory share.
    config: { maxHistorySize: 1_000_000 },
  });
  const report = await monitor.loadHistoryWindow(windowHours);
  if (report.error) {
    // Already printed by the logger.
    await monitor.dispose();
    return null;
  }
  if (report.warnings.length > 0) {
    io.stderr.write(`model-perf ${parsed.command}: skipped ${report.warnings.length} unreadable record(s) in ${historyFile(monitor)}\n`);
  }
  return monitor;
}

function historyFile(monitor: PerformanceMonitor): string {
  return join(monitor.storageLocation ?? '', HISTORY_DIR_NAME);
}

async function analyzeCommand(parsed: ParsedCommand, io: CliIo): Promise<number> {
  const windowHours = flagNumber(parsed, 'window-hours') ?? DEFAULT_WINDOW_HOURS;
  const monitor = await historyMonitor(parsed, io, windowHours);
  if (!monitor) return 1;
  try {
    const analysis = monitor.getPerformanceAnalysis(windowHours);
    if (flagBoolean(parsed, 'json')) io.stdout.write(`${JSON.stringify(analysis, null, 2)}\n`);
    else io.stdout.write(`History: ${historyFile(monitor)}\n${analysisText(analysis)}`);
    return 0;
  } finally {
    await monitor.dispose();
  }
}

async function exportCommand(parsed: ParsedCommand, io: CliIo): Promise<number> {
  const windowHours = flagNumber(parsed, 'window-hours') ?? DEFAULT_WINDOW_HOURS;
  const monitor = await historyMonitor(parsed, io, windowHours);
  if (!monitor) return 1;
  try {
    const file = resolvePath(io.cwd, parsed.positionals[0] as string);
    const format = flagString(parsed, 'format') as ExportFormat | undefined;
    const result = await monitor.exportMetrics(file, windowHours, format);
    io.stdout.write(`Exported ${result.metricsCount} task(s) from the last ${windowHours} h to ${result.path} (${result.format})\n`);
    return 0;
  } finally {
    await monitor.dispose();
  }
}

/** Rejected records listed on stderr without --list-all; the count of the rest follows. */
const MAX_PROBLEMS_SHOWN = 50;

async function importCommand(parsed: ParsedCommand, io: CliIo): Promise<number> {
  const file = resolvePath(io.cwd, parsed.positionals[0] as string);
  const partial = flagBoolean(parsed, 'partial');
  const dir = defaultStorageDir(io.env);
  let unreadable = 0;
  // The history's own store; its retention settings only matter to compaction, which import never runs.
  const store = new JsonlHistoryStore(dir, {
    retentionDays: DEFAULT_CONFIG.retentionDays,
    retentionMaxTasks: DEFAULT_CONFIG.retentionMaxTasks,
    onWarning: () => unreadable++,
  });
  const listAll = flagBoolean(parsed, 'list-all');
  let shown = 0;
  // Listed as found, so that --list-all can list millions without holding them.
  const onProblem = async (p: ImportProblem): Promise<void> => {
    if (!listAll && shown >= MAX_PROBLEMS_SHOWN) return;
    const line = `${shown === 0 ? 'model-perf import: rejected:\n' : ''}  ${p.where}: ${p.reason}\n`;
    shown++;
    if (!io.stderr.write(line) && io.stderr.once) await new Promise<void>((resolve) => io.stderr.once?.('drain', resolve));
  };
  const report = await importHistory(file, store, { partial, nowMs: Date.now(), spoolDir: dir, onProblem });
  const total = report.problems.length + report.problemsOmitted;
  if (total > shown) io.stderr.write(`  ... and ${total - shown} more (--list-all lists every one)\n`);
  if (unreadable > 0) io.stderr.write(`model-perf import: skipped ${unreadable} unreadable record(s) in ${store.historyFile}\n`);
  const shownFile = safeText(file, 500);
  const source = `${report.format === 'csv' ? 'CSV' : 'JSON'}${report.keyStyles.includes('original') ? ', original module keys' : ''}`;
  const skipped = report.duplicates > 0 ? `; skipped ${report.duplicates} already in the history` : '';
  if (report.written) io.stdout.write(`Imported ${report.imported} task(s) from ${shownFile} (${source}) into ${store.historyFile}${skipped}\n`);
  else if (report.rejected === 0 && report.fileError === null) io.stdout.write(`Nothing to import from ${shownFile}: ${report.records === 0 ? 'it holds no tasks' : `all ${report.records} task(s) are already in the history`}\n`);
  else {
    const good = report.records - report.rejected - report.duplicates;
    const why = report.fileError !== null ? 'the file could not be read to its end' : `${report.rejected} of ${report.records} record(s) were rejected`;
    const hint = good > 0 ? ` (--partial imports the ${good} good one(s)${report.fileError !== null ? ' read before the error' : ''})` : '';
    io.stderr.write(`model-perf import: nothing was imported: ${why}${partial ? '' : hint}\n`);
  }
  if (report.ignoredFields.length > 0) io.stderr.write(`model-perf import: ignored fields that are no task field: ${report.ignoredFields.join(', ')}\n`);
  return report.rejected === 0 && report.fileError === null ? 0 : 1;
}

// ANSI: cursor home, clear to end of line / of screen, hide and show the cursor.
const HOME = '\x1b[H';
const CLEAR_LINE = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';

async function watchCommand(parsed: ParsedCommand, io: CliIo): Promise<number> {
  const intervalMs = Math.round((flagNumber(parsed, 'interval') ?? 1) * 1000);
  const maxSamples = flagNumber(parsed, 'count') ?? Number.POSITIVE_INFINITY;
  const monitor = await samplingMonitor(parsed, io, intervalMs);
  const tty = io.stdout.isTTY === true;
  const host = hostname();
  let samples = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  monitor.on('snapshot', (snapshot) => {
    if (tty) {
      // Overwrite in place line by line rather than clearing the screen first: no flicker.
      // A line longer than the terminal wraps and shifts everything below it: cut it instead.
      const width = io.stdout.columns && io.stdout.columns > 1 ? io.stdout.columns - 1 : Number.POSITIVE_INFINITY;
      const lines = watchScreen(snapshot, monitor.getGpuAvailability(), host, intervalMs)
        .split('\n')
        .map((l) => (l.length > width ? l.slice(0, width) : l));
      io.stdout.write(`${HOME}${lines.join(`${CLEAR_LINE}\n`)}${CLEAR_BELOW}`);
    } else {
      io.stdout.write(`${watchLine(snapshot)}\n`);
    }
    if (++samples >= maxSamples) finish();
  });
  const unsubscribe = io.onStopSignal(() => finish());
  // `watch | head -1`: once the reader is gone, stop sampling and end as SIGPIPE would (141).
  let outputClosed = false;
  const unsubscribePipe = io.stdout.onBrokenPipe?.(() => {
    outputClosed = true;
    finish();
  });
  // The monitor's timers are unref'd (they must not keep an editor alive); here they are the point.
  const keepAlive = setInterval(() => {}, 60_000);
  if (tty) io.stdout.write(`${HOME}\x1b[2J${HIDE_CURSOR}`);
  try {
    await Promise.race([monitor.startMonitoring(), finished]);
    if (!tty && !monitor.getGpuAvailability().available && !flagBoolean(parsed, 'no-gpu')) {
      io.stderr.write(`model-perf watch: no GPU figures: ${monitor.getGpuAvailability().reason ?? 'no GPU found'}\n`);
    }
    await finished;
    return outputClosed ? BROKEN_PIPE_EXIT_CODE : 0;
  } finally {
    clearInterval(keepAlive);
    unsubscribe();
    unsubscribePipe?.();
    if (tty) io.stdout.write(SHOW_CURSOR);
    await monitor.dispose();
  }
}
