// What the CLI needs from its process, as a small interface: tests run the CLI in-process with
// string buffers and a fake signal source; main.ts wires the real stdout, stderr and signals.

/** The slice of a writable stream the CLI writes to. */
export interface OutStream {
  /** False means "buffer full": wait for `drain` before writing more (backpressure). */
  write(chunk: string | Uint8Array): boolean;
  once?(event: 'drain', listener: () => void): unknown;
  isTTY?: boolean;
  columns?: number;
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
}

/** Collects everything written, for tests and for `--json` capture. */
export class BufferStream implements OutStream {
  private readonly parts: string[] = [];
  isTTY = false;
  columns = 100;

  write(chunk: string | Uint8Array): boolean {
    this.parts.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }

  get text(): string {
    return this.parts.join('');
  }
}
