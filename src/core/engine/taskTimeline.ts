// A task's compact timeline, recorded as samples arrive: the whole run decimated into at most
// COARSE_POINTS points (each merge halves the count and doubles what a point spans) plus the last
// RECENT_WINDOW_MS at full rate (at most RECENT_POINTS, at least RECENT_MIN_SPACING_MS apart), so
// a 10-hour run and a 3-second one both fit a few KB and an out-of-memory run keeps its last minute.
import { MAX_TIMELINE_POINTS, type CompactTimeline } from '../../shared/metrics';
import { THROTTLE_MASK, type GpuReading } from '../../shared/snapshot';

export const COARSE_POINTS = 128;
export const RECENT_POINTS = 64;
const RECENT_WINDOW_MS = 60_000;
/** 60 s / 64 points: a faster sampler's extra samples inside the last minute are skipped. */
const RECENT_MIN_SPACING_MS = Math.ceil(RECENT_WINDOW_MS / RECENT_POINTS);

/** One observation; null is unknown. */
export interface TimelinePoint {
  timeMs: number;
  gpuUtilizationPercent: number | null;
  deviceVramMb: number | null;
  ownVramMb: number | null;
  cpuCores: number | null;
  ramMb: number | null;
  /** 1 when a thermal or power reason held the task's GPUs below their clocks, 0 when none did; a merged point holds the share. */
  throttled?: number | null;
  /** The thermal and power clock event reasons active (THROTTLE_MASK bits). */
  throttleReasons?: number | null;
}

const orKnown = (x: number | null, y: number | null): number | null => (x === null ? y : y === null ? x : x | y);

/** Neighbouring points merged: busy (and throttled) shares averaged over known values, memory at its peak, reasons OR-ed. */
function merge(a: TimelinePoint, b: TimelinePoint): TimelinePoint {
  const mean = (x: number | null, y: number | null): number | null => (x === null ? y : y === null ? x : (x + y) / 2);
  const max = (x: number | null, y: number | null): number | null => (x === null ? y : y === null ? x : Math.max(x, y));
  return {
    timeMs: a.timeMs,
    gpuUtilizationPercent: mean(a.gpuUtilizationPercent, b.gpuUtilizationPercent),
    deviceVramMb: max(a.deviceVramMb, b.deviceVramMb),
    ownVramMb: max(a.ownVramMb, b.ownVramMb),
    cpuCores: mean(a.cpuCores, b.cpuCores),
    ramMb: max(a.ramMb, b.ramMb),
    throttled: mean(a.throttled ?? null, b.throttled ?? null),
    throttleReasons: orKnown(a.throttleReasons ?? null, b.throttleReasons ?? null),
  };
}

/**
 * Whether a thermal or power reason held any of the task's GPUs below their clocks (a run on several
 * GPUs goes at its slowest one's pace), and which reasons; both unknown when no GPU says.
 */
export function throttleOf(gpus: readonly GpuReading[]): { throttled: number | null; throttleReasons: number | null } {
  let mask: number | null = null;
  for (const g of gpus) if (g.clockEventReasons !== null) mask = (mask ?? 0) | (g.clockEventReasons & THROTTLE_MASK);
  return { throttled: mask === null ? null : mask !== 0 ? 1 : 0, throttleReasons: mask };
}

const round = (v: number | null, digits: number): number | null => (v === null ? null : Number(v.toFixed(digits)));

export class TimelineRecorder {
  private readonly coarse: TimelinePoint[] = [];
  /** Samples each coarse point stands for; doubles at each halving. */
  private stride = 1;
  /** The coarse point being filled, and how many samples it holds. */
  private pending: TimelinePoint | null = null;
  private pendingCount = 0;
  private readonly recent: TimelinePoint[] = [];

  constructor(private readonly startTime: number) {}

  add(p: TimelinePoint): void {
    this.pending = this.pending === null ? { ...p } : merge(this.pending, p);
    if (++this.pendingCount >= this.stride) {
      this.coarse.push(this.pending);
      this.pending = null;
      this.pendingCount = 0;
      if (this.coarse.length >= COARSE_POINTS) this.halve();
    }
    const last = this.recent[this.recent.length - 1];
    if (last && p.timeMs - last.timeMs < RECENT_MIN_SPACING_MS && p.timeMs >= last.timeMs) {
      // Faster than the last minute's resolution: the newer sample replaces the older one's memory peaks.
      this.recent[this.recent.length - 1] = { ...merge(last, p), timeMs: last.timeMs };
    } else {
      this.recent.push({ ...p });
    }
    while (this.recent.length > 0 && (this.recent[0] as TimelinePoint).timeMs < p.timeMs - RECENT_WINDOW_MS) this.recent.shift();
    while (this.recent.length > RECENT_POINTS) this.recent.shift();
  }

  private halve(): void {
    const out: TimelinePoint[] = [];
    for (let i = 0; i < this.coarse.length; i += 2) {
      const a = this.coarse[i] as TimelinePoint;
      const b = this.coarse[i + 1];
      out.push(b ? merge(a, b) : a);
    }
    this.coarse.length = 0;
    this.coarse.push(...out);
    this.stride *= 2;
  }

  get pointCount(): number {
    return this.coarse.length + this.recent.length + (this.pending ? 1 : 0);
  }

  /** The whole run before its last minute (decimated), then the last minute; null before any sample. */
  toTimeline(): CompactTimeline | null {
    const recentStart = this.recent[0]?.timeMs ?? Number.POSITIVE_INFINITY;
    const early = this.coarse.filter((p) => p.timeMs < recentStart);
    if (this.pending && this.pending.timeMs < recentStart) early.push(this.pending);
    const points = [...early, ...this.recent].slice(-MAX_TIMELINE_POINTS);
    if (points.length === 0) return null;
    return {
      offsetSeconds: points.map((p) => Number((Math.max(0, p.timeMs - this.startTime) / 1000).toFixed(1))),
      gpuUtilizationPercent: points.map((p) => round(p.gpuUtilizationPercent, 0)),
      deviceVramMb: points.map((p) => round(p.deviceVramMb, 0)),
      ownVramMb: points.map((p) => round(p.ownVramMb, 0)),
      cpuCores: points.map((p) => round(p.cpuCores, 2)),
      ramMb: points.map((p) => round(p.ramMb, 0)),
      // Only where a GPU said why its clocks were held: other vendors' records stay as small as before.
      ...(points.some((p) => (p.throttled ?? null) !== null)
        ? { throttledPercent: points.map((p) => round(p.throttled === undefined || p.throttled === null ? null : p.throttled * 100, 0)), throttleReasons: points.map((p) => p.throttleReasons ?? null) }
        : {}),
    };
  }
}
