// Whether a process id exists on this machine, without touching the process.

/** Signal 0 checks a pid: ESRCH means none; EPERM means it exists but belongs to another user. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
