// Parent and child process ids, for following a run: the command a terminal's shell started is
// its newest child, and a message from the Python helper belongs to the task whose process tree
// holds its pid. Linux reads /proc; macOS and others ask `ps`; Windows gives nothing (callers
// then fall back to the shell's pid or to the only running task).
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

export interface ProcRelations {
  /** Direct children of `pid`, oldest first where the system says; [] when unknown. */
  children(pid: number): Promise<number[]>;
  /** The parent of `pid`, or null when it is gone or unknown. */
  parent(pid: number): Promise<number | null>;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 2000, windowsHide: true }, (err, stdout) => resolve(err ? '' : String(stdout)));
  });
}

function pids(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((w) => /^\d+$/.test(w))
    .map(Number)
    .filter((n) => n > 0);
}

/** /proc on Linux: `task/*\/children` and field 4 of `stat` (after the parenthesised name). */
export function procfsRelations(root = '/proc'): ProcRelations {
  return {
    async children(pid) {
      try {
        const tasks = await readdir(`${root}/${pid}/task`);
        const all: number[] = [];
        for (const t of tasks) {
          const text = await readFile(`${root}/${pid}/task/${t}/children`, 'utf8').catch(() => '');
          all.push(...pids(text));
        }
        return all;
      } catch {
        return [];
      }
    },
    async parent(pid) {
      try {
        const stat = await readFile(`${root}/${pid}/stat`, 'utf8');
        const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const ppid = Number(after[1]);
        return Number.isInteger(ppid) && ppid > 0 ? ppid : null;
      } catch {
        return null;
      }
    },
  };
}

/** `ps` (macOS, BSD): slower, one child process per question. */
function psRelations(): ProcRelations {
  return {
    async children(pid) {
      return pids(await run('pgrep', ['-P', String(pid)]));
    },
    async parent(pid) {
      const [ppid] = pids(await run('ps', ['-o', 'ppid=', '-p', String(pid)]));
      return ppid ?? null;
    },
  };
}

export function processRelations(platform: NodeJS.Platform = process.platform): ProcRelations {
  if (platform === 'linux') return procfsRelations();
  if (platform === 'win32') return { children: async () => [], parent: async () => null };
  return psRelations();
}

/**
 * The first of `roots` that is `pid` itself or one of its ancestors, walking up at most
 * `maxDepth` parents; null when none is.
 */
export async function ancestorAmong(relations: ProcRelations, pid: number, roots: ReadonlySet<number>, maxDepth = 64): Promise<number | null> {
  let current: number | null = pid;
  for (let i = 0; current !== null && current > 1 && i <= maxDepth; i++) {
    if (roots.has(current)) return current;
    current = await relations.parent(current);
  }
  return null;
}
