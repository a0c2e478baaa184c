// The monitor's settings: defaults, and one validator that turns any user input into a complete,
// checked MonitorConfig or throws an error naming the key and the accepted range.
// Keys follow the original's config (interval, history size, GPU monitoring) plus what the fixes need.
import { normalizeResolution } from './resolution';

export interface PerformanceThresholds {
  /** Target generation time per resolution class (`720p`: 300 s, `1080p`: 900 s as in the original). */
  maxGenerationTimeSecondsByResolution: Record<string, number>;
  maxVramUsagePercent: number;
  maxRamUsagePercent: number;
  maxCpuUsagePercent: number;
  maxModelLoadTimeSeconds: number;
  minSuccessRate: number;
  /** The time-efficiency factor is min(1, baseline / average time); the original assumed 300 s. */
  efficiencyBaselineSeconds: number;
}

export interface MonitorConfig {
  monitoringIntervalMs: number;
  /** Completed tasks kept in memory for analysis (the store keeps more, per retention). */
  maxHistorySize: number;
  enableGpuMonitoring: boolean;
  /** Snapshots kept at full rate. */
  maxSnapshots: number;
  /** Per-minute roll-ups kept for long windows. */
  maxRollupMinutes: number;
  /** First wait before looking for a GPU again when none was found; doubles up to the max. */
  gpuRecheckInitialMs: number;
  gpuRecheckMaxMs: number;
  retentionDays: number;
  retentionMaxTasks: number;
  /** Folder of the shared history; null means the default (see historyStore.defaultStorageDir). */
  storageDir: string | null;
  /**
   * A running task's marker is rewritten when its progress changed, at most this often (ms), so a
   * window on the machine shows the progress of a `model-perf run` (or of another window's task)
   * live. 0 (the default; a window and `run` set 1000): once a minute only.
   */
  liveProgressMarkerMs: number;
  thresholds: PerformanceThresholds;
}

/** What callers may pass: any subset, thresholds included. */
export type MonitorConfigInput = Partial<Omit<MonitorConfig, 'thresholds'>> & {
  thresholds?: Partial<PerformanceThresholds>;
};

export const DEFAULT_THRESHOLDS: Readonly<PerformanceThresholds> = Object.freeze({
  maxGenerationTimeSecondsByResolution: Object.freeze({ '720p': 300, '1080p': 900 }) as Record<string, number>,
  maxVramUsagePercent: 90,
  maxRamUsagePercent: 85,
  maxCpuUsagePercent: 90,
  maxModelLoadTimeSeconds: 30,
  minSuccessRate: 0.95,
  efficiencyBaselineSeconds: 300,
});

export const DEFAULT_CONFIG: Readonly<MonitorConfig> = Object.freeze({
  monitoringIntervalMs: 1000,
  maxHistorySize: 10_000,
  enableGpuMonitoring: true,
  maxSnapshots: 3600,
  maxRollupMinutes: 7 * 24 * 60,
  gpuRecheckInitialMs: 10_000,
  gpuRecheckMaxMs: 300_000,
  retentionDays: 90,
  retentionMaxTasks: 100_000,
  storageDir: null,
  liveProgressMarkerMs: 0,
  thresholds: DEFAULT_THRESHOLDS,
});

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface NumberRule {
  min: number;
  max: number;
  integer?: boolean;
}

const NUMBER_RULES: Record<string, NumberRule> = {
  monitoringIntervalMs: { min: 250, max: 60_000 },
  maxHistorySize: { min: 1, max: 1_000_000, integer: true },
  maxSnapshots: { min: 10, max: 1_000_000, integer: true },
  maxRollupMinutes: { min: 0, max: 525_600, integer: true },
  gpuRecheckInitialMs: { min: 1000, max: 3_600_000 },
  gpuRecheckMaxMs: { min: 1000, max: 86_400_000 },
  retentionDays: { min: 1, max: 36_500 },
  retentionMaxTasks: { min: 1, max: 10_000_000, integer: true },
  liveProgressMarkerMs: { min: 0, max: 3_600_000 },
};

const THRESHOLD_RULES: Record<string, NumberRule> = {
  maxVramUsagePercent: { min: 1, max: 100 },
  maxRamUsagePercent: { min: 1, max: 100 },
  maxCpuUsagePercent: { min: 1, max: 100 },
  maxModelLoadTimeSeconds: { min: 0, max: 86_400 },
  minSuccessRate: { min: 0, max: 1 },
  efficiencyBaselineSeconds: { min: 1, max: 604_800 },
};

const GENERATION_TARGET_RULE: NumberRule = { min: 1, max: 604_800 };

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function checkNumber(key: string, value: unknown, rule: NumberRule): number {
  const kind = rule.integer ? 'a whole number' : 'a number';
  if (typeof value !== 'number' || !Number.isFinite(value) || value < rule.min || value > rule.max || (rule.integer && !Number.isInteger(value))) {
    throw new ConfigError(key, `modelPerf config: "${key}" must be ${kind} between ${rule.min} and ${rule.max} (got ${show(value)})`);
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rejectUnknownKeys(prefix: string, input: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) {
      throw new ConfigError(`${prefix}${key}`, `modelPerf config: unknown key "${prefix}${key}"; accepted keys: ${known.map((k) => prefix + k).join(', ')}`);
    }
  }
}

function validateThresholds(input: unknown): PerformanceThresholds {
  if (input === undefined) return { ...DEFAULT_THRESHOLDS, maxGenerationTimeSecondsByResolution: { ...DEFAULT_THRESHOLDS.maxGenerationTimeSecondsByResolution } };
  if (!isPlainObject(input)) throw new ConfigError('thresholds', `modelPerf config: "thresholds" must be an object (got ${show(input)})`);
  rejectUnknownKeys('thresholds.', input, [...Object.keys(THRESHOLD_RULES), 'maxGenerationTimeSecondsByResolution']);
  const out: PerformanceThresholds = { ...DEFAULT_THRESHOLDS, maxGenerationTimeSecondsByResolution: { ...DEFAULT_THRESHOLDS.maxGenerationTimeSecondsByResolution } };
  for (const [key, rule] of Object.entries(THRESHOLD_RULES)) {
    if (input[key] !== undefined) (out as unknown as Record<string, number>)[key] = checkNumber(`thresholds.${key}`, input[key], rule);
  }
  const targets = input.maxGenerationTimeSecondsByResolution;
  if (targets !== undefined) {
    const key = 'thresholds.maxGenerationTimeSecondsByResolution';
    if (!isPlainObject(targets)) throw new ConfigError(key, `modelPerf config: "${key}" must be an object of resolution -> seconds (got ${show(targets)})`);
    // Given targets are merged over the defaults, keyed by class, so `1280x720` and `720p` are one.
    for (const [resolution, seconds] of Object.entries(targets)) {
      const cls = normalizeResolution(resolution);
      if (cls === null) {
        throw new ConfigError(`${key}.${resolution}`, `modelPerf config: "${key}" has a key "${resolution}" that is not a resolution (use e.g. 720p, 1280x720, HD)`);
      }
      out.maxGenerationTimeSecondsByResolution[cls] = checkNumber(`${key}.${resolution}`, seconds, GENERATION_TARGET_RULE);
    }
  }
  return out;
}

/** Fills defaults and checks every key; throws ConfigError naming the key and the accepted range. */
export function validateConfig(input: unknown = {}): MonitorConfig {
  if (input === undefined || input === null) input = {};
  if (!isPlainObject(input)) throw new ConfigError('', `modelPerf config: the configuration must be an object (got ${show(input)})`);
  rejectUnknownKeys('', input, Object.keys(DEFAULT_CONFIG));
  const config: MonitorConfig = { ...DEFAULT_CONFIG, thresholds: validateThresholds(input.thresholds) };
  for (const [key, rule] of Object.entries(NUMBER_RULES)) {
    if (input[key] !== undefined) (config as unknown as Record<string, number>)[key] = checkNumber(key, input[key], rule);
  }
  if (input.enableGpuMonitoring !== undefined) {
    if (typeof input.enableGpuMonitoring !== 'boolean') {
      throw new ConfigError('enableGpuMonitoring', `modelPerf config: "enableGpuMonitoring" must be true or false (got ${show(input.enableGpuMonitoring)})`);
    }
    config.enableGpuMonitoring = input.enableGpuMonitoring;
  }
  if (input.storageDir !== undefined && input.storageDir !== null) {
    if (typeof input.storageDir !== 'string' || input.storageDir.trim() === '') {
      throw new ConfigError('storageDir', `modelPerf config: "storageDir" must be a folder path or null for the default (got ${show(input.storageDir)})`);
    }
    config.storageDir = input.storageDir;
  }
  if (config.gpuRecheckMaxMs < config.gpuRecheckInitialMs) {
    throw new ConfigError(
      'gpuRecheckMaxMs',
      `modelPerf config: "gpuRecheckMaxMs" must be at least "gpuRecheckInitialMs" (${config.gpuRecheckInitialMs}) (got ${config.gpuRecheckMaxMs})`,
    );
  }
  return config;
}
