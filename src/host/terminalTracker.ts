// Follows model runs typed in the integrated terminal, through shell integration: a command line
// that matches the patterns becomes a task; its output stream gives progress and the
// out-of-memory category; the shell's newest child is its root process; the exit code says how
// it ended. Without shell integration nothing can be seen: the user is told once, with the setting.
import * as vscode from 'vscode';
import { guessTask, recogniseCommand } from '../core/runs/commandLine';
import type { ProcRelations } from '../core/runs/procRelations';
import type { RunRegistry, TrackedRun } from '../core/runs/trackedRuns';
import { findRuns, procfsProbe, type ProcessProbe } from '../core/runs/adoption';
import { isProcessAlive } from '../core/util/process';

export interface TrackerContext {
  runs: RunRegistry;
  relations: ProcRelations;
  log: vscode.LogOutputChannel;
  enabled(): boolean;
  patterns(): RegExp[];
}

interface Followed {
  run: TrackedRun;
  terminal: vscode.Terminal;
  pump: Promise<void>;
  shellPid: Promise<number | undefined>;
}

const NOTICE_KEY = 'modelPerf.tracking.shellIntegrationNoticeShown';
/** How long a new terminal may take to report shell integration before it counts as off. */
const SHELL_INTEGRATION_GRACE_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** /proc start times are whole clock ticks, read against a boot time in whole seconds: about a second either way. */
const START_TIME_SLACK_MS = 1500;
/** How often an adopted run's process is checked for its exit (it has no shell execution of ours). */
const ADOPTED_EXIT_POLL_MS = 2000;
/** After an adopted run's process is gone, how long shell integration may take to report its exit code. */
const ADOPTED_EXIT_GRACE_MS = 3000;

interface Adopted {
  run: TrackedRun;
  terminal: vscode.Terminal;
  /** When its process was first seen gone (epoch ms), or null while it runs. */
  goneSince: number | null;
}

/**
 * The command the shell started: its newest child, polled briefly (the fork may lag the start
 * event). Falls back to the shell itself, whose tree holds the command anyway.
 */
async function commandPid(relations: ProcRelations, shellPid: number, before: ReadonlySet<number>): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const kids = (await relations.children(shellPid)).filter((p) => !before.has(p));
    if (kids.length > 0) return kids[kids.length - 1] as number;
    await sleep(i < 5 ? 20 : 100);
  }
  return shellPid;
}

export class TerminalTracker implements vscode.Disposable {
  private readonly followed = new Map<vscode.TerminalShellExecution, Followed>();
  /** Children each shell had before its command, so an older background job is not taken for it. */
  private readonly subscriptions: vscode.Disposable[] = [];
  private noticeTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Runs found already going at activation, until they end. */
  private readonly adopted = new Set<Adopted>();
  private adoptedTimer: ReturnType<typeof setInterval> | null = null;
  /** Resolves once the terminals open at activation have been searched (for tests and the API). */
  readonly adoption: Promise<number>;

  constructor(private readonly ctx: TrackerContext, private readonly state: vscode.Memento, private readonly probe: ProcessProbe | null = process.platform === 'linux' ? procfsProbe(ctx.relations) : null) {
    this.subscriptions.push(
      vscode.window.onDidStartTerminalShellExecution((e) => this.started(e)),
      vscode.window.onDidEndTerminalShellExecution((e) => void this.ended(e)),
      vscode.window.onDidCloseTerminal((t) => void this.closed(t)),
      vscode.window.onDidOpenTerminal((t) => {
        this.watchForShellIntegration(t);
        // A persistent terminal restored after "Reload Window" (or a crash of the extension host)
        // opens after activation: runs going on in it are adopted as it comes back.
        void this.adoptIn(t, Date.now());
      }),
    );
    for (const t of vscode.window.terminals) this.watchForShellIntegration(t);
    if (vscode.workspace.getConfiguration('terminal.integrated').get<boolean>('shellIntegration.enabled') === false) void this.noticeOnce();
    this.adoption = this.adoptRunning(probe, [...vscode.window.terminals]).catch((err: unknown) => {
      this.ctx.log.warn(`Runs already going in terminals could not be adopted: ${err instanceof Error ? err.message : String(err)}`);
      return 0;
    });
  }

  /**
   * Adopts the runs of one terminal opened after activation (`openedAt`): only processes that
   * started before it opened (a restored terminal's), so a command typed into a new terminal is
   * followed through its shell execution, never adopted.
   */
  private async adoptIn(terminal: vscode.Terminal, openedAt: number): Promise<void> {
    if (!this.ctx.enabled() || this.probe === null) return;
    try {
      await this.adoption; // the terminals of the activation first: one search at a time
      if ([...this.followed.values()].some((f) => f.terminal === terminal)) return;
      await this.adoptRunning(this.probe, [terminal], openedAt - START_TIME_SLACK_MS);
    } catch (err) {
      this.ctx.log.warn(`Runs already going in terminal "${terminal.name}" could not be adopted: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * Adopts the model runs already going in `terminals` (after a window reload with persistent
   * terminals, or typed before activation): each shell's descendants matched by the command
   * patterns, continued as `adopted` tasks from the process's own start. Returns how many.
   */
  private async adoptRunning(probe: ProcessProbe | null, terminals: vscode.Terminal[], startedBefore = Number.POSITIVE_INFINITY): Promise<number> {
    if (!this.ctx.enabled() || terminals.length === 0) {
      this.ctx.log.info(`No terminal searched for runs already going (${terminals.length} terminal(s), tracking ${this.ctx.enabled() ? 'on' : 'off'})`);
      return 0;
    }
    if (probe === null) {
      this.ctx.log.info('Runs already going in terminals are not adopted on this system (it needs /proc, as on Linux)');
      return 0;
    }
    let count = 0;
    for (const terminal of terminals) {
      const shellPid = await Promise.resolve(terminal.processId).then((p) => p, () => undefined);
      if (shellPid === undefined) continue;
      const runs = (await findRuns(probe, shellPid, this.ctx.patterns())).filter((r) => r.startTimeMs === null ? startedBefore === Number.POSITIVE_INFINITY : r.startTimeMs < startedBefore);
      // A command typed meanwhile is followed through its shell execution, not adopted too.
      if ([...this.followed.values()].some((f) => f.terminal === terminal)) continue;
      this.ctx.log.info(`Terminal "${terminal.name}" (shell pid ${shellPid}): ${runs.length} model run(s) already going`);
      for (const found of runs) {
        const run = this.ctx.runs.adopt('terminal', found);
        if (!run) continue;
        this.adopted.add({ run, terminal, goneSince: null });
        count++;
      }
    }
    if (this.adopted.size > 0 && !this.adoptedTimer) {
      this.adoptedTimer = setInterval(() => void this.checkAdopted(), ADOPTED_EXIT_POLL_MS);
      this.adoptedTimer.unref?.();
    }
    return count;
  }

  /**
   * An adopted run whose process is gone ends with the exit code shell integration reports (see
   * ended()), or, when none comes within the grace time, with an unknown outcome.
   */
  private async checkAdopted(now = Date.now()): Promise<void> {
    for (const a of [...this.adopted]) {
      if (a.run.isEnded) {
        this.adopted.delete(a);
        continue;
      }
      const pid = a.run.rootPid;
      if (pid !== null && isProcessAlive(pid)) continue;
      a.goneSince ??= now;
      if (now - a.goneSince < ADOPTED_EXIT_GRACE_MS) continue;
      this.adopted.delete(a);
      await a.run.end({ exitCode: undefined, unknownCategory: 'unknown' });
    }
    if (this.adopted.size === 0 && this.adoptedTimer) {
      clearInterval(this.adoptedTimer);
      this.adoptedTimer = null;
    }
  }

  /** Runs in the start event: `read()` must be called before anything is awaited, or output is lost. */
  private started(e: vscode.TerminalShellExecutionStartEvent): void {
    if (!this.ctx.enabled()) return;
    // A restored terminal may announce the execution it had before the reload (late, often only as it
    // ends): that run is the adopted one, and its end event ends it (see ended()).
    if ([...this.adopted].some((a) => a.terminal === e.terminal && !a.run.isEnded)) {
      this.ctx.log.info(`"${e.execution.commandLine.value.slice(0, 200)}" in terminal "${e.terminal.name}": the run adopted there; not tracked twice`);
      return;
    }
    const line = e.execution.commandLine.value;
    const recognised = recogniseCommand(line, this.ctx.patterns());
    if (!recognised) return;
    if (recognised.recordedByCli) {
      this.ctx.log.info(`"${line.slice(0, 200)}": model-perf run records this task itself; not tracked twice`);
      return;
    }
    const stream = e.execution.read();
    const run = this.ctx.runs.start('terminal', guessTask(recognised, Date.now()));
    if (!run) return;
    const pump = (async () => {
      try {
        for await (const data of stream) run.feed(data);
      } catch (err) {
        this.ctx.log.info(`Output of "${run.taskId}" stopped: ${err instanceof Error ? err.message : String(err)}`);
      }
    })();
    const shellPid = Promise.resolve(e.terminal.processId).then(
      (p) => p,
      () => undefined,
    );
    this.followed.set(e.execution, { run, terminal: e.terminal, pump, shellPid });
    void this.followProcess(run, shellPid);
  }

  private async followProcess(run: TrackedRun, shellPidP: Promise<number | undefined>): Promise<void> {
    const shellPid = await shellPidP;
    if (shellPid === undefined || run.isEnded) return;
    // The shell's tree holds the command from the first instant; its own child is narrower.
    run.setRootPid(shellPid);
    const pid = await commandPid(this.ctx.relations, shellPid, new Set());
    run.setRootPid(pid);
  }

  /** The terminal's shell pid, where a run of it is followed (for other trackers to avoid doubles). */
  async shellPids(): Promise<Set<number>> {
    const out = new Set<number>();
    for (const f of this.followed.values()) {
      const p = await f.shellPid;
      if (p !== undefined) out.add(p);
    }
    return out;
  }

  private async ended(e: vscode.TerminalShellExecutionEndEvent): Promise<void> {
    const f = this.followed.get(e.execution);
    if (!f) {
      // An execution that started before this activation: the adopted run of that terminal ended.
      const a = [...this.adopted].find((x) => x.terminal === e.terminal && !x.run.isEnded);
      if (a) {
        this.adopted.delete(a);
        await a.run.end({ exitCode: e.exitCode, unknownCategory: 'unknown' });
      }
      return;
    }
    this.followed.delete(e.execution);
    // The stream may still hold the last lines (the out-of-memory message): let it drain briefly.
    await Promise.race([f.pump, sleep(1000)]);
    await f.run.end({ exitCode: e.exitCode, unknownCategory: 'interrupted' });
  }

  private async closed(terminal: vscode.Terminal): Promise<void> {
    for (const a of [...this.adopted]) {
      if (a.terminal !== terminal) continue;
      this.adopted.delete(a);
      await a.run.end({ exitCode: undefined, unknownCategory: 'terminal_closed' });
    }
    for (const [execution, f] of [...this.followed]) {
      if (f.terminal !== terminal) continue;
      this.followed.delete(execution);
      await f.run.end({ exitCode: undefined, unknownCategory: 'terminal_closed' });
    }
  }

  private watchForShellIntegration(terminal: vscode.Terminal): void {
    if (this.state.get<boolean>(NOTICE_KEY)) return;
    // A pseudoterminal of an extension never has shell integration: nothing to say about it.
    if ('pty' in terminal.creationOptions) return;
    const timer = setTimeout(() => {
      this.noticeTimers.delete(timer);
      if (!terminal.shellIntegration && terminal.exitStatus === undefined && vscode.window.terminals.includes(terminal)) void this.noticeOnce();
    }, SHELL_INTEGRATION_GRACE_MS);
    timer.unref?.();
    this.noticeTimers.add(timer);
  }

  private async noticeOnce(): Promise<void> {
    if (this.state.get<boolean>(NOTICE_KEY) || !this.ctx.enabled()) return;
    await this.state.update(NOTICE_KEY, true);
    this.ctx.log.warn('Terminal shell integration is off or unsupported in a terminal: runs typed there are not tracked. Debug sessions, VS Code tasks and the Start Task command still work.');
    const open = 'Open Setting';
    const choice = await vscode.window.showInformationMessage(
      'Model Perf cannot see commands run in this terminal because terminal shell integration is off (or the shell does not support it). Runs typed there are not tracked; debug sessions, tasks and "Start Task" still are.',
      open,
    );
    if (choice === open) await vscode.commands.executeCommand('workbench.action.openSettings', 'terminal.integrated.shellIntegration.enabled');
  }

  dispose(): void {
    for (const t of this.noticeTimers) clearTimeout(t);
    this.noticeTimers.clear();
    for (const s of this.subscriptions) s.dispose();
    this.followed.clear();
    if (this.adoptedTimer) clearInterval(this.adoptedTimer);
    this.adoptedTimer = null;
    this.adopted.clear();
  }
}
