// Picks the system and process samplers for the platform: /proc on Linux (no shell, cheapest),
// systeminformation's asynchronous calls on macOS and Windows.
import type { ProcessSampler, SystemSampler } from '../../ports';
import { ProcSystemSampler } from './procSystemSampler';
import { ProcTreeSampler } from './procTreeSampler';
import { SiProcessSampler, SiSystemSampler } from './siSystemSampler';

export interface SamplerFactoryOptions {
  /** Told once per kind of failure (a missing /proc file, an unreadable disk). */
  onLog?: (message: string) => void;
}

/** `diskPath` is a path on the filesystem whose fullness is shown (the workspace folder), or null. */
export function createSystemSampler(platform: NodeJS.Platform, diskPath: string | null, options: SamplerFactoryOptions = {}): SystemSampler {
  if (platform === 'linux' || platform === 'android') {
    return new ProcSystemSampler({ diskPath, ...(options.onLog ? { onLog: options.onLog } : {}) });
  }
  return new SiSystemSampler({ diskPath, platform, ...(options.onLog ? { onLog: options.onLog } : {}) });
}

export function createProcessSampler(platform: NodeJS.Platform, options: SamplerFactoryOptions = {}): ProcessSampler {
  if (platform === 'linux' || platform === 'android') {
    return new ProcTreeSampler(options.onLog ? { onLog: options.onLog } : {});
  }
  return new SiProcessSampler(options.onLog ? { onLog: options.onLog } : {});
}
