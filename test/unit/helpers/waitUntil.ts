// Polls a condition in real time, for tests that wait on real processes, files or an extension
// host (fake clocks cover everything else). Resolves with the first value that is not null,
// undefined or false; throws `timed out waiting for <what>` after `timeoutMs` (default 30 s: far
// above what any wait takes, so a loaded machine is slower, never failing).
export type Probe<T> = () => T | null | undefined | false | Promise<T | null | undefined | false>;

export async function waitUntil<T>(what: string, probe: Probe<T>, { timeoutMs = 30_000, everyMs = 50 }: { timeoutMs?: number; everyMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
