// Bounded memory of the machine's recent past: a ring of snapshots at full rate, plus per-minute
// roll-ups (time-weighted means and true peaks) so a week-long chart costs minutes, not samples.
// Both are fixed-capacity: memory does not grow with uptime.
import type { SystemPerformanceSnapshot } from '../../shared/snapshot';

/** Fixed-capacity circular buffer; the oldest entry is overwritten when full. */
export class Ring<T> {
  private readonly items: (T | undefined)[];
  private start = 0;
  private length = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`Ring capacity must be a whole number of at least 1 (got ${capacity})`);
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.length;
  }

  push(item: T): void {
    if (this.length < this.capacity) {
      this.items[(this.start + this.length) % this.capacity] = item;
      this.length++;
    } else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  latest(): T | null {
    return this.length === 0 ? null : (this.items[(this.start + this.length - 1) % this.capacity] as T);
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = new Array<T>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.items[(this.start + i) % this.capacity] as T;
    return out;
  }

  /** Mutable access to the newest entry, for roll-ups that are still filling. */
  replaceLatest(item: T): void {
    if (this.length === 0) throw new Error('Ring is empty');
    this.items[(this.start + this.length - 1) % this.capacity] = item;
  }

  clear(): void {
    this.items.fill(undefined);
    this.start = 0;
    this.length = 0;
  }
}

/** One minute of the machine, as means (time-weighted) and peaks of what was sampled in it. */
export interface MinuteRollup {
  /** Epoch ms at the start of the minute. */
  minuteStart: number;
  sampleCount: number;
  averageCpuUsagePercent: number | null;
  peakCpuUsagePercent: number | null;
  averageRamUsageMb: number | null;
  peakRamUsageMb: number | null;
  averageGpuUsagePercent: number | null;
  peakGpuUsagePercent: number | null;
  averageVramUsageMb: number | null;
  peakVramUsageMb: number | null;
  vramTotalMb: number | null;
  peakTemperatureCelsius: number | null;
}

interface WeightedField {
  weighted: number;
  weight: number;
  peak: number | null;
}

type RolledKey = 'cpuUsagePercent' | 'ramUsageMb' | 'gpuUsagePercent' | 'vramUsageMb';
const ROLLED: readonly RolledKey[] = ['cpuUsagePercent', 'ramUsageMb', 'gpuUsagePercent', 'vramUsageMb'];

const MINUTE_MS = 60_000;

export class SnapshotRing {
  private readonly ring: Ring<SystemPerformanceSnapshot>;
  private readonly rollups: Ring<MinuteRollup> | null;
  private current: { minuteStart: number; sampleCount: number; fields: Record<RolledKey, WeightedField>; vramTotalMb: number | null; peakTemperatureCelsius: number | null } | null = null;
  private lastTimestamp: number | null = null;

  /**
   * @param maxGapMs a sample stands for the time since the previous one, capped here so a pause
   *   (laptop asleep, monitoring stopped) does not give one sample the weight of the whole gap.
   *   The monitor passes twice its interval.
   */
  constructor(
    maxSnapshots: number,
    maxRollupMinutes: number,
    private readonly maxGapMs: number,
  ) {
    this.ring = new Ring(maxSnapshots);
    this.rollups = maxRollupMinutes > 0 ? new Ring(maxRollupMinutes) : null;
  }

  get size(): number {
    return this.ring.size;
  }

  latest(): SystemPerformanceSnapshot | null {
    return this.ring.latest();
  }

  push(snapshot: SystemPerformanceSnapshot): void {
    this.ring.push(snapshot);
    if (this.rollups) this.roll(snapshot);
    this.lastTimestamp = snapshot.timestamp;
  }

  /** Full-rate snapshots at or after `sinceMs`, oldest first. */
  recent(sinceMs = -Infinity): SystemPerformanceSnapshot[] {
    const all = this.ring.toArray();
    if (sinceMs === -Infinity) return all;
    let lo = 0;
    let hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((all[mid] as SystemPerformanceSnapshot).timestamp < sinceMs) lo = mid + 1;
      else hi = mid;
    }
    return all.slice(lo);
  }

  /** Per-minute roll-ups whose minute starts at or after `sinceMs` (the current minute included). */
  minuteRollups(sinceMs = -Infinity): MinuteRollup[] {
    if (!this.rollups) return [];
    return this.rollups.toArray().filter((r) => r.minuteStart >= sinceMs);
  }

  private roll(s: SystemPerformanceSnapshot): void {
    const rollups = this.rollups as Ring<MinuteRollup>;
    const minuteStart = Math.floor(s.timestamp / MINUTE_MS) * MINUTE_MS;
    // With no previous sample (first ever, or after a restart) a sample stands for one interval.
    const weight = this.lastTimestamp === null ? this.maxGapMs / 2 : Math.max(1, Math.min(this.maxGapMs, s.timestamp - this.lastTimestamp));
    if (!this.current || this.current.minuteStart !== minuteStart) {
      this.current = {
        minuteStart,
        sampleCount: 0,
        fields: {
          cpuUsagePercent: { weighted: 0, weight: 0, peak: null },
          ramUsageMb: { weighted: 0, weight: 0, peak: null },
          gpuUsagePercent: { weighted: 0, weight: 0, peak: null },
          vramUsageMb: { weighted: 0, weight: 0, peak: null },
        },
        vramTotalMb: null,
        peakTemperatureCelsius: null,
      };
      rollups.push(this.render());
    }
    const cur = this.current;
    cur.sampleCount++;
    for (const key of ROLLED) {
      const v = s[key];
      if (v === null) continue;
      const f = cur.fields[key];
      f.weighted += v * weight;
      f.weight += weight;
      if (f.peak === null || v > f.peak) f.peak = v;
    }
    if (s.vramTotalMb !== null) cur.vramTotalMb = s.vramTotalMb;
    if (s.temperatureCelsius !== null && (cur.peakTemperatureCelsius === null || s.temperatureCelsius > cur.peakTemperatureCelsius)) {
      cur.peakTemperatureCelsius = s.temperatureCelsius;
    }
    rollups.replaceLatest(this.render());
  }

  private render(): MinuteRollup {
    const cur = this.current as NonNullable<SnapshotRing['current']>;
    const avg = (f: WeightedField): number | null => (f.weight > 0 ? f.weighted / f.weight : null);
    const f = cur.fields;
    return {
      minuteStart: cur.minuteStart,
      sampleCount: cur.sampleCount,
      averageCpuUsagePercent: avg(f.cpuUsagePercent),
      peakCpuUsagePercent: f.cpuUsagePercent.peak,
      averageRamUsageMb: avg(f.ramUsageMb),
      peakRamUsageMb: f.ramUsageMb.peak,
      averageGpuUsagePercent: avg(f.gpuUsagePercent),
      peakGpuUsagePercent: f.gpuUsagePercent.peak,
      averageVramUsageMb: avg(f.vramUsageMb),
      peakVramUsageMb: f.vramUsageMb.peak,
      vramTotalMb: cur.vramTotalMb,
      peakTemperatureCelsius: cur.peakTemperatureCelsius,
    };
  }
}
