// Chooses the GPU provider at start from what the machine has: nvidia-smi where it is found, the
// amdgpu sysfs on Linux, ioreg on Apple silicon, PDH counters on Windows, else a `none` provider
// whose reason says what was looked for. Nothing is started here; the caller calls start().
import { join } from 'node:path';
import type { Clock, GpuProvider } from '../../ports';
import { AmdSysfsProvider, discoverAmdCards } from './amdSysfsProvider';
import { AppleIoregProvider } from './appleIoregProvider';
import { locateNvidiaSmi } from './locateNvidiaSmi';
import { NoneGpuProvider } from './noneProvider';
import { NvidiaSmiProvider, type NvidiaSmiProviderOptions } from './nvidiaSmiProvider';
import type { SpawnPort } from './spawnPort';
import { WindowsPdhProvider } from './windowsPdhProvider';

export const GPU_MONITORING_OFF_REASON = 'GPU monitoring is off in settings';

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
}

export async function selectGpuProvider(options: SelectProviderOptions): Promise<GpuProvider> {
  if (!options.enabled) return new NoneGpuProvider(GPU_MONITORING_OFF_REASON);
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
