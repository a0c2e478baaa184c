// The task API's argument checks: what each argument of startTaskMonitoring, updateTaskMetrics,
// the phase calls and the time windows may be. Callers are scripts and other extensions, so every
// argument is hostile until checked here; a bad one throws TaskStateError and changes nothing.
import { METRICS_FIELD_NAMES, type TaskMetricsUpdate } from '../../shared/metrics';
import { taskIdProblem } from '../../shared/text';
import type { DeviceEnvironment } from '../sampling/os/processEnv';

/** A call on the task API that cannot be honoured; nothing already recorded was changed. */
export class TaskStateError extends Error {
  constructor(
    readonly code: 'duplicateTask' | 'unknownTask' | 'invalidArgument' | 'invalidUpdate',
    message: string,
  ) {
    super(message);
    this.name = 'TaskStateError';
  }
}

export interface StartTaskOptions {
  /** The task's root process: its tree's RAM, CPU and GPU memory become the task's figures. */
  rootPid?: number | null;
  optimizations?: string[];
  quantization?: string | null;
  offload?: boolean;
  /** Pin the task to these GPU indices instead of inferring them. */
  gpuIndices?: number[];
  /** The run's working directory: the git commit of its repository is recorded with the task. */
  workingDirectory?: string | null;
  /**
   * The run's CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER (the CLI passes its own, which its child
   * inherits); absent: read from the root process's environment where it can be.
   */
  deviceEnvironment?: DeviceEnvironment | null;
}

type Rule = [expected: string, accepts: (v: unknown) => boolean];

const UPDATE_RULES: { [K in keyof Required<TaskMetricsUpdate>]: Rule } = {
  modelType: ['a string', (v) => typeof v === 'string'],
  resolution: ['a string', (v) => typeof v === 'string'],
  steps: ['a whole number of at least 0', (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0],
  modelLoadTimeSeconds: ['a number of at least 0, or null', (v) => v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 0)],
  optimizationsApplied: ['a list of strings', (v) => Array.isArray(v) && v.every((x) => typeof x === 'string')],
  quantizationUsed: ['a string or null', (v) => v === null || typeof v === 'string'],
  offloadUsed: ['true or false', (v) => typeof v === 'boolean'],
  rootPid: ['a positive whole number (a process id) or null', (v) => v === null || (typeof v === 'number' && Number.isInteger(v) && v > 0)],
  stepsCompleted: ['a whole number of at least 0, or null', (v) => v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)],
  stepsTotal: ['a whole number of at least 0, or null', (v) => v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)],
  stepsPerSecond: ['a number of at least 0, or null', (v) => v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 0)],
  progressIsPercent: ['true or false', (v) => typeof v === 'boolean'],
};

const START_OPTION_RULES: Record<keyof StartTaskOptions, Rule> = {
  rootPid: UPDATE_RULES.rootPid,
  optimizations: UPDATE_RULES.optimizationsApplied,
  quantization: UPDATE_RULES.quantizationUsed,
  offload: UPDATE_RULES.offloadUsed,
  gpuIndices: ['a list of GPU indices (whole numbers of at least 0)', (v) => Array.isArray(v) && v.every((x) => Number.isInteger(x) && (x as number) >= 0)],
  workingDirectory: ['a folder path (a non-empty string without NUL) or null', (v) => v === null || (typeof v === 'string' && v.length > 0 && v.length <= 4096 && !v.includes('\u0000'))],
  deviceEnvironment: [
    'an object { visibleDevices: string, deviceOrder: string or null } or null',
    (v) => v === null || (typeof v === 'object' && typeof (v as DeviceEnvironment).visibleDevices === 'string' && (v as DeviceEnvironment).visibleDevices.length <= 4096 && ((v as DeviceEnvironment).deviceOrder === null || typeof (v as DeviceEnvironment).deviceOrder === 'string')),
  ],
};

/** Progress fields change many times a second: they are not worth a running-marker write each. */
const PROGRESS_FIELDS = new Set<string>(['stepsCompleted', 'stepsTotal', 'stepsPerSecond', 'progressIsPercent']);

export function isProgressField(field: string): boolean {
  return PROGRESS_FIELDS.has(field);
}

/** A phase name: a short identifier such as `model_load` or `denoise`. */
export const PHASE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** Fields of PerformanceMetrics that the monitor measures or derives; callers cannot set them. */
const COMPUTED_FIELDS = new Set<string>(METRICS_FIELD_NAMES.filter((f) => !(f in UPDATE_RULES)));

/** A value as it appears in an error message: strings quoted, anything unprintable as String(). */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function invalidArgument(message: string): TaskStateError {
  return new TaskStateError('invalidArgument', message);
}

export function checkStartArguments(taskId: unknown, modelType: unknown, resolution: unknown, steps: unknown, options: unknown): asserts options is StartTaskOptions {
  if (typeof taskId !== 'string' || taskId.trim() === '') throw invalidArgument(`startTaskMonitoring: "taskId" must be a non-empty string (got ${showValue(taskId)})`);
  const idProblem = taskIdProblem(taskId);
  if (idProblem !== null) throw invalidArgument(`startTaskMonitoring: ${idProblem}`);
  if (typeof modelType !== 'string') throw invalidArgument(`startTaskMonitoring("${taskId}"): "modelType" must be a string (got ${showValue(modelType)})`);
  if (typeof resolution !== 'string') throw invalidArgument(`startTaskMonitoring("${taskId}"): "resolution" must be a string (got ${showValue(resolution)})`);
  if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 0) throw invalidArgument(`startTaskMonitoring("${taskId}"): "steps" must be a whole number of at least 0 (got ${showValue(steps)})`);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalidArgument(`startTaskMonitoring("${taskId}"): "options" must be an object (got ${showValue(options)})`);
  for (const [key, value] of Object.entries(options as Record<string, unknown>)) {
    const rule = START_OPTION_RULES[key as keyof StartTaskOptions];
    if (!rule) throw invalidArgument(`startTaskMonitoring("${taskId}"): unknown option "${key}" (options: ${Object.keys(START_OPTION_RULES).join(', ')})`);
    if (value !== undefined && !rule[1](value)) throw invalidArgument(`startTaskMonitoring("${taskId}"): option "${key}" must be ${rule[0]} (got ${showValue(value)})`);
  }
}

/** The checked changes of an updateTaskMetrics call, as [field, value] pairs; throws on the first bad one. */
export function checkUpdate(taskId: string, changes: unknown): [string, unknown][] {
  if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) {
    throw new TaskStateError('invalidUpdate', `updateTaskMetrics("${taskId}"): changes must be an object of field -> value (got ${showValue(changes)})`);
  }
  const entries = Object.entries(changes as Record<string, unknown>);
  for (const [key, value] of entries) {
    const rule = (UPDATE_RULES as Record<string, Rule | undefined>)[key];
    if (!rule) {
      const why = COMPUTED_FIELDS.has(key) ? `"${key}" is measured or set by the monitor and cannot be updated` : `unknown field "${key}" (fields that can be updated: ${Object.keys(UPDATE_RULES).join(', ')})`;
      throw new TaskStateError('invalidUpdate', `updateTaskMetrics("${taskId}"): ${why}; nothing was changed`);
    }
    if (!rule[1](value)) throw new TaskStateError('invalidUpdate', `updateTaskMetrics("${taskId}"): "${key}" must be ${rule[0]} (got ${showValue(value)}); nothing was changed`);
  }
  return entries;
}

/** A phase call's name and optional time (epoch milliseconds). */
export function checkPhaseArguments(method: string, taskId: string, name: unknown, atMs: unknown): asserts atMs is number | undefined {
  if (typeof name !== 'string' || !PHASE_NAME.test(name)) throw new TaskStateError('invalidUpdate', `${method}("${taskId}"): a phase name is 1 to 64 letters, digits, "_", ".", ":" or "-" (got ${showValue(name)})`);
  if (atMs !== undefined && (typeof atMs !== 'number' || !Number.isFinite(atMs))) throw new TaskStateError('invalidUpdate', `${method}("${taskId}"): the phase time must be epoch milliseconds (got ${showValue(atMs)})`);
}

export function checkTimeWindow(timeWindowHours: unknown): asserts timeWindowHours is number {
  if (typeof timeWindowHours !== 'number' || !Number.isFinite(timeWindowHours) || timeWindowHours <= 0) {
    throw invalidArgument(`timeWindowHours must be a number greater than 0 (got ${showValue(timeWindowHours)})`);
  }
}

/** The arguments of adoptTaskMonitoring: those of a start, plus the process's own start time (or null). */
export function checkAdoptArguments(taskId: unknown, modelType: unknown, resolution: unknown, steps: unknown, options: { rootPid: number; startTimeMs: number | null }): void {
  checkStartArguments(taskId, modelType, resolution, steps, { rootPid: options.rootPid });
  const start = options.startTimeMs;
  if (start !== null && (typeof start !== 'number' || !Number.isFinite(start) || start <= 0)) {
    throw invalidArgument(`adoptTaskMonitoring("${String(taskId)}"): "startTimeMs" must be epoch milliseconds or null (got ${showValue(start)})`);
  }
}

/** The arguments of reportHelperVram: a process id and a peak in MiB. */
export function checkHelperVram(taskId: string, pid: unknown, peakMb: unknown): void {
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) throw invalidArgument(`reportHelperVram("${taskId}"): "pid" must be a process id (got ${showValue(pid)})`);
  if (typeof peakMb !== 'number' || !Number.isFinite(peakMb) || peakMb < 0) throw invalidArgument(`reportHelperVram("${taskId}"): "peakMb" must be a number of MiB, 0 or more (got ${showValue(peakMb)})`);
}
