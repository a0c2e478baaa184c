// The shared failure classifier against the frameworks' own out-of-memory messages, and against
// texts that only look like one. Each text is classified plain, coloured the way Python 3.13 and
// FORCE_COLOR colour a traceback, and through the CLI's path (raw bytes of the child's output).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyOutcome, outputErrorCategory, stripAnsi } from '../../../src/core/runs/outcome';
import { classifyOutcome as cliClassify, OutputTail } from '../../../src/cli/outcome';

const TRACEBACK = 'Traceback (most recent call last):\n  File "/work/train.py", line 42, in <module>\n    loss = model(batch).loss\n';

/** Texts that are an out-of-memory failure, in the words of what writes them. */
const OUT_OF_MEMORY: [string, string][] = [
  ['PyTorch 2 CUDA', `${TRACEBACK}torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 23.65 GiB of which 3.06 MiB is free. Including non-PyTorch memory, this process has 23.63 GiB memory in use.`],
  ['PyTorch 2.0 torch.cuda', `${TRACEBACK}torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 1024.00 MiB (GPU 0; 7.79 GiB total capacity; 5.12 GiB already allocated; 498.56 MiB free; 5.96 GiB reserved in total by PyTorch)`],
  ['PyTorch 1 RuntimeError', `${TRACEBACK}RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity; 12.49 GiB already allocated; 1.24 GiB free; 13.22 GiB reserved in total by PyTorch)`],
  ['CUDA runtime error', `${TRACEBACK}RuntimeError: CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1.`],
  ['ROCm', `${TRACEBACK}torch.OutOfMemoryError: HIP out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 15.98 GiB of which 1.02 GiB is free.`],
  ['Intel XPU', `${TRACEBACK}torch.OutOfMemoryError: XPU out of memory. Tried to allocate 4.00 GiB. GPU 0 has a total capacity of 15.11 GiB.`],
  ['Apple MPS', `${TRACEBACK}RuntimeError: MPS backend out of memory (MPS allocated: 17.00 GB, other allocations: 1.23 GB, max allowed: 18.13 GB). Tried to allocate 256.00 MB on private pool. Use PYTORCH_MPS_HIGH_WATERMARK_RATIO=0.0 to disable upper limit for memory allocations (may cause system failure).`],
  ['cuBLAS', `${TRACEBACK}RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling \`cublasCreate(handle)\``],
  ['cuDNN', `${TRACEBACK}RuntimeError: cuDNN error: CUDNN_STATUS_ALLOC_FAILED`],
  ['cuSOLVER', `${TRACEBACK}RuntimeError: cusolver error: CUSOLVER_STATUS_ALLOC_FAILED, when calling \`cusolverDnCreate(handle)\``],
  ['PyTorch CPU', `${TRACEBACK}RuntimeError: [enforce fail at alloc_cpu.cpp:83] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to allocate 85899345920 bytes. Error code 12 (Cannot allocate memory)`],
  ['NumPy 1', `${TRACEBACK}numpy.core._exceptions._ArrayMemoryError: Unable to allocate 74.5 GiB for an array with shape (100000, 100000) and data type float64`],
  ['NumPy 2', `${TRACEBACK}numpy._core._exceptions._ArrayMemoryError: Unable to allocate 74.5 GiB for an array with shape (100000, 100000) and data type float64`],
  ['NumPy, MiB', 'MemoryError: Unable to allocate 512. MiB for an array with shape (67108864,) and data type float64'],
  ['Python MemoryError', `${TRACEBACK}MemoryError`],
  ['Python MemoryError with a message', `${TRACEBACK}MemoryError: Cannot allocate write+execute memory for ffi.callback()`],
  ['TensorFlow eager', `${TRACEBACK}tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor with shape[8192,8192] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc [Op:MatMul]`],
  ['TensorFlow graph', `${TRACEBACK}tensorflow.python.framework.errors_impl.ResourceExhaustedError: Graph execution error:\n\nDetected at node 'model/conv2d/Conv2D' defined at (most recent call last):\n    File "train.py", line 12\nNode: 'model/conv2d/Conv2D'\nOOM when allocating tensor with shape[64,256,56,56] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc\n\t [[{{node model/conv2d/Conv2D}}]]`],
  ['JAX', `${TRACEBACK}jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 34359738368 bytes.`],
  ['JAX, older', `${TRACEBACK}RuntimeError: Resource exhausted: Out of memory while trying to allocate 1073741824 bytes.`],
  ['CuPy', `${TRACEBACK}cupy.cuda.memory.OutOfMemoryError: Out of memory allocating 8,589,934,592 bytes (allocated so far: 0 bytes).`],
  ['Numba', `${TRACEBACK}numba.cuda.cudadrv.driver.CudaAPIError: [2] Call to cuMemAlloc results in CUDA_ERROR_OUT_OF_MEMORY`],
  ['llama.cpp', 'ggml_backend_cuda_buffer_type_alloc_buffer: allocating 7801.20 MiB on device 0: cudaMalloc failed: out of memory\nllama_model_load: error loading model: unable to allocate backend buffer'],
  ['ONNX Runtime', `${TRACEBACK}onnxruntime.capi.onnxruntime_pybind11_state.RuntimeException: [ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running MatMul node. Name:'/MatMul' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:376 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 1073741824`],
  ['C++ std::bad_alloc', "terminate called after throwing an instance of 'std::bad_alloc'\n  what():  std::bad_alloc\nAborted (core dumped)"],
  ['Node-style Error', 'Error: out of memory'],
  ['after tqdm redraws', `\r 10%|█         | 5/50 [00:05<00:45,  1.00it/s]\r 12%|█▏        | 6/50 [00:06<00:44,  1.00it/s]${TRACEBACK}torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB`],
];

/** Texts that only look like one. */
const NOT_OUT_OF_MEMORY: [string, string][] = [
  ['a log line', 'checking for out of memory conditions: none\nTraceback (most recent call last):\nValueError: bad shape'],
  ['a log level', 'ERROR: checking for out of memory conditions: none'],
  ['TensorFlow allocator warning, then another error', '2024-05-01 10:00:00.123456: W tensorflow/tsl/framework/bfc_allocator.cc:296] Allocator (GPU_0_bfc) ran out of memory trying to allocate 2.20GiB with freed_by_count=0. The caller indicates that this is not a failure, but this may mean that there could be performance gains if more memory were available.\nTraceback (most recent call last):\n  File "train.py", line 9, in <module>\nValueError: Input 0 of layer "dense" is incompatible with the layer: expected axis -1 of input shape to have value 784'],
  ['gRPC message too large', 'grpc._channel._InactiveRpcError: <_InactiveRpcError of RPC that terminated with:\n\tstatus = StatusCode.RESOURCE_EXHAUSTED\n\tdetails = "Received message larger than max (8653241 vs. 4194304)"\n\tdebug_error_string = "UNKNOWN:Error received from peer"'],
  ['gRPC in TensorFlow', 'tensorflow.python.framework.errors_impl.ResourceExhaustedError: Received message larger than max (8653241 vs. 4194304)'],
  ['a name that contains it', 'NoMemoryErrorHere: failed'],
  ['an except clause in a traceback', 'Traceback (most recent call last):\n  File "train.py", line 30, in <module>\n    except torch.cuda.OutOfMemoryError:\nKeyError: \'labels\''],
  ['an illegal memory access', `${TRACEBACK}RuntimeError: CUDA error: an illegal memory access was encountered`],
  ['a device-side assert', `${TRACEBACK}RuntimeError: CUDA error: device-side assert triggered`],
  ['Triton shared memory', `${TRACEBACK}triton.runtime.errors.OutOfResources: out of resource: shared memory, Required: 98304, Hardware limit: 65536.`],
  ['memory figures', 'max_memory_allocated: 20.1 GiB, reserved 22.0 GiB\nmemory usage 96% of 24 GiB'],
  ['a bar about it', 'OOM checks: 100%|██████████| 5/5 [00:00<00:00, 99.00it/s]'],
];

/** Colours a traceback's last line the way Python 3.13 does: bold magenta type, magenta message. */
function python313Colours(text: string): string {
  return text.replace(/^([\w.]+)(: )?(.*)$/m, (_all, type: string, sep: string | undefined, rest: string) => `\x1b[1;35m${type}\x1b[0m${sep ?? ''}${rest ? `\x1b[35m${rest}\x1b[0m` : ''}`);
}

/** Colours every line (FORCE_COLOR with rich's traceback: red error lines, cursor moves). */
function forceColour(text: string): string {
  return text
    .split('\n')
    .map((l) => `\x1b[31m${l.replace(/: /, '\x1b[0m: \x1b[1m')}\x1b[0m\x1b[K`)
    .join('\n');
}

test(`${OUT_OF_MEMORY.length} out-of-memory texts are out of memory, plain, coloured and through the CLI`, () => {
  assert.ok(OUT_OF_MEMORY.length + NOT_OUT_OF_MEMORY.length >= 30);
  for (const [name, text] of OUT_OF_MEMORY) {
    for (const [how, t] of [['plain', text], ['Python 3.13 colours', python313Colours(text)], ['FORCE_COLOR', forceColour(text)]] as const) {
      assert.equal(outputErrorCategory(t), 'out_of_memory', `${name} (${how})`);
      assert.equal(classifyOutcome({ code: 1, signal: null }, t, null).errorCategory, 'out_of_memory', `${name} (${how})`);
      // The CLI hands over the bytes it kept of the child's output.
      const tail = new OutputTail();
      tail.push(Buffer.from(t, 'utf8'));
      assert.equal(cliClassify({ code: 1, signal: null }, tail.text(), null).errorCategory, 'out_of_memory', `${name} (${how}, CLI)`);
    }
  }
});

test(`${NOT_OUT_OF_MEMORY.length} look-alikes are not, plain, coloured and through the CLI`, () => {
  for (const [name, text] of NOT_OUT_OF_MEMORY) {
    for (const [how, t] of [['plain', text], ['Python 3.13 colours', python313Colours(text)], ['FORCE_COLOR', forceColour(text)]] as const) {
      assert.equal(outputErrorCategory(t), null, `${name} (${how})`);
      assert.equal(classifyOutcome({ code: 1, signal: null }, t, null).errorCategory, 'exit_code_1', `${name} (${how})`);
      const tail = new OutputTail();
      tail.push(Buffer.from(t, 'utf8'));
      assert.equal(cliClassify({ code: 1, signal: null }, tail.text(), null).errorCategory, 'exit_code_1', `${name} (${how}, CLI)`);
    }
  }
});

test('a coloured "Killed" line names a killed child on the CLI path too', () => {
  const tail = new OutputTail();
  tail.push(Buffer.from('\x1b[31mrun.sh: line 3:  4242 Killed                  python gen.py\x1b[0m\n'));
  assert.equal(cliClassify({ code: 1, signal: null }, tail.text(), null).errorCategory, 'killed');
  const bare = new OutputTail();
  bare.push(Buffer.from('step 3\n\x1b[1;31mKilled\x1b[0m\n'));
  assert.equal(cliClassify({ code: 1, signal: null }, bare.text(), null).errorCategory, 'killed');
});

test('stripAnsi removes colour, cursor, OSC and DCS sequences and keeps the text and its line ends', () => {
  assert.equal(stripAnsi('\x1b[1;35mtorch.OutOfMemoryError\x1b[0m: \x1b[35mCUDA\x1b[0m\r\n'), 'torch.OutOfMemoryError: CUDA\r\n');
  assert.equal(stripAnsi('\x1b]0;title\x07a\x1b]8;;http://x.invalid\x1b\\b\x1bP1$r\x1b\\c\x1b(Bd\x1b7e\x1b8\x9b2Kf\x08g'), 'abcdefg');
  // Half a sequence at the end of a tail (the rest never came) does not leave its ESC behind.
  assert.equal(stripAnsi('text\x1b['), 'text');
  assert.equal(stripAnsi(''), '');
});

test('a huge hostile tail is classified without a throw', () => {
  const junk = `${'\x1b['.repeat(10_000)}${'a.'.repeat(20_000)}${'Error'.repeat(5_000)}\n`.repeat(2);
  assert.equal(outputErrorCategory(junk), null);
  assert.equal(outputErrorCategory(`${junk}RuntimeError: CUDA error: out of memory`), 'out_of_memory');
});
