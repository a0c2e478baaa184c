// Entry of `model-perf` (dist/cli.js): wires the real process (stdout, stderr, signals, terminal)
// into runCli and exits with its status. Everything else lives in cli.ts so tests run it in-process.
import { readFileSync } from 'node:fs';
import { runCli, type CliIo, type OutStream, type StopSignal } from './cli';

/**
 * A stdout/stderr that drops writes after the reader went away (`| head`): no EPIPE crash, and the
 * command hears of it (onBrokenPipe) so it can stop instead of working for nobody.
 */
function guarded(stream: NodeJS.WriteStream): OutStream {
  let broken = false;
  const listeners = new Set<() => void>();
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    if (broken) return;
    broken = true;
    for (const l of [...listeners]) l();
    listeners.clear();
  });
  return {
    write: (chunk) => (broken ? true : stream.write(chunk)),
    once: (event, listener) => stream.once(event, listener),
    onBrokenPipe(listener) {
      if (broken) {
        queueMicrotask(listener);
        return () => {};
      }
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get isTTY() {
      return stream.isTTY === true;
    },
    get columns() {
      return stream.columns;
    },
  };
}

/**
 * Linux: /proc/self/stat gives our process group and the terminal's foreground group. When they
 * are equal, a Ctrl-C went to the whole group, the child of `run` included. Elsewhere, assume so
 * when stdin is a terminal.
 */
function terminalSignalsReachChildren(): boolean {
  if (process.platform === 'linux') {
    try {
      const text = readFileSync('/proc/self/stat', 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      const pgrp = Number(fields[2]);
      const tpgid = Number(fields[5]);
      return tpgid > 0 && tpgid === pgrp;
    } catch {
      return process.stdin.isTTY === true;
    }
  }
  return process.stdin.isTTY === true;
}

const STOP_SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const io: CliIo = {
  stdout: guarded(process.stdout),
  stderr: guarded(process.stderr),
  env: process.env,
  cwd: process.cwd(),
  onStopSignal(listener) {
    const handlers = STOP_SIGNALS.map((signal) => [signal, () => listener(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    return () => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    };
  },
  terminalSignalsReachChildren,
  childStdin: 'inherit',
};

runCli(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
    // Everything is disposed by now; a handle that still lingers must not keep the shell waiting.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`model-perf: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
