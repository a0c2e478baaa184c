// What the CLI needs from its process, as a small interface: tests run the CLI in-process with
// string buffers and a fake signal source; main.ts wires the real stdout, stderr and signals.

/** The slice of a writable stream the CLI writes to. */
export interface OutStream {
  /** False means "buffer full": wait for `drain` before writing more (backpressure). */
  write(chunk: string | Uint8Array): boolean;
  once?(event: 'drain', listener: () => void): unknown;
  isTTY?: boolean;
  columns?: number;
  /**
   * Calls `listener` once when the reader went away (EPIPE: `model-perf run ... | head -1` after
   * head exited); returns an unsubscribe. Writes after that are dropped. Absent: never breaks.
   */
  onBrokenPipe?(listener: () => void): () => void;
}

export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  env: NodeJS.ProcessEnv;
  /** Folder relative paths and the command of `run` resolve against. */
  cwd: string;
  /** Subscribes to stop signals sent to the CLI while a command needs them; returns an unsubscribe. */
  onStopSignal(listener: (signal: StopSignal) => void): () => void;
  /**
   * True when a Ctrl-C typed at the terminal also reaches the children of the CLI (they share the
   * terminal's foreground process group), so `run` must not send the child a second SIGINT.
   */
  terminalSignalsReachChildren(): boolean;
  /** How `run`'s command gets stdin: the terminal in the real CLI, nothing in tests. */
  childStdin: 'inherit' | 'ignore';
  /**
   * How long `run` waits, after asking its command to stop (a stop signal, or its output closed),
   * before it kills the command's processes with SIGKILL. Default KILL_GRACE_MS; tests shorten it.
   */
  killGraceMs?: number;
}

/** Grace a command gets to clean up after SIGINT/SIGTERM before it is killed (5 s). */
export const KILL_GRACE_MS = 5000;

/** The exit status of a Unix tool whose output pipe closed (killed by SIGPIPE: 128 + 13). */
export const BROKEN_PIPE_EXIT_CODE = 141;

/** Collects everything written, for tests and for `--json` capture. */
export class BufferStream implements OutStream {
  private readonly parts: string[] = [];
  private readonly brokenListeners = new Set<() => void>();
  private broken = false;
  isTTY = false;
  columns = 100;

  write(chunk: string | Uint8Array): boolean {
    if (this.broken) return true;
    this.parts.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }

  onBrokenPipe(listener: () => void): () => void {
    if (this.broken) {
      queueMicrotask(listener);
      return () => {};
    }
    this.brokenListeners.add(listener);
    return () => this.brokenListeners.delete(listener);
  }

  /** For tests: the reader goes away, as `| head -1` does after its first line. */
  breakPipe(): void {
    if (this.broken) return;
    this.broken = true;
    for (const l of [...this.brokenListeners]) l();
    this.brokenListeners.clear();
  }

  get text(): string {
    return this.parts.join('');
  }
}
