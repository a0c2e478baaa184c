// Runs that outlive a reload: a training run in a persistent terminal survives "Reload Window",
// an extension update or a crash of the extension host, and so does a run typed before the
// extension finished activating. On activation each terminal's shell is searched for a model run
// already going: its descendants' command lines (/proc/PID/cmdline) matched by the same patterns
// as typed commands, its start time the process's own (/proc/PID/stat). Linux reads /proc; other
// systems have no probe, so nothing is adopted there (said in the README). Node only.
import { readFile } from 'node:fs/promises';
import { guessTask, recogniseCommand, type TaskGuess } from './commandLine';
import type { ProcRelations } from './procRelations';
import { parseBootTimeSeconds, parseStartTicks, startTimeMsFrom } from '../util/process';

/** What adoption needs to know about a process. */
export interface ProcessProbe extends ProcRelations {
  /** The process's argv, or null when it is gone or unreadable. */
  argv(pid: number): Promise<string[] | null>;
  /** When the process started (epoch ms), or null when unknown. */
  startTimeMs(pid: number): Promise<number | null>;
}

/** An argv longer than this is cut (a run's command line, not its data). */
const MAX_ARGV_BYTES = 64 * 1024;

/** argv from /proc/PID/cmdline (NUL-separated, a trailing NUL); hostile bytes stay text. */
export function parseCmdline(raw: Buffer): string[] {
  const text = raw.subarray(0, MAX_ARGV_BYTES).toString('utf8');
  const parts = text.split('\u0000');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** The /proc probe (Linux), rooted at `root` so tests read a fake tree. */
export function procfsProbe(relations: ProcRelations, root = '/proc'): ProcessProbe {
  let bootSeconds: Promise<number | null> | null = null;
  return {
    children: (pid) => relations.children(pid),
    parent: (pid) => relations.parent(pid),
    async argv(pid) {
      try {
        return parseCmdline(await readFile(`${root}/${pid}/cmdline`));
      } catch {
        return null;
      }
    },
    async startTimeMs(pid) {
      bootSeconds ??= readFile(`${root}/stat`, 'utf8').then(parseBootTimeSeconds, () => null);
      const boot = await bootSeconds;
      if (boot === null) return null;
      try {
        const ticks = parseStartTicks(await readFile(`${root}/${pid}/stat`, 'utf8'));
        return ticks === null ? null : startTimeMsFrom(boot, ticks);
      } catch {
        return null;
      }
    },
  };
}

/** One argument as the shell would need it typed: plain, or single-quoted. */
function shellWord(arg: string): string {
  if (arg !== '' && /^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** argv as a command line the command-line reader understands. */
export function argvToLine(argv: readonly string[]): string {
  return argv.map(shellWord).join(' ');
}

const SHELLS = /^(ba|da|z|k)?sh$/;
const baseName = (p: string | undefined): string => (p ?? '').split(/[\\/]/).pop() ?? '';
/** A version manager's shim (`~/.pyenv/shims/python`, asdf's and rbenv's alike) or its own script. */
const isShim = (p: string): boolean => /(^|[\\/])shims[\\/][^\\/]+$/.test(p) || baseName(p) === 'pyenv' || baseName(p) === 'asdf';

/**
 * The command a version manager's shim stands for. pyenv's `python` is a bash script in
 * `~/.pyenv/shims` that execs `pyenv exec python …`, which execs the real interpreter, all in one
 * pid: until then /proc shows `bash …/shims/python train.py` (for an instant `/usr/bin/env bash
 * …`), then `bash …/libexec/pyenv exec python train.py`. They read as `python train.py` and
 * `pyenv exec python train.py` (a wrapper the command-line reader drops), so the run is matched
 * and adopted like a direct python. Anything else is returned unchanged.
 */
export function unshimArgv(argv: readonly string[]): readonly string[] {
  let a = argv;
  if (baseName(a[0]) === 'env' && SHELLS.test(baseName(a[1]))) a = a.slice(1);
  if (SHELLS.test(baseName(a[0])) && a[1] !== undefined && isShim(a[1])) a = a.slice(1);
  const program = a[0];
  if (program === undefined || !isShim(program)) return argv;
  return /(^|[\\/])shims[\\/]/.test(program) ? [baseName(program), ...a.slice(1)] : a;
}

/**
 * `model-perf run` records its own task: as started through its shebang (`node
 * /usr/local/bin/model-perf run …`), directly, or from a checkout (`node dist/cli.js run …`).
 */
export function isModelPerfRun(argv: readonly string[]): boolean {
  const base = (p: string | undefined) => (p ?? '').split(/[\\/]/).pop()?.replace(/\.(cmd|exe|js)$/i, '') ?? '';
  if (base(argv[0]) === 'model-perf') return argv[1] === 'run';
  if (!/^node(\.exe)?$/i.test((argv[0] ?? '').split(/[\\/]/).pop() ?? '')) return false;
  const script = argv[1] ?? '';
  return argv[2] === 'run' && (base(script) === 'model-perf' || /(^|[\\/])dist[\\/]cli\.js$/.test(script));
}

export interface FoundRun {
  /** The run's root process: the topmost descendant of the shell whose command matches. */
  pid: number;
  guess: TaskGuess;
  /** The process's own start, or null when unknown (then the adoption time stands in). */
  startTimeMs: number | null;
  commandLine: string;
}

/**
 * The model runs going under `shellPid`: walking down from the shell (breadth first, at most
 * `maxDepth` levels and `maxProcesses` processes), the first process of each branch whose command
 * matches the patterns; its descendants belong to it. `model-perf run` records its task itself
 * and is left alone, with everything under it.
 */
export async function findRuns(probe: ProcessProbe, shellPid: number, patterns: readonly RegExp[], options: { maxDepth?: number; maxProcesses?: number; nowMs?: number } = {}): Promise<FoundRun[]> {
  const maxDepth = options.maxDepth ?? 6;
  const maxProcesses = options.maxProcesses ?? 256;
  const found: FoundRun[] = [];
  const seen = new Set<number>([shellPid]);
  let level = await probe.children(shellPid);
  for (let depth = 0; depth < maxDepth && level.length > 0; depth++) {
    const next: number[] = [];
    for (const pid of level) {
      if (seen.has(pid) || seen.size >= maxProcesses) continue;
      seen.add(pid);
      const raw = await probe.argv(pid);
      const argv = raw && unshimArgv(raw);
      if (argv && isModelPerfRun(argv)) continue;
      const line = argv && argv.length > 0 ? argvToLine(argv) : null;
      const recognised = line === null ? null : recogniseCommand(line, patterns);
      if (recognised?.recordedByCli) continue;
      if (recognised && line !== null) {
        const startTimeMs = await probe.startTimeMs(pid);
        found.push({ pid, guess: guessTask(recognised, startTimeMs ?? options.nowMs ?? Date.now()), startTimeMs, commandLine: line });
        continue;
      }
      next.push(...(await probe.children(pid)));
    }
    level = next;
  }
  return found;
}
