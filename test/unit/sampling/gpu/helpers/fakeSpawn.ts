// A spawn port for tests: each spawn is recorded and answered by a script the test writes, so a
// provider can be fed recorded nvidia-smi output without any process being started.
import type { ChildExit, ChildHandle, SpawnPort } from '../../../../../src/core/sampling/gpu/spawnPort';

export class FakeChild implements ChildHandle {
  readonly killSignals: string[] = [];
  exitInfo: ChildExit | null = null;
  /** When true, kill() is ignored (a child hung in the driver). */
  ignoreKill = false;
  private readonly stdoutListeners: Array<(c: string) => void> = [];
  private readonly stderrListeners: Array<(c: string) => void> = [];
  private readonly exitListeners: Array<(e: ChildExit) => void> = [];
  private readonly pendingStdout: string[] = [];
  private readonly pendingStderr: string[] = [];

  constructor(
    readonly command: string,
    readonly args: readonly string[],
  ) {}

  get killed(): boolean {
    return this.killSignals.length > 0;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  onStdout(l: (c: string) => void): void {
    this.stdoutListeners.push(l);
    for (const c of this.pendingStdout.splice(0)) l(c);
  }

  onStderr(l: (c: string) => void): void {
    this.stderrListeners.push(l);
    for (const c of this.pendingStderr.splice(0)) l(c);
  }

  onExit(l: (e: ChildExit) => void): void {
    if (this.exitInfo) l(this.exitInfo);
    else this.exitListeners.push(l);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.killSignals.push(signal);
    if (!this.ignoreKill) this.exit(null, signal);
  }

  stdout(text: string): void {
    if (!this.alive) return;
    if (this.stdoutListeners.length === 0) this.pendingStdout.push(text);
    else this.stdoutListeners.forEach((l) => l(text));
  }

  stderr(text: string): void {
    if (!this.alive) return;
    if (this.stderrListeners.length === 0) this.pendingStderr.push(text);
    else this.stderrListeners.forEach((l) => l(text));
  }

  exit(code: number | null, signal: string | null = null, spawnErrorCode: string | null = null): void {
    if (this.exitInfo) return;
    this.exitInfo = { code, signal, spawnErrorCode, spawnErrorMessage: spawnErrorCode };
    this.exitListeners.splice(0).forEach((l) => l(this.exitInfo as ChildExit));
  }
}

export type SpawnScript = (child: FakeChild) => void;

export class FakeSpawn {
  readonly children: FakeChild[] = [];

  constructor(private readonly script: SpawnScript) {}

  readonly port: SpawnPort = (command, args) => {
    const child = new FakeChild(command, args);
    this.children.push(child);
    this.script(child);
    return child;
  };

  /** Long-lived `-lms --query-gpu` children, oldest first. */
  get streams(): FakeChild[] {
    return this.children.filter((c) => isStream(c) && !isComputeApps(c));
  }

  /** One-off `--query-compute-apps` runs. */
  get computeApps(): FakeChild[] {
    return this.children.filter((c) => isComputeApps(c) && !isStream(c));
  }

  /** Long-lived `--query-compute-apps ... -lms` children, oldest first. */
  get appsStreams(): FakeChild[] {
    return this.children.filter((c) => isComputeApps(c) && isStream(c));
  }

  get probes(): FakeChild[] {
    return this.children.filter((c) => c.args.some((a) => a.startsWith('--query-gpu')) && !c.args.includes('-lms'));
  }

  get alive(): FakeChild[] {
    return this.children.filter((c) => c.alive);
  }
}

export const isStream = (c: FakeChild): boolean => c.args.includes('-lms');
export const isComputeApps = (c: FakeChild): boolean => c.args.some((a) => a.startsWith('--query-compute-apps'));
