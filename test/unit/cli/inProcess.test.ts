// runCli in-process against this machine's real samplers (GPU off): `watch` on a terminal redraws
// in place and gives the cursor back; a stop signal ends it cleanly; `analyze` on an empty history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/cli';
import { waitUntil } from '../helpers/waitUntil';
import { testIo, type TestIo } from '../helpers/cliIo';

function io(env: NodeJS.ProcessEnv, tty: boolean): TestIo {
  return testIo({ env, tty });
}

test('watch on a terminal: cursor home and clear-to-end per line, lines cut to the width, cursor restored', async () => {
  const t = io({}, true);
  assert.equal(await runCli(['watch', '--no-gpu', '--interval', '0.25', '--count', '2'], t), 0);
  const text = t.out.text;
  assert.ok(text.startsWith('\x1b[H\x1b[2J\x1b[?25l'), JSON.stringify(text.slice(0, 20)));
  assert.ok(text.endsWith('\x1b[?25h'));
  const frames = text.split('\x1b[H').slice(2);
  assert.equal(frames.length, 2);
  for (const frame of frames) {
    assert.match(frame, /^model-perf watch/);
    // The first sample may come too soon after start for a CPU delta: unknown then, never 0.
    assert.match(frame, /\nCPU {3}(?:[\d.]+ %|n\/a)\x1b\[K\n/);
    assert.match(frame, /GPU {3}none: GPU monitoring is off/);
    for (const line of frame.split('\x1b[K\n')) assert.ok(line.replace('\x1b[J', '').length <= 59, `line too long: ${line}`);
  }
  assert.equal(t.err.text, '');
});

test('watch ends cleanly on Ctrl-C', async () => {
  const t = io({}, false);
  const done = runCli(['watch', '--no-gpu', '--interval', '0.25'], t);
  await waitUntil('the first frame', () => t.out.text.includes('\n'), { timeoutMs: 30_000, everyMs: 20 });
  t.signal('SIGINT');
  assert.equal(await done, 0);
  assert.match(t.out.text, /^\S+ cpu=(?:[\d.]+%|n\/a) ram=\d+\/\d+MiB disk=\S+\n/);
});

test('analyze and export with no history say so and still succeed', async () => {
  const home = await mkdtemp(join(tmpdir(), 'model-perf-empty-'));
  try {
    const a = io({ MODEL_PERF_HOME: home }, false);
    assert.equal(await runCli(['analyze'], a), 0);
    assert.match(a.out.text, /Tasks started in the last 24 h: 0 .*\nNothing to analyse yet/);
    const e = io({ MODEL_PERF_HOME: home }, false);
    assert.equal(await runCli(['export', join(home, 'x.csv')], e), 0);
    assert.match(e.out.text, /^Exported 0 task\(s\) from the last 24 h to .*x\.csv \(csv\)\n$/);
    const bad = io({ MODEL_PERF_HOME: home }, false);
    assert.equal(await runCli(['export', join(home, 'missing-dir', 'x.json')], bad), 1);
    assert.match(bad.err.text, /^model-perf export: Export failed: cannot write ".*x\.json": the folder does not exist\n$/);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
