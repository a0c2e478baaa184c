// gpuStarved and gpuIdle: read from each run's own timeline. Points inside a model-load phase are
// left out (a GPU waits while weights load; that is loadDominated's business). A run counts when
// its GPU was under LOW_UTIL_PERCENT for at least LOW_SHARE of its remaining points; what its own
// process tree's CPU did meanwhile tells the two apart: one core or more busy is an input
// pipeline holding the GPU back (starved); under IDLE_CORES is waiting on something else (idle).
import type { Finding, PerformanceMetrics } from '../../../shared/metrics';
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
