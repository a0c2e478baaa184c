import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NvidiaSmiProvider, type NvidiaSmiProviderOptions } from '../../../../src/core/sampling/gpu/nvidiaSmiProvider';
import { FakeClock, flushPromises } from '../../helpers/fakeClock';
import { FakeSpawn, isComputeApps, isStream, type FakeChild } from './helpers/fakeSpawn';

const FIX = join(__dirname, '../../../fixtures/nvidia-smi');
const fixture = (name: string): string => readFileSync(join(FIX, name), 'utf8');

interface Reply {
  code: number | null;
  stdout?: string;
  stderr?: string;
  spawnErrorCode?: string;
}

/** A fake nvidia-smi: probes and compute-apps answer at once; streams are driven by the test. */
function fakeNvidiaSmi(opts: { probe: Reply | ((c: FakeChild) => Reply); computeApps?: Reply | 'hang' }): FakeSpawn {
  return new FakeSpawn((child) => {
    if (isStream(child)) return;
    if (isComputeApps(child)) {
      const reply = opts.computeApps ?? { code: 0, stdout: '' };
      if (reply === 'hang') return;
      answer(child, reply);
      return;
    }
    answer(child, typeof opts.probe === 'function' ? opts.probe(child) : opts.probe);
  });
}

function answer(child: FakeChild, reply: Reply): void {
  if (reply.stdout) child.stdout(reply.stdout);
  if (reply.stderr) child.stderr(reply.stderr);
  child.exit(reply.code, null, reply.spawnErrorCode ?? null);
}

function setup(spawn: FakeSpawn, extra: Partial<NvidiaSmiProviderOptions> = {}) {
  const clock = new FakeClock();
  const logs: string[] = [];
  const provider = new NvidiaSmiProvider({
    nvidiaSmiPath: '/usr/bin/nvidia-smi',
    spawn: spawn.port,
    clock,
    onLog: (m) => logs.push(m),
    ...extra,
  });
  return { clock, logs, provider };
}

const twoGpus = fixture('query-2gpu.csv');
const line = (i: number, util: number): string =>
  `${i}, GPU-0000000${i}-1111-2222-3333-444455556666, NVIDIA RTX A6000, ${util}, 10, ${1000 + util}, 49140, 50, 100.00, 300.00, 1800, P2, [N/A], 2100, 0x0000000000000000\n`;

test('start: one probe, then ONE long-lived -lms child; read() answers from the latest complete tick', async () => {
  const spawn = fakeNvidiaSmi({ probe: { code: 0, stdout: twoGpus } });
  const { clock, provider } = setup(spawn, { computeAppsIntervalMs: 0 });
  let told = 0;
  provider.onReadings((event) => {
    assert.equal(event, 'reading');
    told++;
  });
  const avail = await provider.start(500);
  assert.deepEqual(avail, { provider: 'nvidia', available: true, reason: null });
  assert.equal(spawn.probes.length, 1);
  assert.equal(spawn.streams.length, 1);
  const args = spawn.streams[0]?.args ?? [];
  assert.match(args[0] ?? '', /^--query-gpu=index,uuid,name,utilization\.gpu,/);
  assert.deepEqual(args.slice(1), ['--format=csv,noheader,nounits', '-lms', '500']);

  // The probe's answer is available at once.
  const first = await provider.read();
  assert.deepEqual(first?.gpus.map((g) => g.utilizationPercent), [88, 0]);
  assert.equal(first?.processes, null);

  const stream = spawn.streams[0] as FakeChild;
  await clock.advance(500);
  stream.stdout(line(0, 55));
  // Half a tick is not a sample.
  assert.deepEqual((await provider.read())?.gpus.map((g) => g.utilizationPercent), [88, 0]);
  stream.stdout(line(1, 66).slice(0, 20));
  assert.equal(told, 0, 'the listener hears of complete ticks only');
  stream.stdout(line(1, 66).slice(20));
  assert.equal(told, 1, 'told once the tick is complete, so the loop samples it now');
  const second = await provider.read();
  assert.deepEqual(second?.gpus.map((g) => g.utilizationPercent), [55, 66]);
  provider.onReadings(null);
  stream.stdout(line(0, 1) + line(1, 2));
  assert.equal(told, 1, 'a removed listener hears nothing');
  assert.equal(second?.timestamp, clock.now());
  assert.equal(spawn.children.length, 2, 'reading spawns nothing');
  await provider.stop();
});

test('eight GPUs and MIG arrive as one sample per tick', async () => {
  const eight = fixture('query-8gpu.csv');
  const spawn = fakeNvidiaSmi({ probe: { code: 0, stdout: eight } });
  const { provider } = setup(spawn, { computeAppsIntervalMs: 0 });
  await provider.start(1000);
  const stream = spawn.streams[0] as FakeChild;
  stream.stdout(eight.replace(/, 9(\d), 4/g, ', 1$1, 4'));
  const s = await provider.read();
  assert.equal(s?.gpus.length, 8);
  assert.deepEqual(s?.gpus.map((g) => g.utilizationPercent), [10, 11, 12, 13, 14, 15, 16, 17]);
  await provider.stop();

  const migSpawn = fakeNvidiaSmi({ probe: { code: 0, stdout: fixture('query-mig.csv') } });
  const mig = setup(migSpawn, { computeAppsIntervalMs: 0 });
  await mig.provider.start(1000);
  const gpus = (await mig.provider.read())?.gpus;
  assert.deepEqual(gpus?.map((g) => [g.mig, g.utilizationPercent]), [
    [true, null],
    [false, 64],
  ]);
  await mig.provider.stop();
});

test('garbage lines are skipped and logged once; a tick missing a GPU is dropped, not published', async () => {
  const spawn = fakeNvidiaSmi({ probe: { code: 0, stdout: twoGpus } });
  const { provider, logs } = setup(spawn, { computeAppsIntervalMs: 0 });
  await provider.start(1000);
  const stream = spawn.streams[0] as FakeChild;
  stream.stdout(fixture('query-garbage.txt'));
  stream.stdout('WARNING: something\n\u0000\u0001binary\n');
  const garbageLogs = logs.filter((l) => /cannot read/.test(l));
  assert.equal(garbageLogs.length, 1, logs.join('\n'));
  assert.doesNotMatch(garbageLogs[0] ?? '', /[\u0000-\u001f]/);

  stream.stdout(line(0, 5)); // GPU 1's line of this tick is lost...
  stream.stdout(line(0, 7) + line(1, 8)); // ...so the next complete tick is the one shown.
  assert.deepEqual((await provider.read())?.gpus.map((g) => g.utilizationPercent), [7, 8]);
  await provider.stop();
});

test('a GPU that stops being listed: after three short ticks the new count is adopted and logged', async () => {
  const spawn = fakeNvidiaSmi({ probe: { code: 0, stdout: twoGpus } });
  const { provider, logs } = setup(spawn, { computeAppsIntervalMs: 0 });
  await provider.start(1000);
  const stream = spawn.streams[0] as FakeChild;
  for (let i = 0; i < 5; i++) stream.stdout(line(0, 20 + i));
  const s = await provider.read();
  assert.equal(s?.gpus.length, 1);
  assert.equal(logs.filter((l) => /now lists 1 GPU/.test(l)).length, 1);
  await provider.stop();
});

test('watchdog: a silent child is killed and restarted with doubling backoff, logged once', async () => {
  const spawn = fakeNvidiaSmi({ probe: { code: 0, stdout: twoGpus } });
  const { clock, provider, logs } = setup(spawn, {
    computeAppsIntervalMs: 0,
    watchdogMinMs: 2000,
    restartBackoffInitialMs: 1000,
    restartBackoffMaxMs: 4000,
  });
  const events: string[] = [];
  provider.onReadings((event) => events.push(event));
  await provider.start(500);
  assert.equal(spawn.streams.length, 1);

  // Window is max(2000, 3 x 500) = 2000 ms without a complete tick.
  await clock.advance(1999);
  assert.equal(spawn.streams.length, 1);
  await clock.advance(1);
  assert.deepEqual(spawn.streams[0]?.killSignals, ['SIGKILL']);
  assert.deepEqual(events, ['stopped'], 'the loop is told its readings stopped, so it keeps time itself');
  assert.equal(provider.availability().available, false);
  assert.match(provider.availability().reason ?? '', /stopped answering/);
  assert.equal(await provider.read(), null, 'a stale reading is not shown as current');

  // Restart after 1 s, then silent again: 2 s watchdog + 2 s backoff, then + 4 s (cap) twice.
  const spawnTimes: number[] = [];
  const t0 = clock.now();
  for (let elapsed = 0; elapsed < 30_000; elapsed += 100) {
    const before = spawn.streams.length;
    await clock.advance(100);
    if (spawn.streams.length > before) spawnTimes.push(clock.now() - t0);
  }
  const gaps = spawnTimes.map((t, i) => t - (i === 0 ? 0 : (spawnTimes[i - 1] as number)));
  // First restart after the 1 s backoff; later ones: 2 s watchdog + backoff 2 s, 4 s, 4 s (capped)...
  assert.deepEqual(gaps.slice(0, 4), [1000, 4000, 6000, 6000]);
  assert.equal(logs.filter((l) => /printed no complete reading/.test(l)).length, 1, logs.join('\n'));
  assert.ok(provider.restartCount >= 4);

  // Recovery: a complete tick makes the provider available again and resets the backoff.
  const current = spawn.streams[spawn.streams.length - 1] as FakeChild;
  assert.ok(current.alive);
  current.stdout(line(0, 1) + line(1, 2));
  assert.equal(provider.availability().available, true);
  assert.equal(logs.filter((l) => /reporting again/.test(l)).length, 1);
  assert.deepEqual((await provider.read())?.gpus.map((g) => g.utilizationPercent), [1, 2]);
  await provider.stop();
  assert.equal(spawn.alive.length, 0);
});

test('a child that exits is restarted; the message says why, once per kind of exit', async () => {
  const spawn = fakeNvidiaSmi({ probe: { code: 0, stdout: twoGpus } });
  const { clock, provider, logs } = setup(spawn, { computeAppsIntervalMs: 0, restartBackoffInitialMs: 1000 });
  const events: string[] = [];
  provider.onReadings((event) => events.push(event));
  await provider.start(1000);
  spawn.streams[0]?.stdout(fixture('exit9-stdout.txt'));
  spawn.streams[0]?.exit(9);
  assert.deepEqual(events, ['stopped']);
  assert.equal(provider.availability().available, false);
  assert.match(provider.availability().reason ?? '', /driver not loaded/);
  await clock.advance(1000);
  assert.equal(spawn.streams.length, 2);
  spawn.streams[1]?.exit(9);
  await clock.advance(2000);
  assert.equal(spawn.streams.length, 3);
  spawn.streams[2]?.stderr(fixture('exit255-mismatch-stdout.txt'));
  spawn.streams[2]?.exit(255);
  assert.match(provider.availability().reason ?? '', /Reboot/);
  await clock.advance(4000);
  spawn.streams[3]?.exit(0);
  assert.equal(logs.filter((l) => /driver not loaded/.test(l)).length, 1);
  assert.equal(logs.filter((l) => /mismatch/.test(l)).length, 1);
  assert.equal(logs.filter((l) => /exited although/.test(l)).length, 1);
  await provider.stop();
  assert.equal(clock.pending, 0, 'no timer left behind');
});

for (const [name, reply, pattern] of [
  ['exit 6', { code: 6, stdout: fixture('exit6-stdout.txt') }, /no NVIDIA GPU/],
  ['exit 9', { code: 9, stdout: fixture('exit9-stdout.txt') }, /driver not loaded/],
  ['exit 127', { code: 127, stderr: 'nvidia-smi: not found' }, /not found/],
  ['ENOENT', { code: null, spawnErrorCode: 'ENOENT' }, /not found/],
  ['exit 255 mismatch', { code: 255, stdout: fixture('exit255-mismatch-stdout.txt') }, /Reboot/],
  ['exit 255 other', { code: 255, stderr: fixture('exit255-other-stderr.txt') }, /exit code 255/],
  ['no lines', { code: 0, stdout: '\n' }, /listed no GPU/],
] as const) {
  test(`start fails cleanly on ${name}: unavailable with a reason, no stream, logged once`, async () => {
    const spawn = fakeNvidiaSmi({ probe: reply });
    const { clock, provider, logs } = setup(spawn);
    const avail = await provider.start(1000);
    assert.equal(avail.available, false);
    assert.match(avail.reason ?? '', pattern);
    assert.deepEqual(provider.availability(), avail);
    assert.equal(spawn.streams.length, 0);
    assert.equal(await provider.read(), null);
    assert.equal(logs.length, 1);
    await provider.stop();
    assert.equal(clock.pending, 0);
  });
}

test('a field the driver rejects is dropped once and the rest still measured', async () => {
  const spawn = fakeNvidiaSmi({
    probe: (child) => {
      const q = child.args[0] ?? '';
      if (q.includes('clocks.sm')) return { code: 2, stderr: fixture('exit2-invalid-field-stderr.txt') };
      if (q.includes('pstate')) return { code: 2, stderr: 'Field "pstate" is not a valid field to query.\n' };
      return { code: 0, stdout: '0, GPU-1a2b, Tesla K80, 12, 3, 100, 11441, 40, 60.5, 149.00, [N/A], 875, [Not Supported]\n' };
    },
  });
  const { provider, logs } = setup(spawn, { computeAppsIntervalMs: 0 });
  const avail = await provider.start(1000);
  assert.equal(avail.available, true);
  assert.equal(spawn.probes.length, 3);
  assert.ok(!provider.activeFields.includes('clocks.sm'));
  assert.ok(!provider.activeFields.includes('pstate'));
  assert.doesNotMatch(spawn.streams[0]?.args[0] ?? '', /clocks\.sm|pstate/);
  const g = (await provider.read())?.gpus[0];
  assert.equal(g?.smClockMhz, null);
  assert.equal(g?.performanceState, null);
  assert.equal(g?.powerLimitWatts, 149);
  assert.equal(logs.length, 1);
  assert.match(logs[0] ?? '', /clocks\.sm, pstate/);
  await provider.stop();
});

test('clock event reasons refused by their new name are asked for by the old one (drivers before R535), in the same column', async () => {
  const spawn = fakeNvidiaSmi({
    probe: (child) => {
      const q = child.args[0] ?? '';
      if (q.includes('clocks_event_reasons.active')) return { code: 2, stderr: 'Field "clocks_event_reasons.active" is not a valid field to query.\n' };
      return { code: 0, stdout: '0, GPU-1a2b, Tesla V100, 99, 3, 100, 16384, 84, 249.5, 250.00, 1230, P0, [N/A], 1530, 0x0000000000000044\n' };
    },
  });
  const { provider, logs } = setup(spawn, { computeAppsIntervalMs: 0 });
  assert.equal((await provider.start(1000)).available, true);
  assert.equal(spawn.probes.length, 2);
  const fields = provider.activeFields;
  assert.equal(fields.indexOf('clocks_throttle_reasons.active'), fields.length - 1, 'the old name takes the new one\'s column');
  assert.ok(!fields.includes('clocks_event_reasons.active'));
  assert.match(spawn.streams[0]?.args[0] ?? '', /clocks_throttle_reasons\.active$/);
  const g = (await provider.read())?.gpus[0];
  assert.equal(g?.clockEventReasons, 0x44);
  assert.equal(g?.smClockMhz, 1230);
  assert.equal(g?.smClockMaxMhz, 1530);
  assert.equal(logs.length, 0, 'nothing is lost: no "does not know" line');
  await provider.stop();
});

test('a driver that knows neither name for the clock event reasons: the figure is dropped, the rest measured', async () => {
  const spawn = fakeNvidiaSmi({
    probe: (child) => {
      const q = child.args[0] ?? '';
      const refused = /clocks_(event|throttle)_reasons\.active/.exec(q);
      if (refused) return { code: 2, stderr: `Field "${refused[0]}" is not a valid field to query.\n` };
      return { code: 0, stdout: '0, GPU-1a2b, Tesla K80, 12, 3, 100, 11441, 40, 60.5, 149.00, 875, P0, [N/A], 875\n' };
    },
  });
  const { provider, logs } = setup(spawn, { computeAppsIntervalMs: 0 });
  assert.equal((await provider.start(1000)).available, true);
  assert.equal(spawn.probes.length, 3);
  assert.ok(!provider.activeFields.some((f) => f.includes('reasons')));
  const g = (await provider.read())?.gpus[0];
  assert.equal(g?.clockEventReasons, null);
  assert.equal(g?.smClockMaxMhz, 875);
  assert.match(logs[0] ?? '', /clocks_throttle_reasons\.active/);
  await provider.stop();
});

test('a required field rejected is a failure, not a loop', async () => {
  const spawn = fakeNvidiaSmi({ probe: { code: 2, stderr: 'Field "uuid" is not a valid field to query.\n' } });
  const { provider } = setup(spawn);
  const avail = await provider.start(1000);
  assert.equal(avail.available, false);
  assert.equal(spawn.probes.length, 1);
  await provider.stop();
});

test('compute-apps: per-process memory on a slower cadence, runs never overlap, a hung run is killed', async () => {
  let reply: Reply | 'hang' = { code: 0, stdout: fixture('compute-apps-normal.csv') };
  const spawn = new FakeSpawn((child) => {
    if (isStream(child)) return;
    if (isComputeApps(child)) {
      if (reply !== 'hang') answer(child, reply);
      return;
    }
    answer(child, { code: 0, stdout: twoGpus });
  });
  const { clock, provider, logs } = setup(spawn, { computeAppsIntervalMs: 3000, computeAppsStream: false, commandTimeoutMs: 2000, watchdogMinMs: 60_000 });
  await provider.start(1000);
  await clock.advance(0);
  assert.equal(spawn.computeApps.length, 1);
  spawn.streams[0]?.stdout(line(0, 1) + line(1, 2));
  const s = await provider.read();
  assert.deepEqual(s?.processes?.map((p) => [p.pid, p.usedMemoryMb]), [
    [48213, 38912],
    [48377, 1024],
    [50112, 2],
  ]);

  reply = 'hang';
  await clock.advance(3000);
  assert.equal(spawn.computeApps.length, 2);
  // While it hangs no second run starts, however long we wait short of the timeout.
  await clock.advance(1999);
  assert.equal(spawn.computeApps.length, 2);
  await clock.advance(1);
  assert.deepEqual(spawn.computeApps[1]?.killSignals, ['SIGKILL']);
  assert.equal(logs.filter((l) => /Per-process GPU memory is unavailable/.test(l)).length, 1);
  spawn.streams[0]?.stdout(line(0, 1) + line(1, 2));
  assert.equal((await provider.read())?.processes, null, 'unknown, not an empty list');

  reply = { code: 0, stdout: fixture('compute-apps-wsl.csv') };
  await clock.advance(3000);
  assert.equal(spawn.computeApps.length, 3);
  spawn.streams[0]?.stdout(line(0, 1) + line(1, 2));
  assert.deepEqual((await provider.read())?.processes?.map((p) => p.usedMemoryMb), [null, null]);
  await provider.stop();
});

test('stop() kills every child and clears every timer, and is safe to call twice', async () => {
  const spawn = fakeNvidiaSmi({ probe: { code: 0, stdout: twoGpus }, computeApps: 'hang' });
  const { clock, provider } = setup(spawn, { computeAppsIntervalMs: 2000, computeAppsStream: false });
  await provider.start(1000);
  await clock.advance(0);
  assert.equal(spawn.alive.length, 2, 'stream and a hung compute-apps run');
  await provider.stop();
  await provider.stop();
  assert.equal(spawn.alive.length, 0);
  assert.equal(clock.pending, 0);
  assert.equal(await provider.read(), null);
  assert.equal(provider.availability().available, false);
  await clock.advance(120_000);
  assert.equal(spawn.children.length, 3, 'nothing respawned after stop');
});

test('stop() during the probe leaves nothing running', async () => {
  let probeChild: FakeChild | null = null;
  const spawn = new FakeSpawn((child) => {
    if (!isStream(child) && !isComputeApps(child)) probeChild = child; // never answers
  });
  const { clock, provider } = setup(spawn);
  const started = provider.start(1000);
  await clock.advance(0);
  await provider.stop();
  await started;
  assert.ok((probeChild as FakeChild | null)?.killed);
  assert.equal(spawn.streams.length, 0);
  assert.equal(clock.pending, 0);
});

test('start() twice joins the first start', async () => {
  const spawn = fakeNvidiaSmi({ probe: { code: 0, stdout: twoGpus } });
  const { provider } = setup(spawn, { computeAppsIntervalMs: 0 });
  await Promise.all([provider.start(1000), provider.start(1000)]);
  assert.equal(spawn.probes.length, 1);
  assert.equal(spawn.streams.length, 1);
  await provider.stop();
});

test('per-process memory is queried only while wanted: an idle monitor spawns nothing', async () => {
  const spawn = fakeNvidiaSmi({ probe: { code: 0, stdout: twoGpus }, computeApps: { code: 0, stdout: fixture('compute-apps-normal.csv') } });
  let wanted = false;
  const { clock, provider } = setup(spawn, { computeAppsIntervalMs: 1000, computeAppsStream: false, watchdogMinMs: 60_000, wantProcesses: () => wanted });
  await provider.start(1000);
  await clock.advance(5000);
  assert.equal(spawn.computeApps.length, 0, 'no task with a process: no compute-apps run');
  spawn.streams[0]?.stdout(line(0, 1) + line(1, 2));
  assert.equal((await provider.read())?.processes, null);
  wanted = true;
  await clock.advance(1000);
  assert.equal(spawn.computeApps.length, 1);
  spawn.streams[0]?.stdout(line(0, 1) + line(1, 2));
  assert.equal((await provider.read())?.processes?.length, 3);
  wanted = false;
  await clock.advance(3000);
  assert.equal(spawn.computeApps.length, 1);
  await provider.stop();
});

const APPS_HEADER = 'pid, gpu_uuid, used_memory [MiB]\n';

test('while the stream ticks, the per-process period runs on its ticks: an idle provider\'s 5 s check wakes nothing of its own', async () => {
  const spawn = fakeNvidiaSmi({ probe: { code: 0, stdout: twoGpus } });
  let asked = 0;
  const { clock, provider } = setup(spawn, {
    computeAppsIntervalMs: 5000,
    watchdogMinMs: 120_000, // the watchdog's own timer out of the count
    wantProcesses: () => {
      asked++;
      return false;
    },
  });
  await provider.start(1000);
  await clock.advance(0);
  const stream = spawn.streams[0] as FakeChild;
  const firedBefore = clock.fired;
  const askedBefore = asked;
  for (let t = 0; t < 60; t++) {
    await clock.advance(1000);
    stream.stdout(line(0, 1) + line(1, 2));
    await flushPromises();
  }
  assert.equal(asked - askedBefore, 12, 'asked every 5 s, as before');
  // Its timer is a fallback two periods out whose due time moves: it fires about every 15 s, not every 5 s.
  assert.ok(clock.fired - firedBefore <= 5, `${clock.fired - firedBefore} timers fired in 60 s`);
  await provider.stop();
});

test('compute-apps stream: one long-lived child while wanted, blocks replace each other, no periodic spawn', async () => {
  const spawn = fakeNvidiaSmi({ probe: { code: 0, stdout: twoGpus } });
  let wanted = false;
  const { clock, provider, logs } = setup(spawn, { computeAppsIntervalMs: 1000, watchdogMinMs: 60_000, wantProcesses: () => wanted });
  await provider.start(1000);
  await clock.advance(5000);
  assert.equal(spawn.appsStreams.length, 0, 'nothing wanted: no per-process child');
  wanted = true;
  await clock.advance(1000);
  assert.equal(spawn.appsStreams.length, 1);
  const apps = spawn.appsStreams[0] as FakeChild;
  assert.deepEqual(apps.args, ['--query-compute-apps=pid,gpu_uuid,used_memory', '--format=csv,nounits', '-lms', '1000']);
  apps.stdout(APPS_HEADER + fixture('compute-apps-normal.csv'));
  spawn.streams[0]?.stdout(line(0, 1) + line(1, 2));
  assert.deepEqual((await provider.read())?.processes?.map((p) => [p.pid, p.usedMemoryMb]), [
    [48213, 38912],
    [48377, 1024],
    [50112, 2],
  ]);
  // A block split over two chunks, then an empty block: no process, not the last block's.
  apps.stdout(APPS_HEADER + '48213, GPU-00000000-1111-2222-3333-444455556666, 40');
  apps.stdout('000\n');
  assert.deepEqual((await provider.read())?.processes?.map((p) => [p.pid, p.usedMemoryMb]), [[48213, 40000]]);
  apps.stdout(APPS_HEADER);
  assert.deepEqual((await provider.read())?.processes, []);
  // Steady state: many periods, the child keeps printing, nothing else is spawned.
  const before = spawn.children.length;
  for (let i = 0; i < 30; i++) {
    await clock.advance(1000);
    apps.stdout(APPS_HEADER + fixture('compute-apps-normal.csv'));
  }
  assert.equal(spawn.children.length, before, 'no spawn in steady state');
  assert.equal((await provider.read())?.processes?.length, 3);
  // No longer wanted: the child is stopped and per-process figures read unknown.
  wanted = false;
  await clock.advance(1000);
  assert.deepEqual(apps.killSignals, ['SIGTERM']);
  assert.equal((await provider.read())?.processes, null);
  assert.equal(spawn.computeApps.length, 0, 'no one-off run either');
  assert.deepEqual(logs, []);
  await provider.stop();
});

test('compute-apps stream: hostile lines are skipped, a block without header is never trusted', async () => {
  const spawn = fakeNvidiaSmi({ probe: { code: 0, stdout: twoGpus } });
  const { clock, provider } = setup(spawn, { computeAppsIntervalMs: 1000, watchdogMinMs: 60_000 });
  await provider.start(1000);
  await clock.advance(0);
  const apps = spawn.appsStreams[0] as FakeChild;
  apps.stdout('48213, GPU-00000000-1111-2222-3333-444455556666, 100\n');
  assert.equal((await provider.read())?.processes, null, 'rows before the first header are not a block');
  apps.stdout(`${APPS_HEADER}-1, GPU-x, 5\n0, GPU-x, 5\n99999999999, GPU-x, 5\n12, GPU-\u0000evil, 5\n13, GPU-a, -5\n14, GPU-a, 1e309\ngarbage\n${'x'.repeat(100_000)}\n`);
  assert.deepEqual((await provider.read())?.processes, [
    { pid: 12, gpuUuid: null, usedMemoryMb: 5 },
    { pid: 13, gpuUuid: 'GPU-a', usedMemoryMb: null },
    { pid: 14, gpuUuid: 'GPU-a', usedMemoryMb: null },
  ]);
  await provider.stop();
});

test('compute-apps stream refused by the driver: one-off runs per period instead, said once', async () => {
  const spawn = new FakeSpawn((child) => {
    if (isStream(child) && isComputeApps(child)) {
      child.stdout("Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n");
      child.exit(2);
      return;
    }
    if (isStream(child)) return;
    answer(child, isComputeApps(child) ? { code: 0, stdout: fixture('compute-apps-normal.csv') } : { code: 0, stdout: twoGpus });
  });
  const { clock, provider, logs } = setup(spawn, { computeAppsIntervalMs: 1000, watchdogMinMs: 60_000 });
  await provider.start(1000);
  await clock.advance(0);
  assert.equal(spawn.appsStreams.length, 1);
  await clock.advance(1000);
  assert.equal(spawn.computeApps.length, 1, 'the fallback: a one-off run');
  spawn.streams[0]?.stdout(line(0, 1) + line(1, 2));
  assert.equal((await provider.read())?.processes?.length, 3);
  // The stream goes on ticking each second: the periods run on its ticks.
  for (let t = 0; t < 3; t++) {
    await clock.advance(1000);
    spawn.streams[0]?.stdout(line(0, 1) + line(1, 2));
    await flushPromises();
  }
  assert.equal(spawn.appsStreams.length, 1, 'the loop is not asked again');
  assert.equal(spawn.computeApps.length, 4);
  assert.equal(logs.filter((l) => /asking it once every 1 s instead/.test(l)).length, 1, logs.join('\n'));
  await provider.stop();
});

test('compute-apps stream: a child that dies is restarted next period; a silent one is killed', async () => {
  const spawn = fakeNvidiaSmi({ probe: { code: 0, stdout: twoGpus } });
  const { clock, provider } = setup(spawn, { computeAppsIntervalMs: 1000, watchdogMinMs: 60_000 });
  await provider.start(1000);
  await clock.advance(0);
  const first = spawn.appsStreams[0] as FakeChild;
  first.stdout(APPS_HEADER);
  first.exit(0);
  spawn.streams[0]?.stdout(line(0, 1) + line(1, 2));
  assert.equal((await provider.read())?.processes, null, 'unknown while it is down');
  await clock.advance(1000);
  assert.equal(spawn.appsStreams.length, 2, 'restarted');
  const second = spawn.appsStreams[1] as FakeChild;
  second.stdout(APPS_HEADER);
  // Silent past the watchdog (60 s here): killed, and another started a period later.
  await clock.advance(59_000);
  assert.ok(!second.killed);
  await clock.advance(3000);
  assert.ok(second.killed);
  await clock.advance(1000);
  assert.equal(spawn.appsStreams.length, 3);
  await provider.stop();
  assert.equal(spawn.alive.length, 0);
  assert.equal(clock.pending, 0);
});
