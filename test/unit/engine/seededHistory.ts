// A varied, reproducible task history for the analysis characterisation test: every status, unknown
// figures, equal start times, resolutions with and without a class, tasks before the window.
import type { PerformanceThresholds } from '../../../src/core/engine/config';
import { DEFAULT_THRESHOLDS } from '../../../src/core/engine/config';
import type { PerformanceMetrics, TaskStatus } from '../../../src/shared/metrics';
import { makeTask } from './fakes';
import { seededRandom } from '../helpers/seededRandom';


export const HISTORY_NOW_MS = Date.UTC(2026, 2, 1, 12);
const HOUR_MS = 3_600_000;

const STATUSES: TaskStatus[] = ['succeeded', 'succeeded', 'succeeded', 'failed', 'cancelled', 'interrupted', 'running'];
const RESOLUTIONS: [string, string | null][] = [['720p', '720p'], ['1280x720', '720p'], ['1080p', '1080p'], ['1920x1080', '1080p'], ['4k', '4k'], ['weird', null], ['512x512', null]];
const MODELS = ['sdxl', 'wan-t2v', 'flux', 'llama'];
const ERRORS = [null, 'oom', 'timeout', 'crash'];

export function seededHistory(seed: number, count: number, spanHours: number): PerformanceMetrics[] {
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  /** A value, or null about `nullShare` of the time. */
  const maybe = (value: number, nullShare = 0.2): number | null => (rand() < nullShare ? null : value);
  const tasks: PerformanceMetrics[] = [];
  let previousStart = HISTORY_NOW_MS - spanHours * HOUR_MS;
  for (let i = 0; i < count; i++) {
    // One task in eight starts with the one before it: equal starts share a trend bucket.
    const startTime = rand() < 0.125 ? previousStart : HISTORY_NOW_MS - Math.floor(rand() * spanHours * HOUR_MS);
    previousStart = startTime;
    const status = pick(STATUSES);
    const [resolution, resolutionClass] = pick(RESOLUTIONS);
    const vramTotalMb = rand() < 0.15 ? (rand() < 0.5 ? null : 0) : pick([16_384, 24_576, 81_920]);
    const ramTotalMb = rand() < 0.1 ? null : pick([32_768, 65_536]);
    const peakVram = vramTotalMb ? vramTotalMb * (0.3 + rand() * 0.75) : 4_000 + rand() * 20_000;
    const generationTimeSeconds = status === 'running' ? null : maybe(1 + rand() * 1500, 0.1);
    tasks.push(makeTask({
      taskId: `task-${seed}-${i}`,
      modelType: pick(MODELS),
      resolution,
      resolutionClass,
      status,
      success: status === 'succeeded',
      errorCategory: status === 'failed' || status === 'interrupted' ? pick(ERRORS) : null,
      startTime,
      endTime: status === 'running' ? null : startTime + 1000,
      generationTimeSeconds,
      modelLoadTimeSeconds: maybe(rand() * 60, 0.4),
      peakVramUsageMb: maybe(peakVram),
      devicePeakVramUsageMb: maybe(peakVram * (1 + rand() * 0.1), 0.3),
      vramTotalMb,
      ramTotalMb,
      devicePeakRamUsageMb: ramTotalMb === null ? maybe(20_000) : maybe(ramTotalMb * (0.4 + rand() * 0.6)),
      deviceAverageCpuUsagePercent: maybe(rand() * 100),
    }));
  }
  return tasks;
}

export interface Scenario {
  name: string;
  seed: number;
  count: number;
  spanHours: number;
  windowHours: number;
  thresholds: PerformanceThresholds;
}

const LOW: PerformanceThresholds = {
  ...DEFAULT_THRESHOLDS,
  maxGenerationTimeSecondsByResolution: { '720p': 60, '1080p': 120, '4k': 200 },
  maxVramUsagePercent: 50,
  maxRamUsagePercent: 50,
  maxCpuUsagePercent: 40,
  maxModelLoadTimeSeconds: 10,
  minSuccessRate: 0.99,
};

const HIGH: PerformanceThresholds = {
  ...DEFAULT_THRESHOLDS,
  maxGenerationTimeSecondsByResolution: { '720p': 5000 },
  maxVramUsagePercent: 99,
  maxRamUsagePercent: 99,
  maxCpuUsagePercent: 99,
  maxModelLoadTimeSeconds: 120,
  minSuccessRate: 0.1,
  efficiencyBaselineSeconds: 10,
};

/** Just under the measured means of seed 8: warnings close to the critical factors (1.05, 1.5, 0.85). */
const EDGE: PerformanceThresholds = {
  ...DEFAULT_THRESHOLDS,
  maxGenerationTimeSecondsByResolution: { '720p': 500, '1080p': 600, '4k': 640 },
  maxVramUsagePercent: 68,
  maxRamUsagePercent: 69,
  maxCpuUsagePercent: 48,
  maxModelLoadTimeSeconds: 25,
  minSuccessRate: 0.7,
};

/** Each scenario's analysis is kept in test/fixtures/analysis/characterisation.json. */
export const SCENARIOS: Scenario[] = [
  { name: 'default thresholds, a day of 300 tasks', seed: 1, count: 300, spanHours: 48, windowHours: 24, thresholds: DEFAULT_THRESHOLDS },
  { name: 'low thresholds: every bottleneck and advice', seed: 2, count: 200, spanHours: 30, windowHours: 24, thresholds: LOW },
  { name: 'high thresholds: nothing flagged', seed: 3, count: 150, spanHours: 20, windowHours: 24, thresholds: HIGH },
  { name: 'one hour window', seed: 4, count: 120, spanHours: 3, windowHours: 1, thresholds: DEFAULT_THRESHOLDS },
  { name: 'thirty days, low thresholds', seed: 5, count: 500, spanHours: 800, windowHours: 720, thresholds: LOW },
  { name: 'few tasks (fewer than ten buckets)', seed: 6, count: 7, spanHours: 10, windowHours: 24, thresholds: LOW },
  { name: 'thresholds at the edge: warnings near the critical factors', seed: 8, count: 250, spanHours: 30, windowHours: 24, thresholds: EDGE },
  { name: 'nothing in the window', seed: 7, count: 20, spanHours: 200, windowHours: 0.001, thresholds: DEFAULT_THRESHOLDS },
];
