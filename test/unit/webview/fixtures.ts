// Shared builders for the dashboard's unit tests: snapshots, task records and a full state made
// by the engine's own analysis, so the tests see the shapes the host really sends.
import { analyzePerformance } from '../../../src/core/engine/analysis';
import { DEFAULT_THRESHOLDS } from '../../../src/core/engine/config';
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import type { DashboardState } from '../../../src/shared/protocol';
import { gpuReading as buildGpuReading, type GpuReading, type SystemPerformanceSnapshot } from '../../../src/shared/snapshot';
import { makeTask } from '../engine/fakes';

export const NOW = Date.UTC(2026, 0, 10, 12);
export const HOSTILE = '<img src=x onerror=alert(1)>';

export function gpuReading(index: number, over: Partial<Omit<GpuReading, 'vramUsedPercent'>> = {}): GpuReading {
  return buildGpuReading({
    index, uuid: `GPU-${index}`, name: 'NVIDIA RTX 4090', utilizationPercent: 50, memoryUtilizationPercent: 20,
    vramUsedMb: 8000, vramTotalMb: 24_564, temperatureCelsius: 60, powerDrawWatts: 200, powerLimitWatts: 450,
    smClockMhz: 2500, performanceState: 'P2', mig: false, ...over,
  });
}

export function snapshot(timestamp: number, over: Partial<SystemPerformanceSnapshot> = {}): SystemPerformanceSnapshot {
  return {
    timestamp, cpuUsagePercent: 20, ramUsageMb: 8000, ramAvailableMb: 24_000, ramTotalMb: 32_000, diskUsagePercent: 50,
    gpuUsagePercent: 50, vramUsageMb: 16_000, vramAvailableMb: 33_128, vramTotalMb: 49_128, vramUsagePercent: 32.6,
    temperatureCelsius: 60, gpus: [gpuReading(0), gpuReading(1)], ...over,
  };
}

export function task(over: Partial<PerformanceMetrics> = {}): PerformanceMetrics {
  return makeTask({ startTime: NOW - 3_600_000, endTime: NOW - 3_500_000, ...over });
}

export function sampleTasks(): PerformanceMetrics[] {
  return [
    task({ taskId: 'a', startTime: NOW - 7_200_000, endTime: NOW - 7_100_000, generationTimeSeconds: 100, peakVramUsageMb: 20_000, vramTotalMb: 24_564 }),
    task({ taskId: 'b', startTime: NOW - 3_600_000, endTime: NOW - 3_300_000, generationTimeSeconds: 300, modelType: 'flux', resolution: '1080p', resolutionClass: '1080p' }),
    task({ taskId: 'c', status: 'failed', success: false, errorCategory: 'oom', startTime: NOW - 1_800_000, endTime: NOW - 1_700_000 }),
    task({ taskId: HOSTILE, modelType: HOSTILE, resolution: HOSTILE, resolutionClass: null, startTime: NOW - 600_000, endTime: NOW - 500_000, generationTimeSeconds: 100 }),
  ];
}

export function sampleState(tasks = sampleTasks()): DashboardState {
  const analysis = analyzePerformance(tasks, DEFAULT_THRESHOLDS, NOW, 24);
  return {
    now: NOW,
    range: '5m',
    windowHours: 24,
    thresholds: { cpuPercent: 90, ramPercent: 85, vramPercent: 90, minSuccessRate: 0.95, efficiencyBaselineSeconds: 300 },
    gpuAvailability: { provider: 'nvidia', available: true, reason: null },
    monitoring: true,
    latest: snapshot(NOW),
    series: { range: '5m', resolution: 'sample', timestamps: [NOW - 1000, NOW], cpuUsagePercent: [10, null], ramUsageMb: [8000, 8100], ramTotalMb: 32_000, gpus: [{ index: 0, name: 'GPU', vramTotalMb: 24_564, utilizationPercent: [null, 40], vramUsedPercent: [4, 5] }] },
    activeTasks: [{ task: task({ taskId: 'live', status: 'running', endTime: null, generationTimeSeconds: null }), progressPercent: null, currentVramMb: 9000 }],
    analysis: { windowHours: 24, analysis, rows: [], totalRows: tasks.length, matching: tasks.length, offset: 0, filter: { modelType: null, resolution: null, status: null } },
    totalTaskCount: tasks.length,
  };
}
