// The NVIDIA management library (libnvidia-ml.so.1 on Linux, nvml.dll on Windows) through koffi,
// an FFI whose npm package carries prebuilt binaries (nothing is compiled or downloaded). koffi is
// required here and only here, when this backend is tried, so a machine that never asks for NVML
// never loads a native module. Every out-parameter is a Buffer the caller keeps and reuses: a
// sample allocates nothing on this side. Loading never throws: a missing library, a missing symbol
// or a koffi that cannot load gives a reason instead.
// A namespace import: the benchmarks' ESM bundles declare their own `createRequire` in a banner.
import * as nodeModule from 'node:module';
import { join } from 'node:path';
import type * as Koffi from 'koffi';
import { errorText } from '../../util/errors';

/** NVML return codes this monitor tells apart (nvml.h `nvmlReturn_t`). */
export const NVML_SUCCESS = 0;
export const NVML_ERROR_UNINITIALIZED = 1;
export const NVML_ERROR_INSUFFICIENT_SIZE = 7;
export const NVML_ERROR_DRIVER_NOT_LOADED = 9;
export const NVML_ERROR_GPU_IS_LOST = 15;
export const NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18;

/** `NVML_TEMPERATURE_GPU`, `NVML_CLOCK_SM`, `NVML_DEVICE_NAME_V2_BUFFER_SIZE` (also fits a uuid). */
const NVML_TEMPERATURE_GPU = 0;
const NVML_CLOCK_SM = 1;
export const NVML_TEXT_BUFFER_SIZE = 96;
/** `nvmlProcessInfo_t` as the _v2/_v3 calls fill it: pid u32, (pad), usedGpuMemory u64, gpuInstanceId u32, computeInstanceId u32. */
const NVML_PROCESS_INFO_V2_SIZE = 24;
/** The original call's struct: pid u32, (pad), usedGpuMemory u64. */
const NVML_PROCESS_INFO_V1_SIZE = 16;

type Device = unknown;
type Call = (...args: unknown[]) => number;

/** The calls this monitor makes; out-parameters are caller-owned Buffers. */
export interface NvmlLibrary {
  /** The file that was loaded (for the log). */
  readonly path: string;
  init(): number;
  shutdown(): number;
  errorString(code: number): string;
  deviceCount(out: Buffer): number;
  /** The device handle of `index`, or the error code. */
  deviceHandle(index: number): { code: number; device: Device | null };
  name(device: Device, out: Buffer): number;
  uuid(device: Device, out: Buffer): number;
  /** Fills two u32: gpu, memory (percent). */
  utilization(device: Device, out: Buffer): number;
  /** Fills three u64: total, free, used (bytes). */
  memory(device: Device, out: Buffer): number;
  temperature(device: Device, out: Buffer): number;
  /** Milliwatts. */
  powerUsage(device: Device, out: Buffer): number;
  /** Milliwatts; null when this library lacks the call. */
  powerLimit: ((device: Device, out: Buffer) => number) | null;
  smClock(device: Device, out: Buffer): number;
  /** The SM clock's maximum (MHz, u32); null when this library lacks the call. */
  smClockMax: ((device: Device, out: Buffer) => number) | null;
  /**
   * Fills a u64 of clock event reasons (the same bits as nvidia-smi's `clocks_event_reasons.active`):
   * `nvmlDeviceGetCurrentClocksEventReasons`, or the older `...ThrottleReasons`; null without either.
   */
  clockEventReasons: ((device: Device, out: Buffer) => number) | null;
  /** Fills an i32 (0..15, 32 = unknown); null when this library lacks the call. */
  performanceState: ((device: Device, out: Buffer) => number) | null;
  /** Fills two u32: current, pending; null when this library lacks the call. */
  migMode: ((device: Device, current: Buffer, pending: Buffer) => number) | null;
  /** The newest running-processes call this library has, and the size of one entry it writes. */
  computeProcesses: { call: (device: Device, count: Buffer, infos: Buffer | null) => number; entrySize: number; version: string } | null;
  /** Drops the library (after shutdown). */
  unload(): void;
}

export type NvmlLoad = { ok: true; library: NvmlLibrary } | { ok: false; reason: string };

interface KoffiLike {
  load(path: string): { func(signature: string): Call; unload?: () => void };
  pointer(name: string, type: unknown): unknown;
  opaque(): unknown;
}

let koffiModule: KoffiLike | null = null;
let deviceTypeDeclared = false;

function requireKoffi(): KoffiLike {
  if (!koffiModule) {
    // Through createRequire, so no bundler follows it into koffi's native binaries: the package
    // (its loader and binaries) sits beside the bundle in dist/node_modules (esbuild.mjs copies it),
    // and in the repository in node_modules. ESM bundles (benchmarks) resolve from the working folder.
    const from = typeof __filename === 'string' ? __filename : join(process.cwd(), 'index.js');
    koffiModule = nodeModule.createRequire(from)('koffi') as typeof Koffi as unknown as KoffiLike;
  }
  if (!deviceTypeDeclared) {
    koffiModule.pointer('nvmlDevice_t', koffiModule.opaque());
    deviceTypeDeclared = true;
  }
  return koffiModule;
}

/** Where the library usually is: the loader's search first, then the driver's folders. */
export function nvmlCandidates(platform: NodeJS.Platform, env: NodeJS.ProcessEnv): string[] {
  if (platform === 'win32') {
    const root = env.SystemRoot ?? env.SYSTEMROOT ?? 'C:\\Windows';
    const programFiles = env.ProgramW6432 ?? env.ProgramFiles ?? 'C:\\Program Files';
    return ['nvml.dll', `${root}\\System32\\nvml.dll`, `${programFiles}\\NVIDIA Corporation\\NVSMI\\nvml.dll`];
  }
  return ['libnvidia-ml.so.1', '/usr/lib/wsl/lib/libnvidia-ml.so.1', '/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1', '/usr/lib64/libnvidia-ml.so.1'];
}

/**
 * Loads the first candidate that opens and binds the calls. A required call missing from the
 * library is a reason, not a throw; optional ones (power limit, P-state, MIG, processes) read null.
 */
export function loadNvml(candidates: readonly string[]): NvmlLoad {
  let koffi: KoffiLike;
  try {
    koffi = requireKoffi();
  } catch (err) {
    return { ok: false, reason: `the FFI module koffi could not be loaded (${errorText(err)})` };
  }
  const tried: string[] = [];
  for (const path of candidates) {
    let lib: ReturnType<KoffiLike['load']>;
    try {
      lib = koffi.load(path);
    } catch (err) {
      tried.push(`${path}: ${errorText(err).split('\n')[0]}`);
      continue;
    }
    try {
      return { ok: true, library: bind(lib, path) };
    } catch (err) {
      try {
        lib.unload?.();
      } catch {
        // The library stays mapped; nothing else to do.
      }
      return { ok: false, reason: `${path} lacks a call this monitor needs (${errorText(err).split('\n')[0]})` };
    }
  }
  return { ok: false, reason: `the NVIDIA management library was not found (${tried.join('; ').slice(0, 400)})` };
}

function bind(lib: ReturnType<KoffiLike['load']>, path: string): NvmlLibrary {
  const required = (signature: string): Call => lib.func(signature);
  const optional = (signature: string): Call | null => {
    try {
      return lib.func(signature);
    } catch {
      return null;
    }
  };
  const init = required('int nvmlInit_v2()');
  const shutdown = required('int nvmlShutdown()');
  const errorString = required('const char *nvmlErrorString(int)') as unknown as (code: number) => string | null;
  const count = required('int nvmlDeviceGetCount_v2(void *count)');
  const handle = required('int nvmlDeviceGetHandleByIndex_v2(unsigned int index, _Out_ nvmlDevice_t *device)');
  const name = required('int nvmlDeviceGetName(nvmlDevice_t device, void *name, unsigned int length)');
  const uuid = required('int nvmlDeviceGetUUID(nvmlDevice_t device, void *uuid, unsigned int length)');
  const utilization = required('int nvmlDeviceGetUtilizationRates(nvmlDevice_t device, void *utilization)');
  const memory = required('int nvmlDeviceGetMemoryInfo(nvmlDevice_t device, void *memory)');
  const temperature = required('int nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, void *temp)');
  const power = required('int nvmlDeviceGetPowerUsage(nvmlDevice_t device, void *milliwatts)');
  const clock = required('int nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, void *mhz)');
  const powerLimit = optional('int nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, void *milliwatts)');
  const pstate = optional('int nvmlDeviceGetPerformanceState(nvmlDevice_t device, void *pstate)');
  const mig = optional('int nvmlDeviceGetMigMode(nvmlDevice_t device, void *current, void *pending)');
  const maxClock = optional('int nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, int type, void *mhz)');
  const reasons = optional('int nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, void *reasons)')
    ?? optional('int nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, void *reasons)');
  let computeProcesses: NvmlLibrary['computeProcesses'] = null;
  for (const [version, entrySize] of [['_v3', NVML_PROCESS_INFO_V2_SIZE], ['_v2', NVML_PROCESS_INFO_V2_SIZE], ['', NVML_PROCESS_INFO_V1_SIZE]] as const) {
    const call = optional(`int nvmlDeviceGetComputeRunningProcesses${version}(nvmlDevice_t device, void *count, void *infos)`);
    if (call) {
      computeProcesses = { call: (d, c, infos) => call(d, c, infos), entrySize, version: version || '(original)' };
      break;
    }
  }
  const handleOut: unknown[] = [null];
  return {
    path,
    init: () => init(),
    shutdown: () => shutdown(),
    errorString: (code) => errorString(code) ?? `NVML error ${code}`,
    deviceCount: (out) => count(out),
    deviceHandle: (index) => {
      handleOut[0] = null;
      const code = handle(index, handleOut);
      return { code, device: code === NVML_SUCCESS ? handleOut[0] : null };
    },
    name: (d, out) => name(d, out, out.length),
    uuid: (d, out) => uuid(d, out, out.length),
    utilization: (d, out) => utilization(d, out),
    memory: (d, out) => memory(d, out),
    temperature: (d, out) => temperature(d, NVML_TEMPERATURE_GPU, out),
    powerUsage: (d, out) => power(d, out),
    powerLimit: powerLimit ? (d, out) => powerLimit(d, out) : null,
    smClock: (d, out) => clock(d, NVML_CLOCK_SM, out),
    smClockMax: maxClock ? (d, out) => maxClock(d, NVML_CLOCK_SM, out) : null,
    clockEventReasons: reasons ? (d, out) => reasons(d, out) : null,
    performanceState: pstate ? (d, out) => pstate(d, out) : null,
    migMode: mig ? (d, current, pending) => mig(d, current, pending) : null,
    computeProcesses,
    unload: () => lib.unload?.(),
  };
}
