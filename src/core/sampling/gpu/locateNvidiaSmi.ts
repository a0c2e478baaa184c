// Finds the nvidia-smi to run: the path set in settings, else the PATH, else the places the driver
// installs it where PATH often misses it (WSL2's /usr/lib/wsl/lib, Windows' System32 and NVSMI).
import { constants, promises as fsp } from 'node:fs';
import * as path from 'node:path';

export interface LocateOptions {
  /** A path from settings; when set, it is the only candidate (a wrong setting should be said, not bypassed). */
  configuredPath?: string | null;
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
  /** Whether a file exists and may be run; tests inject a fake filesystem. */
  isExecutable?: (file: string) => Promise<boolean>;
}

export type LocateResult =
  | { found: true; path: string; source: 'config' | 'path' | 'wsl' | 'windows-default' }
  | { found: false; reason: string; searched: string[] };

const WSL_NVIDIA_SMI = '/usr/lib/wsl/lib/nvidia-smi';

async function defaultIsExecutable(file: string, platform: NodeJS.Platform): Promise<boolean> {
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) return false;
    // Windows has no execute bit; existence is what counts there.
    if (platform !== 'win32') await fsp.access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function pathModule(platform: NodeJS.Platform): typeof path.posix {
  return platform === 'win32' ? path.win32 : path.posix;
}

/** The candidates, in the order they are tried, with where each came from. */
export function nvidiaSmiCandidates(
  platform: NodeJS.Platform,
  env: NodeJS.ProcessEnv,
): Array<{ path: string; source: 'path' | 'wsl' | 'windows-default' }> {
  const p = pathModule(platform);
  const out: Array<{ path: string; source: 'path' | 'wsl' | 'windows-default' }> = [];
  const pathVar = (platform === 'win32' ? (env.Path ?? env.PATH ?? env.path) : env.PATH) ?? '';
  const exe = platform === 'win32' ? 'nvidia-smi.exe' : 'nvidia-smi';
  for (const dir of pathVar.split(platform === 'win32' ? ';' : ':')) {
    const d = dir.trim().replace(/^"(.*)"$/, '$1');
    // An empty PATH entry means the current directory: never run a binary from there.
    if (d === '' || d === '.' || !p.isAbsolute(d)) continue;
    out.push({ path: p.join(d, exe), source: 'path' });
  }
  if (platform === 'linux') out.push({ path: WSL_NVIDIA_SMI, source: 'wsl' });
  if (platform === 'win32') {
    const systemRoot = env.SystemRoot ?? env.SYSTEMROOT ?? 'C:\\Windows';
    const programFiles = env.ProgramW6432 ?? env.ProgramFiles ?? 'C:\\Program Files';
    out.push({ path: p.join(systemRoot, 'System32', 'nvidia-smi.exe'), source: 'windows-default' });
    out.push({ path: p.join(programFiles, 'NVIDIA Corporation', 'NVSMI', 'nvidia-smi.exe'), source: 'windows-default' });
  }
  const seen = new Set<string>();
  return out.filter((c) => {
    const key = platform === 'win32' ? c.path.toLowerCase() : c.path;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export async function locateNvidiaSmi(options: LocateOptions = {}): Promise<LocateResult> {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  const isExecutable = options.isExecutable ?? ((f: string) => defaultIsExecutable(f, platform));

  const configured = options.configuredPath?.trim();
  if (configured) {
    if (await isExecutable(configured)) return { found: true, path: configured, source: 'config' };
    return {
      found: false,
      reason: `nvidia-smi not found at ${configured} (the path set in settings); GPU figures are off. Fix or clear the setting.`,
      searched: [configured],
    };
  }
  if (platform === 'darwin') {
    return { found: false, reason: 'nvidia-smi does not exist on macOS.', searched: [] };
  }
  const candidates = nvidiaSmiCandidates(platform, env);
  for (const c of candidates) {
    if (await isExecutable(c.path)) return { found: true, path: c.path, source: c.source };
  }
  const extra = platform === 'linux' ? ` or ${WSL_NVIDIA_SMI}` : platform === 'win32' ? ' or the NVIDIA driver folders' : '';
  return {
    found: false,
    reason: `nvidia-smi not found on PATH${extra}; NVIDIA GPU figures are off. Install the NVIDIA driver, or set the path to nvidia-smi in settings.`,
    searched: candidates.map((c) => c.path),
  };
}
