// Chart.js for the dashboard: only the parts used are registered (line charts on linear axes, the
// tooltip and legend), animations are off, data arrives decimated to the pixels available, and
// every chart is built once and then updated in place with update('none').
import {
  Chart, LinearScale, LineController, LineElement, PointElement, Tooltip,
  type ChartConfiguration, type ChartDataset, type Plugin, type ScaleOptions,
} from 'chart.js';
import { fitLabel, formatDateTime, formatTick, phaseLanes, timeTicks, type PhaseBand, type Point } from './viewModel';

// No Legend plugin: it measures its text on every update; each chart's legend is HTML (see legend()).
Chart.register(LineController, LineElement, PointElement, LinearScale, Tooltip);

/** Colours and font from VS Code's theme variables, read again when the theme changes. */
export interface ChartTheme {
  foreground: string;
  muted: string;
  grid: string;
  threshold: string;
  series: string[];
  fontFamily: string;
  fontSize: number;
  highContrast: boolean;
}

export function readTheme(): ChartTheme {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string): string => css.getPropertyValue(name).trim() || fallback;
  const highContrast = document.body.classList.contains('vscode-high-contrast') || document.body.classList.contains('vscode-high-contrast-light');
  const foreground = v('--vscode-charts-foreground', v('--vscode-foreground', '#cccccc'));
  return {
    foreground,
    muted: v('--vscode-descriptionForeground', foreground),
    grid: highContrast ? v('--vscode-contrastBorder', foreground) : v('--vscode-charts-lines', 'rgba(128,128,128,0.35)'),
    threshold: v('--vscode-charts-red', v('--vscode-errorForeground', '#f14c4c')),
    series: [
      v('--vscode-charts-blue', '#3794ff'),
      v('--vscode-charts-orange', '#d18616'),
      v('--vscode-charts-green', '#89d185'),
      v('--vscode-charts-purple', '#b180d7'),
      v('--vscode-charts-yellow', '#cca700'),
      v('--vscode-charts-foreground', foreground),
    ],
    fontFamily: v('--vscode-font-family', 'sans-serif'),
    fontSize: Number.parseFloat(v('--vscode-font-size', '13')) || 13,
    highContrast,
  };
}

export interface ThresholdLine {
  value: number;
  label: string;
  /** Where the label sits, so two close lines do not print over each other. */
  align?: 'left' | 'right';
}

export interface SeriesSpec {
  label: string;
  /** Index into the theme's series colours. */
  colour: number;
  /** Which y axis (`y` by default). */
  axis?: 'y' | 'y1';
  dashed?: boolean;
}

interface AxisSpec {
  min?: number;
  max?: number;
  format: (v: number) => string;
  title?: string;
}

export interface LineChartOptions {
  y: AxisSpec;
  y1?: AxisSpec;
  /** Tooltip value text per dataset. */
  valueText: (datasetIndex: number, y: number) => string;
  /** Points drawn on each value (few points, as in the trend charts). */
  showPoints?: boolean;
  ariaLabel: string;
  /** Said over the plot when every value is unknown. */
  emptyText?: string;
  /** Draws a task's phases as labelled bands (setPhases); only the task timeline asks for it. */
  phaseBands?: boolean;
}

type LineData = ChartDataset<'line', Point[]>;

/**
 * Dashed threshold lines across the plot, each labelled above its line, or below it when another
 * line runs through that space (shared by Chart.js charts and the live canvas charts).
 */
export function drawThresholdLines(
  ctx: CanvasRenderingContext2D, area: { left: number; right: number; top: number; bottom: number },
  thresholds: readonly ThresholdLine[], pixelFor: (value: number) => number, theme: ChartTheme,
): void {
  ctx.save();
  ctx.strokeStyle = theme.threshold;
  ctx.fillStyle = theme.threshold;
  ctx.lineWidth = theme.highContrast ? 2 : 1;
  ctx.setLineDash([4, 4]);
  ctx.font = `${Math.max(10, theme.fontSize - 2)}px ${theme.fontFamily}`;
  const labelHeight = Math.max(10, theme.fontSize - 2) + 2;
  const lines = thresholds.map((t) => ({ t, py: pixelFor(t.value) })).filter(({ py }) => Number.isFinite(py) && py >= area.top && py <= area.bottom);
  for (const { t, py } of lines) {
    ctx.beginPath();
    ctx.moveTo(area.left, py);
    ctx.lineTo(area.right, py);
    ctx.stroke();
    const crowded = lines.some((o) => o.t !== t && o.py < py && py - o.py < labelHeight);
    ctx.textBaseline = crowded && py + labelHeight <= area.bottom ? 'top' : 'bottom';
    ctx.textAlign = t.align === 'left' ? 'left' : 'right';
    ctx.fillText(t.label, t.align === 'left' ? area.left + 2 : area.right - 2, ctx.textBaseline === 'top' ? py + 2 : py - 2);
  }
  ctx.restore();
}

/** A chart's legend as HTML, drawn once per change of series (colours from CSS classes). */
export function renderLegend(legend: HTMLElement, specs: readonly SeriesSpec[]): void {
  while (legend.firstChild) legend.removeChild(legend.firstChild);
  for (const spec of specs) {
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch c${spec.colour % 6}${spec.dashed ? ' dashed' : ''}`;
    li.append(swatch, document.createTextNode(spec.label));
    legend.appendChild(li);
  }
}

/** A line chart with a fixed set of series, updated in place. */
export class LineChart {
  readonly chart: Chart<'line', Point[]>;
  private specs: SeriesSpec[] = [];
  private thresholds: ThresholdLine[] = [];
  private bands: PhaseBand[] = [];
  private theme: ChartTheme;
  private spanMs = 300_000;
  private onScreen = true;
  private dirty = false;
  private readonly observer: IntersectionObserver;

  /** Shown over the plot when no series has a known value (so an empty chart is not read as zeros). */
  readonly emptyNote: HTMLElement = document.createElement('p');

  /** The chart's legend, drawn as HTML once per change of series (colours from CSS classes). */
  readonly legend: HTMLElement = document.createElement('ul');

  constructor(readonly canvas: HTMLCanvasElement, private readonly opts: LineChartOptions, theme: ChartTheme) {
    this.theme = theme;
    this.legend.className = 'legend';
    this.emptyNote.className = 'chart-empty hidden';
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', opts.ariaLabel);
    const thresholdPlugin: Plugin<'line'> = {
      id: 'thresholdLines',
      afterDatasetsDraw: (chart) => this.drawThresholds(chart),
    };
    const config: ChartConfiguration<'line', Point[]> = {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        normalized: true,
        spanGaps: false,
        events: ['mousemove', 'mouseout', 'touchstart', 'touchmove'],
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        elements: { point: { radius: opts.showPoints ? 2.5 : 0, hitRadius: 6, hoverRadius: 4 }, line: { borderWidth: 1.5, tension: 0 } },
        scales: this.scales(),
        plugins: {
          tooltip: {
            callbacks: {
              title: (items) => (items[0] ? this.tooltipTitle(items[0].parsed.x ?? Number.NaN) : ''),
              label: (item) => `${item.dataset.label ?? ''}: ${item.parsed.y === null ? 'N/A' : opts.valueText(item.datasetIndex, item.parsed.y)}`,
            },
          },
        },
      },
      plugins: opts.phaseBands
        ? [{ id: 'phaseBands', beforeDatasetsDraw: (chart) => this.drawPhaseBands(chart) } satisfies Plugin<'line'>, thresholdPlugin]
        : [thresholdPlugin],
    };
    this.chart = new Chart(canvas, config);
    this.observer = new IntersectionObserver((entries) => {
      const entry = entries[entries.length - 1];
      if (!entry) return;
      this.onScreen = entry.isIntersecting;
      if (this.onScreen && this.dirty) this.update();
    });
    this.observer.observe(canvas);
    this.applyTheme(theme);
  }

  private scales(): Record<string, ScaleOptions<'linear'>> {
    const axis = (spec: AxisSpec, position: 'left' | 'right', grid: boolean): ScaleOptions<'linear'> =>
      ({
        type: 'linear',
        position,
        min: spec.min,
        max: spec.max,
        beginAtZero: true,
        grid: { display: grid },
        ticks: { maxTicksLimit: 5, callback: (v: number | string) => spec.format(Number(v)) },
        title: { display: !!spec.title, text: spec.title ?? '' },
      }) as ScaleOptions<'linear'>;
    const scales: Record<string, ScaleOptions<'linear'>> = {
      x: {
        type: 'linear',
        grid: { display: false },
        // No auto-skip: the ticks below are already as many as the width holds, and skipping
        // measures every label on every update (a tenth of a live tick in the profile).
        ticks: { maxRotation: 0, minRotation: 0, autoSkip: false, callback: (v: number | string) => formatTick(Number(v), this.spanMs) },
        // Round times (every 1 min, 10 min, 4 h, …) instead of the linear scale's arbitrary numbers,
        // one per 80 px of plot at most.
        afterBuildTicks: (scale: { min: number; max: number; width: number; ticks: { value: number }[] }) => {
          const fit = Math.max(2, Math.floor((scale.width || 480) / 80));
          scale.ticks = timeTicks(scale.min, scale.max, Math.min(fit, scale.max - scale.min > 86_400_000 * 1.5 ? 5 : 6)).map((value) => ({ value }));
        },
      } as unknown as ScaleOptions<'linear'>,
      y: axis(this.opts.y, 'left', true),
    };
    if (this.opts.y1) scales.y1 = axis(this.opts.y1, 'right', false);
    return scales;
  }

  /** Sets the series (labels and colours); data is kept for series that stay. */
  setSeries(specs: SeriesSpec[]): void {
    const same = specs.length === this.specs.length && specs.every((s, i) => s.label === this.specs[i]?.label && s.colour === this.specs[i]?.colour);
    if (same) return;
    this.specs = specs;
    renderLegend(this.legend, specs);
    const old = this.chart.data.datasets;
    this.chart.data.datasets = specs.map((s, i): LineData => ({ label: s.label, data: old[i]?.data ?? [], yAxisID: s.axis ?? 'y' }));
    this.styleDatasets();
  }

  get seriesCount(): number {
    return this.specs.length;
  }

  setData(index: number, points: Point[]): void {
    const ds = this.chart.data.datasets[index];
    if (ds) ds.data = points;
  }

  setThresholds(lines: ThresholdLine[]): void {
    this.thresholds = lines;
  }

  /** The time under the pointer, with the phases running then (their labels may be cut on the chart). */
  private tooltipTitle(x: number): string {
    const names = this.bands.filter((b) => b.start <= x && x <= b.end).map((b) => b.name);
    return names.length ? `${formatDateTime(x)} · ${names.join(', ')}` : formatDateTime(x);
  }

  /** The phases to draw behind the lines; their labels get rows above the plot (none: no room taken). */
  setPhases(bands: PhaseBand[]): void {
    this.bands = bands;
    const o = this.chart.options;
    o.layout = { ...o.layout, padding: { top: phaseLanes(bands) * this.phaseRowHeight() } };
  }

  private phaseRowHeight(): number {
    return Math.max(10, this.theme.fontSize - 2) + 6;
  }

  setXRange(min: number, max: number): void {
    this.spanMs = max - min;
    const x = this.chart.options.scales?.x;
    if (x) {
      x.min = min;
      x.max = max;
    }
  }

  /**
   * Columns decimation should keep: one per two pixels of the plot area (each keeps a low and a
   * high point, so about one point per pixel is drawn).
   */
  get plotWidth(): number {
    const area = this.chart.chartArea;
    return Math.max(25, Math.round((area ? area.right - area.left : this.chart.width || 300) / 3));
  }

  /** Draws now when on screen; an off-screen chart is only marked and drawn when it scrolls into view. */
  update(): void {
    const known = this.chart.data.datasets.some((ds) => ds.data.some((p) => p.y !== null));
    this.emptyNote.classList.toggle('hidden', known);
    // A second axis with nothing on it would print a made-up scale (0 MB, 1 MB, 1 MB).
    const y1 = this.opts.y1 ? (this.chart.options.scales?.y1 as { ticks?: { display?: boolean } } | undefined) : undefined;
    if (y1?.ticks) y1.ticks.display = known;
    if (!known) this.emptyNote.textContent = this.opts.emptyText ?? 'No figures recorded';
    if (!this.onScreen) {
      this.dirty = true;
      return;
    }
    this.dirty = false;
    this.chart.update('none');
  }

  applyTheme(theme: ChartTheme): void {
    this.theme = theme;
    const o = this.chart.options;
    const font = { family: theme.fontFamily, size: Math.max(10, theme.fontSize - 2) };
    o.color = theme.foreground;
    o.font = font;
    for (const key of ['x', 'y', 'y1']) {
      const s = o.scales?.[key] as (ScaleOptions<'linear'> & { ticks: { color?: string; font?: unknown }; grid: { color?: string }; title: { color?: string } }) | undefined;
      if (!s) continue;
      s.ticks.color = theme.muted;
      s.ticks.font = font;
      s.grid.color = theme.grid;
      s.title.color = theme.muted;
    }
    this.styleDatasets();
    if (this.bands.length > 0) this.setPhases(this.bands);
    this.update();
  }

  private styleDatasets(): void {
    const width = this.theme.highContrast ? 2.5 : 1.5;
    this.chart.data.datasets.forEach((ds, i) => {
      const spec = this.specs[i];
      if (!spec) return;
      const colour = this.theme.series[spec.colour % this.theme.series.length] as string;
      ds.borderColor = colour;
      ds.backgroundColor = colour;
      ds.borderWidth = width;
      ds.borderDash = spec.dashed ? [5, 3] : [];
      ds.pointBackgroundColor = colour;
    });
  }

  private drawThresholds(chart: Chart): void {
    const area = chart.chartArea;
    const y = chart.scales.y;
    if (!area || !y || this.thresholds.length === 0) return;
    drawThresholdLines(chart.ctx, area, this.thresholds, (v) => y.getPixelForValue(v), this.theme);
  }

  /**
   * Each phase: a faint band over the plot, a line at its start, and a tinted label chip in its
   * row above the plot (the name cut to fit, never drawn over a neighbour's).
   */
  private drawPhaseBands(chart: Chart): void {
    const area = chart.chartArea;
    const x = chart.scales.x;
    if (!area || !x || this.bands.length === 0) return;
    const ctx = chart.ctx;
    const rowH = this.phaseRowHeight();
    const top = area.top - phaseLanes(this.bands) * rowH;
    const colours = this.theme.series.slice(0, 5);
    const hc = this.theme.highContrast;
    ctx.save();
    ctx.font = `${Math.max(10, this.theme.fontSize - 2)}px ${this.theme.fontFamily}`;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    for (const b of this.bands) {
      const x0 = Math.max(area.left, x.getPixelForValue(b.start));
      const x1 = Math.min(area.right, x.getPixelForValue(b.end));
      if (!(x1 >= x0)) continue;
      const colour = colours[b.index % colours.length] as string;
      const rowTop = top + b.lane * rowH;
      ctx.fillStyle = colour;
      ctx.globalAlpha = hc ? 0.14 : 0.1;
      ctx.fillRect(x0, area.top, x1 - x0, area.bottom - area.top);
      ctx.globalAlpha = hc ? 0.35 : 0.28;
      ctx.fillRect(x0, rowTop + 1, x1 - x0, rowH - 2);
      ctx.globalAlpha = hc ? 1 : 0.7;
      ctx.strokeStyle = colour;
      ctx.lineWidth = hc ? 2 : 1;
      ctx.beginPath();
      ctx.moveTo(x0 + 0.5, rowTop + 1);
      ctx.lineTo(x0 + 0.5, area.bottom);
      ctx.stroke();
      ctx.globalAlpha = 1;
      const label = fitLabel(b.name, x1 - x0 - 6, (t) => ctx.measureText(t).width);
      if (label) {
        ctx.fillStyle = this.theme.foreground;
        ctx.fillText(label, x0 + 4, rowTop + rowH / 2);
      }
    }
    ctx.restore();
  }

  destroy(): void {
    this.observer.disconnect();
    this.chart.destroy();
  }
}
