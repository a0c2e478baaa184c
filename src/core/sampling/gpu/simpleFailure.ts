// A user-facing sentence for a helper tool (ioreg, typeperf) that failed, or null when it worked.
import type { CompletedRun } from './spawnPort';

export function describeSimpleFailure(tool: string, run: CompletedRun): string | null {
  if (run.spawnErrorCode === 'ENOENT') return `${tool} not found; GPU figures are off.`;
  if (run.spawnErrorCode) return `${tool} could not be started (${run.spawnErrorCode}); GPU figures are off.`;
  if (run.timedOut) return `${tool} did not answer in time; GPU figures are paused and retried.`;
  if (run.code === 0) return null;
  const said = (run.stderr || run.stdout)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l.length > 0)
    ?.replace(/[\u0000-\u001f\u007f]/g, '')
    .slice(0, 200);
  return `${tool} failed with exit code ${run.code ?? run.signal ?? 'unknown'}${said ? `: "${said}"` : ''}; GPU figures are off.`;
}
