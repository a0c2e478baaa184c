// A clock for tests: time moves only when the test says so, and timers fire in order as it does.
import type { Clock, TimerHandle } from '../../../src/core/ports';

interface PendingTimer extends TimerHandle {
  id: number;
  due: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private timers: PendingTimer[] = [];

  /** The time the clock was made at: tests state times relative to it. */
  readonly startedAt: number;

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
    this.startedAt = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: PendingTimer = { id: this.nextId++, due: this.current + Math.max(0, ms), fn, unref() {} };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }

  /** How many timers have fired so far. */
  fired = 0;

  /** Number of timers waiting to fire. */
  get pending(): number {
    return this.timers.length;
  }

  /**
   * Moves time forward by `ms`, firing each timer that falls due, in order, and letting the
   * promises they start settle before the next one fires.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      this.timers.sort((a, b) => a.due - b.due || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.due > target) break;
      this.timers.shift();
      this.current = next.due;
      this.fired++;
      next.fn();
      await flushPromises();
    }
    this.current = target;
    await flushPromises();
  }
}

/** Lets every already-queued promise callback (and those they queue) run. */
export async function flushPromises(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
