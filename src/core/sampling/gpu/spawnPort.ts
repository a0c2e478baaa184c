// A tiny spawn abstraction so GPU providers can be fed recorded output in tests. Production wires
// `nodeSpawn` (child_process.spawn, no shell); tests pass a fake that emits fixture text.
import { spawn as childSpawn } from 'node:child_process';
import type { Clock } from '../../ports';

/** How a child ended. Exactly one of these is reported per child. */
export interface ChildExit {
  /** Exit status, or null when killed by a signal or never started. */
  code: number | null;
  signal: string | null;
  /** Set when the process could not be started at all (`ENOENT`, `EACCES`, ...). */
  spawnErrorCode: string | null;
  spawnErrorMessage: string | null;
}

/** A running child process, reduced to what the providers need. */
export interface ChildHandle {
  /** Text chunks from stdout, in order (not necessarily whole lines). */
  onStdout(listener: (chunk: string) => void): void;
  onStderr(listener: (chunk: string) => void): void;
  /** Called once, after all output was delivered. */
  onExit(listener: (exit: ChildExit) => void): void;
  /** Asks the child to end; safe to call after it ended. */
  kill(signal?: NodeJS.Signals): void;
}

export type SpawnPort = (command: string, args: readonly string[]) => ChildHandle;

/** The real port: `child_process.spawn` without a shell, stdin closed, stdio as UTF-8 text. */
export const nodeSpawn: SpawnPort = (command, args) => spawnWith(command, args, undefined);

/** A real port with its own environment (tests point a fake nvidia-smi at a scenario this way). */
export function createNodeSpawn(options: { env?: NodeJS.ProcessEnv } = {}): SpawnPort {
  return (command, args) => spawnWith(command, args, options.env);
}

function spawnWith(command: string, args: readonly string[], env: NodeJS.ProcessEnv | undefined): ChildHandle {
  const stdoutListeners: Array<(chunk: string) => void> = [];
  const stderrListeners: Array<(chunk: string) => void> = [];
  const exitListeners: Array<(exit: ChildExit) => void> = [];
  let finished: ChildExit | null = null;
  const finish = (exit: ChildExit): void => {
    if (finished) return;
    finished = exit;
    for (const l of exitListeners) l(exit);
  };

  const child = childSpawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true, ...(env ? { env } : {}) });
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    for (const l of stdoutListeners) l(chunk);
  });
  child.stderr.on('data', (chunk: string) => {
    for (const l of stderrListeners) l(chunk);
  });
  child.on('error', (err: NodeJS.ErrnoException) => {
    // A spawn failure has no pid and may never emit 'close'; a later error (kill failing) is not an exit.
    if (child.pid === undefined) {
      finish({ code: null, signal: null, spawnErrorCode: err.code ?? 'UNKNOWN', spawnErrorMessage: err.message });
    }
  });
  // 'close' (not 'exit') so every byte of stdout has been delivered before the exit is reported.
  child.on('close', (code, signal) => finish({ code, signal, spawnErrorCode: null, spawnErrorMessage: null }));

  return {
    onStdout: (l) => void stdoutListeners.push(l),
    onStderr: (l) => void stderrListeners.push(l),
    onExit: (l) => {
      if (finished) l(finished);
      else exitListeners.push(l);
    },
    kill: (signal = 'SIGTERM') => {
      if (finished || child.exitCode !== null) return;
      try {
        child.kill(signal);
      } catch {
        // Already gone between the check and the kill: nothing left to release.
      }
    },
  };
}

/** Everything a short-lived child printed, and how it ended. */
export interface CompletedRun extends ChildExit {
  stdout: string;
  stderr: string;
  /** True when the run was killed because it outlived its timeout. */
  timedOut: boolean;
}

/** Upper bound on captured text, so a runaway child cannot grow our heap without limit. */
const MAX_CAPTURE_CHARS = 1_000_000;

/**
 * Runs a child to completion, killing it (SIGKILL) when it outlives `timeoutMs`. Never rejects:
 * spawn failures come back as `spawnErrorCode`.
 */
export function runToCompletion(
  spawn: SpawnPort,
  command: string,
  args: readonly string[],
  options: { timeoutMs: number; clock: Clock; onChild?: (child: ChildHandle) => void },
): Promise<CompletedRun> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let child: ChildHandle;
    try {
      child = spawn(command, args);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      resolve({ code: null, signal: null, spawnErrorCode: e.code ?? 'UNKNOWN', spawnErrorMessage: String(e.message), stdout, stderr, timedOut });
      return;
    }
    options.onChild?.(child);
    const timer = options.clock.setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    timer.unref?.();
    child.onStdout((c) => {
      if (stdout.length < MAX_CAPTURE_CHARS) stdout += c;
    });
    child.onStderr((c) => {
      if (stderr.length < MAX_CAPTURE_CHARS) stderr += c;
    });
    child.onExit((exit) => {
      options.clock.clearTimeout(timer);
      resolve({ ...exit, stdout, stderr, timedOut });
    });
  });
}

const CR = 0x0d;

/** Splits a text stream into lines, holding back a trailing partial line until it completes. */
export class LineSplitter {
  private pending = '';

  constructor(
    private readonly onLine: (line: string) => void,
    /** A "line" longer than this is garbage (or hostile); it is cut and passed on as is. */
    private readonly maxLineChars = 64 * 1024,
  ) {}

  push(chunk: string): void {
    // One pass over the text: lines are cut at their newlines where they lie (the held-back part
    // was copied once per line before), a CR before the newline dropped.
    const text = this.pending === '' ? chunk : this.pending + chunk;
    let start = 0;
    let nl = text.indexOf('\n');
    while (nl >= 0) {
      this.onLine(text.slice(start, nl > start && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl));
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    this.pending = start === 0 ? text : text.slice(start);
    if (this.pending.length > this.maxLineChars) {
      const cut = this.pending;
      this.pending = '';
      this.onLine(cut.slice(0, this.maxLineChars));
    }
  }

  /** Delivers a final unterminated line, if any. */
  flush(): void {
    if (this.pending.length > 0) {
      const rest = this.pending.replace(/\r$/, '');
      this.pending = '';
      this.onLine(rest);
    }
  }
}
