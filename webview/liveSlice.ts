// What a live chart's tick draws (see lineCanvas.ts): the plot is kept between ticks on a canvas
// wider than the window, moved left by whole pixels, and a tick draws only the columns its samples
// changed, or everything when it must. Pure: the path goes to any moveTo/lineTo sink.
import { GAP, GAP_AFTER, KNOWN, LO_FIRST, type ColumnExtremes } from './columnExtremes';

export interface PathSink {
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
}

/**
 * Series `si` as one path through its columns from `fromId` to the last: per column its two
 * extremes in time order at x = id + xOffset, y = bottom - value * yScale; the line breaks at a
 * column that holds an unknown value; a lone column between gaps is a short dash.
 */
export function traceSeries(sink: PathSink, c: ColumnExtremes, si: number, series: number, fromId: number, xOffset: number, bottom: number, yScale: number): void {
  const { lo, hi, state, cap, lastId } = c;
  let run = 0; // columns drawn in the current run of known values
  let lastPx = 0;
  let lastY = 0;
  for (let id = Math.max(fromId, c.firstId); id <= lastId; id++) {
    const k = (id % cap) * series + si;
    const st = state[k] as number;
    if (st & GAP && run > 0) {
      if (run === 1) {
        sink.moveTo(lastPx - 1, lastY);
        sink.lineTo(lastPx + 1, lastY);
      }
      run = 0;
    }
    if (!(st & KNOWN)) continue;
    const px = id + xOffset;
    const a = bottom - (st & LO_FIRST ? (lo[k] as number) : (hi[k] as number)) * yScale;
    const b = bottom - (st & LO_FIRST ? (hi[k] as number) : (lo[k] as number)) * yScale;
    if (run === 0) sink.moveTo(px, a);
    else sink.lineTo(px, a);
    if (b !== a) sink.lineTo(px, b);
    run++;
    lastPx = px;
    lastY = b;
    if (st & GAP_AFTER) {
      if (run === 1 && b === a) {
        sink.moveTo(px - 1, a);
        sink.lineTo(px + 1, a);
      }
      run = 0;
    }
  }
  if (run === 1) {
    sink.moveTo(lastPx - 1, lastY);
    sink.lineTo(lastPx + 1, lastY);
  }
}

/**
 * How far left of a column's centre (CSS px) a change in the columns after it can reach: a lone
 * column's dash (1), the widest line's half (1.25), antialiasing (0.5), rounded up.
 */
export const SLICE_REACH = 3;
/** Columns between the first one traced and the cleared edge, so the trace's start lies left of it. */
const LEAD = 2 * SLICE_REACH;

/**
 * The slice a tick redraws after the columns from `changedFrom` changed: `clearFromId` is the
 * column whose centre, less SLICE_REACH, is the left edge of what is cleared and redrawn (the last
 * column before the change that holds samples: its line now goes on, or stops there); `fromId` is
 * where the trace starts, far enough left that its start does not reach the cleared area.
 */
export function slicePlan(c: ColumnExtremes, series: number, changedFrom: number): { fromId: number; clearFromId: number } {
  const sampled = (id: number): boolean => series > 0 && (c.state[(id % c.cap) * series] as number) !== 0;
  let anchor = Math.min(changedFrom, c.lastId + 1) - 1;
  while (anchor >= c.firstId && !sampled(anchor)) anchor--;
  if (anchor < c.firstId) anchor = changedFrom;
  let fromId = anchor - LEAD;
  while (fromId >= c.firstId && !sampled(fromId)) fromId--;
  return { fromId: Math.max(fromId, c.firstId), clearFromId: anchor };
}

export interface RingState {
  /** The plot kept on the ring canvas was drawn with today's layout, colours and scales. */
  drawn: boolean;
  /** Whole CSS pixels are whole device pixels (a move by a fraction would blur the plot). */
  integerDpr: boolean;
  /** ColumnExtremes.changedFrom after this tick's update. */
  changedFrom: number;
  /** The column at the window's left edge, this tick and the last drawn one. */
  base: number;
  prevBase: number;
  /** The column at the ring canvas's left edge, and its width in columns. */
  ringBase: number;
  ringCols: number;
  /** The rightmost column the ring must hold: the last column or the window's right edge. */
  rightId: number;
}

/** Why the ring must be drawn afresh on this tick, or null when the changed columns suffice. */
export function fullRedrawReason(r: RingState): string | null {
  if (!r.drawn) return 'layout, colours or scale changed';
  if (!r.integerDpr) return 'fractional device pixel ratio';
  if (r.changedFrom === Number.NEGATIVE_INFINITY) return 'the columns started again';
  if (r.base < r.prevBase || r.base - 1 < r.ringBase) return 'the window moved back';
  if (r.rightId - r.ringBase + 1 >= r.ringCols) return 'the ring is full';
  return null;
}
