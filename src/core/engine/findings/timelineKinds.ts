// gpuStarved, gpuIdle and throttled: read from each run's own timeline. Points inside a model-load phase are
// left out (a GPU waits while weights load; that is loadDominated's business). A run counts when
// its GPU was under LOW_UTIL_PERCENT for at least LOW_SHARE of its remaining points; what its own
// process tree's CPU did meanwhile tells the two apart: one core or more busy is an input
// pipeline holding the GPU back (starved); under IDLE_CORES is waiting on something else (idle).
import type { Finding, PerformanceMetrics } from '../../../shared/metrics';
import { clockReasons, type ClockReason } from '../../../shared/snapshot';
import { configKey, configLabel, confidenceOf, durationSeconds, finding, fmt, groupBy, LOAD_PHASE, mean } from './common';

const LOW_UTIL_PERCENT = 30;
const LOW_SHARE = 0.5;
/** A single-threaded loader saturating one core counts, whatever the machine's core count. */
const BUSY_CORES = 0.8;
const IDLE_CORES = 0.3;
/** Fewer points than this say too little about a run. */
const MIN_POINTS = 6;

interface RunStarvation {
  task: PerformanceMetrics;
  kind: 'gpuStarved' | 'gpuIdle';
  points: number;
  lowPoints: number;
  meanUtilLowPercent: number;
  meanCoresLow: number;
}

/** The run's verdict from its timeline, or null when it is well fed, unreadable or too short. */
function starvationOf(t: PerformanceMetrics): RunStarvation | null {
  const tl = t.timeline;
  // A run whose own processes never held GPU memory does not use the GPU: its idle GPU is no finding.
  if (!tl || t.processTreePeakVramUsageMb === 0) return null;
  const loads = (t.phases ?? []).filter((p) => LOAD_PHASE.test(p.name)).map((p) => [(p.startTime - t.startTime) / 1000, p.endTime === null ? Infinity : (p.endTime - t.startTime) / 1000] as const);
  let points = 0;
  const lowUtil: number[] = [];
  const lowCores: number[] = [];
  for (let i = 0; i < tl.offsetSeconds.length; i++) {
    const at = tl.offsetSeconds[i] as number;
    const util = tl.gpuUtilizationPercent[i] ?? null;
    const cores = tl.cpuCores[i] ?? null;
    if (util === null || cores === null || loads.some(([a, b]) => at >= a && at < b)) continue;
    points++;
    if (util < LOW_UTIL_PERCENT) {
      lowUtil.push(util);
      lowCores.push(cores);
    }
  }
  if (points < MIN_POINTS || lowUtil.length < points * LOW_SHARE) return null;
  const meanCoresLow = mean(lowCores) as number;
  const kind = meanCoresLow >= BUSY_CORES ? 'gpuStarved' : meanCoresLow < IDLE_CORES ? 'gpuIdle' : null;
  if (kind === null) return null;
  return { task: t, kind, points, lowPoints: lowUtil.length, meanUtilLowPercent: mean(lowUtil) as number, meanCoresLow };
}

/** One finding per kind and configuration, over the runs of the window. */
export function starvationFindings(windowTasks: readonly PerformanceMetrics[]): Finding[] {
  const verdicts = windowTasks.map(starvationOf).filter((v): v is RunStarvation => v !== null);
  const out: Finding[] = [];
  for (const group of groupBy(verdicts, (v) => `${v.kind}\u0000${configKey(v.task)}`).values()) {
    const first = group[0] as RunStarvation;
    const points = group.reduce((s, v) => s + v.points, 0);
    const low = group.reduce((s, v) => s + v.lowPoints, 0);
    const share = low / points;
    const util = group.reduce((s, v) => s + v.meanUtilLowPercent * v.lowPoints, 0) / low;
    const cores = group.reduce((s, v) => s + v.meanCoresLow * v.lowPoints, 0) / low;
    // Time the GPU sat under LOW_UTIL_PERCENT; half of it is what better feeding plausibly wins back.
    const lowSeconds = group.reduce((s, v) => s + (durationSeconds(v.task) ?? 0) * (v.lowPoints / v.points), 0);
    const label = configLabel(first.task);
    const evidence = [
      { label: `share of samples with GPU utilisation under ${LOW_UTIL_PERCENT}% (model loading left out)`, value: share * 100, unit: '%' },
      { label: 'mean GPU utilisation in those samples', value: util, unit: '%' },
      { label: "the run's own processes' CPU in those samples", value: cores, unit: 'cores' },
      { label: 'time the GPU sat mostly idle', value: lowSeconds, unit: 's' },
    ];
    const runs = `${group.length} run(s)`;
    if (first.kind === 'gpuStarved') {
      out.push(finding({
        kind: 'gpuStarved',
        severity: share >= 0.8 ? 'critical' : 'warning',
        confidence: confidenceOf(group.length, points >= 20),
        summary: `${label}: the GPU was under ${LOW_UTIL_PERCENT}% busy in ${fmt(share * 100, 0)}% of samples (mean ${fmt(util, 0)}%) while the run's own processes kept ${fmt(cores, 2)} CPU cores busy, over ${runs}: the input pipeline holds the GPU back`,
        evidence,
        nextStep: cores < 1.5
          ? `One core is saturated: move decoding/preprocessing for ${label} into data-loader worker processes (e.g. DataLoader(num_workers=4, pin_memory=True)) or onto the GPU`
          : `Preprocessing for ${label} keeps ${fmt(cores, 1)} cores busy: do it once ahead of the run (cache decoded inputs) or on the GPU`,
        resolvedWhen: `the GPU is at least ${LOW_UTIL_PERCENT}% busy in more than ${LOW_SHARE * 100}% of a run's samples`,
        expectedGainSeconds: lowSeconds * 0.5,
      }, group.map((v) => v.task)));
    } else {
      out.push(finding({
        kind: 'gpuIdle',
        severity: 'warning',
        confidence: confidenceOf(group.length, points >= 20),
        summary: `${label}: the GPU was under ${LOW_UTIL_PERCENT}% busy in ${fmt(share * 100, 0)}% of samples (mean ${fmt(util, 0)}%) and the run's CPU was nearly idle too (${fmt(cores, 2)} cores), over ${runs}: it waits on synchronisation, small batches or I/O`,
        evidence,
        nextStep: `Profile one ${label} run (torch.profiler or py-spy dump during an idle stretch) to see what it waits on; if batches are small, raise the batch size`,
        resolvedWhen: `the GPU is at least ${LOW_UTIL_PERCENT}% busy in more than ${LOW_SHARE * 100}% of a run's samples`,
        expectedGainSeconds: lowSeconds * 0.5,
      }, group.map((v) => v.task)));
    }
  }
  return out;
}

// ----- throttled -----
// From the clock event reasons the sampler reads (NVIDIA): the share of a run's time in which a
// thermal or power reason held its GPUs below their clocks. Silent on runs whose GPUs never said.

/** A run counts as throttled when that share reaches THROTTLE_SHARE of its timed samples. */
const THROTTLE_SHARE = 0.2;
/** What a throttled second plausibly costs: clocks held some 20-50 % down; a quarter is the gain claimed. */
const THROTTLE_COST = 0.25;
const MIN_THROTTLE_POINTS = 3;

interface RunThrottle {
  task: PerformanceMetrics;
  share: number;
  seconds: number;
  /** Seconds each reason was active. */
  byReason: Map<ClockReason, number>;
}

/** Seconds each point stands for: up to the next point; the last one as long as the one before. */
function spans(offsets: readonly number[]): number[] {
  return offsets.map((o, i) => {
    const next = offsets[i + 1];
    if (next !== undefined) return Math.max(0, next - o);
    const prev = offsets[i - 1];
    return prev !== undefined ? Math.max(0, o - prev) : 1;
  });
}

function throttleOfRun(t: PerformanceMetrics): RunThrottle | null {
  const tl = t.timeline;
  const share = tl?.throttledPercent;
  if (!tl || !share) return null;
  const span = spans(tl.offsetSeconds);
  let known = 0;
  let knownPoints = 0;
  let held = 0;
  const byReason = new Map<ClockReason, number>();
  for (let i = 0; i < span.length; i++) {
    const pct = share[i] ?? null;
    if (pct === null) continue;
    const s = span[i] as number;
    known += s;
    knownPoints++;
    const h = (s * pct) / 100;
    held += h;
    if (h > 0) for (const r of clockReasons(tl.throttleReasons?.[i] ?? null)) byReason.set(r, (byReason.get(r) ?? 0) + h);
  }
  if (knownPoints < MIN_THROTTLE_POINTS || known <= 0 || held / known < THROTTLE_SHARE) return null;
  // The run's length scales the timeline's share (a timeline spans the sampled part of the run).
  const seconds = (durationSeconds(t) ?? known) * (held / known);
  const scale = seconds / held;
  for (const [r, v] of byReason) byReason.set(r, v * scale);
  return { task: t, share: held / known, seconds, byReason };
}

const HARDWARE: readonly ClockReason[] = ['hw_slowdown', 'hw_thermal_slowdown', 'hw_power_brake_slowdown'];

const REASON_WORDS: Record<ClockReason, string> = {
  sw_power_cap: 'its power limit (sw_power_cap)',
  hw_slowdown: 'hardware slowdown (hw_slowdown: heat or power, clocks halved)',
  sw_thermal_slowdown: 'heat (sw_thermal_slowdown)',
  hw_thermal_slowdown: 'heat (hw_thermal_slowdown: clocks halved)',
  hw_power_brake_slowdown: 'an external power brake (hw_power_brake_slowdown: clocks halved)',
};

const REASON_STEP: Record<ClockReason, string> = {
  sw_power_cap: 'The GPU ran at its power limit: compare the limit with the default (nvidia-smi -q -d POWER) and raise a lowered one (sudo nvidia-smi -pl <watts>); at the default limit, mixed precision (bf16) does the same work on less power',
  hw_slowdown: 'Read the GPU temperature and power during a run (nvidia-smi -q -d TEMPERATURE,POWER,PERFORMANCE): hardware slowdown comes from overheating or a power supply that cannot keep up',
  sw_thermal_slowdown: 'The GPU reached its thermal target: improve airflow (clean filters, faster fan curve, space between cards) or lower the power limit a little so it stays under it',
  hw_thermal_slowdown: 'The GPU overheated and halved its clocks: check that its fans spin and its heatsink is clean, and the case or rack airflow, before the next long run',
  hw_power_brake_slowdown: 'The system asserted the power brake: check the power supply capacity and the GPU\'s power cables (nvidia-smi -q -d PERFORMANCE names it)',
};

/** Reasons by the time they were active, a hardware one first on a tie (it halves the clocks). */
function byWeight(byReason: ReadonlyMap<ClockReason, number>): [ClockReason, number][] {
  return [...byReason.entries()].sort((a, b) => b[1] - a[1] || Number(HARDWARE.includes(b[0])) - Number(HARDWARE.includes(a[0])));
}

/** One finding per dominant cause, over the throttled runs of the window. */
export function throttleFindings(windowTasks: readonly PerformanceMetrics[]): Finding[] {
  const runs = windowTasks.map(throttleOfRun).filter((r): r is RunThrottle => r !== null);
  const dominant = (r: RunThrottle): string => byWeight(r.byReason)[0]?.[0] ?? 'unknown';
  const out: Finding[] = [];
  for (const [cause, group] of groupBy(runs, dominant)) {
    const seconds = group.reduce((s, r) => s + r.seconds, 0);
    const total = group.reduce((s, r) => s + (durationSeconds(r.task) ?? r.seconds / r.share), 0);
    const share = total > 0 ? seconds / total : 1;
    const byReason = new Map<ClockReason, number>();
    for (const r of group) for (const [k, v] of r.byReason) byReason.set(k, (byReason.get(k) ?? 0) + v);
    const reasons = byWeight(byReason);
    const known = Object.prototype.hasOwnProperty.call(REASON_WORDS, cause) ? (cause as ClockReason) : null;
    const hardware = reasons.some(([r, v]) => HARDWARE.includes(r) && v >= seconds / 2);
    const last = group[group.length - 1] as RunThrottle;
    const label = configLabel(last.task);
    // Every reason active for at least a quarter of the held time, the weightiest first.
    const causeText = known ? reasons.filter(([, v]) => v >= seconds / 4).map(([r]) => REASON_WORDS[r]).join(' and ') : 'a thermal or power limit';
    out.push(finding({
      kind: 'throttled',
      severity: hardware ? 'critical' : cause === 'sw_power_cap' && share < 0.5 ? 'info' : 'warning',
      confidence: confidenceOf(group.length, group.some((r) => (r.task.timeline?.offsetSeconds.length ?? 0) >= 20)),
      summary: `The GPU ran below its clocks for ${fmt(share * 100, 0)}% of the time of ${group.length} run(s) (${fmt(seconds, 0)} s, latest ${label}), held down by ${causeText}`,
      evidence: [
        { label: 'share of the run time with a thermal or power clock reason active', value: share * 100, unit: '%' },
        { label: 'time held below clocks', value: seconds, unit: 's' },
        ...reasons.map(([r, v]) => ({ label: `time with ${r} active`, value: v, unit: 's' })),
      ],
      nextStep: known ? REASON_STEP[known] : REASON_STEP.hw_slowdown,
      resolvedWhen: `no thermal or power clock reason is active for ${THROTTLE_SHARE * 100}% or more of a run's time`,
      expectedGainSeconds: seconds * THROTTLE_COST,
    }, group.map((r) => r.task)));
  }
  return out;
}
