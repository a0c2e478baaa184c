// The real NvidiaSmiProvider and the real spawn against the fake nvidia-smi script on PATH: real
// processes, real pipes, real timers, kept short with a 100 ms -lms. Every wait is for a condition
// with a limit far above what it takes (a loaded machine starts a node script in seconds, not
// milliseconds); the provider's own limits are generous too, except where a test is about them,
// so a slow machine can neither fail a test nor make a healthy child look hung.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { locateNvidiaSmi } from '../../../../src/core/sampling/gpu/locateNvidiaSmi';
import { NvidiaSmiProvider, type NvidiaSmiProviderOptions } from '../../../../src/core/sampling/gpu/nvidiaSmiProvider';
import { createNodeSpawn } from '../../../../src/core/sampling/gpu/spawnPort';
import type { GpuSample } from '../../../../src/core/ports';
import { PerformanceMonitor } from '../../../../src/core/engine/monitor';
import { MemoryHistoryStore } from '../../../../src/core/history/historyStore';
import { waitUntil, type Probe } from '../../helpers/waitUntil';

const waitFor = <T>(what: string, probe: Probe<T>, timeoutMs = 30_000): Promise<T> => waitUntil(what, probe, { timeoutMs, everyMs: 20 });

const BIN = join(__dirname, '../../../fixtures/bin');
const skip = process.platform === 'win32' ? 'the fake nvidia-smi is a node script with a shebang' : false;

async function providerFor(scenario: string, extraEnv: Record<string, string> = {}, options: Partial<NvidiaSmiProviderOptions> = {}) {
  const env = { ...process.env, PATH: `${BIN}${delimiter}${process.env.PATH ?? ''}`, FAKE_NVIDIA_SMI_SCENARIO: scenario, ...extraEnv };
  const located = await locateNvidiaSmi({ platform: process.platform, env });
  assert.ok(located.found, 'the fake nvidia-smi is first on PATH');
  assert.equal(located.path, join(BIN, 'nvidia-smi'));
  const logs: string[] = [];
  const provider = new NvidiaSmiProvider({
    nvidiaSmiPath: located.path,
    spawn: createNodeSpawn({ env }),
    onLog: (m) => logs.push(m),
    // The per-process query's time limit follows its interval (at least 1 s): 3 s leaves room
    // for a slow spawn, which would otherwise log a timeout the tests do not expect.
    computeAppsIntervalMs: 3000,
    watchdogMinMs: 10_000,
    restartBackoffInitialMs: 100,
    ...options,
  });
  return { provider, logs };
}


test('1 GPU: live ticks every 100 ms from one child; VRAM follows the scenario file', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-fake-smi-'));
  const vramFile = join(dir, 'vram');
  const logFile = join(dir, 'calls.log');
  await writeFile(vramFile, '1000');
  const { provider, logs } = await providerFor('1gpu', { FAKE_NVIDIA_SMI_VRAM_FILE: vramFile, FAKE_NVIDIA_SMI_PID: String(process.pid), FAKE_NVIDIA_SMI_LOG: logFile });
  try {
    const avail = await provider.start(100);
    assert.deepEqual(avail, { provider: 'nvidia', available: true, reason: null });
    const first = await provider.read();
    assert.equal(first?.gpus.length, 1);
    assert.equal(first?.gpus[0]?.name, 'NVIDIA GeForce RTX 4090');
    assert.equal(first?.gpus[0]?.vramUsedMb, 1000);

    await writeFile(vramFile, '18000');
    const after = await waitFor('the allocation to show', async () => {
      const s = await provider.read();
      return s?.gpus[0]?.vramUsedMb === 18000 && s.processes?.some((p) => p.pid === process.pid && p.usedMemoryMb === 18000) ? s : null;
    });
    assert.equal(after.processes?.find((p) => p.pid === process.pid)?.usedMemoryMb, 18000);
    const wslStyle = after.processes?.find((p) => p.pid === 4711);
    assert.equal(wslStyle?.usedMemoryMb, null, '[N/A] per-process memory stays unknown');

    const t1 = (await provider.read())?.timestamp ?? 0;
    await waitFor('a newer tick', async () => ((await provider.read())?.timestamp ?? 0) > t1);
    const calls = await spawnsIn(logFile);
    assert.equal(calls.filter((c) => c.args.includes('-lms') && c.args.some((a) => a.startsWith('--query-gpu'))).length, 1, 'exactly one long-lived GPU child');
    assert.deepEqual(logs, []);
  } finally {
    await provider.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

interface LogEntry {
  t: number;
  pid: number;
  args?: string[];
  lines?: number;
}

async function logEntries(logFile: string): Promise<LogEntry[]> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trim() === '' ? [] : text.trim().split('\n').map((l) => JSON.parse(l) as LogEntry);
}

/** The fake's log lines that are invocations (the others count printed blocks). */
async function spawnsIn(logFile: string): Promise<Array<{ t: number; args: string[] }>> {
  return (await logEntries(logFile)).flatMap((e) => (e.args ? [{ t: e.t, args: e.args }] : []));
}

test('per-process memory through the fake: two long-lived children, steady state spawns nothing (counted in its log)', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-fake-smi-'));
  const vramFile = join(dir, 'vram');
  const logFile = join(dir, 'calls.log');
  await writeFile(vramFile, '5000');
  // A watchdog far longer than the test, so a node child slow to start on a loaded machine is not
  // restarted (a restart is a legitimate spawn; this test counts periodic ones).
  const { provider, logs } = await providerFor('1gpu', { FAKE_NVIDIA_SMI_VRAM_FILE: vramFile, FAKE_NVIDIA_SMI_PID: String(process.pid), FAKE_NVIDIA_SMI_LOG: logFile }, { computeAppsIntervalMs: 100, watchdogMinMs: 20_000 });
  try {
    await provider.start(100);
    await waitFor('per-process figures', async () => (await provider.read())?.processes?.some((p) => p.pid === process.pid && p.usedMemoryMb === 5000));
    // Start-up is over once both long-lived children have logged their start (each a node
    // process that may log after the other has already printed figures).
    const settledAt = await waitFor('both long-lived children started', async () => {
      const started = await spawnsIn(logFile);
      return started.filter((c) => c.args.includes('-lms')).length >= 2 ? Math.max(...started.map((c) => c.t)) : null;
    });
    // Steady state: at least ten more compute-apps blocks printed by the same child.
    await waitFor('ten more compute-apps blocks', async () => {
      const entries = await logEntries(logFile);
      return entries.filter((e) => e.lines !== undefined && e.t > settledAt).length >= 20;
    }, 8000);
    await writeFile(vramFile, '7000');
    await waitFor('the new figure', async () => (await provider.read())?.processes?.find((p) => p.pid === process.pid)?.usedMemoryMb === 7000);
    const spawns = await spawnsIn(logFile);
    assert.equal(spawns.filter((c) => c.t > settledAt).length, 0, `no spawn after start-up (settled at ${settledAt}): ${JSON.stringify(spawns)}`);
    // The two long-lived children start together: each logs its own spawn, in either order.
    const kinds = spawns.map((c) => c.args.filter((a) => a === '-lms' || a.startsWith('--query')).map((a) => a.split('=')[0]).join(' '));
    assert.equal(kinds[0], '--query-gpu', 'the probe comes first');
    assert.deepEqual(kinds.slice(1).sort(), ['--query-compute-apps -lms', '--query-gpu -lms']);
    assert.deepEqual(logs, []);
  } finally {
    await provider.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a driver that refuses to loop compute-apps: one-off runs instead, said once', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-fake-smi-'));
  const logFile = join(dir, 'calls.log');
  const { provider, logs } = await providerFor('apps-loop-refused', { FAKE_NVIDIA_SMI_LOG: logFile }, { computeAppsIntervalMs: 100 });
  try {
    await provider.start(100);
    await waitFor('two one-off runs', async () => (await spawnsIn(logFile)).filter((c) => c.args[0]?.startsWith('--query-compute-apps') && !c.args.includes('-lms')).length >= 2, 8000);
    await waitFor('per-process figures', async () => (await provider.read())?.processes?.length === 2);
    assert.equal(logs.filter((l) => /asking it once every/.test(l)).length, 1, logs.join('\n'));
  } finally {
    await provider.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('8 GPUs: every tick holds all eight', { skip }, async () => {
  const { provider } = await providerFor('8gpu');
  try {
    await provider.start(100);
    const s = await waitFor<GpuSample>('a sample', () => provider.read());
    assert.deepEqual(s.gpus.map((g) => g.index), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.ok(s.gpus.every((g) => g.vramTotalMb === 81559));
  } finally {
    await provider.stop();
  }
});

test('throttling: the clock event reasons and clocks arrive, by their new name or (a driver before R535) the old one', { skip }, async () => {
  for (const scenario of ['throttled', 'throttle-names']) {
    const { provider, logs } = await providerFor(scenario, {}, { computeAppsIntervalMs: 0 });
    try {
      assert.equal((await provider.start(100)).available, true, scenario);
      const s = await waitFor<GpuSample>('a sample', () => provider.read());
      const g = s.gpus[0];
      assert.deepEqual([g?.clockEventReasons, g?.smClockMhz, g?.smClockMaxMhz], [0x44, 1710, 3105], scenario);
      assert.equal(provider.activeFields.includes('clocks_throttle_reasons.active'), scenario === 'throttle-names');
      assert.deepEqual(logs, [], scenario);
    } finally {
      await provider.stop();
    }
  }
});

test('exit 9: unavailable with the driver sentence, nothing left running', { skip }, async () => {
  const { provider, logs } = await providerFor('driver-not-loaded');
  const avail = await provider.start(100);
  assert.equal(avail.available, false);
  assert.match(avail.reason ?? '', /driver not loaded/);
  assert.equal(logs.length, 1);
  await provider.stop();
});

test('an old driver (directory scenario) rejects fields: they are dropped and the rest measured', { skip }, async () => {
  const { provider, logs } = await providerFor(join(__dirname, '../../../fixtures/nvidia-smi/scenarios/old-driver-3gpu'));
  try {
    const avail = await provider.start(100);
    assert.equal(avail.available, true);
    const s = await waitFor<GpuSample>('a sample', () => provider.read());
    assert.equal(s.gpus.length, 3);
    assert.ok(s.gpus.every((g) => g.smClockMhz === null && g.mig === false));
    assert.equal(s.gpus[0]?.utilizationPercent, 76);
    assert.equal(logs.length, 1);
    assert.match(logs[0] ?? '', /does not know/);
  } finally {
    await provider.stop();
  }
});

test('hang: the watchdog kills the silent child, restarts it, and says so once', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-fake-smi-'));
  const logFile = join(dir, 'calls.log');
  // A short watchdog: this child really is silent, so only the wait for it may be long.
  const { provider, logs } = await providerFor('hang-loop', { FAKE_NVIDIA_SMI_LOG: logFile }, { computeAppsIntervalMs: 0, watchdogMinMs: 400 });
  try {
    assert.equal((await provider.start(100)).available, true);
    await waitFor('two restarts', async () => provider.restartCount >= 2);
    assert.equal(provider.availability().available, false);
    assert.match(provider.availability().reason ?? '', /stopped answering/);
    assert.equal(await provider.read(), null);
    assert.equal(logs.filter((l) => /printed no complete reading/.test(l)).length, 1, logs.join('\n'));
  } finally {
    await provider.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a child that exits after a few ticks is restarted and reports again', { skip }, async () => {
  const { provider, logs } = await providerFor('exit-after', { FAKE_NVIDIA_SMI_BLOCKS: '2' }, { computeAppsIntervalMs: 0 });
  try {
    await provider.start(100);
    await waitFor('a restart', async () => provider.restartCount >= 1);
    await waitFor('fresh readings after the restart', async () => (await provider.read())?.gpus.length === 2);
    assert.equal(logs.filter((l) => /exited although/.test(l)).length, 1, logs.join('\n'));
  } finally {
    await provider.stop();
  }
});

test('hang during the probe: start() gives up after the command timeout', { skip }, async () => {
  const { provider } = await providerFor('hang', {}, { commandTimeoutMs: 300 });
  const avail = await provider.start(100);
  assert.equal(avail.available, false);
  assert.match(avail.reason ?? '', /did not answer in time/);
  await provider.stop();
});

test('engine: a run on the fake GPU held by heat and its power cap is recorded throttled, and the finding names the cause', { skip }, async () => {
  const { provider } = await providerFor('throttled', {}, { computeAppsIntervalMs: 0 });
  const monitor = new PerformanceMonitor({ monitoringIntervalMs: 250 }, { gpuProvider: provider, processSampler: null, historyStore: new MemoryHistoryStore(), gitCommitReader: null, deviceEnvironmentReader: null });
  try {
    await monitor.startMonitoring();
    monitor.startTaskMonitoring('hot', 'sdxl', '1024x1024', 30);
    // The timeline keeps at most one point a second: 16 samples at 250 ms make the 4 points the finding needs.
    await waitFor('sixteen samples of the task', () => ((monitor.getActiveTasks()[0]?.sampleCount ?? 0) >= 16 ? true : null));
    const task = await monitor.completeTaskMonitoring('hot');
    assert.ok(task.timeline?.throttledPercent?.every((p) => p === 100), JSON.stringify(task.timeline?.throttledPercent));
    assert.ok(task.timeline?.throttleReasons?.every((r) => r === 0x44));
    const f = monitor.getPerformanceAnalysis(24).findings.find((x) => x.kind === 'throttled');
    assert.ok(f, JSON.stringify(task.timeline));
    assert.match(f.summary, /for 100% of the time of 1 run\(s\).*held down by heat \(hw_thermal_slowdown: clocks halved\) and its power limit \(sw_power_cap\)/);
  } finally {
    await monitor.dispose();
  }
});
