import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProgressLine, ProgressParser } from '../../../src/core/runs/progress';

test('tqdm bars: it/s, s/it, unknown rate, no total, step words', () => {
  assert.deepEqual(parseProgressLine(' 74%|███████▍  | 37/50 [00:12<00:04,  3.10it/s]'), { done: 37, total: 50, ratePerSecond: 3.1, etaSeconds: 4 });
  assert.deepEqual(parseProgressLine('  6%|▌ | 3/50 [00:10<02:30,  3.20s/it]'), { done: 3, total: 50, ratePerSecond: 1 / 3.2, etaSeconds: 150 });
  assert.deepEqual(parseProgressLine('  0%|          | 0/5 [00:00<?, ?it/s]'), { done: 0, total: 5, ratePerSecond: null, etaSeconds: null });
  assert.deepEqual(parseProgressLine('37it [00:12, 3.10it/s]'), { done: 37, total: null, ratePerSecond: 3.1, etaSeconds: null });
  assert.deepEqual(parseProgressLine('Step 12/50 loss=0.1'), { done: 12, total: 50, ratePerSecond: null, etaSeconds: null });
  assert.deepEqual(parseProgressLine('100%|██| 1/1 [1:02:03<00:00, 1.2kit/s]')?.ratePerSecond, 1200);
  assert.equal(parseProgressLine('loaded 3/2 things'), null);
  assert.equal(parseProgressLine('epoch 1 done'), null);
});

test('a stream with the terminal marks, \\r redraws and ANSI colour gives the latest reading', () => {
  const p = new ProgressParser();
  p.push('\x1b]633;C\x07Loading model\r\n');
  assert.equal(p.readings, 0);
  p.push('\r  0%|          | 0/5 [00:00<?, ?it/s]');
  p.push('\r\x1b[32m 40%|████      | 2/5 [00:02<00:03,  1.00it/s]\x1b[0m');
  assert.deepEqual(p.latest, { done: 2, total: 5, ratePerSecond: 1, etaSeconds: 3 });
  p.push('\r100%|██████████| 5/5 [00:05<00:00,  1.00it/s]\n');
  assert.equal(p.latest?.done, 5);
  assert.equal(p.largestTotal, 5);
});

test('escape sequences and bars split between chunks are put back together', () => {
  const text = '\x1b]633;C\x07\r 20%|██ | 1/5 [00:01<00:04, 1.00it/s]\x1b]633;P;Cwd=/x\x07\r 60%|█████ | 3/5 [00:03<00:02, 1.00it/s]';
  for (let cut = 1; cut < text.length; cut++) {
    const p = new ProgressParser();
    p.push(text.slice(0, cut));
    p.push(text.slice(cut));
    assert.deepEqual(p.latest, { done: 3, total: 5, ratePerSecond: 1, etaSeconds: 2 }, `cut at ${cut}`);
    assert.doesNotMatch(p.tail(), /\x1b|633/, `cut at ${cut}`);
  }
  // One character at a time.
  const p = new ProgressParser();
  for (const c of text) p.push(c);
  assert.equal(p.latest?.done, 3);
});

test('the out-of-memory message is found by the shared classifier, ANSI noise and all', () => {
  const p = new ProgressParser();
  p.push('Traceback (most recent call last):\n  File "gen.py", line 3\n\x1b[31mtorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\x1b[0m\n');
  assert.equal(p.errorCategory(), 'out_of_memory');
  assert.equal(new ProgressParser().errorCategory(), null);
});

// The generous test timeout, not a wall-clock assertion, catches a parser that never ends.
test('memory stays bounded: megabytes of output without a newline, and a long run', { timeout: 60_000 }, () => {
  const p = new ProgressParser({ tailChars: 4096 });
  const blob = 'x'.repeat(1024 * 1024);
  for (let i = 0; i < 8; i++) p.push(blob);
  p.push('\r 50%| | 5/10 [00:05<00:05, 1.00it/s]');
  assert.equal(p.latest?.done, 5);
  assert.ok(p.tail().length <= 4096);
  for (let i = 0; i < 20000; i++) p.push(`\r${i % 100}/100 [00:01<00:01, 9.0it/s]`);
  assert.ok(p.tail().length <= 4096);
  // An unterminated escape sequence is not held forever.
  const q = new ProgressParser();
  q.push('\x1b]633;' + 'y'.repeat(10000));
  q.push('\r 1/2 [00:01<00:01, 1.00it/s]');
  assert.equal(q.latest?.done, 1);
});
