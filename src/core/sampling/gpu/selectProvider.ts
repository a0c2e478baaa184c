// Chooses the GPU provider at start from what the machine has: nvidia-smi where it is found, the
// amdgpu sysfs on Linux, ioreg on Apple silicon, PDH counters on Windows, else a `none` provider
// whose reason says what was looked for. With the `nvml` backend, the NVIDIA management library is
// tried first and that choice is the fallback. Nothing is started here; the caller calls start().
import { join } from 'node:path';
import type { GpuAvailability } from '../../../shared/snapshot';
import type { Clock, GpuProvider, GpuReadingsEvent, GpuSample } from '../../ports';
import { AmdSysfsProvider, discoverAmdCards } from './amdSysfsProvider';
import { AppleIoregProvider } from './appleIoregProvider';
import { locateNvidiaSmi } from './locateNvidiaSmi';
import { NoneGpuProvider } from './noneProvider';
import { NvidiaSmiProvider, type NvidiaSmiProviderOptions } from './nvidiaSmiProvider';
import { nvmlCandidates } from './nvml';
import { NvmlProvider } from './nvmlProvider';
import type { SpawnPort } from './spawnPort';
import { WindowsPdhProvider } from './windowsPdhProvider';
import { OnceLog } from '../../util/onceLog';

export const GPU_MONITORING_OFF_REASON = 'GPU monitoring is off in settings';

/**
 * How NVIDIA GPUs are read: `nvidia-smi` (one long-lived stream), `nvml` (the management library
 * in process, the stream as fallback) or `auto`, which is the stream until the benchmark on a real
 * GPU says NVML is cheaper there.
 */
export type GpuBackend = 'auto' | 'nvidia-smi' | 'nvml';
export const GPU_BACKENDS: readonly GpuBackend[] = ['auto', 'nvidia-smi', 'nvml'];

export interface SelectProviderOptions {
  /** False when the user turned GPU monitoring off. */
  enabled: boolean;
  platform?: NodeJS.Platform;
  arch?: string;
  env?: NodeJS.ProcessEnv;
  /** Path to nvidia-smi from settings; empty or null to search. */
  nvidiaSmiPath?: string | null;
  /** Where /sys lives (tests). */
  sysfsRoot?: string;
  /** Existence check for nvidia-smi candidates (tests). */
  isExecutable?: (file: string) => Promise<boolean>;
  spawn?: SpawnPort;
  clock?: Clock;
  onLog?: (message: string) => void;
  /** Passed through to the NVIDIA provider (cadences, watchdog). */
  nvidia?: Omit<NvidiaSmiProviderOptions, 'nvidiaSmiPath' | 'spawn' | 'clock' | 'onLog'>;
  /** Default `auto` (the stream). */
  backend?: GpuBackend;
  /** NVML library files to try (tests); default: the driver's usual names and folders. */
  nvmlLibraries?: readonly string[];
}

export async function selectGpuProvider(options: SelectProviderOptions): Promise<GpuProvider> {
  if (!options.enabled) return new NoneGpuProvider(GPU_MONITORING_OFF_REASON);
  const platform = options.platform ?? process.platform;
  if (options.backend === 'nvml' && (platform === 'linux' || platform === 'win32')) {
    const nvml = new NvmlProvider({
      candidates: options.nvmlLibraries ?? nvmlCandidates(platform, options.env ?? process.env),
      ...(options.nvidia?.computeAppsIntervalMs !== undefined ? { computeAppsIntervalMs: options.nvidia.computeAppsIntervalMs } : {}),
      ...(options.nvidia?.wantProcesses ? { wantProcesses: options.nvidia.wantProcesses } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.onLog ? { onLog: options.onLog } : {}),
    });
    return new FallbackGpuProvider(nvml, () => selectStreamProvider(options), options.onLog ?? (() => {}));
  }
  return selectStreamProvider(options);
}

/** The choice without NVML: nvidia-smi, AMD sysfs, ioreg, PDH, or none. */
async function selectStreamProvider(options: SelectProviderOptions): Promise<GpuProvider> {
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  const common = {
    ...(options.spawn ? { spawn: options.spawn } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.onLog ? { onLog: options.onLog } : {}),
  };

  const located = await locateNvidiaSmi({
    platform,
    ...(options.env ? { env: options.env } : {}),
    ...(options.nvidiaSmiPath ? { configuredPath: options.nvidiaSmiPath } : {}),
    ...(options.isExecutable ? { isExecutable: options.isExecutable } : {}),
  });
  if (located.found) {
    return new NvidiaSmiProvider({ ...options.nvidia, ...common, nvidiaSmiPath: located.path });
  }
  // A wrong configured path is the user's explicit wish: say so rather than quietly use another GPU.
  if (options.nvidiaSmiPath) return new NoneGpuProvider(located.reason);

  if (platform === 'linux') {
    const sysfsRoot = options.sysfsRoot ?? '/sys';
    if ((await discoverAmdCards(sysfsRoot)).length > 0) {
      return new AmdSysfsProvider({ sysfsRoot, ...(options.clock ? { clock: options.clock } : {}), ...(options.onLog ? { onLog: options.onLog } : {}) });
    }
    return new NoneGpuProvider(
      `No GPU found: ${located.reason.replace(/; NVIDIA GPU figures are off\..*$/, '')}, and no AMD GPU under ${join(sysfsRoot, 'class', 'drm')}. GPU figures are off.`,
    );
  }
  if (platform === 'darwin') {
    if (arch === 'arm64') return new AppleIoregProvider(common);
    return new NoneGpuProvider('GPU figures are not measured on Intel Macs; CPU, RAM and disk still are.');
  }
  if (platform === 'win32') return new WindowsPdhProvider(common);
  return new NoneGpuProvider(`GPU figures are not measured on ${platform}; CPU, RAM and disk still are.`);
}

/**
 * Starts `first`; when it cannot start, says why in one log line, lets it go and starts what
 * `fallback` chooses instead. Each start tries `first` again (a driver installed since).
 */
class FallbackGpuProvider implements GpuProvider {
  private inner: GpuProvider;
  /** Why `first` could not start, while the fallback is in use. */
  private firstReason: string | null = null;
  /** The monitor retries a provider that is down: the same reason is logged once. */
  private readonly once: OnceLog;
  private readingsListener: ((event: GpuReadingsEvent) => void) | null = null;
  constructor(
    private readonly first: GpuProvider,
    private readonly fallback: () => Promise<GpuProvider>,
    onLog: (message: string) => void,
  ) {
    this.inner = first;
    this.once = new OnceLog(onLog);
  }

  get kind(): GpuProvider['kind'] {
    return this.inner.kind;
  }

  async start(intervalMs: number): Promise<GpuAvailability> {
    this.inner = this.first;
    this.firstReason = null;
    this.first.onReadings?.(this.readingsListener);
    const first = await this.first.start(intervalMs);
    if (first.available) return first;
    this.first.onReadings?.(null);
    await this.first.stop();
    this.firstReason = first.reason ?? 'NVML is not usable.';
    this.inner = await this.fallback();
    this.inner.onReadings?.(this.readingsListener);
    this.once.say(this.firstReason, `${this.firstReason} ${this.instead()}`);
    await this.inner.start(intervalMs);
    return this.availability();
  }

  private instead(): string {
    return `Reading GPUs through ${this.inner.kind === 'nvidia' ? 'nvidia-smi' : 'the next tool found'} instead.`;
  }

  read(): Promise<GpuSample | null> {
    return this.inner.read();
  }

  /**
   * NVML was asked for: while the fallback is in use, its figures carry a note saying why (the
   * status bar's tooltip shows it), and with no GPU from it either, the reason names both.
   */
  availability(): GpuAvailability {
    const a = this.inner.availability();
    if (!this.firstReason) return a;
    if (!a.available) return a.reason ? { ...a, reason: `${this.firstReason} ${a.reason}` } : a;
    return a.note ? a : { ...a, note: `${this.firstReason} ${this.instead()}` };
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  onReadings(listener: ((event: GpuReadingsEvent) => void) | null): void {
    this.readingsListener = listener;
    this.inner.onReadings?.(listener);
  }
}
