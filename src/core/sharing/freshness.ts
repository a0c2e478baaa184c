// When a timestamp another process wrote in the shared folder (a lock heartbeat, a published
// sample) still counts.

/**
 * How far ahead of this process's clock a timestamp written on this machine may be and still
 * count: clocks of one machine agree, so anything further ahead was forged or left by a clock
 * that jumped back, and must not keep its writer "fresh" for ever.
 */
const MAX_CLOCK_SKEW_MS = 2000;

/** True when `writtenAt` is current at `now`: neither older than `staleMs` nor from the future. */
export function isFreshTimestamp(writtenAt: number, now: number, staleMs: number): boolean {
  return now - writtenAt <= staleMs && writtenAt - now <= MAX_CLOCK_SKEW_MS;
}
