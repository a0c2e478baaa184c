// The findings engine: every rule over the window's runs (and, for comparisons, every recorded
// run), duplicates merged, ranked by expected gain and confidence, at most MAX_FINDINGS. The
// original four flags (VRAM, RAM, CPU, model load) become findings too, each with one next step for
// the configuration that triggered it. Pure: same input, same output.
import { MAX_FINDINGS, type BottleneckAnalysis, type Confidence, type Finding, type PerformanceMetrics, type Severity } from '../../../shared/metrics';
import { safeLabel } from '../../../shared/text';
import { BOTTLENECK_RULES } from '../analysisRules';
import { configKey, configLabel, finding, fmt, groupBy, mb, mean, OOM_CATEGORY } from './common';
import { failureClusterFindings, loadDominatedFindings, oomFindings, regressionFindings } from './historyKinds';
import { starvationFindings, throttleFindings } from './timelineKinds';

export { predictRun } from './historyKinds';

/** The latest runs of the window the rules read, and the latest recorded runs they compare with. */
const MAX_WINDOW_RUNS = 1000;
const MAX_COMPARED_RUNS = 2000;

const SEVERITY_WEIGHT: Record<Severity, number> = { critical: 3, warning: 2, info: 1 };
const CONFIDENCE_WEIGHT: Record<Confidence, number> = { high: 1, medium: 0.7, low: 0.4 };

/** Ranking key: seconds to gain (at least one), weighted by severity and confidence. */
function rankScore(f: Finding): number {
  return Math.max(1, f.expectedGainSeconds) * SEVERITY_WEIGHT[f.severity] * CONFIDENCE_WEIGHT[f.confidence];
}

/** The window's configuration with the highest figure for one of the original rules. */
function worstConfig(tasks: readonly PerformanceMetrics[], ruleIndex: number): { tasks: PerformanceMetrics[]; value: number } | null {
  const rule = BOTTLENECK_RULES[ruleIndex];
  if (!rule) return null;
  let best: { tasks: PerformanceMetrics[]; value: number } | null = null;
  for (const group of groupBy(tasks, configKey).values()) {
    const values = group.map((t) => rule.sample(t)).filter((v): v is number => v !== null);
    const m = mean(values);
    if (m !== null && (best === null || m > best.value)) best = { tasks: group.filter((t) => rule.sample(t) !== null), value: m * rule.scale };
  }
  return best;
}

/** The original four flags as findings, each with the configuration that weighs most and one step for it. */
function pressureFindings(tasks: readonly PerformanceMetrics[], bottlenecks: BottleneckAnalysis): Finding[] {
  const out: Finding[] = [];
  for (const b of bottlenecks.findings) {
    const ruleIndex = BOTTLENECK_RULES.findIndex((r) => r.kind === b.kind);
    const worst = worstConfig(tasks, ruleIndex);
    if (!worst || worst.tasks.length === 0) continue;
    const t = worst.tasks[worst.tasks.length - 1] as PerformanceMetrics;
    const label = configLabel(t);
    const common = {
      severity: b.severity,
      confidence: b.confidence,
      evidence: [
        { label: b.evidence.metric, value: b.evidence.measuredValue, unit: b.evidence.unit },
        { label: 'limit', value: b.evidence.threshold, unit: b.evidence.unit },
        { label: `the same at ${label}`, value: worst.value, unit: b.evidence.unit },
      ],
      expectedGainSeconds: 0,
    };
    if (b.kind === 'vram') {
      const step = t.quantizationUsed === null
        ? `Load ${safeLabel(t.modelType)} quantized (8-bit weights) for ${label}`
        : !t.offloadUsed
          ? `Enable CPU offload for ${label} (it is already quantized: ${safeLabel(t.quantizationUsed)})`
          : `Render ${safeLabel(t.modelType)} below ${safeLabel(t.resolution)}: it is already quantized and offloaded`;
      out.push(finding({ ...common, kind: 'vramPressure', summary: `${b.summary}; highest at ${label} (${fmt(worst.value)}%)`, nextStep: step, resolvedWhen: `peak VRAM stays under ${b.evidence.threshold}% of the GPU's memory` }, worst.tasks));
    } else if (b.kind === 'ram') {
      const own = t.processTreePeakRamUsageMb;
      const device = t.devicePeakRamUsageMb;
      const step = own !== null && device !== null && own < device / 2
        ? `Other processes held ${mb(device - own)} of RAM while ${label} ran (its own peak ${mb(own)}): close them before the run`
        : t.offloadUsed
          ? `Offload moves ${safeLabel(t.modelType)}'s weights into RAM: offload fewer modules (e.g. model CPU offload instead of sequential) for ${label}`
          : `Load ${safeLabel(t.modelType)}'s weights memory-mapped (safetensors, low_cpu_mem_usage=True) so they are not copied into RAM twice`;
      out.push(finding({ ...common, kind: 'ramPressure', summary: `${b.summary}; highest at ${label} (${fmt(worst.value)}%)`, nextStep: step, resolvedWhen: `peak RAM stays under ${b.evidence.threshold}% of the machine's memory` }, worst.tasks));
    } else if (b.kind === 'cpu') {
      const cores = t.processTreeAverageCpuUsagePercent;
      const step = cores !== null && cores < 100
        ? `The run itself used ${fmt(cores / 100, 2)} cores on average: other processes held the CPU during ${label}; close them or run at a quieter time`
        : `Cap the run's CPU threads (OMP_NUM_THREADS / torch.set_num_threads) at the machine's cores minus one, so decoding and the GPU driver keep a core`;
      out.push(finding({ ...common, kind: 'cpuPressure', summary: `${b.summary}; highest at ${label} (${fmt(worst.value)}%)`, nextStep: step, resolvedWhen: `device CPU averages under ${b.evidence.threshold}% during runs` }, worst.tasks));
    } else {
      out.push(finding({
        ...common,
        kind: 'slowModelLoad',
        summary: `${b.summary}; slowest for ${safeLabel(t.modelType)} (${fmt(worst.value)} s)`,
        nextStep: `Put ${safeLabel(t.modelType)}'s weights on a local SSD (not a network or spinning disk) and load them in safetensors format`,
        resolvedWhen: `model loading averages under ${b.evidence.threshold} s`,
      }, worst.tasks));
    }
  }
  return out;
}

/** Drops what another finding already says better, moving its evidence over. */
function mergeDuplicates(list: Finding[]): Finding[] {
  const out = [...list];
  const drop = new Set<Finding>();
  for (const f of out) {
    // Out-of-memory failures at one place: oomRisk explains them with the prediction.
    if (f.kind === 'failureCluster' && OOM_CATEGORY.test(f.summary)) {
      const oom = out.find((o) => o.kind === 'oomRisk' && o.taskIds.some((id) => f.taskIds.includes(id)));
      if (oom) {
        oom.evidence = [...oom.evidence, ...f.evidence].slice(0, 16);
        oom.expectedGainSeconds = Math.max(oom.expectedGainSeconds, f.expectedGainSeconds);
        drop.add(f);
      }
    }
    // Slow loading of a model whose runs are dominated by loading: loadDominated has the better step.
    if (f.kind === 'slowModelLoad' && out.some((o) => o.kind === 'loadDominated' && o.taskIds.some((id) => f.taskIds.includes(id)))) drop.add(f);
    // High VRAM at a configuration oomRisk already covers.
    if (f.kind === 'vramPressure' && out.some((o) => o.kind === 'oomRisk' && o.taskIds.some((id) => f.taskIds.includes(id)))) drop.add(f);
  }
  return out.filter((f) => !drop.has(f));
}

/**
 * Findings for the runs in `windowTasks` (finished ones), compared with every finished run in
 * `allTasks`. Ranked by rankScore, at most MAX_FINDINGS.
 */
export function findFindings(windowTasksIn: readonly PerformanceMetrics[], allTasksIn: readonly PerformanceMetrics[], bottlenecks: BottleneckAnalysis): Finding[] {
  // Diagnoses are about recent runs: bounding what the rules read keeps a 100 000-task analysis fast.
  const windowTasks = windowTasksIn.slice(-MAX_WINDOW_RUNS);
  const finished = allTasksIn.slice(-MAX_COMPARED_RUNS).filter((t) => t.status !== 'running');
  const all = [
    ...starvationFindings(windowTasks),
    ...throttleFindings(windowTasks),
    ...oomFindings(windowTasks, finished),
    ...failureClusterFindings(windowTasks),
    ...regressionFindings(windowTasks, finished),
    ...loadDominatedFindings(windowTasks),
    ...pressureFindings(windowTasks, bottlenecks),
  ];
  return mergeDuplicates(all)
    .map((f, i) => ({ f, i, score: rankScore(f) }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, MAX_FINDINGS)
    .map(({ f }) => f);
}
