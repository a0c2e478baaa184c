// The CLI's I/O as a test drives it: output captured in buffers, stop signals sent by the test
// (`signal`), the command's stdin closed.
import { BufferStream, type CliIo, type StopSignal } from '../../../src/cli/cli';

export type TestIo = CliIo & { out: BufferStream; err: BufferStream; signal(s: StopSignal): void };

export interface TestIoOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout is a terminal of 60 columns. */
  tty?: boolean;
  /** How long `run` waits after a stop signal before SIGKILL (tests shorten it). */
  killGraceMs?: number;
}

export function testIo(options: TestIoOptions = {}): TestIo {
  const out = new BufferStream();
  if (options.tty) {
    out.isTTY = true;
    out.columns = 60;
  }
  const err = new BufferStream();
  const listeners = new Set<(s: StopSignal) => void>();
  return {
    out,
    err,
    stdout: out,
    stderr: err,
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    onStopSignal(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    signal: (s) => listeners.forEach((l) => l(s)),
    terminalSignalsReachChildren: () => false,
    childStdin: 'ignore',
    ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
  };
}
