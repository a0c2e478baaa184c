// Adapts the host engine to what the dashboard reads (DashboardDataSource). Selection only: every
// figure comes from the engine.
import { progressStepsPercent } from '../shared/metrics';
import type { HostEngine } from './engine';
import type { DashboardDataSource } from './dashboardPanel';

export function dashboardSource(engine: HostEngine): DashboardDataSource {
  const m = engine.monitor;
  return {
    now: () => Date.now(),
    isMonitoring: () => engine.isMonitoring,
    latestSnapshot: () => engine.latestSnapshot(),
    recentSnapshots: (sinceMs) => m.getRecentSnapshots(sinceMs),
    minuteRollups: (sinceMs) => m.getMinuteRollups(sinceMs),
    // This window's tasks and those other processes of the machine run (`model-perf run`).
    activeTasks: () => engine.visibleTasks(),
    elsewhereOwner: (task) => engine.elsewhereOwner(task),
    taskProgressPercent: (taskId) => {
      const t = engine.visibleTasks().find((task) => task.taskId === taskId);
      return t ? progressStepsPercent(t) : null;
    },
    analysis: (hours) => m.getPerformanceAnalysis(hours),
    history: (hours) => (hours === null ? m.getHistory() : m.getHistory(hours)),
    liveAnalysis: (hours) => m.getLiveAnalysis(hours),
    historyPage: (hours, offset, limit, match) => m.historyPage(hours, offset, limit, match),
    gpuAvailability: () => m.getGpuAvailability(),
    thresholds: () => {
      const t = m.config.thresholds;
      return {
        cpuPercent: t.maxCpuUsagePercent,
        ramPercent: t.maxRamUsagePercent,
        vramPercent: t.maxVramUsagePercent,
        minSuccessRate: t.minSuccessRate,
        efficiencyBaselineSeconds: t.efficiencyBaselineSeconds,
      };
    },
    onSnapshot: (listener) => m.on('snapshot', listener),
    historyCount: () => m.historyCount,
    onTasksChanged: (listener) => {
      const subs = [
        m.on('taskStarted', () => listener(false)),
        m.on('taskUpdated', () => listener(false)),
        m.on('taskEnded', () => listener(true)),
        m.on('historyChanged', () => listener(true)),
        engine.onChange((change) => {
          if (change === 'elsewhere') listener(false);
        }),
      ];
      return { dispose: () => subs.forEach((d) => d.dispose()) };
    },
    onGpuAvailabilityChanged: (listener) => m.on('gpuAvailabilityChanged', listener),
  };
}
