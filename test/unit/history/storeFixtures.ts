// What the history store tests share: a fixed clock, a throwaway folder per test, a store over it
// that collects its warnings and log lines, tasks that end the day before, and their segment.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HISTORY_DIR_NAME, JsonlHistoryStore, segmentNameFor, type StoreWarning } from '../../../src/core/history/historyStore';
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import { makeTask } from '../engine/fakes';

export const NOW = Date.UTC(2026, 0, 10);
export const DAY = 86_400_000;
/** Above Linux's pid_max default of 4 194 304: never a live process. */
export const DEAD_PID = 2 ** 22 + 12_345;

export async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function store(dir: string, extra: Partial<ConstructorParameters<typeof JsonlHistoryStore>[1]> = {}, warnings: StoreWarning[] = [], logs: string[] = []): JsonlHistoryStore {
  return new JsonlHistoryStore(dir, { retentionDays: 30, retentionMaxTasks: 1000, now: () => NOW, onWarning: (w) => warnings.push(w), onLog: (m) => logs.push(m), ...extra });
}

export const task = (id: string, overrides: Partial<PerformanceMetrics> = {}): PerformanceMetrics => makeTask({ taskId: id, startTime: NOW - DAY, endTime: NOW - DAY + 100_000, ...overrides });
export const segment = (dir: string, t: PerformanceMetrics = task('x')): string => join(dir, HISTORY_DIR_NAME, segmentNameFor(t));
