// The live charts' tick-by-tick drawing (webview/liveSlice.ts): a tick clears the plot from one
// column on and traces the series from an earlier one; what it leaves and what it draws must be
// what a whole drawing of the same columns has there, with gaps, lone values and missing samples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ColumnExtremes } from '../../../webview/columnExtremes';
import { fullRedrawReason, slicePlan, SLICE_REACH, traceSeries, type PathSink, type RingState } from '../../../webview/liveSlice';
import { seededRandom } from '../helpers/seededRandom';

const WIDTH = 1_000; // ms per column
const PIXELS = 300;
/** How far a primitive's ink reaches sideways: the widest line's half (1.25) and antialiasing. */
const INK = 1.75;

/**
 * A traced path as the ink it leaves: each segment, and each point where a path turns (a round
 * join's disc; a path's first and last points have butt caps and add nothing). With each, its x extent.
 */
function ink(trace: (sink: PathSink) => void): { key: string; minX: number; maxX: number }[] {
  const paths: [number, number][][] = [];
  trace({
    moveTo: (x, y) => { paths.push([[x, y]]); },
    lineTo: (x, y) => { (paths[paths.length - 1] as [number, number][]).push([x, y]); },
  });
  const out: { key: string; minX: number; maxX: number }[] = [];
  for (const path of paths) {
    path.forEach(([x, y], i) => {
      if (i > 0 && i < path.length - 1) out.push({ key: `join ${x},${y}`, minX: x, maxX: x });
      const next = path[i + 1];
      if (next) out.push({ key: `line ${x},${y} ${next[0]},${next[1]}`, minX: Math.min(x, next[0]), maxX: Math.max(x, next[0]) });
    });
  }
  return out;
}

/** The first column from `id` on that holds a sample. */
function firstSampled(c: ColumnExtremes, series: number, id: number): number {
  while (id <= c.lastId && (c.state[(id % c.cap) * series] as number) === 0) id++;
  return id;
}

const keys = (list: { key: string }[]): string[] => list.map((p) => p.key).sort();

/** Every series of `c` traced from `fromId`, column id at x = id + 0.5, value v at y = 100 - v. */
function traceAll(c: ColumnExtremes, series: number, fromId: number) {
  return (sink: PathSink) => {
    for (let si = 0; si < series; si++) traceSeries(sink, c, si, series, fromId, 0.5, 100, 1);
  };
}

test('a tick redraws from the right place: left of the slice nothing changed, inside it the slice is the whole drawing', () => {
  for (const seed of [1, 2, 3]) {
    const rand = seededRandom(seed);
    const xs: number[] = [];
    const a: (number | null)[] = [];
    const b: (number | null)[] = [];
    const c = new ColumnExtremes();
    const cols = [{ values: a }, { values: b }];
    let t = 0;
    let sliced = 0;
    for (let tick = 0; tick < 800; tick++) {
      // Samples 0.2 to 3 columns apart, now and then none for up to 12 columns; runs of unknowns, lone values.
      const before = ink(traceAll(c, 2, c.firstId));
      const firstBefore = c.firstId;
      const n = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < n; k++) {
        t += rand() < 0.05 ? WIDTH * (3 + rand() * 9) : WIDTH * (0.2 + rand() * 2.8);
        xs.push(t);
        a.push(rand() < 0.15 ? null : Math.round(rand() * 100));
        b.push(rand() < 0.5 ? null : Math.round(rand() * 100));
      }
      c.update(xs, cols, WIDTH, t - WIDTH * PIXELS, PIXELS);
      if (c.changedFrom === Number.NEGATIVE_INFINITY || c.changedFrom > c.lastId) continue;
      const plan = slicePlan(c, 2, c.changedFrom);
      const clearX = plan.clearFromId + 0.5 - SLICE_REACH;
      const whole = ink(traceAll(c, 2, c.firstId));
      const slice = ink(traceAll(c, 2, plan.fromId));
      // Inside the cleared part: the slice's ink is the whole drawing's.
      const reaches = (p: { maxX: number }) => p.maxX + INK > clearX;
      assert.deepEqual(keys(slice.filter(reaches)), keys(whole.filter(reaches)), `seed ${seed} tick ${tick}: the slice differs from the whole drawing`);
      // Left of it, what was drawn before stays right; aside from the line into the first column held,
      // which the kept drawing still has from a column the window let go of.
      const edge = firstSampled(c, 2, Math.max(firstBefore, c.firstId)) + 0.5 + INK;
      const kept = (p: { minX: number }) => p.minX - INK < clearX && p.minX > edge;
      assert.deepEqual(keys(before.filter(kept)), keys(whole.filter(kept)), `seed ${seed} tick ${tick}: ink left of the slice changed`);
      // And the slice's own start lies left of what it redraws (its butt cap is not in the cleared part).
      if (plan.fromId > c.firstId) assert.ok(plan.fromId + 0.5 + INK < clearX, `seed ${seed} tick ${tick}: the trace starts inside the slice`);
      sliced++;
    }
    assert.ok(sliced > 700, `seed ${seed}: most ticks drew a slice (${sliced})`);
  }
});

test('the slice reaches back over empty columns to the last sampled one, however far', () => {
  const c = new ColumnExtremes();
  // Column 10, then nothing until column 40: the line from 10 to 40 is new and must be drawn whole.
  const xs = [10 * WIDTH];
  const v = [5];
  c.update(xs, [{ values: v }], WIDTH, 0, PIXELS);
  xs.push(40 * WIDTH);
  v.push(7);
  c.update(xs, [{ values: v }], WIDTH, 0, PIXELS);
  assert.equal(c.changedFrom, 40);
  const plan = slicePlan(c, 1, c.changedFrom);
  assert.equal(plan.clearFromId, 10, 'cleared from the last column sampled before the change');
  assert.ok(plan.fromId <= 10);
});

test('a tick traces only a few columns, not the plot', () => {
  const c = new ColumnExtremes();
  const xs = Array.from({ length: 600 }, (_, i) => i * 500);
  const v = xs.map((_, i) => i % 100);
  c.update(xs, [{ values: v }], WIDTH, 0, PIXELS);
  xs.push(600 * 500);
  v.push(3);
  c.update(xs, [{ values: v }], WIDTH, 0, PIXELS);
  const plan = slicePlan(c, 1, c.changedFrom);
  assert.equal(c.changedFrom, 300);
  assert.ok(c.lastId - plan.fromId <= 8, `traced from ${plan.fromId} to ${c.lastId}`);
});

test('an unknown value is a gap in the trace, never a zero; a lone value is a dash', () => {
  const c = new ColumnExtremes();
  // Columns 0, 1 known; 2 unknown; 3 known alone; 4 unknown.
  c.update([0, WIDTH, 2 * WIDTH, 3 * WIDTH, 4 * WIDTH], [{ values: [10, 20, null, 30, null] }], WIDTH, 0, PIXELS);
  assert.deepEqual(keys(ink(traceAll(c, 1, c.firstId))), ['line 0.5,90 1.5,80', 'line 2.5,70 4.5,70'].sort());
});

const steady: RingState = { drawn: true, integerDpr: true, changedFrom: 500, base: 200, prevBase: 199, ringBase: 192, ringCols: 632, rightId: 501 };

test('the ring is drawn afresh only when it must be', () => {
  assert.equal(fullRedrawReason(steady), null);
  assert.equal(fullRedrawReason({ ...steady, changedFrom: Number.POSITIVE_INFINITY }), null, 'no new sample: nothing to draw');
  assert.match(fullRedrawReason({ ...steady, drawn: false }) ?? '', /layout/);
  assert.match(fullRedrawReason({ ...steady, integerDpr: false }) ?? '', /fractional/);
  assert.match(fullRedrawReason({ ...steady, changedFrom: Number.NEGATIVE_INFINITY }) ?? '', /started again/);
  assert.match(fullRedrawReason({ ...steady, base: 198 }) ?? '', /moved back/);
  assert.match(fullRedrawReason({ ...steady, base: 192, prevBase: 190 }) ?? '', /moved back/, 'the column left of the window must be on the ring');
  assert.equal(fullRedrawReason({ ...steady, rightId: 822 }), null);
  assert.match(fullRedrawReason({ ...steady, rightId: 823 }) ?? '', /full/);
});

test('ColumnExtremes says which columns the last update wrote, and which series hold a known value', () => {
  const c = new ColumnExtremes();
  const xs = [0, WIDTH, 2 * WIDTH];
  const a: (number | null)[] = [1, 2, 3];
  const b: (number | null)[] = [null, null, null];
  c.update(xs, [{ values: a }, { values: b }], WIDTH, 0, PIXELS);
  assert.equal(c.changedFrom, Number.NEGATIVE_INFINITY, 'a first update starts the columns');
  assert.deepEqual(c.lastKnown, [2, Number.NEGATIVE_INFINITY]);
  c.update(xs, [{ values: a }, { values: b }], WIDTH, 0, PIXELS);
  assert.equal(c.changedFrom, Number.POSITIVE_INFINITY, 'nothing new');
  xs.push(2.5 * WIDTH, 5 * WIDTH);
  a.push(null, 4);
  b.push(7, null);
  c.update(xs, [{ values: a }, { values: b }], WIDTH, 0, PIXELS);
  assert.equal(c.changedFrom, 2, 'the new sample fell in the last column held');
  assert.deepEqual(c.lastKnown, [5, 2]);
  // A jump past every column held starts them again.
  xs.push(5 * WIDTH + WIDTH * (PIXELS + 10));
  a.push(1);
  b.push(1);
  c.update(xs, [{ values: a }, { values: b }], WIDTH, 5 * WIDTH + WIDTH * 10, PIXELS);
  assert.equal(c.changedFrom, Number.NEGATIVE_INFINITY);
});
