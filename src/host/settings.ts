// Reads `modelPerf.*` settings through one typed accessor. A value of the wrong type or outside its
// range is replaced by its default and reported (once per change) so a typo in settings.json never
// stops the monitor; `diffSettings` says which parts of the engine a change must restart.
import type * as vscode from 'vscode';
import { checkPrometheusUrl } from '../core/cluster/prometheusClient';
import type { MonitorConfigInput } from '../core/engine/config';
import { GPU_BACKENDS, type GpuBackend } from '../core/sampling/gpu/selectProvider';

type StatusBarFormat = 'standard' | 'compact' | 'detailed';
/** What the status bar item shows: this machine, or the cluster's summary from Prometheus. */
type StatusBarSource = 'local' | 'cluster';
/** `auto`: the GPU the active task uses, else the busiest; `busiest`; or a GPU index. */
type GpuSelection = 'auto' | 'busiest' | number;

export interface HostSettings {
  monitoringIntervalMs: number;
  gpuEnabled: boolean;
  /** Empty: search PATH and the driver's usual folders. */
  nvidiaSmiPath: string;
  /** `auto` (the nvidia-smi stream for now), `nvidia-smi`, or `nvml` (the library, the stream as fallback). */
  gpuBackend: GpuBackend;
  statusBarVisible: boolean;
  statusBarFormat: StatusBarFormat;
  statusBarGpu: GpuSelection;
  thresholds: {
    vramPercent: number;
    ramPercent: number;
    cpuPercent: number;
    temperatureCelsius: number;
    modelLoadSeconds: number;
    successRate: number;
    generationSecondsByResolution: Record<string, number>;
  };
  retentionDays: number;
  retentionMaxTasks: number;
  /** Empty: $MODEL_PERF_HOME, else the per-user data folder. */
  storageDirectory: string;
  /** Prometheus' base URL for the Cluster section (http or https); empty: no cluster view. */
  clusterPrometheusUrl: string;
  statusBarSource: StatusBarSource;
  /** One warning when a run starts that the history predicts will not fit its GPU. */
  warnBeforeOom: boolean;
}

export const defaultHostSettings: HostSettings = {
  monitoringIntervalMs: 1000,
  gpuEnabled: true,
  nvidiaSmiPath: '',
  gpuBackend: 'auto',
  statusBarVisible: true,
  statusBarFormat: 'standard',
  statusBarGpu: 'auto',
  thresholds: {
    vramPercent: 90,
    ramPercent: 85,
    cpuPercent: 90,
    temperatureCelsius: 85,
    modelLoadSeconds: 30,
    successRate: 0.95,
    generationSecondsByResolution: { '720p': 300, '1080p': 900 },
  },
  retentionDays: 90,
  retentionMaxTasks: 100_000,
  storageDirectory: '',
  clusterPrometheusUrl: '',
  statusBarSource: 'local',
  warnBeforeOom: true,
};

type ConfigReader = Pick<vscode.WorkspaceConfiguration, 'get'>;

function numberSetting(config: ConfigReader, key: string, min: number, max: number, fallback: number, warn: (m: string) => void, scale = 1): number {
  const v = config.get<unknown>(key);
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max) return v * scale;
  warn(`Setting modelPerf.${key} must be a number from ${min} to ${max} (got ${JSON.stringify(v)}); using ${fallback / scale}.`);
  return fallback;
}

function boolSetting(config: ConfigReader, key: string, fallback: boolean, warn: (m: string) => void): boolean {
  const v = config.get<unknown>(key);
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  warn(`Setting modelPerf.${key} must be true or false (got ${JSON.stringify(v)}); using ${fallback}.`);
  return fallback;
}

function stringSetting(config: ConfigReader, key: string, fallback: string, warn: (m: string) => void, maxLength = 4096): string {
  const v = config.get<unknown>(key);
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'string' && v.length <= maxLength && !v.includes('\0')) return v.trim();
  warn(`Setting modelPerf.${key} must be a text of at most ${maxLength} characters (got ${JSON.stringify(v).slice(0, 80)}); using ${JSON.stringify(fallback)}.`);
  return fallback;
}

function enumSetting<T extends string>(config: ConfigReader, key: string, allowed: readonly T[], fallback: T, warn: (m: string) => void): T {
  const v = config.get<unknown>(key);
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  warn(`Setting modelPerf.${key} must be one of ${allowed.map((a) => `"${a}"`).join(', ')} (got ${JSON.stringify(v)}); using "${fallback}".`);
  return fallback;
}

/** An http(s) URL or empty; anything else is reported and the cluster view stays off. */
function clusterUrlSetting(config: ConfigReader, warn: (m: string) => void): string {
  const raw = stringSetting(config, 'cluster.prometheusUrl', '', warn, 2000);
  if (raw === '') return '';
  try {
    checkPrometheusUrl(raw);
    return raw;
  } catch (err) {
    warn(`Setting modelPerf.cluster.prometheusUrl must be the http or https address of a Prometheus server, e.g. http://prometheus:9090 (${err instanceof Error ? err.message : String(err)}); the cluster view stays off.`);
    return '';
  }
}

function gpuSelection(config: ConfigReader, warn: (m: string) => void): GpuSelection {
  const v = config.get<unknown>('statusBar.gpu');
  if (v === undefined || v === null || v === 'auto') return 'auto';
  if (v === 'busiest') return 'busiest';
  if (typeof v === 'string' && /^\d{1,3}$/.test(v)) return Number(v);
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1000) return v;
  warn(`Setting modelPerf.statusBar.gpu must be "auto", "busiest" or a GPU index such as "0" (got ${JSON.stringify(v)}); using "auto".`);
  return 'auto';
}

function resolutionTargets(config: ConfigReader, warn: (m: string) => void): Record<string, number> {
  const v = config.get<unknown>('thresholds.generationSecondsByResolution');
  const fallback = defaultHostSettings.thresholds.generationSecondsByResolution;
  if (v === undefined || v === null) return { ...fallback };
  if (typeof v !== 'object' || Array.isArray(v)) {
    warn(`Setting modelPerf.thresholds.generationSecondsByResolution must be an object such as {"720p": 300} (got ${JSON.stringify(v)}); using the defaults.`);
    return { ...fallback };
  }
  const out: Record<string, number> = {};
  for (const [key, seconds] of Object.entries(v as Record<string, unknown>)) {
    if (key.length > 32 || key === '__proto__') {
      warn(`Setting modelPerf.thresholds.generationSecondsByResolution: the resolution "${key.slice(0, 40)}" is not a resolution; ignored.`);
    } else if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0 || seconds > 604_800) {
      warn(`Setting modelPerf.thresholds.generationSecondsByResolution: "${key}" must be a number of seconds from 1 to 604800 (got ${JSON.stringify(seconds)}); ignored.`);
    } else {
      out[key] = seconds;
    }
  }
  return out;
}

export function readSettings(config: ConfigReader, warn: (message: string) => void): HostSettings {
  const d = defaultHostSettings;
  return {
    monitoringIntervalMs: Math.round(numberSetting(config, 'monitoringIntervalSeconds', 0.25, 60, d.monitoringIntervalMs, warn, 1000)),
    gpuEnabled: boolSetting(config, 'gpu.enabled', d.gpuEnabled, warn),
    nvidiaSmiPath: stringSetting(config, 'gpu.nvidiaSmiPath', d.nvidiaSmiPath, warn),
    gpuBackend: enumSetting(config, 'gpu.backend', GPU_BACKENDS, d.gpuBackend, warn),
    statusBarVisible: boolSetting(config, 'statusBar.visible', d.statusBarVisible, warn),
    warnBeforeOom: boolSetting(config, 'advice.warnBeforeOom', d.warnBeforeOom, warn),
    statusBarFormat: enumSetting(config, 'statusBar.format', ['standard', 'compact', 'detailed'] as const, d.statusBarFormat, warn),
    statusBarGpu: gpuSelection(config, warn),
    thresholds: {
      vramPercent: numberSetting(config, 'thresholds.vramPercent', 1, 100, d.thresholds.vramPercent, warn),
      ramPercent: numberSetting(config, 'thresholds.ramPercent', 1, 100, d.thresholds.ramPercent, warn),
      cpuPercent: numberSetting(config, 'thresholds.cpuPercent', 1, 100, d.thresholds.cpuPercent, warn),
      temperatureCelsius: numberSetting(config, 'thresholds.temperatureCelsius', 30, 120, d.thresholds.temperatureCelsius, warn),
      modelLoadSeconds: numberSetting(config, 'thresholds.modelLoadSeconds', 0, 86_400, d.thresholds.modelLoadSeconds, warn),
      successRate: numberSetting(config, 'thresholds.successRate', 0, 1, d.thresholds.successRate, warn),
      generationSecondsByResolution: resolutionTargets(config, warn),
    },
    retentionDays: numberSetting(config, 'history.retentionDays', 1, 36_500, d.retentionDays, warn),
    retentionMaxTasks: Math.round(numberSetting(config, 'history.maxTasks', 10, 1_000_000, d.retentionMaxTasks, warn)),
    storageDirectory: stringSetting(config, 'storageDirectory', d.storageDirectory, warn),
    clusterPrometheusUrl: clusterUrlSetting(config, warn),
    statusBarSource: enumSetting(config, 'statusBar.source', ['local', 'cluster'] as const, d.statusBarSource, warn),
  };
}

/** The engine's configuration for these settings (storage folder resolved by the caller). */
export function toMonitorConfig(s: HostSettings): MonitorConfigInput {
  return {
    monitoringIntervalMs: s.monitoringIntervalMs,
    enableGpuMonitoring: s.gpuEnabled,
    retentionDays: s.retentionDays,
    retentionMaxTasks: s.retentionMaxTasks,
    // Analysis reads the in-memory history: keep all that retention keeps.
    maxHistorySize: s.retentionMaxTasks,
    thresholds: {
      maxVramUsagePercent: s.thresholds.vramPercent,
      maxRamUsagePercent: s.thresholds.ramPercent,
      maxCpuUsagePercent: s.thresholds.cpuPercent,
      maxModelLoadTimeSeconds: s.thresholds.modelLoadSeconds,
      minSuccessRate: s.thresholds.successRate,
      maxGenerationTimeSecondsByResolution: { ...s.thresholds.generationSecondsByResolution },
    },
  };
}

export interface SettingsChange {
  /** Interval or GPU switch: the loop restarts. */
  loop: boolean;
  /** A new nvidia-smi path or GPU backend: a new GPU provider. */
  gpuProvider: boolean;
  /** A new storage folder or retention: a new history store. */
  history: boolean;
  /** Thresholds: applied at once. */
  thresholds: boolean;
  /** Only the status bar's look. */
  statusBar: boolean;
}

export function diffSettings(a: HostSettings, b: HostSettings): SettingsChange {
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  return {
    loop: a.monitoringIntervalMs !== b.monitoringIntervalMs || a.gpuEnabled !== b.gpuEnabled,
    gpuProvider: a.nvidiaSmiPath !== b.nvidiaSmiPath || a.gpuBackend !== b.gpuBackend,
    history: a.storageDirectory !== b.storageDirectory || a.retentionDays !== b.retentionDays || a.retentionMaxTasks !== b.retentionMaxTasks,
    thresholds: !same(a.thresholds, b.thresholds),
    statusBar: a.statusBarVisible !== b.statusBarVisible || a.statusBarFormat !== b.statusBarFormat || a.statusBarGpu !== b.statusBarGpu || !same(a.thresholds, b.thresholds),
  };
}
