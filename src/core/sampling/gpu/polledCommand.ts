// Shared plumbing for providers that learn GPU figures by running a short command now and then
// (ioreg on macOS, typeperf on Windows): one run at a time, a timeout, failures logged once per kind.
import type { Clock } from '../../ports';
import { runToCompletion, type ChildHandle, type CompletedRun, type SpawnPort } from './spawnPort';

export interface PolledCommandOptions {
  spawn: SpawnPort;
  clock: Clock;
  command: string;
  args: readonly string[];
  timeoutMs: number;
}

/** Runs the command on demand, never twice at once: a caller during a run shares its result. */
export class PolledCommand {
  private inFlight: Promise<CompletedRun> | null = null;
  private readonly children = new Set<ChildHandle>();
  private stopped = false;

  constructor(private readonly options: PolledCommandOptions) {}

  run(): Promise<CompletedRun> {
    if (this.inFlight) return this.inFlight;
    const o = this.options;
    this.inFlight = runToCompletion(o.spawn, o.command, o.args, {
      timeoutMs: o.timeoutMs,
      clock: o.clock,
      onChild: (c) => {
        this.children.add(c);
        c.onExit(() => this.children.delete(c));
        if (this.stopped) c.kill('SIGKILL');
      },
    }).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.children) c.kill('SIGKILL');
    this.children.clear();
  }
}
