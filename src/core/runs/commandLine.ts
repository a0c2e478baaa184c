// Recognises runs of model scripts in a shell command line (`python generate.py --res 720p`,
// `FOO=1 uv run train.py`, `torchrun --nproc_per_node 2 train.py`, `model-perf run -- ...`) and
// reads what the command says about the task: a task id, a model type guess, resolution, steps.
// Pure: the terminal, debug and task trackers and their tests share it.
import { basename } from 'node:path';

/** Longer command lines are not inspected (a pasted script is not a run to track). */
export const MAX_COMMAND_LINE_LENGTH = 16 * 1024;
const MAX_TOKENS = 2000;
const MAX_PATTERNS = 50;
const MAX_PATTERN_LENGTH = 500;

/**
 * Default patterns, tested against the command with environment assignments and wrappers
 * (`env`, `time`, `nohup`, ...) removed and its words joined by single spaces.
 */
export const DEFAULT_COMMAND_PATTERNS: readonly string[] = [
  '^(\\S*/)?python(\\d+(\\.\\d+)*)?(\\.exe)?\\s(.*\\s)?(\\S+\\.py|-m \\S+)(\\s|$)',
  '^(\\S*/)?uv run\\s(.*\\s)?\\S+\\.py(\\s|$)',
  '^(\\S*/)?uv run\\s(.*\\s)?python(\\d+(\\.\\d+)*)?\\s',
  '^(\\S*/)?torchrun\\s',
  '^(\\S*/)?accelerate launch\\s',
  '^(\\S*/)?deepspeed\\s',
  '^(\\S*/)?model-perf run(\\s|$)',
];

export interface CompiledPatterns {
  patterns: RegExp[];
  /** One sentence per pattern that was refused, for the log. */
  problems: string[];
}

/** Compiles the configured patterns; a bad one is reported and left out, never thrown. */
export function compilePatterns(sources: unknown): CompiledPatterns {
  const problems: string[] = [];
  if (!Array.isArray(sources)) {
    if (sources !== undefined && sources !== null) problems.push(`modelPerf.tracking.commandPatterns must be a list of regular expressions (got ${JSON.stringify(sources)?.slice(0, 80)}); using the defaults`);
    return { patterns: DEFAULT_COMMAND_PATTERNS.map((s) => new RegExp(s)), problems };
  }
  const patterns: RegExp[] = [];
  for (const [i, source] of sources.entries()) {
    if (i >= MAX_PATTERNS) {
      problems.push(`modelPerf.tracking.commandPatterns: only the first ${MAX_PATTERNS} patterns are used`);
      break;
    }
    if (typeof source !== 'string' || source.length === 0 || source.length > MAX_PATTERN_LENGTH) {
      problems.push(`modelPerf.tracking.commandPatterns[${i}] must be a regular expression of 1 to ${MAX_PATTERN_LENGTH} characters (got ${JSON.stringify(source)?.slice(0, 80)}); ignored`);
      continue;
    }
    try {
      patterns.push(new RegExp(source));
    } catch (err) {
      problems.push(`modelPerf.tracking.commandPatterns[${i}] "${source.slice(0, 80)}" is not a valid regular expression (${err instanceof Error ? err.message : String(err)}); ignored`);
    }
  }
  return { patterns, problems };
}

/**
 * Splits a POSIX shell command line into words: single and double quotes, backslash escapes.
 * Control operators (`;`, `&&`, `||`, `|`, `&`) end a command: the result lists every simple
 * command of the line. Redirections (`> log`, `2>&1`) are dropped. Null for a line too long or
 * with an unterminated quote (the shell would wait for more input: nothing runs yet).
 */
export function splitCommands(line: string): string[][] | null {
  if (typeof line !== 'string' || line.length > MAX_COMMAND_LINE_LENGTH) return null;
  const commands: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  let tokenCount = 0;
  const endWord = () => {
    if (inWord) {
      words.push(word);
      tokenCount++;
    }
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    if (tokenCount > MAX_TOKENS) return null;
    const c = line[i] as string;
    if (c === '\\') {
      if (i + 1 < line.length) {
        const next = line[++i] as string;
        if (next !== '\n') {
          word += next;
          inWord = true;
        }
      }
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return null;
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length && '"\\$`\n'.includes(line[j + 1] as string)) j++;
        word += line[j];
      }
      if (j >= line.length) return null;
      inWord = true;
      i = j;
    } else if (c === ' ' || c === '\t') {
      endWord();
    } else if (c === '\n' || c === ';' || c === '&' || c === '|') {
      endCommand();
      if ((c === '&' || c === '|') && line[i + 1] === c) i++;
    } else if (c === '#' && !inWord) {
      break; // a comment runs to the end of the line
    } else if ((c === '>' || c === '<') && (!inWord || /^\d+$/.test(word))) {
      // A redirection: `> file`, `2>&1`, `>> file`, `< input`: drop the operator and its target.
      word = '';
      inWord = false;
      while (line[i + 1] === '>' || line[i + 1] === '&' || line[i + 1] === '<') i++;
      if (/\d/.test(line[i + 1] ?? '') && line[i] === '&') {
        while (/\d/.test(line[i + 1] ?? '')) i++;
        continue;
      }
      while (line[i + 1] === ' ' || line[i + 1] === '\t') i++;
      // Skip the target word (quotes included, roughly).
      while (i + 1 < line.length && !' \t\n;&|'.includes(line[i + 1] as string)) i++;
    } else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
  return commands;
}

const ENV_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
const WRAPPERS = new Set(['env', 'time', 'nohup', 'exec', 'command', 'nice', 'stdbuf', 'caffeinate', 'srun']);

/** Version managers whose `exec` runs the command with the chosen interpreter: `pyenv exec python x.py`. */
const VERSION_MANAGERS = new Set(['pyenv', 'asdf']);

/**
 * Drops leading `NAME=value` assignments and wrappers such as `env -u X`, `time`, `nohup`, `nice -n 5`,
 * `pyenv exec`.
 */
export function stripWrappers(words: readonly string[]): string[] {
  let i = 0;
  for (let guard = 0; guard < 50 && i < words.length; guard++) {
    const w = words[i] as string;
    if (ENV_ASSIGNMENT.test(w)) {
      i++;
    } else if (VERSION_MANAGERS.has(basename(w)) && words[i + 1] === 'exec') {
      i += 2;
    } else if (WRAPPERS.has(basename(w))) {
      i++;
      // Their options, and an option's value where the wrapper takes one (`nice -n 5`, `env -u X`).
      while (i < words.length && (words[i] as string).startsWith('-')) {
        const opt = words[i] as string;
        i++;
        if (/^-(n|u|o|e|i|C|S|-?unset|-?chdir|-?adjustment)$/.test(opt) && i < words.length) i++;
      }
    } else {
      break;
    }
  }
  return words.slice(i);
}

type Launcher = 'python' | 'uv' | 'torchrun' | 'accelerate' | 'deepspeed' | 'model-perf' | 'node' | 'other';

export interface RecognisedRun {
  /** The simple command that matched, wrappers removed. */
  words: string[];
  launcher: Launcher;
  /** The script (`generate.py`), module (`pkg.mod`) or program the run executes, or null. */
  script: string | null;
  /** The script's own arguments (where the task's flags are read). */
  scriptArgs: string[];
  /** For `model-perf run`: the CLI records the task itself. */
  recordedByCli: boolean;
  /** Flags of `model-perf run` itself (`--task-id`, `--model-type`, ...). */
  cliFlags: Record<string, string>;
}

const PYTHON = /^python(\d+(\.\d+)*)?(\.exe)?$|^pythonw(\.exe)?$/i;
/** Python's own options that take a value (`-X dev`, `-W ignore`). */
const PYTHON_VALUE_OPTS = new Set(['-X', '-W', '-Q']);
/** Options of `uv run` that take a value. */
const UV_VALUE_OPTS = new Set(['--with', '--with-requirements', '--with-editable', '--python', '-p', '--project', '--directory', '--package', '--extra', '--group', '--env-file', '--index', '--index-url', '--extra-index-url', '--config-file', '--cache-dir']);
const MODEL_PERF_VALUE_OPTS = new Set(['--task-id', '--model-type', '--resolution', '--steps', '--interval', '--nvidia-smi']);

function isScriptPath(w: string): boolean {
  return /\.py$/i.test(w) && !w.startsWith('-');
}

/** After the interpreter: `[opts] script args` or `[opts] -m module args`; null for `-c` and a bare REPL. */
function pythonTarget(args: readonly string[]): { script: string; rest: string[] } | null {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-m') return args[i + 1] ? { script: args[i + 1] as string, rest: args.slice(i + 2) } : null;
    if (a.startsWith('-m') && a.length > 2 && !a.startsWith('--')) return { script: a.slice(2), rest: args.slice(i + 1) };
    if (a === '-c' || a.startsWith('-c')) return null;
    if (a === '-') return null;
    if (PYTHON_VALUE_OPTS.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return { script: a, rest: args.slice(i + 1) };
  }
  return null;
}

/**
 * A launcher's options end at its script (`*.py`) or `-m module`: `torchrun --nproc_per_node 2
 * train.py --steps 5`, `accelerate launch --num_processes=2 -m pkg.train`, `deepspeed --num_gpus 8 x.py`.
 */
function launcherTarget(args: readonly string[]): { script: string; rest: string[] } | null {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-m' || a === '--module') return args[i + 1] ? { script: args[i + 1] as string, rest: args.slice(i + 2) } : null;
    if (isScriptPath(a)) return { script: a, rest: args.slice(i + 1) };
  }
  return null;
}

/** Structural reading of a simple command (wrappers already removed). */
export function readRun(words: readonly string[], depth = 0): RecognisedRun | null {
  const [cmd, ...args] = words;
  if (!cmd || depth > 3) return null;
  const base = basename(cmd);
  const result = (launcher: Launcher, target: { script: string; rest: string[] } | null): RecognisedRun => ({
    words: [...words],
    launcher,
    script: target?.script ?? null,
    scriptArgs: target?.rest ?? [],
    recordedByCli: false,
    cliFlags: {},
  });
  if (PYTHON.test(base)) return result('python', pythonTarget(args));
  if (base === 'uv' && args[0] === 'run') {
    let i = 1;
    while (i < args.length && (args[i] as string).startsWith('-')) {
      const opt = args[i] as string;
      i++;
      if (UV_VALUE_OPTS.has(opt)) i++;
    }
    const inner = args.slice(i);
    const first = inner[0];
    if (first && PYTHON.test(basename(first))) return { ...result('uv', pythonTarget(inner.slice(1))), words: [...words] };
    if (first && isScriptPath(first)) return result('uv', { script: first, rest: inner.slice(1) });
    return result('uv', first ? { script: first, rest: inner.slice(1) } : null);
  }
  if (base === 'torchrun' || base === 'deepspeed') return result(base, launcherTarget(args));
  if (base === 'accelerate' && args[0] === 'launch') return result('accelerate', launcherTarget(args.slice(1)));
  if (base === 'model-perf' && args[0] === 'run') {
    const cliFlags: Record<string, string> = {};
    let i = 1;
    for (; i < args.length; i++) {
      const a = args[i] as string;
      if (a === '--') {
        i++;
        break;
      }
      if (!a.startsWith('--')) break;
      const eq = a.indexOf('=');
      if (eq > 0) cliFlags[a.slice(2, eq)] = a.slice(eq + 1);
      else if (MODEL_PERF_VALUE_OPTS.has(a) && i + 1 < args.length) cliFlags[a.slice(2)] = args[++i] as string;
      else cliFlags[a.slice(2)] = 'true';
    }
    const inner = readRun(stripWrappers(args.slice(i)), depth + 1);
    return {
      words: [...words],
      launcher: 'model-perf',
      script: inner?.script ?? args[i] ?? null,
      scriptArgs: inner ? inner.scriptArgs : args.slice(i + 1),
      recordedByCli: true,
      cliFlags,
    };
  }
  if (/^(node|bun|deno)(\.exe)?$/i.test(base)) {
    const script = args.find((a) => !a.startsWith('-')) ?? null;
    return result('node', script ? { script, rest: args.slice(args.indexOf(script) + 1) } : null);
  }
  return result('other', { script: cmd, rest: [...args] });
}

/**
 * The first simple command of the line that one of the patterns matches, read structurally; null
 * when nothing matches (or the line is not a complete command).
 */
export function recogniseCommand(line: string, patterns: readonly RegExp[]): RecognisedRun | null {
  const commands = splitCommands(line);
  if (!commands) return null;
  for (const command of commands) {
    const words = stripWrappers(command);
    if (words.length === 0) continue;
    const text = words.join(' ');
    if (!patterns.some((p) => p.test(text))) continue;
    const run = readRun(words);
    // `python -c ...`, a bare `torchrun`: no script, nothing to follow.
    if (run && run.script === null && run.launcher !== 'other') continue;
    return run;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// What the command says about the task

export interface TaskGuess {
  taskId: string;
  modelType: string;
  resolution: string;
  steps: number;
  /** The script's name without folders (`generate.py`), for messages. */
  scriptName: string;
}

const MODEL_FLAGS = ['--model-type', '--model_type', '--model', '--model-id', '--model_id', '--model-name', '--model_name', '--model_name_or_path', '--pretrained_model_name_or_path', '--ckpt', '--checkpoint', '--ckpt_path', '--ckpt-path', '-m'];
const RESOLUTION_FLAGS = ['--resolution', '--res', '--size', '--image-size', '--image_size'];
const WIDTH_FLAGS = ['--width', '--W', '-W', '--video-width', '--video_width'];
const HEIGHT_FLAGS = ['--height', '--H', '-H', '--video-height', '--video_height'];
const STEP_FLAGS = ['--steps', '--num_inference_steps', '--num-inference-steps', '--num-steps', '--num_steps', '--sample_steps', '--sample-steps', '--sampling-steps', '--sampling_steps', '--infer_steps', '--infer-steps', '--ddim_steps'];
const TASK_ID_FLAGS = ['--task-id', '--task_id'];

/** The value of the last occurrence of any of `names` (`--steps 30` or `--steps=30`). */
function flagValue(args: readonly string[], names: readonly string[]): string | null {
  let found: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    for (const n of names) {
      if (a === n && i + 1 < args.length && !(args[i + 1] as string).startsWith('--')) found = args[i + 1] as string;
      else if (a.startsWith(`${n}=`)) found = a.slice(n.length + 1);
    }
  }
  return found;
}

function cleanText(text: string, max: number): string {
  // No control characters or codicon syntax reach the status bar or the history.
  return text.replace(/[\u0000-\u001f\u007f$]/g, '').trim().slice(0, max);
}

/** `stabilityai/stable-diffusion-xl-base-1.0` stays; `/models/sdxl.safetensors` becomes `sdxl`. */
function modelName(value: string): string {
  const v = value.replace(/[\\/]+$/, '');
  if (/^[\w.-]+\/[\w.-]+$/.test(v)) return v; // a hub id
  return basename(v).replace(/\.(safetensors|ckpt|pt|pth|bin|gguf|onnx)$/i, '');
}

function scriptStem(script: string | null): string {
  return script ? basename(script) : 'command';
}

function clock(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Task id, model type guess, resolution and steps from the command's flags. */
export function guessTask(run: RecognisedRun, nowMs: number): TaskGuess {
  const args = run.scriptArgs;
  const name = cleanText(scriptStem(run.script), 60) || 'command';
  const explicitId = run.cliFlags['task-id'] ?? flagValue(args, TASK_ID_FLAGS);
  const taskId = cleanText(explicitId ?? `${name}@${clock(nowMs)}`, 120) || `${name}@${clock(nowMs)}`;
  const modelFlag = run.cliFlags['model-type'] ?? flagValue(args, MODEL_FLAGS);
  const modelType = cleanText(modelFlag ? modelName(modelFlag) : name.replace(/\.py$/i, ''), 120) || 'unknown';
  let resolution = run.cliFlags.resolution ?? flagValue(args, RESOLUTION_FLAGS);
  if (!resolution) {
    const w = flagValue(args, WIDTH_FLAGS);
    const h = flagValue(args, HEIGHT_FLAGS);
    if (w && h && /^\d{1,5}$/.test(w) && /^\d{1,5}$/.test(h)) resolution = `${w}x${h}`;
  }
  const stepsText = run.cliFlags.steps ?? flagValue(args, STEP_FLAGS);
  const steps = stepsText && /^\d{1,7}$/.test(stepsText) ? Number(stepsText) : 0;
  return { taskId, modelType, resolution: cleanText(resolution ?? '', 40), steps, scriptName: name };
}
