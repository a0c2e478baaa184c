// The engine's public surface: what the VS Code host and the CLI import. Node only, no vscode.
export * from './ports';
export * from './config';
export * from './resolution';
export * from './taskAccumulator';
export * from './snapshotRing';
export * from './analysis';
export * from './historyStore';
export * from './exporter';
export * from './monitor';
export type * from '../shared/metrics';
export { TASK_STATUSES, isFinished } from '../shared/metrics';
export type * from '../shared/snapshot';
