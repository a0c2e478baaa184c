import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { HelperChannel, HelperRouter, validateMessage, type HelperMessage } from '../../../src/core/runs/helperChannel';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { MemoryHistoryStore } from '../../../src/core/history/historyStore';
import type { ProcRelations } from '../../../src/core/runs/procRelations';
import { FakeSystemSampler } from '../engine/fakes';
import { FakeClock } from '../helpers/fakeClock';
import { waitUntil } from '../helpers/waitUntil';

const HELPER_DIR = join(process.cwd(), 'media', 'python');

function quietLog() {
  const lines: string[] = [];
  return { lines, info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
}

async function channel(opts: { tcp?: boolean; maxMessagesPerSecond?: number; maxLineBytes?: number; authTimeoutMs?: number; maxConnections?: number } = {}) {
  const log = quietLog();
  const received: HelperMessage[] = [];
  const ch = new HelperChannel({ log, onMessage: (m) => received.push(m), ...opts });
  const address = await ch.start();
  return { ch, log, received, address };
}

function open(address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = address.startsWith('unix:') ? connect(address.slice(5)) : connect(Number(address.split(':')[2]), '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Waits for a condition (throws, naming it, after a limit far above what it takes). */
const until = (what: string, cond: () => boolean) => waitUntil(what, cond, { timeoutMs: 30_000, everyMs: 10 });

test('messages with the token and the schema are accepted, over a Unix socket and loopback TCP', async () => {
  for (const tcp of [false, true]) {
    const { ch, received, address } = await channel({ tcp });
    assert.match(address, tcp ? /^tcp:127\.0\.0\.1:\d+$/ : /^unix:\/.*helper\.sock$/);
    const s = await open(address);
    s.write(`${JSON.stringify({ token: ch.token, v: 1, pid: 42, type: 'phase', name: 'denoise', event: 'start', t: 1000 })}\n`);
    s.write(`${JSON.stringify({ token: ch.token, v: 1, pid: 42, type: 'metrics', model_load_time_seconds: 3.5, optimizations: ['sdpa'] })}`);
    s.write('\n');
    await until('both messages', () => received.length === 2);
    assert.deepEqual(received, [
      { type: 'phase', pid: 42, name: 'denoise', event: 'start', atMs: 1000 },
      { type: 'metrics', pid: 42, changes: { modelLoadTimeSeconds: 3.5, optimizationsApplied: ['sdpa'] } },
    ]);
    s.destroy();
    await ch.dispose();
  }
});

test('a wrong or missing token is refused, logged once, and the connection is closed', async () => {
  const { ch, log, received, address } = await channel();
  for (let i = 0; i < 3; i++) {
    const s = await open(address);
    const closed = new Promise((r) => s.once('close', r));
    s.write(`${JSON.stringify({ token: i === 0 ? undefined : 'x'.repeat(64), v: 1, pid: 1, type: 'hello' })}\n`);
    await closed;
  }
  assert.equal(received.length, 0);
  assert.equal(ch.rejections().bad_token, 3);
  assert.equal(log.lines.filter((l) => /bad_token/.test(l)).length, 1);
  await ch.dispose();
});

test('schema: unknown types and fields, wrong types, bad phase names are refused', () => {
  const base = { token: 't', v: 1, pid: 7 };
  for (const bad of [
    { ...base, type: 'nope' },
    { ...base, v: 2, type: 'hello' },
    { ...base, pid: -1, type: 'hello' },
    { ...base, type: 'hello', extra: 1 },
    { ...base, type: 'phase', name: 'has space', event: 'start' },
    { ...base, type: 'phase', name: 'x', event: 'middle' },
    { ...base, type: 'metrics' },
    { ...base, type: 'metrics', model_load_time_seconds: 'slow' },
    { ...base, type: 'metrics', optimizations: ['a'.repeat(100)] },
    { ...base, type: 'metrics', rootPid: 1 },
    { ...base, type: 'metrics', steps: 1.5 },
  ]) assert.equal(typeof validateMessage(bad as Record<string, unknown>), 'string', JSON.stringify(bad));
  assert.deepEqual(validateMessage({ ...base, type: 'metrics', quantization: 'fp8', offload: true, steps: 30 }), { type: 'metrics', pid: 7, changes: { quantizationUsed: 'fp8', offloadUsed: true, steps: 30 } });
});

test('oversized lines and floods are refused without stopping the good messages', async () => {
  const { ch, received, address } = await channel({ maxLineBytes: 1024, maxMessagesPerSecond: 10 });
  const s = await open(address);
  const ok = (n: number) => `${JSON.stringify({ token: ch.token, v: 1, pid: 3, type: 'metrics', steps_completed: n })}\n`;
  s.write(ok(1));
  await until('the first message', () => received.length === 1);
  s.write('x'.repeat(5000));
  s.write(`${'y'.repeat(100)}\n`);
  s.write(ok(2));
  for (let i = 0; i < 100; i++) s.write(ok(100 + i));
  // Every one of the 101 good lines after the oversized one is either accepted or refused for rate.
  await until('all 102 good lines handled', () => received.length + (ch.rejections().rate_limited ?? 0) === 102);
  assert.equal(ch.rejections().oversized, 1);
  assert.ok(received.length >= 2 && received.length <= 22, `accepted ${received.length}`);
  assert.ok((ch.rejections().rate_limited ?? 0) >= 78);
  // An unauthenticated sender of an oversized line is cut off at once.
  const t = await open(address);
  const closed = new Promise((r) => t.once('close', r));
  t.write('z'.repeat(5000));
  await closed;
  s.destroy();
  await ch.dispose();
});

test('the router applies a message to the task whose process tree holds the sender, else the only task', async () => {
  const monitor = new PerformanceMonitor({}, { systemSampler: new FakeSystemSampler(), historyStore: new MemoryHistoryStore() });
  const parents: Record<number, number> = { 300: 200, 200: 100, 900: 800 };
  const relations: ProcRelations = { children: async () => [], parent: async (pid) => parents[pid] ?? null };
  const router = new HelperRouter(monitor, relations, quietLog());
  monitor.startTaskMonitoring('a', 'm', '', 0, { rootPid: 100 });
  monitor.startTaskMonitoring('b', 'm', '', 0, { rootPid: 800 });
  await router.enqueue({ type: 'metrics', pid: 300, changes: { modelLoadTimeSeconds: 9 } });
  await router.enqueue({ type: 'phase', pid: 900, name: 'decode', event: 'start', atMs: null });
  await router.enqueue({ type: 'metrics', pid: 5, changes: { steps: 3 } }); // no task's tree: ignored
  const [a, b] = monitor.getActiveTasks();
  assert.equal(a?.modelLoadTimeSeconds, 9);
  assert.equal(b?.modelLoadTimeSeconds, null);
  assert.deepEqual(b?.phases?.map((p) => p.name), ['decode']);
  assert.equal(a?.steps, 0);
  await monitor.cancelTaskMonitoring('b');
  await router.enqueue({ type: 'metrics', pid: 5, changes: { steps: 3 } }); // the only task
  assert.equal(monitor.getActiveTasks()[0]?.steps, 3);
  await monitor.dispose();
});

test('a message applied late (slow queue) does not go to a task that started after it arrived', async () => {
  // Under load the wrong-token host test's run took the previous run's model load time: that
  // run's message, queued behind slow /proc reads, reached the router after its sender had exited
  // and the next run had started, and fell back to "the only running task".
  const clock = new FakeClock();
  const monitor = new PerformanceMonitor({}, { clock, systemSampler: new FakeSystemSampler(), historyStore: new MemoryHistoryStore() });
  const parents = new Map<number, number>([[300, 100]]);
  let release: () => void = () => undefined;
  const slow = new Promise<void>((r) => (release = r));
  const relations: ProcRelations = { children: async () => [], parent: async (pid) => { await slow; return parents.get(pid) ?? null; } };
  const log = quietLog();
  const router = new HelperRouter(monitor, relations, log, () => clock.now());
  monitor.startTaskMonitoring('earlier', 'm', '', 0, { rootPid: 100 });
  // The first message waits on /proc; the second waits behind it.
  const first = router.enqueue({ type: 'phase', pid: 300, name: 'model_load', event: 'start', atMs: null });
  const late = router.enqueue({ type: 'metrics', pid: 300, changes: { modelLoadTimeSeconds: 41.5 } });
  await clock.advance(1000);
  await monitor.completeTaskMonitoring('earlier');
  parents.delete(300); // the sender has exited
  monitor.startTaskMonitoring('next', 'm', '', 0, { rootPid: 800 });
  release();
  await Promise.all([first, late]);
  assert.equal(monitor.getActiveTasks()[0]?.modelLoadTimeSeconds, null);
  assert.deepEqual(monitor.getActiveTasks()[0]?.phases ?? [], []);
  assert.match(log.lines.join('\n'), /matches no running task/);
  // A message that arrives once the task runs still falls back to it (a sender in another pid namespace).
  await router.enqueue({ type: 'metrics', pid: 5, changes: { steps: 3 } });
  assert.equal(monitor.getActiveTasks()[0]?.steps, 3);
  await monitor.dispose();
});

// ----- the Python helper, run by python3 -----

function python(code: string, env: Record<string, string | undefined>): { status: number | null; stderr: string; stdout: string } {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, PYTHONPATH: HELPER_DIR, ...env })) if (v !== undefined) clean[k] = v;
  delete clean.MODEL_PERF_CHANNEL;
  delete clean.MODEL_PERF_TOKEN;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  const r = spawnSync('python3', ['-c', code], { env: clean, encoding: 'utf8', timeout: 20000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

const USE_ALL = `
import model_perf as mp, sys
with mp.phase('model_load'):
    mp.set(model_load_time_seconds=1.25, optimizations=['xformers'], quantization='fp8', offload=True, bogus=1)
mp.phase('denoise')
for i in range(3):
    mp.step(i + 1, 3)
print('enabled' if mp.enabled() else 'quiet')
`;

test('the helper outside VS Code does nothing: no channel variables, no socket, no error', () => {
  const r = python(`${USE_ALL}\nimport sys\nprint('socket' in sys.modules)`, {});
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'quiet\nFalse\n', 'not even the socket module is imported');
  assert.equal(r.stderr, '');
});

test('the helper delivers hello, phases and settings to the channel', async () => {
  const { ch, received, address } = await channel();
  const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const p = spawn('python3', ['-c', USE_ALL], { env: { ...process.env, PYTHONPATH: HELPER_DIR, MODEL_PERF_CHANNEL: address, MODEL_PERF_TOKEN: ch.token } });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stderr }));
  });
  assert.equal(r.status, 0, r.stderr);
  await until('the last step', () => received.some((m) => m.type === 'metrics' && m.changes.stepsCompleted === 3));
  const types = received.map((m) => (m.type === 'phase' ? `${m.type}:${m.name}:${m.event}` : m.type));
  assert.deepEqual(types.slice(0, 5), ['hello', 'phase:model_load:start', 'metrics', 'phase:model_load:end', 'phase:denoise:start']);
  const settings = received.find((m) => m.type === 'metrics');
  assert.deepEqual(settings?.type === 'metrics' ? settings.changes : null, { modelLoadTimeSeconds: 1.25, optimizationsApplied: ['xformers'], quantizationUsed: 'fp8', offloadUsed: true });
  assert.equal(ch.counts.rejected, 0);
  await ch.dispose();
});

test('with a wrong token the helper is refused and goes quiet; the script still exits 0', async () => {
  const { ch, received, address } = await channel();
  // The helper keeps sending until the refusal (the channel closing the connection) reaches it,
  // however long that takes, instead of sleeping a fixed time and hoping it has.
  const code = `
import model_perf as mp, time
deadline = time.time() + 30
while mp.enabled() and time.time() < deadline:
    mp.phase('model_load')
    time.sleep(0.02)
${USE_ALL}`;
  const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn('python3', ['-c', code], { env: { ...process.env, PYTHONPATH: HELPER_DIR, MODEL_PERF_CHANNEL: address, MODEL_PERF_TOKEN: 'wrong' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'quiet\n', 'the refusal silenced the helper');
  assert.equal(r.stderr, '');
  assert.equal(received.length, 0);
  assert.equal(ch.rejections().bad_token, 1);
  await ch.dispose();
});

test('a channel that is gone (or never was) costs the script nothing and raises nothing', () => {
  for (const address of ['unix:/nonexistent/x.sock', 'tcp:127.0.0.1:1', 'tcp:example.com:80', 'garbage']) {
    const r = python(USE_ALL, { MODEL_PERF_CHANNEL: address, MODEL_PERF_TOKEN: 'abc' });
    assert.equal(r.status, 0, `${address}: ${r.stderr}`);
    assert.equal(r.stdout, 'quiet\n', address);
    assert.equal(r.stderr, '', address);
  }
});

test('the channel closing mid-run silences the helper; the script exits 0', async () => {
  const { ch, address } = await channel();
  // The script goes on only once the test says the channel is closed (a line on its stdin).
  const code = `
import model_perf as mp, sys, time
mp.phase('model_load')
print('sent', flush=True)
sys.stdin.readline()
for i in range(50):
    mp.set(steps=i)
    time.sleep(0.005)
print('enabled' if mp.enabled() else 'quiet')
`;
  const p = spawn('python3', ['-c', code], { env: { ...process.env, PYTHONPATH: HELPER_DIR, MODEL_PERF_CHANNEL: address, MODEL_PERF_TOKEN: ch.token } });
  let out = '';
  let err = '';
  let closing = false;
  p.stdout.on('data', (d) => {
    out += d;
    if (!out.includes('sent') || closing) return;
    closing = true;
    void ch.dispose().then(() => p.stdin.write('closed\n'));
  });
  p.stderr.on('data', (d) => (err += d));
  const status = await new Promise((r) => p.on('close', r));
  assert.equal(status, 0, err);
  assert.match(out, /quiet\n$/);
  assert.equal(err, '');
});

/** Opens `count` connections that never say anything; errors (reset when dropped) are expected. */
async function idleClients(address: string, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, () =>
        open(address).then((s) => {
          s.on('error', () => s.destroy());
          return s;
        }),
      ),
    );
    sockets.push(...batch);
  }
  return sockets;
}

test('500 idle connections cannot starve the real helper: its message still arrives, the drops are logged once', async () => {
  const { ch, log, received, address } = await channel();
  const idle = await idleClients(address, 500);
  const helper = await open(address);
  helper.write(`${JSON.stringify({ token: ch.token, v: 1, pid: 9, type: 'hello' })}\n`);
  helper.write(`${JSON.stringify({ token: ch.token, v: 1, pid: 9, type: 'metrics', steps_completed: 5 })}\n`);
  await waitUntil('the real helper\'s messages', () => received.length === 2);
  assert.deepEqual(received[1], { type: 'metrics', pid: 9, changes: { stepsCompleted: 5 } });
  assert.ok((ch.rejections().too_many_unauthenticated ?? 0) >= 484, JSON.stringify(ch.rejections()));
  assert.equal(log.lines.filter((l) => /too_many_unauthenticated/.test(l)).length, 1);
  for (const s of idle) s.destroy();
  helper.destroy();
  await ch.dispose();
});

test('a connection that does not authenticate within the deadline is dropped and logged once; an authenticated idle one stays', async () => {
  const { ch, log, received, address } = await channel({ authTimeoutMs: 100 });
  // The helper connects first: once the quiet one is dropped, the helper's deadline has passed too.
  const helper = await open(address);
  helper.write(`${JSON.stringify({ token: ch.token, v: 1, pid: 9, type: 'hello' })}\n`);
  const quiet = await open(address);
  const quietClosed = new Promise((r) => quiet.once('close', r));
  await quietClosed;
  assert.equal(ch.rejections().auth_timeout, 1);
  assert.equal(log.lines.filter((l) => /auth_timeout/.test(l)).length, 1);
  // The helper, idle since its hello, still delivers.
  helper.write(`${JSON.stringify({ token: ch.token, v: 1, pid: 9, type: 'metrics', steps: 3 })}\n`);
  await waitUntil('the late message', () => received.length === 2);
  assert.equal(helper.destroyed, false);
  helper.destroy();
  await ch.dispose();
});

test('the first line that is not a JSON object closes the connection, before or after authentication', async () => {
  const { ch, log, address } = await channel();
  for (const [authenticate, line] of [[false, 'garbage'], [false, '[1,2]'], [true, '{not json']] as const) {
    const s = await open(address);
    const closed = new Promise((r) => s.once('close', r));
    if (authenticate) s.write(`${JSON.stringify({ token: ch.token, v: 1, pid: 9, type: 'hello' })}\n`);
    s.write(`${line}\n`);
    await closed;
  }
  assert.equal(ch.rejections().bad_json, 2);
  assert.equal(ch.rejections().schema, 1);
  assert.equal(log.lines.filter((l) => /bad_json/.test(l)).length, 1);
  await ch.dispose();
});

test('authenticated connections are capped: one more is refused, closed and logged', async () => {
  const { ch, log, received, address } = await channel({ maxConnections: 2 });
  const hello = `${JSON.stringify({ token: ch.token, v: 1, pid: 9, type: 'hello' })}\n`;
  const a = await open(address);
  const b = await open(address);
  a.write(hello);
  b.write(hello);
  await waitUntil('two helpers', () => received.length === 2);
  const c = await open(address);
  const closed = new Promise((r) => c.once('close', r));
  c.write(hello);
  await closed;
  assert.equal(ch.rejections().too_many_connections, 1);
  assert.ok(log.lines.some((l) => /more than 2 helper connections/.test(l)));
  a.destroy();
  b.destroy();
  await ch.dispose();
});

test('prototype keys never count as helper fields', () => {
  const parse = (text: string) => validateMessage(JSON.parse(text) as Record<string, unknown>);
  assert.match(String(parse('{"token":"t","v":1,"pid":7,"type":"metrics","__proto__":"x"}')), /unknown field "__proto__"/);
  assert.match(String(parse('{"token":"t","v":1,"pid":7,"type":"metrics","constructor":"x"}')), /unknown field "constructor"/);
  assert.match(String(parse('{"token":"t","v":1,"pid":7,"type":"metrics","toString":"x"}')), /unknown field "toString"/);
  assert.match(String(parse('{"token":"t","v":1,"pid":7,"type":"hello","__proto__":{"script":"x"}}')), /unknown field "__proto__"/);
  // Fields are read only as the message's own: an inherited "v" or "type" is no field.
  const inherited = Object.create({ v: 1, type: 'hello' }) as Record<string, unknown>;
  inherited.pid = 7;
  assert.equal(typeof validateMessage(inherited), 'string');
  // Labels from the helper are bounded and free of controls (C1 and bidi overrides included).
  assert.equal(typeof parse('{"token":"t","v":1,"pid":7,"type":"metrics","model_type":"a\\u009b2J"}'), 'string');
  assert.equal(typeof parse(`{"token":"t","v":1,"pid":7,"type":"metrics","model_type":"${'m'.repeat(101)}"}`), 'string');
});

// ----- the framework's own VRAM figure (PyTorch's allocator peak) -----

test('a memory message is validated: torch only, MiB within reason, nothing else', () => {
  const base = { v: 1, pid: 7, type: 'memory' };
  assert.deepEqual(validateMessage({ ...base, framework: 'torch', peak_reserved_mb: 20480.5 }), { type: 'memory', pid: 7, framework: 'torch', peakReservedMb: 20480.5 });
  assert.deepEqual(validateMessage({ ...base, framework: 'torch', peak_reserved_mb: 0 }), { type: 'memory', pid: 7, framework: 'torch', peakReservedMb: 0 });
  for (const bad of [
    { framework: 'torch' },
    { framework: 'jax', peak_reserved_mb: 1 },
    { peak_reserved_mb: 1 },
    { framework: 'torch', peak_reserved_mb: -1 },
    { framework: 'torch', peak_reserved_mb: '100' },
    { framework: 'torch', peak_reserved_mb: 1e12 },
    { framework: 'torch', peak_reserved_mb: null },
    { framework: 'torch', peak_reserved_mb: 1, device: 0 },
    { framework: 'torch', peak_reserved_mb: 1, constructor: 1 },
  ]) {
    assert.equal(typeof validateMessage({ ...base, ...bad } as Record<string, unknown>), 'string', JSON.stringify(bad));
  }
});

test("the router gives a memory message to the sender's task: its VRAM becomes the helper's figure", async () => {
  const monitor = new PerformanceMonitor({}, { clock: new FakeClock(), systemSampler: new FakeSystemSampler(), historyStore: new MemoryHistoryStore() });
  const relations: ProcRelations = { children: async () => [], parent: async (pid) => (pid === 11 ? 10 : null) };
  const router = new HelperRouter(monitor, relations, quietLog());
  monitor.startTaskMonitoring('t', 'm', '720p', 1, { rootPid: 10 });
  await router.enqueue({ type: 'memory', pid: 11, framework: 'torch', peakReservedMb: 3072 });
  const [task] = monitor.getActiveTasks();
  assert.equal(task?.vramScope, 'helper');
  assert.equal(task?.peakVramUsageMb, 3072);
  await monitor.dispose();
});

/** A stand-in `torch` already imported by the "script": CUDA initialised, a 3 GiB allocator peak. */
const FAKE_TORCH = `
import sys, types
torch = types.ModuleType('torch')
torch.cuda = types.SimpleNamespace(is_initialized=lambda: True, max_memory_reserved=lambda: 3 * 1024 ** 3)
sys.modules['torch'] = torch
`;

async function runHelper(code: string) {
  const { ch, received, address } = await channel();
  const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn('python3', ['-c', code], { env: { ...process.env, PYTHONPATH: HELPER_DIR, MODEL_PERF_CHANNEL: address, MODEL_PERF_TOKEN: ch.token } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
  return { ch, received, r };
}

test("the helper sends torch's allocator peak at a phase end and at exit, when the script uses torch", async () => {
  const { ch, received, r } = await runHelper(`${FAKE_TORCH}
import model_perf as mp
with mp.phase('model_load'):
    pass
mp.set(steps=5)
`);
  assert.equal(r.status, 0, r.stderr);
  await until('the exit message', () => received.filter((m) => m.type === 'memory').length === 2);
  const kinds = received.map((m) => (m.type === 'phase' ? `phase:${m.event}` : m.type));
  assert.deepEqual(kinds, ['hello', 'phase:start', 'phase:end', 'memory', 'metrics', 'memory']);
  const memory = received.find((m) => m.type === 'memory');
  assert.deepEqual(memory?.type === 'memory' ? [memory.framework, memory.peakReservedMb] : null, ['torch', 3072]);
  assert.equal(ch.counts.rejected, 0);
  await ch.dispose();
});

test('without torch imported, or with CUDA not initialised, the helper sends no memory and imports nothing', async () => {
  const plain = await runHelper(`
import model_perf as mp, sys
with mp.phase('model_load'):
    pass
print('torch' in sys.modules)
`);
  assert.equal(plain.r.status, 0, plain.r.stderr);
  assert.equal(plain.r.stdout, 'False\n', 'the helper never imports torch');
  const noCuda = await runHelper(`${FAKE_TORCH.replace('is_initialized=lambda: True', 'is_initialized=lambda: False')}
import model_perf as mp
with mp.phase('model_load'):
    pass
`);
  assert.equal(noCuda.r.status, 0, noCuda.r.stderr);
  for (const { ch, received } of [plain, noCuda]) {
    await until('the phase end', () => received.some((m) => m.type === 'phase' && m.event === 'end'));
    assert.equal(received.filter((m) => m.type === 'memory').length, 0);
    await ch.dispose();
  }
});

test("a torch whose figures raise costs the script nothing", async () => {
  const { ch, r } = await runHelper(`${FAKE_TORCH.replace('max_memory_reserved=lambda: 3 * 1024 ** 3', 'max_memory_reserved=lambda: 1 / 0')}
import model_perf as mp
with mp.phase('model_load'):
    pass
print('done')
`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'done\n');
  assert.equal(r.stderr, '');
  await ch.dispose();
});
