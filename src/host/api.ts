// The API `activate` returns, for other extensions (a notebook runner, a run-configuration
// extension) to report their runs and read the machine's state:
//   const api = await vscode.extensions.getExtension('model-perf.model-perf-monitor')?.activate();
//   const task = api.startTask({ modelType: 'sdxl', resolution: '1024x1024', steps: 30, rootPid });
//   ... await api.completeTask(task.taskId, true);
// Every argument is validated as input from outside.
import * as vscode from 'vscode';
import type { CurrentSystemStatus } from '../core/engine/monitorTypes';
import type { PerformanceAnalysis, PerformanceMetrics, TaskMetricsUpdate } from '../shared/metrics';
import type { SystemPerformanceSnapshot } from '../shared/snapshot';
import { parseCompleteArgs, parseStartArgs, parseTaskIdArg } from './commandArgs';
import type { HostEngine } from './engine';

interface StartTaskRequest {
  /** Default: `task-<epoch ms>`. Must be unique among running tasks. */
  taskId?: string;
  modelType?: string;
  resolution?: string;
  steps?: number;
  /** The run's root process: its tree's RAM, CPU and GPU memory become the task's figures. */
  rootPid?: number;
  optimizations?: string[];
  quantization?: string;
  offload?: boolean;
}

export interface ModelPerfApi {
  readonly apiVersion: 1;
  startTask(request: StartTaskRequest): PerformanceMetrics;
  updateTask(taskId: string, changes: TaskMetricsUpdate): PerformanceMetrics;
  completeTask(taskId: string, success?: boolean, errorCategory?: string): Promise<PerformanceMetrics>;
  cancelTask(taskId: string): Promise<PerformanceMetrics>;
  /** The latest snapshot with the number of running tasks and GPU availability. */
  getCurrentStatus(): CurrentSystemStatus;
  getActiveTasks(): PerformanceMetrics[];
  getAnalysis(timeWindowHours?: number): PerformanceAnalysis;
  readonly onDidTakeSnapshot: vscode.Event<SystemPerformanceSnapshot>;
  readonly onDidEndTask: vscode.Event<PerformanceMetrics>;
}

export function createApi(engine: HostEngine, subscriptions: vscode.Disposable[]): ModelPerfApi {
  const snapshots = new vscode.EventEmitter<SystemPerformanceSnapshot>();
  const ended = new vscode.EventEmitter<PerformanceMetrics>();
  const monitor = engine.monitor;
  const a = monitor.on('snapshot', (s) => snapshots.fire(s));
  const b = monitor.on('taskEnded', (t) => ended.fire(t));
  subscriptions.push(snapshots, ended, { dispose: () => { a.dispose(); b.dispose(); } });
  return {
    apiVersion: 1,
    startTask(request) {
      const args = parseStartArgs(request);
      return monitor.startTaskMonitoring(args.taskId, args.modelType, args.resolution, args.steps, args.options);
    },
    updateTask(taskId, changes) {
      return monitor.updateTaskMetrics(parseTaskIdArg(taskId), changes);
    },
    completeTask(taskId, success = true, errorCategory) {
      const outcome = parseCompleteArgs({ success, errorCategory });
      return monitor.completeTaskMonitoring(parseTaskIdArg(taskId), outcome.success, outcome.errorCategory);
    },
    cancelTask(taskId) {
      return monitor.cancelTaskMonitoring(parseTaskIdArg(taskId));
    },
    getCurrentStatus: () => monitor.getCurrentSystemStatus(),
    getActiveTasks: () => monitor.getActiveTasks(),
    getAnalysis: (hours = 24) => monitor.getPerformanceAnalysis(hours),
    onDidTakeSnapshot: snapshots.event,
    onDidEndTask: ended.event,
  };
}
