// The git commit of the repository a run works in: short hash, branch and whether tracked files
// had changes. Asked once per task start, asynchronously, each git call bounded by a timeout, so a
// slow network file system or a missing git never holds the sampler; any failure is "unknown".
import { execFile } from 'node:child_process';
import { readlink } from 'node:fs/promises';
import type { GitCommit } from '../../shared/metrics';
import { parseGitCommit } from '../../shared/structuredFields';

/** Where a run works: its given directory, else its root process's (Linux `/proc/PID/cwd`). */
interface GitLookup {
  workingDirectory: string | null;
  rootPid: number | null;
}

export type GitCommitReader = (lookup: GitLookup) => Promise<GitCommit | null>;

const GIT_TIMEOUT_MS = 3000;
const MAX_OUTPUT_BYTES = 64 * 1024;

/** Runs `git -C dir ARGS`; null on any failure (no git, not a repository, timeout). */
function git(gitPath: string, dir: string, args: string[], timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    try {
      execFile(
        gitPath,
        ['-C', dir, ...args],
        // GIT_OPTIONAL_LOCKS=0: `status` must not take the index lock under a user's own git command.
        { timeout: timeoutMs, maxBuffer: MAX_OUTPUT_BYTES, windowsHide: true, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0' } },
        (err, stdout) => resolve(err ? null : String(stdout)),
      );
    } catch {
      resolve(null);
    }
  });
}

async function processCwd(pid: number): Promise<string | null> {
  if (process.platform !== 'linux') return null;
  try {
    return await readlink(`/proc/${pid}/cwd`);
  } catch {
    return null;
  }
}

/** The commit of `dir`'s repository, or null when git is absent, slow or `dir` is in none. */
export async function readGitCommit(dir: string, options: { gitPath?: string; timeoutMs?: number } = {}): Promise<GitCommit | null> {
  const gitPath = options.gitPath ?? 'git';
  const timeoutMs = options.timeoutMs ?? GIT_TIMEOUT_MS;
  const [hash, branch, status] = await Promise.all([
    git(gitPath, dir, ['rev-parse', '--short', 'HEAD'], timeoutMs),
    git(gitPath, dir, ['symbolic-ref', '--short', '-q', 'HEAD'], timeoutMs),
    git(gitPath, dir, ['status', '--porcelain', '--untracked-files=no'], timeoutMs),
  ]);
  if (hash === null || status === null) return null;
  // What git printed is checked like any outside input (parseGitCommit bounds and shapes it).
  return parseGitCommit({ hash: hash.trim(), branch: branch === null || branch.trim() === '' ? null : branch.trim(), dirty: status.trim() !== '' }) ?? null;
}

/** The default reader: the given directory, else the root process's, through `git`. */
export const defaultGitCommitReader: GitCommitReader = async ({ workingDirectory, rootPid }) => {
  const dir = workingDirectory ?? (rootPid !== null ? await processCwd(rootPid) : null);
  return dir === null ? null : readGitCommit(dir);
};

/**
 * Asks for a run's git commit off the sampler's path and sets it on the task when it answers; a
 * failure only means "unknown" (told to `log`). Resolves when done, never rejects.
 */
export function lookUpGitCommit(
  reader: GitCommitReader | null,
  task: { taskId: string; description: { rootPid: number | null }; gitCommit: GitCommit | null },
  workingDirectory: string | null,
  log: (message: string) => void,
): Promise<void> {
  const rootPid = task.description.rootPid;
  if (reader === null || (workingDirectory === null && rootPid === null)) return Promise.resolve();
  return Promise.resolve()
    .then(() => reader({ workingDirectory, rootPid }))
    .then(
      (commit) => {
        task.gitCommit = commit;
      },
      (err: unknown) => log(`No git commit recorded for task "${task.taskId}": ${err instanceof Error ? err.message : String(err)}`),
    );
}
