// The live time-series charts (GPU, VRAM, CPU and RAM), drawn straight onto their canvases: the
// per-second path of the dashboard. Chart.js spent most of a tick resolving options and laying
// out; here the layout (plot area, y axis, grid, threshold lines) is computed and drawn once per
// resize, theme or threshold change into a background canvas, and a tick copies that background,
// writes the few x labels and draws each series, min-max per pixel column, straight from the
// columns held (no point objects). Unknown values are gaps, never zeros. The legend is HTML, the
// tooltip a DOM box with the values at the cursor, and the canvas's aria-label says the latest
// values in words.
import { drawThresholdLines, renderLegend, type ChartTheme, type SeriesSpec, type ThresholdLine } from './charts';
import { ColumnExtremes, GAP, GAP_AFTER, KNOWN, LO_FIRST, lowerBound } from './columnExtremes';
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
}

const Y_TICKS = 4;

export class LiveLineChart {
  readonly emptyNote: HTMLElement = document.createElement('p');
  readonly legend: HTMLElement = document.createElement('ul');
  private readonly tip: HTMLElement = document.createElement('div');
  private readonly ctx: CanvasRenderingContext2D;
  private readonly background = document.createElement('canvas');
  private specs: SeriesSpec[] = [];
  private thresholds: ThresholdLine[] = [];
  private layout: Layout | null = null;
  private font = '';
  private xs: readonly number[] = [];
  private columns: LiveColumn[] = [];
  private readonly extremes = new ColumnExtremes();
  private xMin = 0;
  private xMax = 1;
  private onScreen = true;
  private dirty = false;
  private hoverX: number | null = null;
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
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2D canvas context');
    this.ctx = ctx;
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
    // The canvas is in its box already (the skeleton is built first): watch the box, host the tooltip.
    const box = canvas.parentElement;
    if (box) {
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
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.drawImage(this.background, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.drawXAxis(l);
    const known = this.drawSeries(l);
    this.emptyNote.classList.toggle('hidden', known);
    if (!known && this.emptyNote.textContent !== 'No figures recorded') this.emptyNote.textContent = 'No figures recorded';
    this.setLabel(this.summary());
    if (this.hoverX !== null) this.showTip();
  }

  /** The plot area from the box's size, and the background (grid, y labels, thresholds) drawn once. */
  private computeLayout(dpr: number): Layout | null {
    const box = this.canvas.parentElement;
    const width = box?.clientWidth ?? 0;
    const height = box?.clientHeight ?? 0;
    if (width <= 0 || height <= 0) return null;
    const pw = Math.round(width * dpr);
    const ph = Math.round(height * dpr);
    if (this.canvas.width !== pw || this.canvas.height !== ph) {
      this.canvas.width = pw;
      this.canvas.height = ph;
    }
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.background.width = pw;
    this.background.height = ph;
    const bg = this.background.getContext('2d');
    if (!bg) return null;
    bg.setTransform(dpr, 0, 0, dpr, 0, 0);
    bg.font = this.font;
    const labels = Array.from({ length: Y_TICKS + 1 }, (_, i) => this.opts.yFormat((this.opts.yMax * i) / Y_TICKS));
    const labelWidth = Math.max(...labels.map((t) => bg.measureText(t).width));
    const fontPx = Math.max(10, this.theme.fontSize - 2);
    const l: Layout = { width, height, dpr, left: Math.ceil(labelWidth) + 10, right: width - 8, top: Math.ceil(fontPx / 2) + 2, bottom: height - fontPx - 10 };
    if (l.right - l.left < 20 || l.bottom - l.top < 20) return null;
    bg.clearRect(0, 0, width, height);
    bg.textAlign = 'right';
    bg.textBaseline = 'middle';
    bg.lineWidth = 1;
    labels.forEach((text, i) => {
      const y = Math.round(this.yPixel(l, (this.opts.yMax * i) / Y_TICKS)) + 0.5;
      bg.strokeStyle = this.theme.grid;
      bg.beginPath();
      bg.moveTo(l.left, y);
      bg.lineTo(l.right, y);
      bg.stroke();
      bg.fillStyle = this.theme.muted;
      bg.fillText(text, l.left - 6, y);
    });
    drawThresholdLines(bg, l, this.thresholds, (v) => this.yPixel(l, v), this.theme);
    return l;
  }

  private yPixel(l: Layout, v: number): number {
    return l.bottom - (v / this.opts.yMax) * (l.bottom - l.top);
  }

  /** Round times, one label per 80 px at most, kept inside the canvas. */
  private drawXAxis(l: Layout): void {
    const ctx = this.ctx;
    const span = this.xMax - this.xMin;
    const ticks = timeTicks(this.xMin, this.xMax, Math.min(Math.max(2, Math.floor((l.right - l.left) / 80)), 6));
    ctx.font = this.font;
    ctx.fillStyle = this.theme.muted;
    ctx.textBaseline = 'top';
    ctx.textAlign = 'center';
    for (const t of ticks) {
      const x = this.xPixel(l, t);
      const text = formatTick(t, span);
      const half = ctx.measureText(text).width / 2;
      ctx.fillText(text, Math.min(l.width - half, Math.max(half, x)), l.bottom + 6);
    }
  }

  private xPixel(l: Layout, x: number): number {
    return l.left + ((x - this.xMin) / (this.xMax - this.xMin)) * (l.right - l.left);
  }

  /**
   * Each series as one path through its pixel columns: per column its two extremes in time order,
   * the line broken at a column that holds an unknown value; a lone column between gaps is a short
   * dash. The columns are kept between ticks (ColumnExtremes): a tick adds only the new samples.
   * Says whether any value was known.
   */
  private drawSeries(l: Layout): boolean {
    const ctx = this.ctx;
    if (!(this.xMax > this.xMin) || this.xs.length === 0) return false;
    const scale = (l.right - l.left) / (this.xMax - this.xMin);
    const cache = this.extremes;
    cache.update(this.xs, this.columns, (this.xMax - this.xMin) / (l.right - l.left), this.xMin, Math.ceil(l.right - l.left));
    const origin = l.left - this.xMin * scale;
    const bottom = l.bottom;
    let anyKnown = false;
    ctx.save();
    ctx.beginPath();
    ctx.rect(l.left, l.top - 1, l.right - l.left, l.bottom - l.top + 2);
    ctx.clip();
    ctx.lineWidth = this.theme.highContrast ? 2.5 : 1.5;
    ctx.lineJoin = 'round';
    const { lo, hi, state, cap, firstId, lastId, width } = cache;
    const series = this.columns.length;
    for (let si = 0; si < series; si++) {
      const spec = this.specs[si];
      const column = this.columns[si];
      if (!spec || !column) continue;
      const yScale = ((l.bottom - l.top) / this.opts.yMax) * (column.scale ?? 1);
      if (!Number.isFinite(yScale)) continue;
      ctx.strokeStyle = this.theme.series[spec.colour % this.theme.series.length] as string;
      ctx.beginPath();
      let run = 0; // columns drawn in the current run of known values
      let lastPx = 0;
      let lastY = 0;
      for (let id = firstId; id <= lastId; id++) {
        const k = (id % cap) * series + si;
        const st = state[k] as number;
        if (st & GAP && run > 0) {
          if (run === 1) {
            ctx.moveTo(lastPx - 1, lastY);
            ctx.lineTo(lastPx + 1, lastY);
          }
          run = 0;
        }
        if (!(st & KNOWN)) continue;
        anyKnown = true;
        const px = origin + (id + 0.5) * width * scale;
        const a = bottom - (st & LO_FIRST ? (lo[k] as number) : (hi[k] as number)) * yScale;
        const b = bottom - (st & LO_FIRST ? (hi[k] as number) : (lo[k] as number)) * yScale;
        if (run === 0) ctx.moveTo(px, a);
        else ctx.lineTo(px, a);
        if (b !== a) ctx.lineTo(px, b);
        run++;
        lastPx = px;
        lastY = b;
        if (st & GAP_AFTER) {
          if (run === 1 && b === a) {
            ctx.moveTo(px - 1, a);
            ctx.lineTo(px + 1, a);
          }
          run = 0;
        }
      }
      if (run === 1) {
        ctx.moveTo(lastPx - 1, lastY);
        ctx.lineTo(lastPx + 1, lastY);
      }
      ctx.stroke();
    }
    ctx.restore();
    return anyKnown;
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
    const x = this.xMin + ((px - l.left) / (l.right - l.left)) * (this.xMax - this.xMin);
    let i = lowerBound(this.xs, x);
    if (i >= this.xs.length || (i > 0 && x - (this.xs[i - 1] as number) < (this.xs[i] as number) - x)) i--;
    const t = this.xs[i] as number;
    if (t < this.xMin) {
      this.tip.classList.add('hidden');
      return;
    }
    while (this.tip.firstChild) this.tip.removeChild(this.tip.firstChild);
    const title = document.createElement('div');
    title.className = 'chart-tip-title';
    title.textContent = formatTick(t, 1);
    this.tip.appendChild(title);
    this.specs.forEach((s, si) => {
      const row = document.createElement('div');
      const swatch = document.createElement('span');
      swatch.className = `swatch c${s.colour % 6}`;
      row.append(swatch, document.createTextNode(` ${s.label}: ${this.valueAt(si, i)}`));
      this.tip.appendChild(row);
    });
    this.tip.classList.remove('hidden');
    const tx = this.xPixel(l, t);
    const w = this.tip.offsetWidth;
    this.tip.style.left = `${tx + 12 + w > l.width ? Math.max(0, tx - 12 - w) : tx + 12}px`;
    this.tip.style.top = `${l.top}px`;
  }

  destroy(): void {
    this.resizeObserver.disconnect();
    this.intersectionObserver.disconnect();
  }
}
