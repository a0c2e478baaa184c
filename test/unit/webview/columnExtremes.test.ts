// The live charts' per-column extremes (webview/columnExtremes.ts): kept between ticks, they must
// equal the extremes computed afresh from the same samples, keep every unknown value as a break
// (never a zero), and keep the order of the low and the high within a column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ColumnExtremes, GAP, GAP_AFTER, KNOWN, LO_FIRST } from '../../../webview/columnExtremes';
import { seededRandom } from '../helpers/seededRandom';

const WIDTH = 9_000; // ms per column: one hour over 400 pixels
const PIXELS = 400;
const SPAN = WIDTH * PIXELS;

/** Each held column of the window: id, and per series its state with lo/hi when known. */
function columnsOf(c: ColumnExtremes, series: number): string[] {
  const out: string[] = [];
  for (let id = c.firstId; id <= c.lastId; id++) {
    const parts: string[] = [];
    for (let si = 0; si < series; si++) {
      const k = (id % c.cap) * series + si;
      const st = c.state[k] as number;
      parts.push(st & KNOWN ? `${st}:${c.lo[k]}..${c.hi[k]}` : `${st}`);
    }
    out.push(`${id} ${parts.join(' ')}`);
  }
  return out;
}

test('extremes kept tick by tick, with the window sliding and old rows trimmed, equal those built afresh', () => {
  const rand = seededRandom(13);
  const xs: number[] = [];
  const a: (number | null)[] = [];
  const b: (number | null)[] = [];
  const value = () => (rand() < 0.05 ? null : Math.round(rand() * 1000) / 10);
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < 3600; i++) {
    xs.push(t0 + i * 1000);
    a.push(value());
    b.push(value());
  }
  const kept = new ColumnExtremes();
  const cols = [{ values: a }, { values: b }];
  for (let tick = 0; tick < 700; tick++) {
    const now = t0 + (3600 + tick) * 1000;
    xs.push(now);
    a.push(value());
    b.push(value());
    // As liveCharts trims: rows older than the window go, one is kept.
    let drop = 0;
    while (drop + 1 < xs.length && (xs[drop + 1] as number) < now - SPAN) drop++;
    xs.splice(0, drop);
    a.splice(0, drop);
    b.splice(0, drop);
    kept.update(xs, cols, WIDTH, now - SPAN, PIXELS);
  }
  const now = xs[xs.length - 1] as number;
  const fresh = new ColumnExtremes();
  fresh.update(xs.slice(), [{ values: a.slice() }, { values: b.slice() }], WIDTH, now - SPAN, PIXELS);
  assert.equal(kept.lastId, fresh.lastId);
  assert.ok(kept.lastId - kept.firstId > 390, 'the whole window is held');
  // The kept ring may hold one column more on the left (it forgets columns only as the window passes them).
  const freshCols = columnsOf(fresh, 2);
  const keptCols = columnsOf(kept, 2).slice(-freshCols.length + 1);
  assert.deepEqual(keptCols, freshCols.slice(1));
});

test('an unknown value breaks the line and is never held as a value', () => {
  const c = new ColumnExtremes();
  // Columns 0..3 of WIDTH: known, all unknown, unknown then known, known then unknown.
  const xs = [0, 1000, WIDTH, WIDTH + 1000, 2 * WIDTH, 2 * WIDTH + 1000, 3 * WIDTH, 3 * WIDTH + 1000];
  const ys = [10, 20, null, null, null, 30, 40, null];
  c.update(xs, [{ values: ys }], WIDTH, 0, PIXELS);
  const st = (id: number) => c.state[id % c.cap] as number;
  assert.equal(st(0) & (KNOWN | GAP | GAP_AFTER), KNOWN);
  assert.equal([c.lo[0], c.hi[0]].join(), '10,20');
  assert.equal(st(1) & KNOWN, 0, 'a column of unknowns holds no value (not a 0)');
  assert.ok(st(1) & GAP);
  assert.equal(st(2) & (KNOWN | GAP), KNOWN | GAP, 'known after a gap: the line starts again here');
  assert.equal(st(3) & (KNOWN | GAP_AFTER), KNOWN | GAP_AFTER, 'known before a gap: the line stops here');
});

test('a column keeps whether its low came before its high', () => {
  const c = new ColumnExtremes();
  c.update([0, 1000, 2000, WIDTH, WIDTH + 1000], [{ values: [50, 10, 90, 50, 20] }], WIDTH, 0, PIXELS);
  assert.equal([c.lo[0], c.hi[0]].join(), '10,90');
  assert.ok((c.state[0] as number) & LO_FIRST, '10 came before 90');
  assert.equal([c.lo[1], c.hi[1]].join(), '20,50');
  assert.equal((c.state[1] as number) & LO_FIRST, 0, '50 came before 20');
});

test('new data (another array, another width) starts the columns again', () => {
  const c = new ColumnExtremes();
  c.update([0, 1000], [{ values: [1, 2] }], WIDTH, 0, PIXELS);
  c.update([0, 1000], [{ values: [5, 6] }], WIDTH, 0, PIXELS);
  assert.equal([c.lo[0], c.hi[0]].join(), '5,6');
  c.update([0, 1000], [{ values: [5, 6] }], 500, 0, PIXELS);
  assert.equal(c.lastId, 2, 'columns of 500 ms: 1000 ms falls in the third');
});
