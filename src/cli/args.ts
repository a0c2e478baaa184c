// The CLI's commands, their flags and a strict hand-written parser (no dependency): an unknown
// flag, a missing or malformed value or a stray argument is a UsageError with a one-line message,
// which the CLI prints with the command's usage line and exit status 2.
import { GPU_BACKENDS, type GpuBackend } from '../core/sampling/gpu/selectProvider';

type FlagKind = 'boolean' | 'string' | 'number' | 'integer' | 'choice';

interface FlagSpec {
  /** Long name without dashes (`window-hours`). */
  name: string;
  kind: FlagKind;
  /** Placeholder for the value in help (`S`, `ID`). */
  valueName?: string;
  description: string;
  /** Inclusive bounds for number and integer flags. */
  min?: number;
  max?: number;
  /** Shown in the error when a number is out of range (`seconds`). */
  unit?: string;
  choices?: readonly string[];
}

export type CommandName = 'status' | 'run' | 'analyze' | 'export' | 'import' | 'watch' | 'serve' | 'cluster';

export interface CommandSpec {
  name: CommandName;
  summary: string;
  /** After `model-perf NAME`. */
  usage: string;
  flags: readonly FlagSpec[];
  /** How many positional arguments (before any command to run); `run` takes a command instead. */
  positionals: { min: number; max: number; names: string };
  /** `run`: everything from the first non-flag argument (or after `--`) is the command. */
  takesCommand?: boolean;
  details: readonly string[];
}

type FlagValue = string | number | boolean;

export interface ParsedCommand {
  command: CommandName;
  flags: ReadonlyMap<string, FlagValue>;
  positionals: string[];
  /** The command to run (`run` only); empty otherwise. */
  commandLine: string[];
}

export type ParseResult =
  | { kind: 'command'; parsed: ParsedCommand }
  | { kind: 'help'; command: CommandName | null }
  | { kind: 'version' };

/** A mistake on the command line: `message` is one line; `command` picks the usage to show. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command: CommandName | null,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

const INTERVAL: FlagSpec = {
  name: 'interval',
  kind: 'number',
  valueName: 'S',
  min: 0.25,
  max: 60,
  unit: 'seconds',
  description: 'seconds between two samples, 0.25 to 60 (default 1)',
};
const NO_GPU: FlagSpec = { name: 'no-gpu', kind: 'boolean', description: 'do not look for GPUs (no nvidia-smi is started)' };
const NVIDIA_SMI: FlagSpec = { name: 'nvidia-smi', kind: 'string', valueName: 'PATH', description: 'the nvidia-smi to run (default: found on PATH)' };
const GPU_BACKEND: FlagSpec = {
  name: 'gpu-backend',
  kind: 'choice',
  valueName: 'B',
  choices: GPU_BACKENDS,
  description: 'how NVIDIA GPUs are read: auto (today the nvidia-smi stream), nvidia-smi, or nvml (the library, nvidia-smi as fallback)',
};
const JSON_FLAG: FlagSpec = { name: 'json', kind: 'boolean', description: 'print JSON instead of text' };
const WINDOW: FlagSpec = {
  name: 'window-hours',
  kind: 'number',
  valueName: 'H',
  min: 0.001,
  max: 87_600,
  unit: 'hours',
  description: 'look at tasks started in the last H hours (default 24)',
};

/** `model-perf serve`'s port unless --port says otherwise (free in Prometheus' list of exporter ports). */
export const DEFAULT_SERVE_PORT = 9478;

const HISTORY_NOTE = 'Tasks live in $MODEL_PERF_HOME (default ~/.local/share/model-perf), shared with the VS Code extension.';

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'status',
    summary: 'show CPU, RAM, disk and every GPU of this machine now',
    usage: '[--json] [--no-gpu] [--nvidia-smi PATH] [--gpu-backend B]',
    flags: [JSON_FLAG, NO_GPU, NVIDIA_SMI, GPU_BACKEND],
    positionals: { min: 0, max: 0, names: '' },
    details: ['Takes two samples half a second apart (CPU % needs an interval) and prints the second.'],
  },
  {
    name: 'run',
    summary: 'run a command as a monitored task and record it in the history',
    usage: '[options] [--] CMD [ARGS...]',
    flags: [
      { name: 'task-id', kind: 'string', valueName: 'ID', description: 'task id (default: script name, date and a random suffix)' },
      { name: 'model-type', kind: 'string', valueName: 'T', description: 'model type recorded with the task (default: the script name)' },
      { name: 'resolution', kind: 'string', valueName: 'R', description: 'resolution recorded with the task (720p, 1280x720, ...)' },
      { name: 'steps', kind: 'integer', valueName: 'N', min: 0, max: 1e9, description: 'number of steps recorded with the task (default 0)' },
      INTERVAL,
      NO_GPU,
      NVIDIA_SMI,
      GPU_BACKEND,
    ],
    positionals: { min: 0, max: 0, names: '' },
    takesCommand: true,
    details: [
      "The command's process tree is the task: its RAM, CPU and GPU memory are the task's figures.",
      'Its output streams through unchanged; a summary goes to stderr when it ends.',
      "model-perf exits with the command's exit status (128+N when killed by signal N).",
      'Ctrl-C is passed to the command and the task is recorded as interrupted.',
      'A failed task gets an error category: out_of_memory, killed, interrupted, signal_NAME or exit_code_N.',
      'PYTHONUNBUFFERED=1 is set unless already set, so Python output is not held back by the pipe.',
      HISTORY_NOTE,
    ],
  },
  {
    name: 'analyze',
    summary: 'analyse the recorded tasks: success rate, times, bottlenecks, advice',
    usage: '[--window-hours H] [--json]',
    flags: [WINDOW, JSON_FLAG],
    positionals: { min: 0, max: 0, names: '' },
    details: [HISTORY_NOTE],
  },
  {
    name: 'export',
    summary: 'write the recorded tasks and their analysis to a file',
    usage: 'FILE [--window-hours H] [--format json|csv]',
    flags: [WINDOW, { name: 'format', kind: 'choice', valueName: 'F', choices: ['json', 'csv'], description: 'json or csv (default: from the file name, else json)' }],
    positionals: { min: 1, max: 1, names: 'FILE' },
    details: [
      'The file is written whole or not at all (through a temporary file renamed into place).',
      'A named pipe, device, folder or symbolic link at FILE is refused; an existing file keeps its permissions.',
      HISTORY_NOTE,
    ],
  },
  {
    name: 'import',
    summary: 'merge an export (JSON or CSV, from model-perf or the original module) into the history',
    usage: 'FILE [--partial] [--list-all]',
    flags: [
      { name: 'partial', kind: 'boolean', description: 'import the good records even when others are rejected (they are listed)' },
      { name: 'list-all', kind: 'boolean', description: 'list every rejected record (default: the first 50, then a count)' },
    ],
    positionals: { min: 1, max: 1, names: 'FILE' },
    details: [
      "Reads a JSON export of model-perf export or of the original Python module (snake_case keys;",
      'its times in seconds), or a CSV export of model-perf export. The format is read from the file.',
      'A task already in the history (same task id and start time) is skipped and counted.',
      'Every rejected record is listed with where it is and why. Without --partial nothing is',
      'written unless every record is good; the exit status is 1 when any record was rejected.',
      HISTORY_NOTE,
    ],
  },
  {
    name: 'watch',
    summary: 'a live table of CPU, RAM, disk and GPUs, redrawn in place',
    usage: '[--interval S] [--count N] [--no-gpu] [--nvidia-smi PATH] [--gpu-backend B]',
    flags: [INTERVAL, { name: 'count', kind: 'integer', valueName: 'N', min: 1, max: 1e9, description: 'stop after N samples (default: until Ctrl-C)' }, NO_GPU, NVIDIA_SMI, GPU_BACKEND],
    positionals: { min: 0, max: 0, names: '' },
    details: ['When stdout is not a terminal, prints one line per sample instead of redrawing.'],
  },
  {
    name: 'serve',
    summary: 'serve this machine\'s figures to Prometheus (GET /metrics)',
    usage: '[--port N] [--bind ADDR [--allow-remote]] [--token-file F] [--interval S] [--no-gpu] [--nvidia-smi PATH] [--gpu-backend B]',
    flags: [
      { name: 'port', kind: 'integer', valueName: 'N', min: 0, max: 65535, description: `TCP port to listen on (default ${DEFAULT_SERVE_PORT}; 0 picks a free one)` },
      { name: 'bind', kind: 'string', valueName: 'ADDR', description: 'address to listen on (default 127.0.0.1)' },
      { name: 'allow-remote', kind: 'boolean', description: 'allow an address other than loopback (then a token is required)' },
      { name: 'token-file', kind: 'string', valueName: 'F', description: 'a file holding the bearer token scrapers must send (else $MODEL_PERF_TOKEN)' },
      INTERVAL,
      NO_GPU,
      NVIDIA_SMI,
      GPU_BACKEND,
    ],
    positionals: { min: 0, max: 0, names: '' },
    details: [
      'Prometheus text format 0.0.4, or OpenMetrics 1.0 when the Accept header asks for it.',
      'Runs in the foreground until Ctrl-C or SIGTERM (a systemd unit ships in media/systemd/).',
      "While a VS Code window samples this machine, serves that window's figures: no second nvidia-smi.",
      'With a token (--token-file or $MODEL_PERF_TOKEN), every request needs "Authorization: Bearer TOKEN".',
      HISTORY_NOTE,
    ],
  },
  {
    name: 'cluster',
    summary: 'every node Prometheus knows: GPUs, utilisation, memory, running tasks',
    usage: '--prometheus URL [--json] [--token-file F] [--timeout S]',
    flags: [
      { name: 'prometheus', kind: 'string', valueName: 'URL', description: 'the Prometheus server to ask (http://host:9090)' },
      JSON_FLAG,
      { name: 'token-file', kind: 'string', valueName: 'F', description: 'a file holding a bearer token for Prometheus (else $MODEL_PERF_PROMETHEUS_TOKEN)' },
      { name: 'timeout', kind: 'number', valueName: 'S', min: 0.5, max: 300, unit: 'seconds', description: 'give up on a query after S seconds, 0.5 to 300 (default 10)' },
    ],
    positionals: { min: 0, max: 0, names: '' },
    details: [
      "Reads model-perf serve's metrics (model_perf_*) and NVIDIA DCGM exporter's (DCGM_FI_DEV_*).",
      'A node is named by its scrape instance, with DCGM\'s Hostname where it has one.',
      'A node is stale when its target is down (up == 0) or has not been scraped for two intervals.',
    ],
  },
];

function commandSpec(name: CommandName): CommandSpec {
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) throw new Error(`no command ${name}`);
  return spec;
}

function isCommandName(value: string): value is CommandName {
  return COMMANDS.some((c) => c.name === value);
}

function quote(value: string): string {
  return JSON.stringify(value);
}

function parseValue(spec: FlagSpec, raw: string, command: CommandName): FlagValue {
  const flag = `--${spec.name}`;
  switch (spec.kind) {
    case 'string':
      if (raw.trim() === '') throw new UsageError(`${flag} needs a non-empty value`, command);
      return raw;
    case 'choice':
      if (!spec.choices?.includes(raw)) throw new UsageError(`${flag} must be one of ${(spec.choices ?? []).join(', ')} (got ${quote(raw)})`, command);
      return raw;
    case 'number':
    case 'integer': {
      const whole = spec.kind === 'integer';
      // Number('') is 0 and Number('0x10') is 16: accept plain decimals only.
      const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw.trim()) ? Number(raw) : Number.NaN;
      const range = describeRange(spec);
      if (!Number.isFinite(n) || (whole && !Number.isInteger(n))) {
        throw new UsageError(`${flag} must be ${whole ? 'a whole number' : 'a number'}${range} (got ${quote(raw)})`, command);
      }
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw new UsageError(`${flag} must be ${whole ? 'a whole number' : 'a number'}${range} (got ${quote(raw)})`, command);
      }
      return n;
    }
    case 'boolean':
      return true;
  }
}

function describeRange(spec: FlagSpec): string {
  const unit = spec.unit ? ` ${spec.unit}` : '';
  if (spec.min !== undefined && spec.max !== undefined && spec.max < 1e9) return ` of${unit} between ${spec.min} and ${spec.max}`;
  if (spec.min !== undefined) return ` of at least ${spec.min}${unit}`;
  return unit ? ` of${unit}` : '';
}

/** Parses `argv` (without node and the script). Throws UsageError for any mistake. */
export function parseArgs(argv: readonly string[]): ParseResult {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given', null);
  if (first === '--help' || first === '-h') return { kind: 'help', command: null };
  if (first === '--version' || first === '-V') return { kind: 'version' };
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) return { kind: 'help', command: null };
    if (!isCommandName(topic)) throw new UsageError(`unknown command ${quote(topic)}`, null);
    return { kind: 'help', command: topic };
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option ${quote(first)} (a command comes first)`, null);
  if (!isCommandName(first)) throw new UsageError(`unknown command ${quote(first)}`, null);
  const spec = commandSpec(first);
  const flags = new Map<string, FlagValue>();
  const positionals: string[] = [];
  let commandLine: string[] = [];

  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (arg === '--') {
      if (spec.takesCommand) {
        commandLine = rest.slice(i + 1);
        break;
      }
      positionals.push(...rest.slice(i + 1));
      break;
    }
    if (arg === '--help' || arg === '-h') return { kind: 'help', command: first };
    if (arg.startsWith('-') && arg !== '-') {
      if (!arg.startsWith('--')) throw new UsageError(`unknown flag ${quote(arg)}`, first);
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const flag = spec.flags.find((f) => f.name === name);
      if (!flag) throw new UsageError(`unknown flag ${quote(`--${name}`)}`, first);
      if (flags.has(name)) throw new UsageError(`--${name} is given twice`, first);
      if (flag.kind === 'boolean') {
        if (eq >= 0) throw new UsageError(`--${name} takes no value (got ${quote(arg.slice(eq + 1))})`, first);
        flags.set(name, true);
        continue;
      }
      let raw: string | undefined;
      if (eq >= 0) raw = arg.slice(eq + 1);
      else {
        raw = rest[i + 1];
        // A following flag is a forgotten value, not the value (`--task-id --steps 3`).
        if (raw === undefined || (raw.startsWith('--') && raw.length > 2)) throw new UsageError(`--${name} needs a value (${flag.valueName ?? 'VALUE'})`, first);
        i++;
      }
      flags.set(name, parseValue(flag, raw, first));
      continue;
    }
    if (spec.takesCommand) {
      // `model-perf run python train.py --lr 3`: the command's own flags are not ours.
      commandLine = rest.slice(i);
      break;
    }
    positionals.push(arg);
  }

  if (spec.takesCommand && commandLine.length === 0) throw new UsageError('no command to run given (put it after --)', first);
  if (positionals.length < spec.positionals.min) throw new UsageError(`missing ${spec.positionals.names}`, first);
  if (positionals.length > spec.positionals.max) throw new UsageError(`unexpected argument ${quote(positionals[spec.positionals.max] as string)}`, first);
  return { kind: 'command', parsed: { command: first, flags, positionals, commandLine } };
}

export function usageLine(command: CommandName | null): string {
  if (command === null) return `Usage: model-perf <${COMMANDS.map((c) => c.name).join('|')}> [options]   (model-perf --help for more)`;
  return `Usage: model-perf ${command} ${commandSpec(command).usage}   (model-perf ${command} --help for more)`;
}

function flagColumn(flag: FlagSpec): string {
  return flag.kind === 'boolean' ? `--${flag.name}` : `--${flag.name} ${flag.valueName ?? 'VALUE'}`;
}

export function helpText(command: CommandName | null): string {
  if (command === null) {
    const width = Math.max(...COMMANDS.map((c) => c.name.length));
    return [
      'model-perf: CPU, RAM, disk and GPU of this machine, and per-run task records for model scripts.',
      '',
      'Usage: model-perf <command> [options]',
      '',
      'Commands:',
      ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
      '',
      'Options:',
      '  -h, --help     show help (also: model-perf <command> --help)',
      '  -V, --version  show the version',
      '',
      'Examples:',
      '  model-perf status',
      '  model-perf run --model-type sdxl --resolution 1080p --steps 30 -- python generate.py',
      '  model-perf analyze --window-hours 168',
      '  model-perf export tasks.csv',
      '  model-perf import other-machine.json',
      '  model-perf serve --port 9478',
      '  model-perf cluster --prometheus http://prometheus:9090',
      '',
      HISTORY_NOTE,
      '',
    ].join('\n');
  }
  const spec = commandSpec(command);
  const rows = [...spec.flags.map((f) => [flagColumn(f), f.description] as const), ['-h, --help', 'show this help'] as const];
  const width = Math.max(...rows.map(([left]) => left.length));
  return [
    `model-perf ${spec.name}: ${spec.summary}`,
    '',
    `Usage: model-perf ${spec.name} ${spec.usage}`,
    '',
    'Options:',
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`),
    '',
    ...spec.details,
    '',
  ].join('\n');
}

// Typed readers over the parsed flags, so command code never casts.
export function flagString(parsed: ParsedCommand, name: string): string | undefined {
  const v = parsed.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function flagNumber(parsed: ParsedCommand, name: string): number | undefined {
  const v = parsed.flags.get(name);
  return typeof v === 'number' ? v : undefined;
}

export function flagBoolean(parsed: ParsedCommand, name: string): boolean {
  return parsed.flags.get(name) === true;
}

/** `--gpu-backend` as the monitor's option (absent: the default). */
export function gpuBackendFlag(parsed: ParsedCommand): { gpuBackend?: GpuBackend } {
  const v = flagString(parsed, 'gpu-backend');
  return GPU_BACKENDS.includes(v as GpuBackend) ? { gpuBackend: v as GpuBackend } : {};
}

/**
 * An explicit GPU choice (--no-gpu, --nvidia-smi, --gpu-backend) means this process's own reading,
 * not the figures a window (or another run or serve) publishes for the machine.
 */
export function explicitGpuChoice(parsed: ParsedCommand): boolean {
  return flagBoolean(parsed, 'no-gpu') || flagString(parsed, 'nvidia-smi') !== undefined || flagString(parsed, 'gpu-backend') !== undefined;
}
