// The live charts' per-pixel-column extremes, kept between ticks so that a tick costs the new
// samples and the columns on screen, not the hour of samples held (see lineCanvas.ts).

/** The column holds a known value. */
export const KNOWN = 1;
/** Its lowest value came before its highest. */
export const LO_FIRST = 2;
/** An unknown value came before the column's known ones (the line breaks before it). */
export const GAP = 4;
/** An unknown value came after the column's known ones (the line breaks after it). */
export const GAP_AFTER = 8;

/**
 * Each series' lowest and highest value per column of `width` ms (column id = floor(t / width),
 * so a column keeps its samples as the window slides), in typed arrays used as a ring by column
 * id. A tick adds the samples after the last one seen and forgets the columns left of the
 * window; new columns (another width, other data) start it again.
 */
export class ColumnExtremes {
  lo = new Float64Array(0);
  hi = new Float64Array(0);
  state = new Uint8Array(0);
  cap = 0;
  width = 0;
  firstId = 0;
  lastId = -1;
  /**
   * The first column the last update wrote (+Infinity: none; -Infinity: the columns started
   * again), so a drawing kept from the previous tick needs only the columns from there on.
   */
  changedFrom = Number.POSITIVE_INFINITY;
  /** Per series, the last column that holds a known value (-Infinity: none). */
  lastKnown: number[] = [];
  private lastX = Number.NEGATIVE_INFINITY;
  private xs: readonly number[] | null = null;
  private sources: readonly (readonly (number | null)[])[] = [];

  /** `pixels`: the columns the window holds. */
  update(xs: readonly number[], columns: readonly { values: readonly (number | null)[] }[], width: number, xMin: number, pixels: number): void {
    const series = columns.length;
    const same = xs === this.xs && width === this.width && series === this.sources.length && columns.every((c, i) => c.values === this.sources[i]);
    const lastX = xs[xs.length - 1] ?? Number.NEGATIVE_INFINITY;
    this.changedFrom = Number.POSITIVE_INFINITY;
    if (!same || lastX < this.lastX) {
      this.changedFrom = Number.NEGATIVE_INFINITY;
      this.lastKnown = columns.map(() => Number.NEGATIVE_INFINITY);
      this.xs = xs;
      this.sources = columns.map((c) => c.values);
      this.width = width;
      this.cap = pixels + 4;
      this.lo = new Float64Array(this.cap * series);
      this.hi = new Float64Array(this.cap * series);
      this.state = new Uint8Array(this.cap * series);
      this.lastX = Number.NEGATIVE_INFINITY;
      this.firstId = 0;
      this.lastId = -1;
    }
    // Columns left of the window (one is kept, so the line enters from the left edge).
    const keepFrom = Math.floor(xMin / width) - 1;
    if (keepFrom > this.firstId) this.firstId = Math.min(keepFrom, this.lastId + 1);
    let i = upperBound(xs, this.lastX);
    const start = lowerBound(xs, keepFrom * width);
    if (i < start) i = start;
    const { lo, hi, state } = this;
    for (; i < xs.length; i++) {
      const t = xs[i] as number;
      const id = Math.floor(t / width);
      if (id > this.lastId) this.open(id, series);
      if (id < this.changedFrom) this.changedFrom = id;
      const base = (id % this.cap) * series;
      for (let si = 0; si < series; si++) {
        const v = (columns[si] as { values: readonly (number | null)[] }).values[i];
        const k = base + si;
        const st = state[k] as number;
        if (v === null || v === undefined || !Number.isFinite(v)) {
          state[k] = st & KNOWN ? st | GAP_AFTER : st | GAP;
          continue;
        }
        if (st & GAP_AFTER) {
          // Known again after a gap inside the column: the column is drawn as broken on both sides.
          state[k] = (st & ~GAP_AFTER) | GAP;
        }
        this.lastKnown[si] = id;
        if (!(st & KNOWN)) {
          lo[k] = hi[k] = v;
          state[k] = (state[k] as number) | KNOWN | LO_FIRST;
        } else if (v < (lo[k] as number)) {
          lo[k] = v;
          state[k] = (state[k] as number) & ~LO_FIRST;
        } else if (v > (hi[k] as number)) {
          hi[k] = v;
          state[k] = (state[k] as number) | LO_FIRST;
        }
      }
      this.lastX = t;
    }
  }

  /** Starts column `id`, clearing the slots of the ids skipped (none when it follows the last). */
  private open(id: number, series: number): void {
    if (this.lastId < this.firstId || id - this.lastId >= this.cap) {
      // Nothing held, or every column held is older than the ring: start empty.
      this.state.fill(0);
      this.firstId = id;
      this.changedFrom = Number.NEGATIVE_INFINITY;
    } else {
      for (let c = this.lastId + 1; c <= id; c++) this.state.fill(0, (c % this.cap) * series, (c % this.cap) * series + series);
    }
    this.lastId = id;
    if (id - this.firstId + 1 > this.cap) this.firstId = id - this.cap + 1;
  }
}

/** The first index whose value is above x (xs ascending). */
function upperBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((xs[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose value is at least x (xs ascending). */
export function lowerBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((xs[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
