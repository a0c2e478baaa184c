// The host's handle on the engine: builds it with this machine's samplers and exposes the few
// calls the faces need. (Interim: samples CPU/RAM/disk directly until the PerformanceMonitor lands.)
import { ProcSystemSampler } from '../core/samplers/procSystemSampler';
import type { GpuAvailability, SystemPerformanceSnapshot } from '../shared/snapshot';
import type { HostSettings } from './settings';

export interface EngineLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface Engine {
  start(): Promise<void>;
  dispose(): Promise<void>;
  latestSnapshot(): SystemPerformanceSnapshot | null;
  gpuAvailability(): GpuAvailability | null;
  activeTaskCount(): number;
  isMonitoring(): boolean;
  onChange(listener: () => void): { dispose(): void };
  applySettings(settings: HostSettings): void;
}

export function createEngine(opts: { settings: HostSettings; diskPath: string | undefined; log: EngineLog }): Engine {
  const sampler = new ProcSystemSampler({ diskPath: opts.diskPath ?? null, onLog: (m) => opts.log.warn(m) });
  let intervalMs = opts.settings.monitoringIntervalMs;
  let latest: SystemPerformanceSnapshot | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  const listeners = new Set<() => void>();
  const tick = async () => {
    try {
      const r = await sampler.sample();
      latest = {
        timestamp: Date.now(), cpuUsagePercent: r.cpuUsagePercent, ramUsageMb: r.ramUsedMb, ramAvailableMb: r.ramAvailableMb,
        ramTotalMb: r.ramTotalMb, diskUsagePercent: r.diskUsagePercent, gpuUsagePercent: null, vramUsageMb: null,
        vramAvailableMb: null, vramTotalMb: null, vramUsagePercent: null, temperatureCelsius: null, gpus: [],
      };
      for (const l of listeners) l();
    } catch (err) {
      opts.log.error(`sampling failed: ${String(err)}`);
    }
    if (running) timer = setTimeout(() => void tick(), intervalMs);
  };
  return {
    async start() { running = true; await tick(); },
    async dispose() { running = false; if (timer) clearTimeout(timer); },
    latestSnapshot: () => latest,
    gpuAvailability: () => ({ provider: 'none', available: false, reason: 'GPU monitoring arrives with the engine.' }),
    activeTaskCount: () => 0,
    isMonitoring: () => running,
    onChange(listener) { listeners.add(listener); return { dispose: () => listeners.delete(listener) }; },
    applySettings(s) { intervalMs = s.monitoringIntervalMs; },
  };
}
