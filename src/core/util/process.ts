// Whether a process id exists on this machine, and when it started, without touching the process.
import { readFileSync } from 'node:fs';

/** Signal 0 checks a pid: ESRCH means none; EPERM means it exists but belongs to another user. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Linux's USER_HZ: /proc/PID/stat counts start times in these ticks (100 on every Linux ABI in use). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Boot time from /proc/stat's `btime` line (epoch seconds), or null. */
export function parseBootTimeSeconds(procStat: string): number | null {
  const m = /^btime\s+(\d{1,12})\s*$/m.exec(procStat);
  return m ? Number(m[1]) : null;
}

/** Field 22 of /proc/PID/stat (start time in clock ticks after boot), read after the parenthesised name. */
export function parseStartTicks(pidStat: string): number | null {
  const close = pidStat.lastIndexOf(')');
  if (close < 0) return null;
  // Fields after the name start at field 3 (state); field 22 is the 20th of them.
  const fields = pidStat.slice(close + 2).trim().split(/\s+/);
  const text = fields[19];
  if (text === undefined || !/^\d{1,15}$/.test(text)) return null;
  return Number(text);
}

/** Epoch ms from boot time and start ticks. */
export function startTimeMsFrom(bootSeconds: number, startTicks: number): number {
  return bootSeconds * 1000 + (startTicks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** When process `pid` started (epoch ms) from /proc, or null (gone, or not Linux). A rare path: read synchronously. */
export function processStartTimeMs(pid: number, root = '/proc'): number | null {
  try {
    const boot = parseBootTimeSeconds(readFileSync(`${root}/stat`, 'utf8'));
    const ticks = parseStartTicks(readFileSync(`${root}/${pid}/stat`, 'utf8'));
    return boot === null || ticks === null ? null : startTimeMsFrom(boot, ticks);
  } catch {
    return null;
  }
}

/**
 * Whether the run of a task that started at `taskStartMs` with root process `rootPid` still goes
 * on: the process exists and started no later than the task (a pid reused by a later process is
 * not the run). Unknown start time (not Linux): alive is taken as going on.
 */
export function runStillGoing(rootPid: number, taskStartMs: number): boolean {
  if (!isProcessAlive(rootPid)) return false;
  const started = processStartTimeMs(rootPid);
  // /proc's start time is in 10 ms ticks and the task's start is taken a little after the spawn.
  return started === null || started <= taskStartMs + 2000;
}
