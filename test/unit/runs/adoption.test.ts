// Runs that outlive a reload, found in fake /proc trees (test/fixtures/proc/adoption): each
// terminal shell's descendants matched by the command patterns, the process's own start time,
// model-perf run left alone, hostile command lines kept as text; and through the monitor, an
// adopted task from its own start, marked adopted, ended with its exit code or `unknown`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argvToLine, findRuns, isModelPerfRun, parseCmdline, procfsProbe, unshimArgv, type ProcessProbe } from '../../../src/core/runs/adoption';
import { parseBootTimeSeconds, parseStartTicks, processStartTimeMs, runStillGoing } from '../../../src/core/util/process';
import { compilePatterns } from '../../../src/core/runs/commandLine';
import { procfsRelations } from '../../../src/core/runs/procRelations';
import { RunRegistry } from '../../../src/core/runs/trackedRuns';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { MemoryHistoryStore, parseRecord, serializeRecord } from '../../../src/core/history/historyStore';
import { toCsv, CSV_COLUMNS } from '../../../src/core/history/exporter';
import { FakeSystemSampler } from '../engine/fakes';
import { FakeClock } from '../helpers/fakeClock';

const ROOT = join(__dirname, '../../fixtures/proc/adoption');
const PATTERNS = compilePatterns(undefined).patterns;
const BOOT_MS = 1_767_225_600_000;
const probe = (): ProcessProbe => procfsProbe(procfsRelations(ROOT), ROOT);

function quietLog() {
  const lines: string[] = [];
  return { lines, info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
}

test('/proc parsing: boot time, start ticks after a name with spaces and parentheses, argv', () => {
  assert.equal(parseBootTimeSeconds('cpu 1 2 3\nbtime 1767225600\nprocesses 9\n'), 1_767_225_600);
  assert.equal(parseBootTimeSeconds('cpu 1 2 3\n'), null);
  assert.equal(parseBootTimeSeconds('btime -5\n'), null);
  const fields = ['S', '1', ...Array(17).fill('0'), '4242', '0'];
  assert.equal(parseStartTicks(`77 (my (odd) name) ${fields.join(' ')}`), 4242);
  assert.equal(parseStartTicks('77 (short) S 1'), null);
  assert.equal(parseStartTicks('garbage'), null);
  assert.equal(parseStartTicks(`77 (x) ${fields.slice(0, 19).join(' ')} notanumber`), null);
  assert.deepEqual(parseCmdline(Buffer.from('python\0gen.py\0--steps\x0030\0')), ['python', 'gen.py', '--steps', '30']);
  assert.deepEqual(parseCmdline(Buffer.from('')), []);
  assert.equal(argvToLine(['python', 'a b.py', "it's", '$(x)']), `python 'a b.py' 'it'\\''s' '$(x)'`);
});

test("a terminal's run is found under its shell, with its own start and the flags of its command", async () => {
  const [run, ...more] = await findRuns(probe(), 400, PATTERNS);
  assert.equal(more.length, 0, 'the sleep beside it and the worker under it are not runs of their own');
  assert.equal(run?.pid, 401);
  assert.equal(run?.startTimeMs, BOOT_MS + 3_600_000, '360000 ticks of 10 ms after boot');
  assert.equal(run?.guess.modelType, 'stabilityai/sdxl-base');
  assert.equal(run?.guess.steps, 30);
  assert.equal(run?.guess.resolution, '720p');
  assert.match(run?.guess.taskId ?? '', /^generate\.py@\d\d:\d\d:\d\d$/);
});

test('a python that is a pyenv shim (a bash script until it execs the real one) is matched and adopted like a direct python', async () => {
  // bash …/shims/python generate.py --steps 25 (the shim, same pid as the python it becomes)
  const [shim, ...none] = await findRuns(probe(), 900, PATTERNS);
  assert.equal(none.length, 0);
  assert.equal(shim?.pid, 901);
  assert.equal(shim?.guess.steps, 25);
  assert.match(shim?.guess.taskId ?? '', /^generate\.py@/);
  assert.equal(shim?.commandLine, 'python generate.py --steps 25');
  assert.equal(shim?.startTimeMs, BOOT_MS + 50_000);
  // /usr/bin/env bash …/libexec/pyenv exec python3.11 -u -m trainer.main (the shim's next step)
  const [exec] = await findRuns(probe(), 910, PATTERNS);
  assert.equal(exec?.pid, 911);
  assert.equal(exec?.guess.resolution, '640x480');
  assert.equal(exec?.guess.modelType, 'trainer.main');
  // Not shims: a shell running a script of its own, a shell with options, anything else.
  assert.deepEqual(unshimArgv(['bash', './train.sh', 'x.py']), ['bash', './train.sh', 'x.py']);
  assert.deepEqual(unshimArgv(['bash', '-c', 'python x.py']), ['bash', '-c', 'python x.py']);
  assert.deepEqual(unshimArgv(['python', 'x.py']), ['python', 'x.py']);
  assert.deepEqual(unshimArgv(['/bin/sh', '/home/u/.asdf/shims/python3', 'x.py']), ['python3', 'x.py']);
  assert.deepEqual(unshimArgv([]), []);
});

test('a run under a wrapper shell is found one level down; model-perf run is left to record itself', async () => {
  const [wrapped] = await findRuns(probe(), 600, PATTERNS);
  assert.equal(wrapped?.pid, 602);
  assert.equal(wrapped?.guess.steps, 50);
  assert.equal(wrapped?.guess.resolution, '1280x720');
  assert.deepEqual(await findRuns(probe(), 500, PATTERNS), []);
});

test('hostile command lines stay text; vanished processes and unknown shells find nothing', async () => {
  const [hostile] = await findRuns(probe(), 700, PATTERNS);
  assert.equal(hostile?.pid, 701);
  assert.ok(!/[\u0000-\u001f\u007f$]/.test(hostile?.guess.modelType ?? ''), hostile?.guess.modelType);
  assert.equal(hostile?.guess.steps, 9);
  assert.deepEqual(await findRuns(probe(), 800, PATTERNS), [], 'a child whose cmdline is gone');
  assert.deepEqual(await findRuns(probe(), 999_999, PATTERNS), [], 'a shell that is not there');
  // A tree that loops back on itself (pid reuse while walking) ends.
  const loop: ProcessProbe = { children: async (pid) => [pid + 1, 1], parent: async () => null, argv: async () => ['bash'], startTimeMs: async () => null };
  assert.deepEqual(await findRuns(loop, 1, PATTERNS, { maxDepth: 50 }), []);
});

function monitorAt(now: number) {
  const clock = new FakeClock(now);
  const store = new MemoryHistoryStore();
  const monitor = new PerformanceMonitor({}, { clock, systemSampler: new FakeSystemSampler(), historyStore: store });
  return { clock, monitor, store };
}

test('an adopted run is a task from its own start, marked adopted; it ends with its exit code', async () => {
  const { clock, monitor } = monitorAt(BOOT_MS + 4_000_000);
  const log = quietLog();
  const runs = new RunRegistry(monitor, log, () => clock.now());
  const [found] = await findRuns(probe(), 400, PATTERNS);
  assert.ok(found);
  const run = runs.adopt('terminal', found);
  assert.ok(run);
  assert.equal(runs.adopt('terminal', found), null, 'the same process is not adopted twice');
  const [live] = monitor.getActiveTasks();
  assert.equal(live?.adopted, true);
  assert.equal(live?.startTime, BOOT_MS + 3_600_000);
  assert.equal(live?.rootPid, 401);
  assert.match(log.lines.join('\n'), /Adopted terminal run "generate\.py@.*" already going \(pid 401, started 2026-01-01T01:00:00\.000Z\)/);
  await clock.advance(10_000);
  await run.end({ exitCode: 0 });
  const [done] = monitor.getHistory();
  assert.equal(done?.status, 'succeeded');
  assert.equal(done?.adopted, true);
  assert.equal(done?.generationTimeSeconds, 410, 'from the process start, not from the adoption');
  await monitor.dispose();
});

test('an adopted run whose exit is not known ends as unknown; a start in the future is clamped to now', async () => {
  const { monitor } = monitorAt(BOOT_MS + 1000);
  const runs = new RunRegistry(monitor, quietLog());
  const [found] = await findRuns(probe(), 400, PATTERNS);
  assert.ok(found);
  const run = runs.adopt('terminal', found);
  assert.equal(monitor.getActiveTasks()[0]?.startTime, BOOT_MS + 1000);
  await run?.end({ exitCode: undefined, unknownCategory: 'unknown' });
  const [done] = monitor.getHistory();
  assert.deepEqual([done?.status, done?.errorCategory, done?.adopted], ['interrupted', 'unknown', true]);
  assert.throws(() => monitor.adoptTaskMonitoring('x', 'm', '', 1, { rootPid: 5, startTimeMs: Number.NaN }), /startTimeMs/);
  assert.throws(() => monitor.adoptTaskMonitoring('x', 'm', '', 1, { rootPid: -5, startTimeMs: null }), /rootPid/);
  await monitor.dispose();
});

test('adopted is kept in the history file, in JSON and in CSV; older records without it still load', async () => {
  const { monitor } = monitorAt(BOOT_MS + 4_000_000);
  monitor.adoptTaskMonitoring('a', 'm', '720p', 1, { rootPid: 401, startTimeMs: BOOT_MS });
  monitor.startTaskMonitoring('b', 'm', '720p', 1);
  const a = await monitor.completeTaskMonitoring('a');
  const b = await monitor.completeTaskMonitoring('b');
  const back = parseRecord(JSON.parse(serializeRecord(a)));
  assert.equal(back.kind === 'task' ? back.task.adopted : 'bad', true);
  const plain = parseRecord(JSON.parse(serializeRecord(b)));
  assert.equal(plain.kind === 'task' ? plain.task.adopted : 'bad', undefined);
  const bad = parseRecord({ ...JSON.parse(serializeRecord(a)), adopted: 'yes' });
  assert.equal(bad.kind, 'bad');
  const column = CSV_COLUMNS.indexOf('adopted');
  assert.ok(column >= 0);
  const [, rowA, rowB] = toCsv([a, b]).split('\r\n');
  assert.equal(rowA?.split(',')[column], 'true');
  assert.equal(rowB?.split(',')[column], '');
  await monitor.dispose();
});

test('model-perf run is recognised however it was started', () => {
  for (const argv of [['model-perf', 'run', '--', 'python', 'x.py'], ['node', '/usr/local/bin/model-perf', 'run', '--', 'x'], ['/usr/bin/node', '/home/u/proj/dist/cli.js', 'run', '--', 'x'], ['C:\\node.exe', 'C:\\npm\\model-perf.cmd', 'run']]) {
    assert.equal(isModelPerfRun(argv), true, argv.join(' '));
  }
  for (const argv of [['model-perf', 'status'], ['node', 'server.js', 'run'], ['python', 'model-perf', 'run'], ['node', '/x/dist/cli.js', 'build'], []]) {
    assert.equal(isModelPerfRun(argv), false, argv.join(' '));
  }
});

test('the real /proc: a python run under a shell is found with its own start time', { skip: process.platform !== 'linux' ? 'needs /proc' : false }, async (t) => {
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { spawn } = await import('node:child_process');
  const dir = await mkdtemp(join(tmpdir(), 'mpm-adopt-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'gen.py'), 'import sys\nprint("up", flush=True)\nsys.stdin.readline()\n');
  const before = Date.now();
  // `; true` keeps the shell alive as the python's parent, as an interactive shell is.
  const shell = spawn('sh', ['-c', 'python3 gen.py --steps 7 --res 720p; true'], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => shell.kill('SIGKILL'));
  await new Promise<void>((resolve) => shell.stdout.once('data', () => resolve()));
  const [found, ...more] = await findRuns(procfsProbe(procfsRelations()), shell.pid as number, PATTERNS);
  shell.stdin.end('\n');
  assert.equal(more.length, 0);
  assert.ok(found);
  assert.equal(found.guess.steps, 7);
  assert.equal(found.guess.resolution, '720p');
  assert.match(found.commandLine, /(^|\/)python3 gen\.py --steps 7 --res 720p$/);
  // /proc/stat's boot time is whole seconds: the start is known to within one.
  assert.ok(found.startTimeMs !== null && found.startTimeMs >= before - 1000 && found.startTimeMs <= Date.now() + 1000, `${found.startTimeMs} vs ${before}`);
});

test('a run still goes on only while its root process lives and started by the task, not a reused pid', () => {
  const started = processStartTimeMs(process.pid);
  assert.ok(started === null || (started > 0 && started <= Date.now()), String(started));
  assert.equal(runStillGoing(process.pid, Date.now()), true, 'this process started before now');
  if (started !== null) assert.equal(runStillGoing(process.pid, started - 60_000), false, 'a task older than the process is not its run');
  assert.equal(runStillGoing(2 ** 22 + 12_345, Date.now()), false, 'no such process');
  assert.equal(processStartTimeMs(process.pid, join(tmpdir(), 'no-such-proc')), null);
});
