// The CLI's argument parser and its error paths (each message checked), the help texts, and how
// runCli turns a usage mistake into one line, the usage and exit status 2, in-process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS, flagNumber, flagString, gpuBackendFlag, helpText, parseArgs, UsageError, type ParsedCommand } from '../../../src/cli/args';
import { BufferStream, runCli, type CliIo } from '../../../src/cli/cli';

function parsed(argv: string[]): ParsedCommand {
  const r = parseArgs(argv);
  assert.equal(r.kind, 'command');
  return (r as { kind: 'command'; parsed: ParsedCommand }).parsed;
}

function usageError(argv: string[], message: string, command: string | null): void {
  assert.throws(
    () => parseArgs(argv),
    (err: unknown) => {
      assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
      assert.equal(err.message, message);
      assert.equal(err.command, command);
      return true;
    },
  );
}

function fakeIo(): CliIo & { out: BufferStream; err: BufferStream } {
  const out = new BufferStream();
  const err = new BufferStream();
  return {
    out,
    err,
    stdout: out,
    stderr: err,
    env: {},
    cwd: process.cwd(),
    onStopSignal: () => () => {},
    terminalSignalsReachChildren: () => false,
    childStdin: 'ignore',
  };
}

test('run: flags before the command, the command and its own flags after', () => {
  const p = parsed(['run', '--task-id', 't1', '--model-type=sdxl', '--resolution', '1080p', '--steps', '30', '--interval', '0.5', '--', 'python', 'gen.py', '--steps', '5']);
  assert.equal(p.command, 'run');
  assert.equal(flagString(p, 'task-id'), 't1');
  assert.equal(flagString(p, 'model-type'), 'sdxl');
  assert.equal(flagString(p, 'resolution'), '1080p');
  assert.equal(flagNumber(p, 'steps'), 30);
  assert.equal(flagNumber(p, 'interval'), 0.5);
  assert.deepEqual(p.commandLine, ['python', 'gen.py', '--steps', '5']);
});

test('run: without --, the first non-flag argument starts the command', () => {
  const p = parsed(['run', '--steps', '2', 'python', '-u', 'gen.py', '--lr', '3']);
  assert.deepEqual(p.commandLine, ['python', '-u', 'gen.py', '--lr', '3']);
  assert.equal(flagNumber(p, 'steps'), 2);
});

test('export takes one FILE; analyze and watch their numbers', () => {
  const e = parsed(['export', 'out.csv', '--window-hours', '168', '--format', 'csv']);
  assert.deepEqual(e.positionals, ['out.csv']);
  assert.equal(flagNumber(e, 'window-hours'), 168);
  assert.equal(flagString(e, 'format'), 'csv');
  assert.equal(flagNumber(parsed(['analyze', '--window-hours=0.5', '--json']), 'window-hours'), 0.5);
  assert.equal(flagNumber(parsed(['watch', '--count', '3']), 'count'), 3);
  for (const command of ['status', 'watch', 'run', 'serve']) {
    const tail = command === 'run' ? ['--', 'true'] : [];
    assert.deepEqual(gpuBackendFlag(parsed([command, '--gpu-backend', 'nvml', ...tail])), { gpuBackend: 'nvml' }, command);
    assert.deepEqual(gpuBackendFlag(parsed([command, ...tail])), {}, command);
  }
});

test('help and version', () => {
  assert.deepEqual(parseArgs(['--help']), { kind: 'help', command: null });
  assert.deepEqual(parseArgs(['-h']), { kind: 'help', command: null });
  assert.deepEqual(parseArgs(['help', 'run']), { kind: 'help', command: 'run' });
  assert.deepEqual(parseArgs(['status', '--help']), { kind: 'help', command: 'status' });
  // --help among run's flags is ours; after the command it belongs to the command.
  assert.deepEqual(parseArgs(['run', '--steps', '1', '-h']), { kind: 'help', command: 'run' });
  assert.deepEqual(parsed(['run', '--', 'python', '--help']).commandLine, ['python', '--help']);
  assert.deepEqual(parseArgs(['--version']), { kind: 'version' });
  for (const c of COMMANDS) {
    const text = helpText(c.name);
    assert.match(text, new RegExp(`^model-perf ${c.name}: `));
    for (const f of c.flags) assert.ok(text.includes(`--${f.name}`), `${c.name} help lists --${f.name}`);
  }
  for (const c of COMMANDS) assert.ok(helpText(null).includes(c.name));
});

test('every error path has its one-line message', () => {
  usageError([], 'no command given', null);
  usageError(['frobnicate'], 'unknown command "frobnicate"', null);
  usageError(['--json'], 'unknown option "--json" (a command comes first)', null);
  usageError(['help', 'nope'], 'unknown command "nope"', null);
  usageError(['status', '--bogus'], 'unknown flag "--bogus"', 'status');
  usageError(['status', '-x'], 'unknown flag "-x"', 'status');
  usageError(['status', '--json=yes'], '--json takes no value (got "yes")', 'status');
  usageError(['status', '--json', '--json'], '--json is given twice', 'status');
  usageError(['status', 'extra'], 'unexpected argument "extra"', 'status');
  usageError(['run'], 'no command to run given (put it after --)', 'run');
  usageError(['run', '--steps', '3', '--'], 'no command to run given (put it after --)', 'run');
  usageError(['run', '--task-id'], '--task-id needs a value (ID)', 'run');
  usageError(['run', '--task-id', '--steps', '3', '--', 'x'], '--task-id needs a value (ID)', 'run');
  usageError(['run', '--task-id=', '--', 'x'], '--task-id needs a non-empty value', 'run');
  usageError(['run', '--steps', 'abc', '--', 'x'], '--steps must be a whole number of at least 0 (got "abc")', 'run');
  usageError(['run', '--steps', '2.5', '--', 'x'], '--steps must be a whole number of at least 0 (got "2.5")', 'run');
  usageError(['run', '--steps', '-1', '--', 'x'], '--steps must be a whole number of at least 0 (got "-1")', 'run');
  usageError(['run', '--steps', '0x10', '--', 'x'], '--steps must be a whole number of at least 0 (got "0x10")', 'run');
  usageError(['run', '--interval', 'fast', '--', 'x'], '--interval must be a number of seconds between 0.25 and 60 (got "fast")', 'run');
  usageError(['run', '--interval', '0.1', '--', 'x'], '--interval must be a number of seconds between 0.25 and 60 (got "0.1")', 'run');
  usageError(['run', '--interval', '61', '--', 'x'], '--interval must be a number of seconds between 0.25 and 60 (got "61")', 'run');
  usageError(['run', '--interval', '', '--', 'x'], '--interval must be a number of seconds between 0.25 and 60 (got "")', 'run');
  usageError(['watch', '--interval=Infinity'], '--interval must be a number of seconds between 0.25 and 60 (got "Infinity")', 'watch');
  usageError(['watch', '--count', '0'], '--count must be a whole number of at least 1 (got "0")', 'watch');
  usageError(['analyze', '--window-hours', '0'], '--window-hours must be a number of hours between 0.001 and 87600 (got "0")', 'analyze');
  usageError(['analyze', '--window-hours'], '--window-hours needs a value (H)', 'analyze');
  usageError(['export'], 'missing FILE', 'export');
  usageError(['export', 'a.json', 'b.json'], 'unexpected argument "b.json"', 'export');
  usageError(['export', 'a.json', '--format', 'xml'], '--format must be one of json, csv (got "xml")', 'export');
  usageError(['status', '--gpu-backend', 'cuda'], '--gpu-backend must be one of auto, nvidia-smi, nvml (got "cuda")', 'status');
});

test('runCli: a usage mistake prints one error line and the usage line, exit 2, nothing on stdout', async () => {
  const io = fakeIo();
  assert.equal(await runCli(['run', '--interval', '0', '--', 'true'], io), 2);
  assert.equal(io.out.text, '');
  const lines = io.err.text.trimEnd().split('\n');
  assert.deepEqual(lines, ['model-perf run: --interval must be a number of seconds between 0.25 and 60 (got "0")', 'Usage: model-perf run [options] [--] CMD [ARGS...]   (model-perf run --help for more)']);

  const io2 = fakeIo();
  assert.equal(await runCli(['nope'], io2), 2);
  assert.match(io2.err.text, /^model-perf: unknown command "nope"\nUsage: model-perf <status\|run\|analyze\|export\|import\|watch\|serve\|cluster> \[options\]/);
});

test('runCli: --help goes to stdout with exit 0', async () => {
  for (const argv of [['--help'], ['run', '--help'], ['export', '-h']]) {
    const io = fakeIo();
    assert.equal(await runCli(argv, io), 0);
    assert.match(io.out.text, /Usage: model-perf/);
    assert.equal(io.err.text, '');
  }
  const io = fakeIo();
  assert.equal(await runCli(['--version'], io), 0);
  assert.match(io.out.text, /^model-perf \d+\.\d+\.\d+/);
});
