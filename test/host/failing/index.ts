// A suite that must fail: the harness test runs it and expects a non-zero exit, so a broken
// harness (one that reports success whatever happens) can never pass silently.
import * as assert from 'node:assert/strict';

export async function run(): Promise<void> {
  const mode = process.env.MODEL_PERF_FAILING_MODE ?? 'fail';
  if (mode === 'hang') {
    await new Promise(() => { /* never settles: the launcher's timeout must end it */ });
  }
  assert.equal(1 + 1, 3, 'this suite fails on purpose');
}
