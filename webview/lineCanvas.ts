// The live time-series charts (GPU, VRAM, CPU and RAM), drawn straight onto canvases: the
// per-second path of the dashboard. Three layers in the chart's box: the chart's own canvas holds
// what moves only with the layout (grid, y labels, threshold lines, drawn once per resize, theme or
// threshold change); over its plot area a clipped canvas wider than the window (the ring) holds the
// series, moved left by whole pixels with a CSS transform as time passes, so a tick draws only the
// columns its samples changed (liveSlice.ts); under the plot the x labels are spans, moved when the
// window has moved a pixel, their text set only when it changes. Each series keeps its lowest and
// highest value per pixel column (columnExtremes.ts). Unknown values are gaps, never zeros. The
// legend is HTML, the tooltip a DOM box with the values at the cursor, and the canvas's aria-label
// says the latest values in words.
import { drawThresholdLines, renderLegend, type ChartTheme, type SeriesSpec, type ThresholdLine } from './charts';
import { ColumnExtremes, lowerBound } from './columnExtremes';
import { fullRedrawReason, slicePlan, SLICE_REACH, traceSeries } from './liveSlice';
import { formatTick, timeTicks } from './viewModel';

export interface LiveChartOptions {
  /** The y axis runs from 0 to this (100 for percent). */
  yMax: number;
  yFormat: (v: number) => string;
  /** Tooltip and summary text per series. */
  valueText: (seriesIndex: number, y: number) => string;
  ariaLabel: string;
}

/** One series' values, one per timestamp; the plotted value is the stored one times `scale` (1 by default). */
export interface LiveColumn {
  values: readonly (number | null)[];
  scale?: number;
}

interface Layout {
  width: number;
  height: number;
  dpr: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  /** The plot area's width and height in CSS px (whole numbers; one column per px). */
  plotW: number;
  plotH: number;
  /** The ring canvas's width in columns. */
  ringCols: number;
}

const Y_TICKS = 4;
/** Columns the ring keeps left of the window's first when it is drawn afresh. */
const RING_MARGIN = 8;

export class LiveLineChart {
  readonly emptyNote: HTMLElement = document.createElement('p');
  readonly legend: HTMLElement = document.createElement('ul');
  private readonly tip: HTMLElement = document.createElement('div');
  private readonly ctx: CanvasRenderingContext2D;
  /** Clips the ring to the plot area. */
  private readonly plotBox = document.createElement('div');
  private readonly ring = document.createElement('canvas');
  private readonly ringCtx: CanvasRenderingContext2D;
  /** The x labels: spans moved with transforms, their text set only when it changes. */
  private readonly axis = document.createElement('div');
  private labels: { node: Text; span: HTMLElement; text: string; x: number }[] = [];
  private specs: SeriesSpec[] = [];
  private thresholds: ThresholdLine[] = [];
  private layout: Layout | null = null;
  private font = '';
  private xs: readonly number[] = [];
  private columns: LiveColumn[] = [];
  private readonly extremes = new ColumnExtremes();
  private xMin = 0;
  private xMax = 1;
  /** The window as drawn: its left edge snapped to a column, and ms per column. */
  private viewMin = 0;
  private colMs = 1;
  /** The column at the window's left edge, the ring's first column, and the ring's shift shown. */
  private base = Number.NaN;
  private ringBase = 0;
  private shift = Number.NaN;
  /** What the ring was drawn with (line width, then each series' colour and y scale); empty when it must be drawn afresh. */
  private drawnStyle: number[] = [];
  private axisKey = '';
  /** Half the width of each x label drawn with this layout's font. */
  private readonly labelHalf = new Map<string, number>();
  private onScreen = true;
  private dirty = false;
  private hoverX: number | null = null;
  /** The tooltip's content shown, its time's x, and its placement waiting for a frame. */
  private tipKey = '';
  private tipX = 0;
  private tipFrame = 0;
  private label = '';
  private readonly resizeObserver: ResizeObserver;
  private readonly intersectionObserver: IntersectionObserver;

  constructor(readonly canvas: HTMLCanvasElement, private readonly opts: LiveChartOptions, private theme: ChartTheme) {
    this.legend.className = 'legend';
    this.emptyNote.className = 'chart-empty hidden';
    this.tip.className = 'chart-tip hidden';
    this.tip.setAttribute('aria-hidden', 'true');
    canvas.setAttribute('role', 'img');
    this.setLabel(opts.ariaLabel);
    // Out of the box's flow, so its size follows the page and never the canvas's.
    canvas.style.display = 'block';
    canvas.style.position = 'absolute';
    canvas.style.left = '0';
    canvas.style.top = '0';
    // The ring and the x labels lie over the canvas; the pointer goes through them to it.
    for (const layer of [this.plotBox, this.axis]) {
      layer.setAttribute('aria-hidden', 'true');
      layer.style.position = 'absolute';
      layer.style.pointerEvents = 'none';
    }
    this.plotBox.style.overflow = 'hidden';
    this.axis.style.left = '0';
    this.axis.style.whiteSpace = 'nowrap';
    this.axis.style.lineHeight = '1';
    this.ring.style.display = 'block';
    this.ring.style.position = 'absolute';
    this.ring.style.left = '0';
    this.ring.style.top = '0';
    this.ring.style.willChange = 'transform';
    this.plotBox.appendChild(this.ring);
    const context = (c: HTMLCanvasElement): CanvasRenderingContext2D => {
      const ctx = c.getContext('2d');
      if (!ctx) throw new Error('no 2D canvas context');
      return ctx;
    };
    this.ctx = context(canvas);
    this.ringCtx = context(this.ring);
    this.applyFont();
    this.resizeObserver = new ResizeObserver(() => {
      this.layout = null;
      this.draw();
    });
    this.intersectionObserver = new IntersectionObserver((entries) => {
      const entry = entries[entries.length - 1];
      if (!entry) return;
      this.onScreen = entry.isIntersecting;
      if (this.onScreen && this.dirty) this.draw();
    });
    this.intersectionObserver.observe(canvas);
    // The canvas is in its box already (the skeleton is built first): watch the box, host the layers and the tooltip.
    const box = canvas.parentElement;
    if (box) {
      canvas.after(this.plotBox, this.axis);
      box.appendChild(this.tip);
      this.resizeObserver.observe(box);
    }
    canvas.addEventListener('mousemove', (e) => {
      this.hoverX = e.offsetX;
      this.showTip();
    });
    canvas.addEventListener('mouseleave', () => {
      this.hoverX = null;
      this.tip.classList.add('hidden');
    });
  }

  setSeries(specs: SeriesSpec[]): void {
    const same = specs.length === this.specs.length && specs.every((s, i) => s.label === this.specs[i]?.label && s.colour === this.specs[i]?.colour);
    if (same) return;
    this.specs = specs;
    renderLegend(this.legend, specs);
  }

  setThresholds(lines: ThresholdLine[]): void {
    const same = lines.length === this.thresholds.length && lines.every((l, i) => l.value === this.thresholds[i]?.value && l.label === this.thresholds[i]?.label);
    if (same) return;
    this.thresholds = lines;
    this.layout = null;
  }

  applyTheme(theme: ChartTheme): void {
    this.theme = theme;
    this.applyFont();
    this.layout = null;
    this.draw();
  }

  /** Sets what to draw (xs ascending; each column one value per x) and draws it when on screen. */
  setData(xs: readonly number[], columns: LiveColumn[], xMin: number, xMax: number): void {
    this.xs = xs;
    this.columns = columns;
    this.xMin = xMin;
    this.xMax = xMax;
    this.draw();
  }

  private applyFont(): void {
    this.font = `${Math.max(10, this.theme.fontSize - 2)}px ${this.theme.fontFamily}`;
  }

  private draw(): void {
    if (!this.onScreen) {
      this.dirty = true;
      return;
    }
    this.dirty = false;
    const dpr = window.devicePixelRatio || 1;
    if (!this.layout || this.layout.dpr !== dpr) this.layout = this.computeLayout(dpr);
    const l = this.layout;
    if (!l) return;
    const span = this.xMax - this.xMin;
    let known = false;
    if (span > 0 && this.xs.length > 0) {
      this.colMs = span / l.plotW;
      this.extremes.update(this.xs, this.columns, this.colMs, this.xMin, l.plotW);
      const base = Math.floor(this.xMin / this.colMs);
      this.viewMin = base * this.colMs;
      known = this.drawPlot(l, base);
      this.drawXAxis(l, base, span);
    } else {
      this.clearPlot();
      this.clearAxis();
    }
    this.emptyNote.classList.toggle('hidden', known);
    if (!known && this.emptyNote.textContent !== 'No figures recorded') this.emptyNote.textContent = 'No figures recorded';
    this.setLabel(this.summary());
    if (this.hoverX !== null) this.showTip();
  }

  /** The plot area from the box's size; the layers sized and placed; grid, y labels and thresholds drawn. */
  private computeLayout(dpr: number): Layout | null {
    const box = this.canvas.parentElement;
    const width = box?.clientWidth ?? 0;
    const height = box?.clientHeight ?? 0;
    if (width <= 0 || height <= 0) return null;
    this.drawnStyle = [];
    this.axisKey = '';
    this.labelHalf.clear();
    const ctx = this.ctx;
    sizeCanvas(this.canvas, width, height, dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.font = this.font;
    const labels = Array.from({ length: Y_TICKS + 1 }, (_, i) => this.opts.yFormat((this.opts.yMax * i) / Y_TICKS));
    const labelWidth = Math.max(...labels.map((t) => ctx.measureText(t).width));
    const fontPx = Math.max(10, this.theme.fontSize - 2);
    const left = Math.ceil(labelWidth) + 10;
    const right = width - 8;
    const top = Math.ceil(fontPx / 2) + 2;
    const bottom = height - fontPx - 10;
    const plotW = right - left;
    const l: Layout = { width, height, dpr, left, right, top, bottom, plotW, plotH: bottom - top, ringCols: 2 * plotW + 2 * RING_MARGIN };
    ctx.clearRect(0, 0, width, height);
    if (l.plotW < 20 || l.plotH < 20) return null;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    ctx.lineWidth = 1;
    labels.forEach((text, i) => {
      const y = Math.round(this.yPixel(l, (this.opts.yMax * i) / Y_TICKS)) + 0.5;
      ctx.strokeStyle = this.theme.grid;
      ctx.beginPath();
      ctx.moveTo(l.left, y);
      ctx.lineTo(l.right, y);
      ctx.stroke();
      ctx.fillStyle = this.theme.muted;
      ctx.fillText(text, l.left - 6, y);
    });
    drawThresholdLines(ctx, l, this.thresholds, (v) => this.yPixel(l, v), this.theme);
    // The plot area with a pixel above and below (a line at 0 or 100 % is drawn whole), as the clip was.
    Object.assign(this.plotBox.style, { left: `${l.left}px`, top: `${l.top - 1}px`, width: `${plotW}px`, height: `${l.plotH + 2}px` });
    sizeCanvas(this.ring, l.ringCols, l.plotH + 2, dpr);
    this.shift = Number.NaN;
    // The x labels 6 px under the plot (the top of a line-height 1 box is a pixel above the glyphs' top
    // as the canvas drew them), in the canvas's font, which also measures them.
    Object.assign(this.axis.style, { top: `${l.bottom + 5}px`, font: this.font, color: this.theme.muted });
    ctx.font = this.font;
    return l;
  }

  private yPixel(l: Layout, v: number): number {
    return l.bottom - (v / this.opts.yMax) * (l.bottom - l.top);
  }

  /**
   * Round times, one label per 80 px at most, kept inside the canvas; placed again only when the
   * window moved a pixel, and a label's text set only when it changed.
   */
  private drawXAxis(l: Layout, base: number, span: number): void {
    const key = `${base} ${span}`;
    if (key === this.axisKey) return;
    this.axisKey = key;
    const ticks = timeTicks(this.viewMin, this.viewMin + span, Math.min(Math.max(2, Math.floor(l.plotW / 80)), 6));
    ticks.forEach((t, i) => {
      const text = formatTick(t, span);
      let half = this.labelHalf.get(text);
      if (half === undefined) {
        if (this.labelHalf.size > 64) this.labelHalf.clear();
        half = this.ctx.measureText(text).width / 2;
        this.labelHalf.set(text, half);
      }
      const x = Math.round(Math.min(l.width - half, Math.max(half, this.xPixel(l, t))) - half);
      let label = this.labels[i];
      if (!label) {
        const node = document.createTextNode(text);
        const el = document.createElement('span');
        el.style.position = 'absolute';
        el.style.left = '0';
        el.style.top = '0';
        el.appendChild(node);
        this.axis.appendChild(el);
        label = { node, span: el, text, x: Number.NaN };
        this.labels.push(label);
      }
      if (label.text !== text) {
        label.text = text;
        label.node.data = text;
      }
      if (label.x !== x) {
        label.x = x;
        label.span.style.transform = `translateX(${x}px)`;
      }
    });
    this.removeLabels(ticks.length);
  }

  private clearAxis(): void {
    this.axisKey = '';
    this.removeLabels(0);
  }

  /** Keeps the first `count` labels. */
  private removeLabels(count: number): void {
    while (this.labels.length > count) this.labels.pop()?.span.remove();
  }

  private clearPlot(): void {
    this.ringCtx.setTransform(1, 0, 0, 1, 0, 0);
    this.ringCtx.clearRect(0, 0, this.ring.width, this.ring.height);
    this.drawnStyle = [];
  }

  /** Where time x is on the canvas (CSS px), in the window as drawn. */
  private xPixel(l: Layout, x: number): number {
    return l.left + (x - this.viewMin) / this.colMs;
  }

  /**
   * The series on the ring: column id at x = id - ringBase + 0.5 of the ring, the ring moved left
   * by (base - ringBase) px. A tick traces the columns its samples changed, over the slice it
   * cleared; the ring is drawn afresh when liveSlice's fullRedrawReason says so. Says whether any
   * value is known.
   */
  private drawPlot(l: Layout, base: number): boolean {
    const c = this.extremes;
    const series = this.columns.length;
    const lineWidth = this.theme.highContrast ? 2.5 : 1.5;
    const style = this.drawnStyle;
    let drawn = style.length === 1 + 2 * series && style[0] === lineWidth;
    style.length = 1 + 2 * series;
    style[0] = lineWidth;
    for (let si = 0; si < series; si++) {
      const colour = this.specs[si]?.colour ?? -1;
      const yScale = (l.plotH / this.opts.yMax) * (this.columns[si]?.scale ?? 1);
      // NaN (a scale not known) never equals itself: such a series is not drawn; held as -Infinity.
      const y = Number.isFinite(yScale) ? yScale : Number.NEGATIVE_INFINITY;
      if (style[1 + 2 * si] !== colour || style[2 + 2 * si] !== y) drawn = false;
      style[1 + 2 * si] = colour;
      style[2 + 2 * si] = y;
    }
    const reason = fullRedrawReason({
      drawn, integerDpr: Number.isInteger(l.dpr), changedFrom: c.changedFrom,
      base, prevBase: this.base, ringBase: this.ringBase, ringCols: l.ringCols, rightId: Math.max(c.lastId, base + l.plotW + 1),
    });
    const ctx = this.ringCtx;
    let fromId = c.firstId;
    let clearX = 0; // device px
    if (reason !== null) {
      // At a fractional pixel ratio the ring is drawn whole every tick and never moved (a move by a
      // fraction of a device pixel would blur it).
      this.ringBase = Number.isInteger(l.dpr) ? base - RING_MARGIN : base;
    } else if (c.changedFrom <= c.lastId) {
      const plan = slicePlan(c, series, c.changedFrom);
      fromId = plan.fromId;
      clearX = Math.max(0, Math.floor((plan.clearFromId - this.ringBase + 0.5 - SLICE_REACH) * l.dpr));
    } else {
      clearX = -1; // nothing new
    }
    this.base = base;
    if (clearX >= 0) {
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(clearX, 0, this.ring.width - clearX, this.ring.height);
      ctx.save();
      ctx.beginPath();
      ctx.rect(clearX, 0, this.ring.width - clearX, this.ring.height);
      ctx.clip();
      ctx.setTransform(l.dpr, 0, 0, l.dpr, 0, 0);
      ctx.lineWidth = lineWidth;
      ctx.lineJoin = 'round';
      const xOffset = 0.5 - this.ringBase;
      for (let si = 0; si < series; si++) {
        const spec = this.specs[si];
        const yScale = style[2 + 2 * si] as number;
        if (!spec || !Number.isFinite(yScale)) continue;
        ctx.strokeStyle = this.theme.series[spec.colour % this.theme.series.length] as string;
        ctx.beginPath();
        traceSeries(ctx, c, si, series, fromId, xOffset, l.plotH + 1, yScale);
        ctx.stroke();
      }
      ctx.restore();
    }
    const shift = base - this.ringBase;
    if (shift !== this.shift) {
      this.shift = shift;
      this.ring.style.transform = `translateX(${-shift}px)`;
    }
    let known = false;
    for (let si = 0; si < series; si++) {
      if (this.specs[si] && Number.isFinite(style[2 + 2 * si]) && (c.lastKnown[si] ?? Number.NEGATIVE_INFINITY) >= c.firstId) known = true;
    }
    return known;
  }

  /** The value of each series at the last timestamp, in words. */
  private summary(): string {
    const i = this.xs.length - 1;
    if (i < 0) return this.opts.ariaLabel;
    const parts = this.specs.map((s, si) => `${s.label} ${this.valueAt(si, i)}`);
    return `${this.opts.ariaLabel}. Latest: ${parts.join(', ')}`;
  }

  private valueAt(si: number, i: number): string {
    const column = this.columns[si];
    const raw = column?.values[i];
    if (raw === null || raw === undefined || !Number.isFinite(raw)) return 'N/A';
    const y = raw * (column?.scale ?? 1);
    return Number.isFinite(y) ? this.opts.valueText(si, y) : 'N/A';
  }

  private setLabel(text: string): void {
    if (text === this.label) return;
    this.label = text;
    this.canvas.setAttribute('aria-label', text);
  }

  /** The time under the pointer and each series' value there, in a box beside the pointer. */
  private showTip(): void {
    const l = this.layout;
    const px = this.hoverX;
    if (!l || px === null || px < l.left || px > l.right || this.xs.length === 0) {
      this.tip.classList.add('hidden');
      return;
    }
    const x = this.viewMin + (px - l.left) * this.colMs;
    let i = lowerBound(this.xs, x);
    if (i >= this.xs.length || (i > 0 && x - (this.xs[i - 1] as number) < (this.xs[i] as number) - x)) i--;
    const t = this.xs[i] as number;
    if (t < this.viewMin) {
      this.tip.classList.add('hidden');
      return;
    }
    const title = formatTick(t, 1);
    const rows = this.specs.map((s, si) => ` ${s.label}: ${this.valueAt(si, i)}`);
    const key = `${title}\u0000${this.specs.map((s) => s.colour).join()}\u0000${rows.join('\u0000')}`;
    if (key !== this.tipKey) {
      this.tipKey = key;
      while (this.tip.firstChild) this.tip.removeChild(this.tip.firstChild);
      const head = document.createElement('div');
      head.className = 'chart-tip-title';
      head.textContent = title;
      this.tip.appendChild(head);
      this.specs.forEach((s, si) => {
        const row = document.createElement('div');
        const swatch = document.createElement('span');
        swatch.className = `swatch c${s.colour % 6}`;
        row.append(swatch, document.createTextNode(rows[si] as string));
        this.tip.appendChild(row);
      });
    }
    this.tip.classList.remove('hidden');
    this.tipX = this.xPixel(l, t);
    // Placed in the next frame, when the page is laid out anyway: reading the tip's width now would
    // lay the page out in the middle of a tick.
    if (this.tipFrame === 0) {
      this.tipFrame = requestAnimationFrame(() => {
        this.tipFrame = 0;
        const lay = this.layout;
        if (!lay || this.tip.classList.contains('hidden')) return;
        const w = this.tip.offsetWidth;
        const tx = this.tipX;
        this.tip.style.left = `${tx + 12 + w > lay.width ? Math.max(0, tx - 12 - w) : tx + 12}px`;
        this.tip.style.top = `${lay.top}px`;
      });
    }
  }

  destroy(): void {
    if (this.tipFrame !== 0) cancelAnimationFrame(this.tipFrame);
    this.resizeObserver.disconnect();
    this.intersectionObserver.disconnect();
  }
}

/** A canvas of width × height CSS px at the device's pixel ratio (setting its size clears it). */
function sizeCanvas(canvas: HTMLCanvasElement, width: number, height: number, dpr: number): void {
  const pw = Math.round(width * dpr);
  const ph = Math.round(height * dpr);
  if (canvas.width !== pw || canvas.height !== ph) {
    canvas.width = pw;
    canvas.height = ph;
  }
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
}
