// The stand-in NVIDIA management library (test/fixtures/nvml/fake_nvml.c), built with the C
// compiler the test setup installs, and its scenario file (tests and scripts/bench-nvml.mjs). Each variant is built once into
// out/fake-nvml (again when the source is newer) and renamed into place, so parallel test files
// never load a half-written library.
import { execFileSync } from 'node:child_process';
import * as nodeModule from 'node:module';
import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

// The repository root; the benchmark bundles this file as ESM (no __dirname) and runs from the root.
const ROOT = typeof __dirname === 'string' ? resolve(__dirname, '../../../../..') : process.cwd();
const SOURCE = join(ROOT, 'test/fixtures/nvml/fake_nvml.c');
const OUT = join(ROOT, 'out/fake-nvml');

/** `full`; `no-v3` lacks the _v3 process call; `no-memory` lacks a required call. */
export type FakeNvmlVariant = 'full' | 'no-v3' | 'no-memory';
const DEFINES: Record<FakeNvmlVariant, string[]> = { full: [], 'no-v3': ['-DFAKE_NVML_NO_V3'], 'no-memory': ['-DFAKE_NVML_NO_MEMORY'] };

/** The path of the built library for `variant` (named as the real one, in its own folder). */
export function buildFakeNvml(variant: FakeNvmlVariant = 'full'): string {
  const dir = join(OUT, variant);
  const lib = join(dir, 'libnvidia-ml.so.1');
  const fresh = (() => {
    try {
      return statSync(lib).mtimeMs >= statSync(SOURCE).mtimeMs;
    } catch {
      return false;
    }
  })();
  if (fresh) return lib;
  mkdirSync(dir, { recursive: true });
  const tmp = `${lib}.${process.pid}.tmp`;
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', ...DEFINES[variant], '-o', tmp, SOURCE], { stdio: 'pipe' });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    throw new Error(
      e.code === 'ENOENT'
        ? 'The NVML tests build a stand-in library with `cc`, which is not installed: apt-get install gcc libc6-dev (scripts/setup-test-host.sh does).'
        : `cc failed on ${SOURCE}: ${e.stderr?.toString() ?? String(err)}`,
    );
  }
  renameSync(tmp, lib);
  return lib;
}

interface FakeGpu {
  name?: string;
  uuid?: string;
  util?: number;
  memutil?: number;
  memTotalMib?: number;
  memUsedMib?: number;
  temp?: number;
  powerMw?: number;
  powerLimitMw?: number;
  smClock?: number;
  smClockMax?: number;
  /** Clock event reasons (a bitmask as NVML gives it). */
  clockReasons?: number;
  pstate?: number;
  mig?: boolean;
  /** Calls the library answers NVML_ERROR_NOT_SUPPORTED for, e.g. `nvmlDeviceGetPowerUsage`. */
  unsupported?: string[];
  /** From this device call on (counted per GPU), every call answers GPU_IS_LOST. */
  lostAfter?: number;
}

export interface FakeNvmlScenario {
  initError?: number;
  gpus: FakeGpu[];
  /** [gpu index, pid, MiB or -1 for "not available"] */
  processes?: Array<[number, number, number]>;
  /** The first process query of each GPU answers INSUFFICIENT_SIZE. */
  processesInsufficientFirst?: boolean;
}

/** Writes the scenario and points FAKE_NVML_SCENARIO at it (read by the library at init). */
export function useScenario(dir: string, scenario: FakeNvmlScenario): void {
  const lines = [`count ${scenario.gpus.length}`];
  if (scenario.initError) lines.push(`init_error ${scenario.initError}`);
  if (scenario.processesInsufficientFirst) lines.push('procs_insufficient_first 1');
  const keys: Array<[keyof FakeGpu, string]> = [
    ['name', 'name'], ['uuid', 'uuid'], ['util', 'util'], ['memutil', 'memutil'], ['memTotalMib', 'mem_total_mib'], ['memUsedMib', 'mem_used_mib'],
    ['temp', 'temp'], ['powerMw', 'power_mw'], ['powerLimitMw', 'power_limit_mw'], ['smClock', 'sm_clock'], ['smClockMax', 'sm_clock_max'], ['clockReasons', 'clock_reasons'], ['pstate', 'pstate'], ['lostAfter', 'lost_after'],
  ];
  scenario.gpus.forEach((g, i) => {
    for (const [key, name] of keys) if (g[key] !== undefined) lines.push(`gpu.${i}.${name} ${String(g[key])}`);
    if (g.mig) lines.push(`gpu.${i}.mig 1`);
    for (const fn of g.unsupported ?? []) lines.push(`gpu.${i}.unsupported ${fn}`);
  });
  for (const [gpu, pid, mib] of scenario.processes ?? []) lines.push(`proc ${gpu} ${pid} ${mib}`);
  const file = join(dir, 'scenario.txt');
  writeFileSync(file, `${lines.join('\n')}\n`);
  process.env.FAKE_NVML_SCENARIO = file;
}

/** The library's own counters: how deep init is (0 once every init was shut down) and calls made. */
export function fakeNvmlCounters(lib: string): { initDepth: () => number; calls: () => number; shutdown: () => number } {
  const koffi = nodeModule.createRequire(join(ROOT, 'index.js'))('koffi') as typeof import('koffi');
  const handle = koffi.load(lib);
  return {
    initDepth: handle.func('int fakeNvmlInitDepth()') as () => number,
    calls: handle.func('long fakeNvmlCalls()') as () => number,
    shutdown: handle.func('int nvmlShutdown()') as () => number,
  };
}
