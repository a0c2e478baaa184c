// Debug sessions (F5) of Python and Node programs become tasks from start to end: the program and
// its arguments give the task, the adapter's `process` event (or js-debug's child session) the
// process id, its `exited` event the exit code.
import * as vscode from 'vscode';
import { guessTask, readRun } from '../core/runs/commandLine';
import type { TrackedRun } from '../core/runs/trackedRuns';
import type { TrackerContext } from './terminalTracker';

const PYTHON_TYPES = new Set(['python', 'debugpy']);
const NODE_TYPES = new Set(['node', 'pwa-node']);

interface DebugProtocolMessage {
  type?: string;
  event?: string;
  command?: string;
  body?: { systemProcessId?: unknown; exitCode?: unknown; category?: unknown; output?: unknown };
}

/** js-debug's closing line in the debug console. */
const PROCESS_EXITED = /Process exited with code (\d+)/;
/** An uncaught exception's trace in the program's output. */
const UNCAUGHT = /^(Uncaught \w*(Error|Exception)\b|Traceback \(most recent call last\):)/m;

/**
 * A session without an `exited` event (js-debug sends none): stopped by the user (VS Code asked
 * the adapter to end it before the adapter said `terminated`) is interrupted; otherwise the
 * output decides: js-debug's "Process exited with code N", an uncaught exception, else success.
 */
function debugEndWithoutExitCode(stoppedByUser: boolean, outputTail: string): { exitCode: number | undefined; unknownCategory: string } {
  if (stoppedByUser) return { exitCode: undefined, unknownCategory: 'debug_stopped' };
  const exited = PROCESS_EXITED.exec(outputTail);
  if (exited) return { exitCode: Number(exited[1]), unknownCategory: 'debug_stopped' };
  return { exitCode: UNCAUGHT.test(outputTail) ? 1 : 0, unknownCategory: 'debug_stopped' };
}

function stringArgs(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  return Array.isArray(value) ? value.filter((a): a is string => typeof a === 'string') : [];
}

/** The command line a launch configuration stands for (`python gen.py --steps 5`), or null. */
function debugCommand(config: vscode.DebugConfiguration): string[] | null {
  if (config.request !== 'launch') return null;
  const args = stringArgs(config.args);
  if (PYTHON_TYPES.has(config.type)) {
    if (typeof config.program === 'string' && config.program) return ['python', config.program, ...args];
    if (typeof config.module === 'string' && config.module) return ['python', '-m', config.module, ...args];
    return null;
  }
  if (NODE_TYPES.has(config.type) && typeof config.program === 'string' && config.program) return ['node', config.program, ...args];
  return null;
}

export class DebugTracker implements vscode.Disposable {
  private readonly runs = new Map<string, TrackedRun>();
  private readonly exitCodes = new Map<string, number>();
  /** Sessions whose end VS Code asked for (Stop) before the adapter reported it. */
  private readonly stopRequested = new Set<string>();
  private readonly adapterTerminated = new Set<string>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly ctx: TrackerContext) {
    this.subscriptions.push(
      vscode.debug.registerDebugAdapterTrackerFactory('*', {
        createDebugAdapterTracker: (session) => ({
          onDidSendMessage: (m: DebugProtocolMessage) => this.message(session, m),
          onWillReceiveMessage: (m: DebugProtocolMessage) => this.request(session, m),
        }),
      }),
      vscode.debug.onDidStartDebugSession((s) => this.started(s)),
      vscode.debug.onDidTerminateDebugSession((s) => void this.terminated(s)),
    );
  }

  /** The tracked run of a session or of the session it descends from (js-debug's child sessions). */
  private runOf(session: vscode.DebugSession | undefined): { run: TrackedRun; rootId: string } | null {
    for (let s = session, i = 0; s && i < 8; s = s.parentSession, i++) {
      const run = this.runs.get(s.id);
      if (run) return { run, rootId: s.id };
    }
    return null;
  }

  private message(session: vscode.DebugSession, m: DebugProtocolMessage): void {
    if (m.type !== 'event') return;
    const found = this.runOf(session);
    if (!found) return;
    if (m.event === 'process' && typeof m.body?.systemProcessId === 'number' && m.body.systemProcessId > 0) found.run.setRootPid(m.body.systemProcessId);
    if (m.event === 'exited' && typeof m.body?.exitCode === 'number') this.exitCodes.set(found.rootId, m.body.exitCode);
    if (m.event === 'terminated') this.adapterTerminated.add(found.rootId);
    // The program's output in the debug console: progress bars and out-of-memory messages.
    if (m.event === 'output' && typeof m.body?.output === 'string' && m.body.category !== 'telemetry') found.run.feed(m.body.output);
  }

  private request(session: vscode.DebugSession, m: DebugProtocolMessage): void {
    if (m.type !== 'request' || (m.command !== 'disconnect' && m.command !== 'terminate')) return;
    const found = this.runOf(session);
    if (found && !this.adapterTerminated.has(found.rootId)) this.stopRequested.add(found.rootId);
  }

  private started(session: vscode.DebugSession): void {
    if (!this.ctx.enabled()) return;
    const parent = this.runOf(session.parentSession);
    if (parent) {
      // js-debug names the session of the real process `job.js [5584] « parent name`.
      const pid = /\[(\d+)\]/.exec(session.name)?.[1];
      if (pid) parent.run.setRootPid(Number(pid));
      return;
    }
    if (session.parentSession) return;
    const command = debugCommand(session.configuration);
    if (!command) return;
    const recognised = readRun(command);
    if (!recognised) return;
    const run = this.ctx.runs.start('debug', guessTask(recognised, Date.now()));
    if (run) this.runs.set(session.id, run);
  }

  private async terminated(session: vscode.DebugSession): Promise<void> {
    const run = this.runs.get(session.id);
    if (!run) return;
    this.runs.delete(session.id);
    const exitCode = this.exitCodes.get(session.id);
    const stopped = this.stopRequested.has(session.id);
    this.exitCodes.delete(session.id);
    this.stopRequested.delete(session.id);
    this.adapterTerminated.delete(session.id);
    await run.end(exitCode !== undefined ? { exitCode } : debugEndWithoutExitCode(stopped, run.parser.tail()));
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}
