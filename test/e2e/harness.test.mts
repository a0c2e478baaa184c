// The harness can fail: a suite that fails must give a non-zero exit, a suite that hangs must be
// stopped with a clear timeout, and neither may leave a code-server process behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../harness/codeServer.mjs';
import { runHostSuite } from '../harness/runHostTests.mjs';

const failingSuite = join(repoRoot, 'out', 'test', 'host', 'failing', 'index.js');

function codeServerProcesses(): string[] {
  try {
    // Only this checkout's servers: another checkout's tests may run beside these.
    const mine = `${repoRoot}/.cache/code-server-`;
    return execFileSync('pgrep', ['-af', 'code-server-.*/entry.js'], { encoding: 'utf8' }).trim().split('\n').filter((l) => l.includes(mine));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

test('a failing host suite makes the launcher exit non-zero', async () => {
  const before = codeServerProcesses().length;
  const code = await runHostSuite({ testsPath: failingSuite, env: { MODEL_PERF_FAILING_MODE: 'fail' } });
  assert.notEqual(code, 0);
  assert.equal(codeServerProcesses().length, before, 'the launcher stopped its code-server');
});

test('a hung host suite is stopped by the launcher timeout (exit 124)', async () => {
  const before = codeServerProcesses().length;
  const previous = process.env.MODEL_PERF_TEST_TIMEOUT_MS;
  process.env.MODEL_PERF_TEST_TIMEOUT_MS = '20000';
  try {
    const code = await runHostSuite({ testsPath: failingSuite, env: { MODEL_PERF_FAILING_MODE: 'hang' } });
    assert.equal(code, 124);
  } finally {
    if (previous === undefined) delete process.env.MODEL_PERF_TEST_TIMEOUT_MS;
    else process.env.MODEL_PERF_TEST_TIMEOUT_MS = previous;
  }
  assert.equal(codeServerProcesses().length, before, 'the launcher stopped its code-server');
});
