// Real captures of tqdm 4.64 and rich 13.3 (Debian's packages, through a pty and through a pipe) and
// Keras progbars written from Keras' format (test/fixtures/progress/README.md says how each was
// made), fed to the parser whole, one character at a time and in seeded random chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProgressParser, type ProgressReading } from '../../../src/core/runs/progress';
import { seededRandom as random } from '../helpers/seededRandom';

const DIR = join(__dirname, '..', '..', 'fixtures', 'progress');

interface Expectation {
  file: string;
  /** The reading once everything is read. */
  final: Pick<ProgressReading, 'done' | 'total' | 'unit'>;
  /** The bars the reading followed, in order (`total` or `%` for percent-only): never back to one left. */
  phases: (number | null | '%')[];
  largestTotal: number | null;
  /** Every reading seen on the way, when the fixture has bars that must never show. */
  each?: (r: ProgressReading) => boolean;
}

const steps = (done: number, total: number | null) => ({ done, total, unit: 'steps' as const });
const percent = (done: number) => ({ done, total: 100, unit: 'percent' as const });

const CASES: Expectation[] = [];
for (const kind of ['pty', 'pipe']) {
  CASES.push(
    { file: `tqdm-default.${kind}.txt`, final: steps(50, 50), phases: [50], largestTotal: 50 },
    // unit_scale: `2.00M/5.00M` then `22.0/50.0`.
    { file: `tqdm-unit-scale.${kind}.txt`, final: steps(50, 50), phases: [5_000_000, 50], largestTotal: 5_000_000 },
    // ncols=30 (`20/50 [00:00<00:00, 18`) then ncols=14 (`10/30 `).
    { file: `tqdm-narrow.${kind}.txt`, final: steps(30, 30), phases: [50, 30], largestTotal: 50 },
    { file: `tqdm-no-total.${kind}.txt`, final: steps(37, null), phases: [null], largestTotal: null },
    // Epochs (3) outside, batches (20, position=1, leave=False) inside: only the epochs show.
    { file: `tqdm-nested.${kind}.txt`, final: steps(3, 3), phases: [3], largestTotal: 3, each: (r) => r.total === 3 },
    { file: `tqdm-percent-only.${kind}.txt`, final: percent(100), phases: ['%'], largestTotal: null },
    // Downloads (a file counter, byte counters 541 B, 1.68 kB, 3.20 GB) never show; loading 7/7, then 30 steps.
    { file: `model-download.${kind}.txt`, final: steps(30, 30), phases: [7, 30], largestTotal: 30, each: (r) => r.total === 7 || r.total === 30 },
    // The training bar (40) stays while the evaluation bars (8) come and go.
    { file: `trainer-style.${kind}.txt`, final: steps(40, 40), phases: [40], largestTotal: 40, each: (r) => r.total === 40 },
    { file: `rich-default.${kind}.txt`, final: percent(100), phases: ['%'], largestTotal: null },
    { file: `rich-mofn.${kind}.txt`, final: steps(50, 50), phases: [50], largestTotal: 50 },
    { file: `rich-track.${kind}.txt`, final: percent(100), phases: ['%'], largestTotal: null },
    // Epochs (3) above batches (20): only the epochs' percentages show.
    { file: `rich-nested.${kind}.txt`, final: percent(100), phases: ['%'], largestTotal: null, each: (r) => [0, 33, 67, 100].includes(r.done) },
  );
}
CASES.push(
  { file: 'keras2.tty.txt', final: steps(50, 50), phases: [50], largestTotal: 50 },
  { file: 'keras2.pipe.txt', final: steps(50, 50), phases: [50], largestTotal: 50 },
  // Three epochs of 50 steps, then a progbar without a target.
  { file: 'keras3.tty.txt', final: steps(37, null), phases: [50, null], largestTotal: 50 },
);


function chunkings(text: string): { name: string; chunks: string[] }[] {
  const out = [{ name: 'whole', chunks: [text] }, { name: 'per character', chunks: [...text] }];
  for (const seed of [1, 2, 3, 42]) {
    const next = random(seed);
    const chunks: string[] = [];
    for (let i = 0; i < text.length; ) {
      const size = 1 + Math.floor(next() * (next() < 0.5 ? 8 : 200));
      chunks.push(text.slice(i, i + size));
      i += size;
    }
    out.push({ name: `random chunks (seed ${seed})`, chunks });
  }
  return out;
}

function phaseOf(r: ProgressReading): number | null | '%' {
  return r.unit === 'percent' ? '%' : r.total;
}

for (const c of CASES) {
  test(`${c.file}: the right reading, steady, however the output is cut`, () => {
    const text = readFileSync(join(DIR, c.file), 'utf8');
    for (const { name, chunks } of chunkings(text)) {
      const p = new ProgressParser();
      const phases: (number | null | '%')[] = [];
      for (const chunk of chunks) {
        p.push(chunk);
        const r = p.latest;
        if (!r) continue;
        if (c.each) assert.ok(c.each(r), `${name}: reading ${JSON.stringify(r)} should not show`);
        const phase = phaseOf(r);
        if (phases[phases.length - 1] !== phase) phases.push(phase);
      }
      const last = p.latest;
      assert.deepEqual(last && { done: last.done, total: last.total, unit: last.unit }, c.final, name);
      // Read whole, only the last reading is seen.
      if (chunks.length > 1) assert.deepEqual(phases, c.phases, `${name}: the reading followed ${JSON.stringify(phases)}`);
      assert.equal(p.largestTotal, c.largestTotal, name);
      assert.doesNotMatch(p.tail(), /\x1b/, name);
    }
  });
}

test('the formats of the issue, read from the fixtures\' own lines', () => {
  const text = (file: string) => readFileSync(join(DIR, file), 'utf8');
  // Each of these strings is in a capture; the parser reads the line that holds it.
  const lineWith = (file: string, needle: string): string => {
    const line = text(file)
      .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
      .split(/\r\n|\r|\n/)
      .find((l) => l.includes(needle));
    assert.ok(line, `${file} holds ${needle}`);
    return line;
  };
  const read = (line: string) => {
    const p = new ProgressParser();
    p.push(`${line}\r`);
    return p.latest;
  };
  assert.deepEqual(read(lineWith('tqdm-unit-scale.pty.txt', '2.00M/5.00M')) && { ...read(lineWith('tqdm-unit-scale.pty.txt', '2.00M/5.00M')), ratePerSecond: null }, { done: 2_000_000, total: 5_000_000, ratePerSecond: null, etaSeconds: 0, unit: 'steps' });
  assert.equal(read(lineWith('tqdm-unit-scale.pipe.txt', '22.0/50.0'))?.done, 22);
  assert.deepEqual(read(lineWith('tqdm-narrow.pty.txt', '20/50 [00:00<')), { done: 20, total: 50, ratePerSecond: null, etaSeconds: 0, unit: 'steps' });
  assert.equal(read(lineWith('model-download.pipe.txt', 'model_index.json: 100%|██████████| 541/541')), null);
  assert.equal(read(lineWith('model-download.pipe.txt', 'Fetching 3 files:  67%')), null);
});
