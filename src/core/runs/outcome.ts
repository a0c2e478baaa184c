// How a run ended: success, or a failure category read from how it exited and the last part of its
// output (a CUDA out-of-memory traceback, a shell's "Killed"). One classifier for every face: the
// CLI's `model-perf run` (raw bytes, colour codes and all) and the extension's terminal, debug and
// task trackers; colour codes are stripped here, once, for all of them.
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

// Out-of-memory messages, each in the words of the framework that writes it (a bare "out of memory"
// in a log line is not one: "checking for out of memory conditions: none").
const OUT_OF_MEMORY = [
  // PyTorch: `torch.OutOfMemoryError: CUDA out of memory. Tried to allocate…` (and HIP, XPU), the
  // CUDA runtime's `CUDA error: out of memory`, Apple's `MPS backend out of memory`.
  /\b(?:CUDA|HIP|XPU) out of memory\b/,
  /\bCUDA error: out of memory\b/,
  /\bMPS backend out of memory\b/,
  // The CUDA libraries' allocation failures: cuBLAS, cuDNN, cuSOLVER, cuSPARSE.
  /\bCU(?:BLAS|DNN|SOLVER|SPARSE)_STATUS_ALLOC_FAILED\b/,
  // The CUDA driver (Numba, CuPy) and llama.cpp's `cudaMalloc failed: out of memory`.
  /\bCUDA_ERROR_OUT_OF_MEMORY\b/,
  /\bcudaMalloc failed: out of memory\b/,
  // PyTorch on the CPU, NumPy.
  /\bDefaultCPUAllocator: can't allocate memory\b/,
  /\bUnable to allocate \d+(?:\.\d+)? [KMGTPE]?i?B for an array\b/,
  // TensorFlow (`ResourceExhaustedError: … OOM when allocating tensor`), JAX/XLA
  // (`RESOURCE_EXHAUSTED: Out of memory while trying to allocate`), ONNX Runtime's arena. gRPC's
  // `StatusCode.RESOURCE_EXHAUSTED` (a message over the size limit) is not one.
  /\bOOM when allocating tensor\b/,
  /\bRESOURCE[_ ]EXHAUSTED: Out of memory\b/i,
  /\bFailed to allocate memory for requested buffer\b/,
  // An exception whose message says so (`RuntimeError: Out of memory`, `cupy…OutOfMemoryError: Out
  // of memory allocating…`).
  // A log level is not an exception: `ERROR: checking for out of memory conditions` is not one.
  /^[ \t]*(?:[\w.]+\.)?\w*(?:Error|Exception):[^\n]*\b[Oo]ut of memory\b/m,
  // An exception named for it at the start of a line (`torch.OutOfMemoryError: …`,
  // `cupy.cuda.memory.OutOfMemoryError: …`, Python's bare `MemoryError`), not a source line that
  // mentions it (`except torch.cuda.OutOfMemoryError:`).
  /^[ \t]*(?:[\w.]+\.)?(?:OutOfMemoryError|_ArrayMemoryError|MemoryError)\b(?::|[ \t]*$)/m,
  // C++ code that ran out: `terminate called after throwing an instance of 'std::bad_alloc'`.
  /\binstance of 'std::bad_alloc'/,
];

// Colour and cursor sequences (FORCE_COLOR, Python 3.13's coloured tracebacks, rich): CSI, OSC,
// DCS/SOS/PM/APC strings, two- and three-character escapes, and the C1 forms of CSI and OSC.
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b[ -/]*[0-~]|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x9c]*[\x07\x9c]?/g;
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

/**
 * Output as a reader sees it: escape sequences and control characters removed (line ends kept).
 * Every classification goes through it, so a coloured traceback reads like a plain one.
 */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '').replace(CONTROL, '');
}

/** `out_of_memory` when the text holds an out-of-memory message, else null. */
export function outputErrorCategory(outputTail: string): 'out_of_memory' | null {
  const plain = stripAnsi(outputTail);
  return OUT_OF_MEMORY.some((re) => re.test(plain)) ? 'out_of_memory' : null;
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
  const plain = stripAnsi(outputTail);
  let errorCategory: string;
  if (stopSignal !== null) errorCategory = 'interrupted';
  else if (outputErrorCategory(plain) !== null) errorCategory = 'out_of_memory';
  else if (end.signal === 'SIGKILL' || end.code === 137 || (end.code !== null && KILLED_LINE.test(plain))) errorCategory = 'killed';
  else if (end.signal === 'SIGINT' || end.code === 130) errorCategory = 'interrupted';
  else if (end.signal) errorCategory = `signal_${end.signal}`;
  else errorCategory = `exit_code_${end.code}`;
  return { success: false, errorCategory, exitCode, exitDescription };
}
