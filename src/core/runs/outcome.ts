// How a run ended: success, or a failure category read from how it exited and the last part of its
// output (a CUDA out-of-memory traceback, a shell's "Killed"). One classifier for every face: the
// CLI's `model-perf run` and the extension's terminal, debug and task trackers.
import { constants } from 'node:os';

/** Keeps the last `limitBytes` of a stream, so classifying a long run costs bounded memory. */
export class OutputTail {
  private chunks: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly limitBytes = 64 * 1024) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.chunks.length > 1 && this.bytes - (this.chunks[0] as Buffer).length >= this.limitBytes) {
      this.bytes -= (this.chunks.shift() as Buffer).length;
    }
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limitBytes)).toString('utf8');
  }
}

export interface ChildEnd {
  /** Exit status, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Outcome {
  success: boolean;
  errorCategory: string | null;
  /** What `model-perf` itself exits with: the command's status, 128+N for signal N. */
  exitCode: number;
  /** `exit code 1`, `signal SIGKILL`, for the summary. */
  exitDescription: string;
}

// Out-of-memory messages of PyTorch (CUDA, ROCm's HIP, Apple's MPS), TensorFlow, cuBLAS and Python.
const OUT_OF_MEMORY = [
  /\bout of memory\b/i,
  /\bOutOfMemoryError\b/,
  /^\s*MemoryError\b/m,
  /CUBLAS_STATUS_ALLOC_FAILED/,
  /\bRESOURCE_EXHAUSTED\b/,
  /\bOOM when allocating\b/i,
];
/** `out_of_memory` when the text holds an out-of-memory message, else null. */
export function outputErrorCategory(outputTail: string): 'out_of_memory' | null {
  return OUT_OF_MEMORY.some((re) => re.test(outputTail)) ? 'out_of_memory' : null;
}

/**
 * What a shell prints when its child was SIGKILLed (often by the kernel's OOM killer): `Killed` alone
 * or `run.sh: line 3: 4242 Killed  python x.py`.
 */
const KILLED_LINE = /^(?:.*?\b\d+\s+)?Killed\b/m;

export function signalNumber(signal: NodeJS.Signals): number {
  return (constants.signals as Record<string, number | undefined>)[signal] ?? 0;
}

/**
 * `stopSignal` is the signal the user sent to `model-perf` (Ctrl-C), if any: the run then counts as
 * interrupted whatever the command printed on its way out.
 */
export function classifyOutcome(end: ChildEnd, outputTail: string, stopSignal: NodeJS.Signals | null): Outcome {
  const exitCode = end.code ?? (end.signal ? 128 + signalNumber(end.signal) : 1);
  const exitDescription = end.signal ? `signal ${end.signal}` : `exit code ${end.code ?? 'unknown'}`;
  if (end.code === 0 && !end.signal) return { success: true, errorCategory: null, exitCode: 0, exitDescription };
  let errorCategory: string;
  if (stopSignal !== null) errorCategory = 'interrupted';
  else if (outputErrorCategory(outputTail) !== null) errorCategory = 'out_of_memory';
  else if (end.signal === 'SIGKILL' || end.code === 137 || (end.code !== null && KILLED_LINE.test(outputTail))) errorCategory = 'killed';
  else if (end.signal === 'SIGINT' || end.code === 130) errorCategory = 'interrupted';
  else if (end.signal) errorCategory = `signal_${end.signal}`;
  else errorCategory = `exit_code_${end.code}`;
  return { success: false, errorCategory, exitCode, exitDescription };
}
