import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProgressLine, ProgressParser } from '../../../src/core/runs/progress';

test('tqdm bars: it/s, s/it, unknown rate, no total, unit_scale, narrow, percent only, step words', () => {
  assert.deepEqual(parseProgressLine(' 74%|███████▍  | 37/50 [00:12<00:04,  3.10it/s]'), { done: 37, total: 50, ratePerSecond: 3.1, etaSeconds: 4, unit: 'steps' });
  assert.deepEqual(parseProgressLine('  6%|▌ | 3/50 [00:10<02:30,  3.20s/it]'), { done: 3, total: 50, ratePerSecond: 1 / 3.2, etaSeconds: 150, unit: 'steps' });
  assert.deepEqual(parseProgressLine('  0%|          | 0/5 [00:00<?, ?it/s]'), { done: 0, total: 5, ratePerSecond: null, etaSeconds: null, unit: 'steps' });
  assert.deepEqual(parseProgressLine('37it [00:12, 3.10it/s]'), { done: 37, total: null, ratePerSecond: 3.1, etaSeconds: null, unit: 'steps' });
  assert.deepEqual(parseProgressLine('Step 12/50 loss=0.1'), { done: 12, total: 50, ratePerSecond: null, etaSeconds: null, unit: 'steps' });
  assert.deepEqual(parseProgressLine('step 12 of 50'), { done: 12, total: 50, ratePerSecond: null, etaSeconds: null, unit: 'steps' });
  assert.deepEqual(parseProgressLine('100%|██| 1/1 [1:02:03<00:00, 1.2kit/s]')?.ratePerSecond, 1200);
  assert.deepEqual(parseProgressLine(' 40%|████      | 2.00M/5.00M [00:01<00:01, 2.00Mit/s]'), { done: 2_000_000, total: 5_000_000, ratePerSecond: 2_000_000, etaSeconds: 1, unit: 'steps' });
  assert.deepEqual(parseProgressLine(' 44%|████▍     | 22.0/50.0 [00:00<00:00, 171it/s]'), { done: 22, total: 50, ratePerSecond: 171, etaSeconds: 0, unit: 'steps' });
  assert.deepEqual(parseProgressLine(' 40%|▍| 20/50 [00:00<'), { done: 20, total: 50, ratePerSecond: null, etaSeconds: null, unit: 'steps' });
  assert.deepEqual(parseProgressLine(' 40%|▍| 20/50 [00:00<00:0'), { done: 20, total: 50, ratePerSecond: null, etaSeconds: null, unit: 'steps' });
  assert.deepEqual(parseProgressLine(' 20%|▏| 10/50 '), { done: 10, total: 50, ratePerSecond: null, etaSeconds: null, unit: 'steps' });
  assert.deepEqual(parseProgressLine('Sampling:  40%|████      '), { done: 40, total: 100, ratePerSecond: null, etaSeconds: null, unit: 'percent' });
  assert.equal(parseProgressLine('loaded 3/2 things'), null);
  assert.equal(parseProgressLine('epoch 1 done'), null);
  assert.equal(parseProgressLine('GPU utilisation 43% at 12/25'), null);
  assert.equal(parseProgressLine('torch 2.1/12.1 installed'), null);
});

test('byte counters and downloads are never a reading', () => {
  assert.equal(parseProgressLine('model_index.json: 100%|██████████| 541/541 [00:00<00:00, 8.45kB/s]'), null);
  assert.equal(parseProgressLine('model_index.json 541/541'), null);
  assert.equal(parseProgressLine('diffusion_pytorch_model.safetensors:  45%|████▌     | 1.55G/3.44G [00:10<00:12, 155MB/s]'), null);
  assert.equal(parseProgressLine(' 45%|████▌     | 1.55G/3.44G [00:10<00:12, 155MiB/s]'), null);
  assert.equal(parseProgressLine('  0%|          | 0.00/541 [00:00<?, ?B/s]'), null);
  assert.equal(parseProgressLine('1.55GB [00:10, 155MB/s]'), null);
  assert.equal(parseProgressLine('Fetching 15 files: 100%|██████████| 15/15 [00:00<00:00, 1234.56it/s]'), null);
  assert.equal(parseProgressLine('Downloading shards:  50%|█████     | 1/2 [00:10<00:10, 10.00s/it]'), null);
  // Loading is not a download: it is the run's own work.
  assert.deepEqual(parseProgressLine('Loading checkpoint shards:  50%|█████     | 1/2 [00:01<00:01,  1.00s/it]')?.total, 2);
});

test('Keras 2 and Keras 3 progbars', () => {
  assert.deepEqual(parseProgressLine('25/50 [=============>................] - ETA: 3s - loss: 0.6931'), { done: 25, total: 50, ratePerSecond: 25 / 3, etaSeconds: 3, unit: 'steps' });
  assert.deepEqual(parseProgressLine(' 5/500 [>.............................] - ETA: 1:02:03 - loss: 0.6931')?.etaSeconds, 3723);
  assert.deepEqual(parseProgressLine('50/50 [==============================] - 2s 40ms/step - loss: 0.4000'), { done: 50, total: 50, ratePerSecond: 25, etaSeconds: null, unit: 'steps' });
  assert.deepEqual(parseProgressLine('25/50 ━━━━━━━━━━━━━━━━━━━━ 3s 40ms/step - loss: 0.6931'), { done: 25, total: 50, ratePerSecond: 25, etaSeconds: 3, unit: 'steps' });
  assert.deepEqual(parseProgressLine('50/50 ━━━━━━━━━━━━━━━━━━━━ 2s 500us/step - loss: 0.4'), { done: 50, total: 50, ratePerSecond: 2000, etaSeconds: null, unit: 'steps' });
  assert.deepEqual(parseProgressLine('     37/Unknown 1s 40ms/step'), { done: 37, total: null, ratePerSecond: null, etaSeconds: null, unit: 'steps' });
  // `Epoch 1/3` is Keras' header, not a step.
  assert.equal(parseProgressLine('Epoch 1/3'), null);
});

test('rich bars: default columns, MofN, track', () => {
  assert.deepEqual(parseProgressLine('Generating ━━━━━━━━━━━━━━━━━╸━━━━━━━━━━━━━━━━━━━━━━  43% 0:00:03'), { done: 43, total: 100, ratePerSecond: 19, etaSeconds: 3, unit: 'percent' });
  assert.deepEqual(parseProgressLine('Working... ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━   0% -:--:--'), { done: 0, total: 100, ratePerSecond: null, etaSeconds: null, unit: 'percent' });
  assert.deepEqual(parseProgressLine('Denoising ━━━━━━━━━━━━━━━━━━━━╺━━━━━━━━━━━━━━━━━━━ 25/50 0:00:05'), { done: 25, total: 50, ratePerSecond: 5, etaSeconds: 5, unit: 'steps' });
});

test('a stream with the terminal marks, \\r redraws and ANSI colour gives the latest reading', () => {
  const p = new ProgressParser();
  p.push('\x1b]633;C\x07Loading model\r\n');
  assert.equal(p.readings, 0);
  p.push('\r  0%|          | 0/5 [00:00<?, ?it/s]');
  p.push('\r\x1b[32m 40%|████      | 2/5 [00:02<00:03,  1.00it/s]\x1b[0m');
  assert.deepEqual(p.latest, { done: 2, total: 5, ratePerSecond: 1, etaSeconds: 3, unit: 'steps' });
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
    assert.deepEqual(p.latest, { done: 3, total: 5, ratePerSecond: 1, etaSeconds: 2, unit: 'steps' }, `cut at ${cut}`);
    assert.doesNotMatch(p.tail(), /\x1b|633/, `cut at ${cut}`);
  }
  const p = new ProgressParser();
  for (const c of text) p.push(c);
  assert.equal(p.latest?.done, 3);
});

test('escape sequences the parser has no use for never hold output back', () => {
  const bar = ' 1/2 [00:01<00:01, 1.00it/s]';
  const sequences = {
    'ESC 7 (save cursor)': '\x1b7',
    'ESC 8 (restore cursor)': '\x1b8',
    'ESC ( B (character set)': '\x1b(B',
    'ESC = (keypad)': '\x1b=',
    'OSC with BEL': '\x1b]0;title\x07',
    'OSC with ST': '\x1b]8;;https://example.invalid\x1b\\',
    'DCS': '\x1bP1$r0m\x1b\\',
    'CSI with a private mode': '\x1b[?25l',
    'C1 CSI': '\x9b2K',
    'cursor up': '\x1b[A',
  };
  for (const [name, seq] of Object.entries(sequences)) {
    // The sequence first, then the bar, in one chunk; and the sequence at the end of a chunk.
    const p = new ProgressParser();
    p.push(`${seq}\r${bar}`);
    assert.equal(p.latest?.done, 1, `${name} before the bar`);
    const q = new ProgressParser();
    q.push(`\r${bar}${seq}`);
    assert.equal(q.latest?.done, 1, `${name} after the bar`);
    q.push(`\r ok`);
    assert.match(q.tail(), /ok$/, name);
    assert.doesNotMatch(q.tail(), /\x1b|\x9b/, name);
  }
  // An unterminated string is dropped after a bound, not waited for.
  const r = new ProgressParser();
  r.push('\x1b]633;' + 'y'.repeat(10000));
  r.push('\r 1/2 [00:01<00:01, 1.00it/s]');
  assert.equal(r.latest?.done, 1);
  // A broken CSI does not swallow what follows.
  const s = new ProgressParser();
  s.push('\x1b[12\r 1/2 [00:01<00:01, 1.00it/s]');
  assert.equal(s.latest?.done, 1);
});

test('redraws by absolute cursor moves (Windows ConPTY) end lines like \\r', () => {
  const p = new ProgressParser();
  p.push('\x1b[?25l\x1b[3;1H 20%|██        | 1/5 [00:01<00:04,  1.00it/s]\x1b[K\x1b[3;1H 40%|████      | 2/5 [00:02<00:03,  1.00it/s]\x1b[K\x1b[1G');
  assert.deepEqual(p.latest, { done: 2, total: 5, ratePerSecond: 1, etaSeconds: 3, unit: 'steps' });
  p.push('\x1b[3;1HLoading checkpoint shards: 100%|██| 2/2 [00:01<00:00, 2.00it/s]\x1b[K');
  // The bar of 5 was left running: the other one does not take the reading.
  assert.equal(p.latest?.total, 5);
});

test('nested bars: the outer bar keeps the reading, a lower row never takes it', () => {
  const p = new ProgressParser();
  const seen: (number | null)[] = [];
  const push = (s: string) => {
    p.push(s);
    seen.push(p.latest?.total ?? null);
  };
  push('\rEpochs:   0%|     | 0/3 [00:00<?, ?it/s]\n');
  for (let epoch = 0; epoch < 3; epoch++) {
    for (let b = 0; b <= 20; b++) push(`\n\rEpoch ${epoch}: ${b * 5}%|   | ${b}/20 [00:00<00:00, 9.00it/s]\x1b[A`);
    push(`\n\r${' '.repeat(40)}\x1b[A\rEpochs: ${epoch}|   | ${epoch + 1}/3 [00:01<00:02, 1.00it/s]`);
  }
  push('\n');
  assert.deepEqual([...new Set(seen.filter((t) => t !== null))], [3]);
  assert.equal(p.latest?.done, 3);
  // Bars one after another: each takes over once the one before has finished.
  const q = new ProgressParser();
  q.push('Loading pipeline components...: 100%|██| 7/7 [00:01<00:00, 5.00it/s]\n');
  q.push('\r  0%|          | 0/30 [00:00<?, ?it/s]\r 10%|█         | 3/30 [00:01<00:09, 3.00it/s]');
  assert.equal(q.latest?.total, 30);
  // A bar that is still running is not left for another that starts (the outer one keeps it).
  q.push('\r\nother:  50%|█████     | 1/2 [00:01<00:01, 1.00it/s]\n');
  assert.equal(q.latest?.total, 30);
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
  p.push('\r100%| | 10/10 [00:05<00:00, 1.00it/s]');
  assert.equal(p.latest?.done, 10);
  assert.ok(p.tail().length <= 4096);
  for (let i = 0; i < 20000; i++) p.push(`\r${i % 100}/100 [00:01<00:01, 9.0it/s]`);
  assert.ok(p.tail().length <= 4096);
  assert.equal(p.latest?.done, 19999 % 100);
  // An unterminated escape sequence is not held forever.
  const q = new ProgressParser();
  q.push('\x1b]633;' + 'y'.repeat(10000));
  q.push('\r 1/2 [00:01<00:01, 1.00it/s]');
  assert.equal(q.latest?.done, 1);
});

test('100 000 one-character chunks cost a bounded multiple of their length (operations counted)', () => {
  const redraws: string[] = [];
  for (let i = 0; redraws.join('').length < 100_000; i++) redraws.push(`\r${String(Math.round((i % 500) / 5)).padStart(3)}%|███▍      | ${i % 500}/500 [00:12<00:04,  3.10it/s]`);
  const bars = redraws.join('').slice(0, 100_000);
  const oneLine = '12/50 '.repeat(20_000).slice(0, 100_000);
  const noDigits = 'x'.repeat(100_000);
  for (const [name, text] of [['bar redraws', bars], ['one line never ended', oneLine], ['no digits', noDigits]] as const) {
    const p = new ProgressParser();
    for (let i = 0; i < text.length; i++) p.push(text[i] as string);
    assert.equal(text.length, 100_000);
    // Each line is read once when it ends and again only each time it has doubled: under 4 x.
    assert.ok(p.parsedChars <= 4 * text.length, `${name}: ${p.parsedChars} characters parsed for ${text.length}`);
  }
});

test('hostile output: random bytes and escapes never throw, and readings stay sane', () => {
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const alphabet = ['\x1b', '[', ']', '\x07', '\r', '\n', '\x9b', '\x9d', '/', '%', '|', '0', '9', '5', ' ', 'it/s', ':', '<', '?', '━', 'A', 'P', '\\', '(', '.', 'M', 'B'];
  const p = new ProgressParser({ tailChars: 1024 });
  for (let i = 0; i < 20_000; i++) {
    let chunk = '';
    const n = 1 + Math.floor(next() * 30);
    for (let j = 0; j < n; j++) chunk += alphabet[Math.floor(next() * alphabet.length)];
    p.push(chunk);
    const r = p.latest;
    if (r) {
      assert.ok(Number.isSafeInteger(r.done) && r.done >= 0, JSON.stringify(r));
      assert.ok(r.total === null || (Number.isSafeInteger(r.total) && r.total >= r.done && r.total > 0), JSON.stringify(r));
      assert.ok(r.ratePerSecond === null || (Number.isFinite(r.ratePerSecond) && r.ratePerSecond > 0), JSON.stringify(r));
      assert.ok(r.etaSeconds === null || (Number.isFinite(r.etaSeconds) && r.etaSeconds >= 0), JSON.stringify(r));
    }
  }
  assert.ok(p.tail().length <= 1024);
});
