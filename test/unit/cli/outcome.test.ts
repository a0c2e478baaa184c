// How `run` names a command's end (exit status, signal, the tail of its output), the bounded output
// tail, and the default task name taken from the command line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyOutcome, OutputTail } from '../../../src/cli/outcome';
import { defaultTaskId, scriptName } from '../../../src/cli/runCommand';

const ok = { code: 0, signal: null };
const exit = (code: number) => ({ code, signal: null });
const sig = (signal: NodeJS.Signals) => ({ code: null, signal });

test('success, exit codes and signals', () => {
  assert.deepEqual(classifyOutcome(ok, 'CUDA out of memory', null), { success: true, errorCategory: null, exitCode: 0, exitDescription: 'exit code 0' });
  assert.deepEqual(classifyOutcome(exit(3), 'boom', null), { success: false, errorCategory: 'exit_code_3', exitCode: 3, exitDescription: 'exit code 3' });
  assert.deepEqual(classifyOutcome(sig('SIGKILL'), '', null), { success: false, errorCategory: 'killed', exitCode: 137, exitDescription: 'signal SIGKILL' });
  assert.equal(classifyOutcome(exit(137), '', null).errorCategory, 'killed');
  assert.deepEqual(classifyOutcome(sig('SIGINT'), '', null), { success: false, errorCategory: 'interrupted', exitCode: 130, exitDescription: 'signal SIGINT' });
  assert.equal(classifyOutcome(exit(130), '', null).errorCategory, 'interrupted');
  assert.deepEqual(classifyOutcome(sig('SIGSEGV'), '', null), { success: false, errorCategory: 'signal_SIGSEGV', exitCode: 139, exitDescription: 'signal SIGSEGV' });
});

test('out of memory is read from the output, whatever the exit status', () => {
  const messages = [
    'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total capacity)',
    'torch.cuda.OutOfMemoryError: CUDA out of memory.',
    'RuntimeError: CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported',
    'Traceback (most recent call last):\n  File "x.py", line 1\nMemoryError',
    'RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`',
    'tensorflow.python.framework.errors_impl.ResourceExhaustedError: RESOURCE_EXHAUSTED: OOM when allocating tensor',
    'torch.OutOfMemoryError: HIP out of memory.',
    'RuntimeError: MPS backend out of memory (MPS allocated: 17.00 GB)',
  ];
  for (const m of messages) assert.equal(classifyOutcome(exit(1), `step 1\n${m}\n`, null).errorCategory, 'out_of_memory', m);
  assert.equal(classifyOutcome(sig('SIGABRT'), 'CUDA out of memory', null).errorCategory, 'out_of_memory');
  // Words that merely look alike are not an OOM.
  assert.equal(classifyOutcome(exit(1), 'NoMemoryErrorHere: failed', null).errorCategory, 'exit_code_1');
});

test('a shell\'s "Killed" line names a killed child', () => {
  assert.equal(classifyOutcome(exit(1), 'Killed\n', null).errorCategory, 'killed');
  assert.equal(classifyOutcome(exit(1), 'run.sh: line 3:  4242 Killed                  python gen.py\n', null).errorCategory, 'killed');
  assert.equal(classifyOutcome(exit(1), 'Process was not Killed by anyone\n', null).errorCategory, 'exit_code_1');
});

test('a stop signal sent to model-perf makes it interrupted, whatever the command printed', () => {
  assert.equal(classifyOutcome(exit(1), 'CUDA out of memory', 'SIGINT').errorCategory, 'interrupted');
  assert.deepEqual(classifyOutcome(sig('SIGTERM'), '', 'SIGTERM'), { success: false, errorCategory: 'interrupted', exitCode: 143, exitDescription: 'signal SIGTERM' });
  // A command that handles Ctrl-C and still exits 0 succeeded.
  assert.equal(classifyOutcome(ok, '', 'SIGINT').success, true);
});

test('the output tail keeps only the last bytes', () => {
  const tail = new OutputTail(10);
  tail.push(Buffer.from('0123456789'));
  tail.push(Buffer.from('abc'));
  assert.equal(tail.text(), '3456789abc');
  for (let i = 0; i < 1000; i++) tail.push(Buffer.from('x'));
  assert.equal(tail.text(), 'xxxxxxxxxx');
  const big = new OutputTail(64 * 1024);
  for (let i = 0; i < 1000; i++) big.push(Buffer.alloc(1024, 65));
  big.push(Buffer.from('\nCUDA out of memory\n'));
  assert.ok(big.text().length <= 64 * 1024);
  assert.match(big.text(), /CUDA out of memory\n$/);
});

test('task names come from the script an interpreter runs, else the command', () => {
  assert.equal(scriptName(['python', 'scripts/generate.py', '--steps', '3']), 'generate');
  assert.equal(scriptName(['python3.11', '-u', 'train.py']), 'train');
  assert.equal(scriptName(['python', '-m', 'diffusers.cli']), 'diffusers.cli');
  assert.equal(scriptName(['/usr/bin/node', 'bench.mjs']), 'bench');
  assert.equal(scriptName(['./run-model']), 'run-model');
  assert.equal(scriptName(['python']), 'python');
  assert.match(defaultTaskId(['python', 'my gen!.py'], Date.UTC(2026, 0, 2, 3, 4, 5)), /^my-gen-\d{8}-\d{6}-[0-9a-f]{4}$/);
});
