// Findings from comparable runs: oomRisk (peak VRAM fitted against pixel count per model type),
// failureCluster, regression (median and MAD per configuration) and loadDominated. Pure.
import type { Finding, PerformanceMetrics, RunPrediction } from '../../../shared/metrics';
import { safeErrorText, safeLabel } from '../../../shared/text';
import { resolutionKey } from '../resolution';
import {
  configLabel, confidenceOf, durationSeconds, finding, fmt, gpuMemoryMb, groupBy, isFailure, linearFit, loadSeconds, mb, median,
  OOM_CATEGORY, scaledMad,
} from './common';

// ----- oomRisk -----

/** Pixels (times frames when the resolution names them: `1280x720x81`); a class such as `720p` is taken as 16:9. */
export function pixelsOf(resolution: string, resolutionClass: string | null): number | null {
  const dims = /^\s*(\d{2,5})\s*[x×*]\s*(\d{2,5})(?:\s*[x×*]\s*(\d{1,5}))?\s*$/i.exec(resolution);
  if (dims) return Number(dims[1]) * Number(dims[2]) * (dims[3] ? Math.max(1, Number(dims[3])) : 1);
  const cls = resolutionClass !== null ? /^(\d{2,5})p$/.exec(resolutionClass) : null;
  if (!cls) return null;
  const h = Number(cls[1]);
  return Math.round((h * 16) / 9) * h;
}

/** Short sides offered as the largest resolution predicted to fit (16:9 at each). */
const CANDIDATE_SHORT_SIDES = [360, 480, 540, 720, 1080, 1440, 2160];

interface VramFit {
  slopeMbPerPixel: number;
  interceptMb: number;
  r2: number;
  runs: PerformanceMetrics[];
  /** Memory of the GPU the fitted runs used (the most common), or null. */
  gpuMemoryMb: number | null;
}

/** Fits peak VRAM against pixels over a model type's successful runs; null with < 3 runs or < 2 sizes. */
function fitVram(runs: readonly PerformanceMetrics[]): VramFit | null {
  const used = runs.filter((t) => t.status === 'succeeded' && t.peakVramUsageMb !== null && pixelsOf(t.resolution, t.resolutionClass) !== null);
  if (used.length < 3) return null;
  const xs = used.map((t) => pixelsOf(t.resolution, t.resolutionClass) as number);
  if (new Set(xs).size < 2) return null;
  const fit = linearFit(xs, used.map((t) => t.peakVramUsageMb as number));
  if (fit === null || !(fit.slope > 0)) return null;
  const mems = used.map(gpuMemoryMb).filter((m): m is number => m !== null);
  const counts = groupBy(mems.map(String), (m) => m);
  let common: number | null = null;
  let best = 0;
  for (const [m, list] of counts) if (list.length > best) [common, best] = [Number(m), list.length];
  return { slopeMbPerPixel: fit.slope, interceptMb: fit.intercept, r2: fit.r2, runs: used, gpuMemoryMb: common };
}

function predictVram(fit: VramFit, pixels: number): number {
  return fit.interceptMb + fit.slopeMbPerPixel * pixels;
}

/** The largest standard 16:9 short side (with the same frame count) predicted to fit `memoryMb`. */
function largestFitting(fit: VramFit, memoryMb: number, frames: number): number | null {
  let best: number | null = null;
  for (const h of CANDIDATE_SHORT_SIDES) if (predictVram(fit, Math.round((h * 16) / 9) * h * frames) <= memoryMb) best = h;
  return best;
}

function framesOf(t: PerformanceMetrics): number {
  const m = /^\s*\d{2,5}\s*[x×*]\s*\d{2,5}\s*[x×*]\s*(\d{1,5})\s*$/i.exec(t.resolution);
  return m ? Math.max(1, Number(m[1])) : 1;
}

export function oomFindings(windowTasks: readonly PerformanceMetrics[], allTasks: readonly PerformanceMetrics[]): Finding[] {
  const out: Finding[] = [];
  const fits = new Map<string, VramFit | null>();
  for (const [model, runs] of groupBy(allTasks, (t) => t.modelType)) fits.set(model, fitVram(runs));
  const byConfig = groupBy(windowTasks, (t) => `${t.modelType}\u0000${resolutionKey(t.resolution, t.resolutionClass)}`);
  for (const runs of byConfig.values()) {
    const t = runs[runs.length - 1] as PerformanceMetrics;
    const fit = fits.get(t.modelType) ?? null;
    const pixels = pixelsOf(t.resolution, t.resolutionClass);
    if (fit === null || pixels === null) continue;
    const memory = runs.map(gpuMemoryMb).find((m) => m !== null) ?? fit.gpuMemoryMb;
    if (memory === null) continue;
    const predicted = predictVram(fit, pixels);
    if (!(predicted > memory)) continue;
    const oomFailed = runs.filter((r) => isFailure(r) && r.errorCategory !== null && OOM_CATEGORY.test(r.errorCategory));
    const fitsAt = largestFitting(fit, memory, framesOf(t));
    const label = configLabel(t);
    const lost = oomFailed.reduce((s, r) => s + (durationSeconds(r) ?? 0), 0);
    const typical = median(fit.runs.map((r) => durationSeconds(r) ?? 0)) ?? 0;
    out.push(finding({
      kind: 'oomRisk',
      severity: oomFailed.length > 0 ? 'critical' : 'warning',
      confidence: confidenceOf(fit.runs.length, fit.r2 >= 0.9),
      summary: `${label} is predicted to peak at ${mb(predicted)} of VRAM on a ${mb(memory)} GPU (fit over ${fit.runs.length} successful ${safeLabel(t.modelType)} runs)` +
        (oomFailed.length > 0 ? `; ${oomFailed.length} of ${runs.length} run(s) there failed out of memory, as predicted` : ''),
      evidence: [
        { label: 'predicted peak VRAM', value: predicted, unit: 'MB' },
        { label: 'memory of the GPU the run used', value: memory, unit: 'MB' },
        { label: 'VRAM per megapixel (fitted)', value: fit.slopeMbPerPixel * 1e6, unit: 'MB' },
        { label: 'VRAM at zero pixels (fitted: weights and overhead)', value: fit.interceptMb, unit: 'MB' },
        { label: 'fit quality R²', value: fit.r2, unit: 'ratio' },
        { label: 'runs that failed out of memory at this configuration', value: oomFailed.length, unit: 'runs' },
        ...(fitsAt !== null ? [{ label: 'largest short side predicted to fit (16:9)', value: fitsAt, unit: 'px' }] : []),
      ],
      nextStep: fitsAt !== null
        ? `Run ${safeLabel(t.modelType)} at ${fitsAt}p or below (predicted ${mb(predictVram(fit, Math.round((fitsAt * 16) / 9) * fitsAt * framesOf(t)))}), or keep ${safeLabel(resolutionKey(t.resolution, t.resolutionClass))} with CPU offload or a quantized model`
        : `No standard resolution of ${safeLabel(t.modelType)} is predicted to fit ${mb(memory)}: use CPU offload or a quantized model, or a GPU with more memory`,
      resolvedWhen: `the predicted peak for this configuration falls under the GPU's memory (lower resolution, offload, quantization) or runs at it succeed and refit the prediction`,
      expectedGainSeconds: oomFailed.length > 0 ? lost : typical,
    }, oomFailed.length > 0 ? oomFailed : runs));
  }
  return out;
}

const MAX_PREDICTION_RUNS = 2000;

/** What the history predicts for a configuration about to run; null when it can predict nothing. */
export function predictRun(history: readonly PerformanceMetrics[], modelType: string, resolution: string, resolutionClass: string | null, steps: number): RunPrediction | null {
  // The latest runs only: a start must stay cheap however long the history is.
  const sameModel = history.slice(-MAX_PREDICTION_RUNS).filter((t) => t.modelType === modelType && t.status !== 'running');
  const fit = fitVram(sameModel);
  const pixels = pixelsOf(resolution, resolutionClass);
  const peak = fit !== null && pixels !== null ? predictVram(fit, pixels) : null;
  const key = resolutionKey(resolution, resolutionClass);
  const times = sameModel
    .filter((t) => t.status === 'succeeded' && t.steps === steps && resolutionKey(t.resolution, t.resolutionClass) === key && t.generationTimeSeconds !== null)
    .map((t) => t.generationTimeSeconds as number);
  const time = times.length >= 1 ? median(times) : null;
  if (peak === null && time === null) return null;
  const memory = fit?.gpuMemoryMb ?? null;
  return {
    peakVramMb: peak === null ? null : Math.round(peak),
    generationTimeSeconds: time,
    gpuMemoryMb: memory,
    exceedsGpuMemory: peak !== null && memory !== null && peak > memory,
    basedOnTaskCount: Math.max(fit?.runs.length ?? 0, times.length),
  };
}

// ----- failureCluster -----

/** At least this many failures before a pattern is claimed, and this share of them in one place. */
const MIN_CLUSTER_FAILURES = 3;
const CLUSTER_SHARE = 0.75;

const TIME_OF_DAY = 'time of day';
/** The day in four six-hour parts, by the local clock of the machine that reads the history. */
const DAY_PARTS = ['at night (00-06 h)', 'in the morning (06-12 h)', 'in the afternoon (12-18 h)', 'in the evening (18-24 h)'] as const;

function dayPart(epochMs: number): string {
  return DAY_PARTS[Math.floor(new Date(epochMs).getHours() / 6)] as string;
}

export function failureClusterFindings(windowTasks: readonly PerformanceMetrics[]): Finding[] {
  const finished = windowTasks.filter((t) => t.status !== 'cancelled' && t.status !== 'running');
  const failures = finished.filter(isFailure);
  if (failures.length < MIN_CLUSTER_FAILURES) return [];
  const category = (t: PerformanceMetrics): string => t.errorCategory ?? (t.status === 'interrupted' ? 'interrupted' : 'unknown');
  const dims: { name: string; key: (t: PerformanceMetrics) => string }[] = [
    { name: 'resolution', key: (t) => resolutionKey(t.resolution, t.resolutionClass) },
    { name: 'model type', key: (t) => t.modelType },
    { name: TIME_OF_DAY, key: (t) => dayPart(t.startTime) },
  ];
  let best: { dim: string; value: string; inFail: number; inRuns: number; outFail: number; outRuns: number; tasks: PerformanceMetrics[] } | null = null;
  for (const dim of dims) {
    const runsOf = new Map<string, number>();
    for (const t of finished) runsOf.set(dim.key(t), (runsOf.get(dim.key(t)) ?? 0) + 1);
    for (const [value, failed] of groupBy(failures, dim.key)) {
      const inRuns = runsOf.get(value) ?? 0;
      const outRuns = finished.length - inRuns;
      const outFail = failures.length - failed.length;
      const share = failed.length / failures.length;
      // Concentrated: most failures are here, and runs elsewhere fail at most half as often.
      if (share < CLUSTER_SHARE || outRuns === 0 || outFail / outRuns > (failed.length / inRuns) / 2) continue;
      // Runs at any hour share it: blame the hour only when most runs then fail and enough ran at other hours.
      if (dim.name === TIME_OF_DAY && (failed.length / inRuns < 0.5 || outRuns < MIN_CLUSTER_FAILURES)) continue;
      if (best === null || failed.length / inRuns > best.inFail / best.inRuns) best = { dim: dim.name, value, inFail: failed.length, inRuns, outFail, outRuns, tasks: failed };
    }
  }
  const categories = groupBy(best ? best.tasks : failures, category);
  const [topCategory, topList] = [...categories.entries()].sort((a, b) => b[1].length - a[1].length)[0] as [string, PerformanceMetrics[]];
  const categoryShare = topList.length / (best ? best.tasks.length : failures.length);
  if (best === null && categoryShare < CLUSTER_SHARE) return [];
  const tasks = best ? best.tasks : topList;
  const cat = safeErrorText(topCategory);
  const where = best ? (best.dim === TIME_OF_DAY ? `started ${best.value}` : `at ${best.dim} ${safeLabel(best.value)}`) : 'across configurations';
  const isOom = OOM_CATEGORY.test(topCategory);
  const killed = /kill|signal|sigkill/i.test(topCategory);
  const last = tasks[tasks.length - 1] as PerformanceMetrics;
  const lost = tasks.reduce((s, t) => s + (durationSeconds(t) ?? 0), 0);
  const evidence = best
    ? [
        { label: `failed runs ${where}`, value: best.inFail, unit: 'runs' },
        { label: `runs ${where}`, value: best.inRuns, unit: 'runs' },
        { label: 'failed runs elsewhere', value: best.outFail, unit: 'runs' },
        { label: 'runs elsewhere', value: best.outRuns, unit: 'runs' },
        { label: `share of these failures in category ${cat}`, value: categoryShare * 100, unit: '%' },
        // When the hour is the pattern: every failure by the part of the day it started in.
        ...(best.dim === TIME_OF_DAY ? DAY_PARTS.map((part) => ({ label: `failed runs started ${part}`, value: failures.filter((t) => dayPart(t.startTime) === part).length, unit: 'runs' })) : []),
      ]
    : [
        { label: `failed runs in category ${cat}`, value: topList.length, unit: 'runs' },
        { label: 'failed runs in all', value: failures.length, unit: 'runs' },
      ];
  return [finding({
    kind: 'failureCluster',
    severity: tasks.length >= 5 ? 'critical' : 'warning',
    confidence: confidenceOf(tasks.length, best !== null && best.outRuns >= 3),
    summary: best
      ? `${best.inFail} of ${best.inRuns} run(s) ${where} failed (${fmt(categoryShare * 100, 0)}% ${cat}), against ${best.outFail} of ${best.outRuns} elsewhere`
      : `${topList.length} of ${failures.length} failures are ${cat}`,
    evidence,
    nextStep: isOom
      ? `The failures ${where} are out of memory: lower that resolution or enable offload there (see oomRisk for the largest size predicted to fit)`
      : best?.dim === TIME_OF_DAY
        ? `The runs ${where} fail (${cat}) while others at other hours do not: look for what else runs then (cron jobs, backups, other users' jobs: journalctl --since for those hours) and for the kernel's OOM killer in dmesg`
        : killed
        ? `The runs ${where} were killed by a signal: check the kernel log (dmesg, journalctl -k) for the out-of-memory killer around task "${safeLabel(last.taskId)}", and its peak RAM`
        : `Open the output of task "${safeLabel(last.taskId)}": its first error line names why the runs ${where} fail (${cat})`,
    resolvedWhen: `runs ${where} fail no more often than runs elsewhere`,
    expectedGainSeconds: lost,
  }, tasks)];
}

// ----- regression -----

/** Runs needed on each side of a change before a slowdown is claimed. */
const MIN_SIDE_RUNS = 3;
/** A slowdown must exceed 3 scaled MADs of the earlier runs and 5 % of their median. */
const NOISE_MADS = 3;
const MIN_RELATIVE_SLOWDOWN = 0.05;
/** The latest runs of a configuration the change point is looked for in. */
const MAX_REGRESSION_RUNS = 40;

export function regressionFindings(windowTasks: readonly PerformanceMetrics[], allTasks: readonly PerformanceMetrics[]): Finding[] {
  const keyOf = (t: PerformanceMetrics): string => `${t.taskId}\u0000${t.startTime}`;
  const inWindow = new Set(windowTasks.map(keyOf));
  const out: Finding[] = [];
  const ok = allTasks.filter((t) => t.status === 'succeeded' && t.generationTimeSeconds !== null);
  for (const runs of groupBy(ok, (t) => `${t.modelType}\u0000${resolutionKey(t.resolution, t.resolutionClass)}\u0000${t.steps}`).values()) {
    runs.sort((a, b) => a.startTime - b.startTime);
    runs.splice(0, runs.length - MAX_REGRESSION_RUNS);
    // A configuration not run in the window has nothing to report now.
    if (!inWindow.has(keyOf(runs[runs.length - 1] as PerformanceMetrics))) continue;
    const times = runs.map((t) => t.generationTimeSeconds as number);
    // Of the splits that are a slowdown beyond noise, the one where each side sits closest to its own
    // median (least total absolute deviation) is where it began.
    let best: { k: number; score: number; cost: number; before: number; after: number; mad: number } | null = null;
    for (let k = MIN_SIDE_RUNS; k <= runs.length - MIN_SIDE_RUNS; k++) {
      const before = median(times.slice(0, k)) as number;
      const after = median(times.slice(k)) as number;
      const mad = scaledMad(times.slice(0, k)) as number;
      // The noisier side sets the bar: three runs before can look tight by chance.
      const noise = Math.max(NOISE_MADS * Math.max(mad, scaledMad(times.slice(k)) as number), MIN_RELATIVE_SLOWDOWN * before);
      const score = (after - before) / noise;
      // At least MIN_SIDE_RUNS slow runs themselves, not two slow ones and a normal one.
      if (!(score > 1) || times.slice(k).filter((x) => x > before + noise).length < MIN_SIDE_RUNS) continue;
      // Nor a series that was already as slow before now and then (bimodal, not a change): at most a quarter.
      if (times.slice(0, k).filter((x) => x > before + noise).length > k / 4) continue;
      const cost = times.reduce((s, x, i) => s + Math.abs(x - (i < k ? before : after)), 0);
      if (best === null || cost < best.cost) best = { k, score, cost, before, after, mad };
    }
    if (best === null) continue;
    const began = runs[best.k] as PerformanceMetrics;
    const prev = runs[best.k - 1] as PerformanceMetrics;
    const after = runs.slice(best.k);
    const commit = began.gitCommit ? `commit ${began.gitCommit.hash}${began.gitCommit.branch ? ` (${safeLabel(began.gitCommit.branch)})` : ''}${began.gitCommit.dirty ? ' with uncommitted changes' : ''}` : 'an unknown commit';
    const slow = (best.after - best.before) / best.before;
    out.push(finding({
      kind: 'regression',
      severity: slow >= 0.25 ? 'critical' : 'warning',
      confidence: confidenceOf(Math.min(best.k, after.length), best.score >= 2),
      summary: `${configLabel(began)}, ${began.steps} steps: median time ${fmt(best.after)} s over the last ${after.length} run(s) against ${fmt(best.before)} s over the ${best.k} before (+${fmt(slow * 100, 0)}%, noise ±${fmt(best.mad)} s); it began with task "${safeLabel(began.taskId)}" at ${commit}`,
      evidence: [
        { label: 'median generation time before', value: best.before, unit: 's' },
        { label: 'median generation time since', value: best.after, unit: 's' },
        { label: 'scaled MAD of the runs before', value: best.mad, unit: 's' },
        { label: 'slowdown', value: slow * 100, unit: '%' },
        { label: 'runs before', value: best.k, unit: 'runs' },
        { label: 'runs since', value: after.length, unit: 'runs' },
      ],
      nextStep: began.gitCommit && prev.gitCommit && began.gitCommit.hash !== prev.gitCommit.hash
        ? `Compare the code: git diff ${prev.gitCommit.hash} ${began.gitCommit.hash} (the last fast run ran at ${prev.gitCommit.hash}, the first slow one at ${began.gitCommit.hash})`
        : began.gitCommit?.dirty
          ? `The first slow run ran with uncommitted changes at ${began.gitCommit.hash}: review git diff there`
          : `Compare task "${safeLabel(prev.taskId)}" (last fast run) with task "${safeLabel(began.taskId)}" (first slow one): configuration, optimisations and driver`,
      resolvedWhen: `the median of the latest runs of this configuration is back within ${NOISE_MADS} MADs (or 5 %) of the earlier median`,
      expectedGainSeconds: (best.after - best.before) * after.length,
    }, after));
  }
  return out;
}

// ----- loadDominated -----

const LOAD_SHARE = 0.5;

export function loadDominatedFindings(windowTasks: readonly PerformanceMetrics[]): Finding[] {
  const out: Finding[] = [];
  const ok = windowTasks.filter((t) => t.status === 'succeeded' && loadSeconds(t) !== null && (durationSeconds(t) ?? 0) > 0);
  for (const [model, runs] of groupBy(ok, (t) => t.modelType)) {
    if (runs.length < 2) continue;
    const loads = runs.map((t) => loadSeconds(t) as number);
    const totals = runs.map((t) => durationSeconds(t) as number);
    const share = median(runs.map((_t, i) => (loads[i] as number) / (totals[i] as number))) as number;
    if (share < LOAD_SHARE) continue;
    const load = median(loads) as number;
    const total = median(totals) as number;
    out.push(finding({
      kind: 'loadDominated',
      severity: share >= 0.75 ? 'critical' : 'warning',
      confidence: confidenceOf(runs.length, runs.length >= 5),
      summary: `${safeLabel(model)}: loading the model takes ${fmt(share * 100, 0)}% of each run (median ${fmt(load)} s of ${fmt(total)} s, ${runs.length} runs)`,
      evidence: [
        { label: 'median model load time', value: load, unit: 's' },
        { label: 'median run time', value: total, unit: 's' },
        { label: 'median share of the run spent loading', value: share * 100, unit: '%' },
      ],
      nextStep: `Keep ${safeLabel(model)} loaded between generations: run them in one process (a loop over prompts or a small server) instead of one process per generation; that saves about ${fmt(load)} s per run`,
      resolvedWhen: `loading takes under ${LOAD_SHARE * 100}% of a typical run`,
      expectedGainSeconds: loads.reduce((a, b) => a + b, 0) - load,
    }, runs));
  }
  return out;
}
