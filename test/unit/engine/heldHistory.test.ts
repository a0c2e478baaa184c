// The tasks a monitor holds: the key index kept beside them gives what checking every held task
// would, through pushes, reloads, tasks told by other processes, trims and new limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeldHistory } from '../../../src/core/engine/heldHistory';
import type { PerformanceMetrics } from '../../../src/shared/metrics';
import { seededRandom } from '../helpers/seededRandom';
import { makeTask } from './fakes';

/** The same rules, checked against every held task each time. */
class NaiveHeld {
  tasks: PerformanceMetrics[] = [];
  constructor(public max: number) {}
  private key = (t: PerformanceMetrics): string => `${t.taskId}|${t.startTime}`;
  private trim(): void {
    if (this.tasks.length > this.max) this.tasks.splice(0, this.tasks.length - this.max);
  }
  push(t: PerformanceMetrics): void {
    this.tasks.push(t);
    this.trim();
  }
  replace(loaded: PerformanceMetrics[]): void {
    const inFile = new Set(loaded.map(this.key));
    this.tasks = loaded.concat(this.tasks.filter((t) => !inFile.has(this.key(t))));
    this.trim();
  }
  add(tasks: PerformanceMetrics[]): boolean {
    const held = new Set(this.tasks.map(this.key));
    const fresh = tasks.filter((t) => !held.has(this.key(t)));
    this.tasks = this.tasks.concat(fresh);
    this.trim();
    return fresh.length > 0;
  }
}

test('tasks told by other processes are held once, whatever pushes, reloads, trims and limits came before', () => {
  const rand = seededRandom(3);
  // Few ids and starts, so the same task comes back often.
  const some = (): PerformanceMetrics => makeTask({ taskId: `t${Math.floor(rand() * 12)}`, startTime: 1000 * Math.floor(rand() * 6) });
  for (let round = 0; round < 30; round++) {
    const max = 1 + Math.floor(rand() * 15);
    const held = new HeldHistory(max);
    const naive = new NaiveHeld(max);
    for (let step = 0; step < 200; step++) {
      const r = rand();
      if (r < 0.3) {
        const t = some();
        held.push(t);
        naive.push(t);
      } else if (r < 0.4) {
        // A file may hold a task twice.
        const loaded = Array.from({ length: Math.floor(rand() * 10) }, some);
        held.replaceWithLoaded(loaded);
        naive.replace(loaded);
      } else if (r < 0.9) {
        const told = Array.from({ length: 1 + Math.floor(rand() * 3) }, some);
        assert.equal(held.addRecorded(told), naive.add(told));
      } else if (r < 0.95) {
        const next = 1 + Math.floor(rand() * 15);
        held.limit(next);
        naive.max = next;
        naive.replace([]);
      } else {
        held.clear();
        naive.tasks = [];
      }
      assert.deepEqual(held.all.map((t) => `${t.taskId}|${t.startTime}`), naive.tasks.map((t) => `${t.taskId}|${t.startTime}`));
    }
  }
});
