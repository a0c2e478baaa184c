// The device variables of a running process's environment (/proc/PID/environ, Linux): which GPUs
// a terminal run was told to use. Only CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER are kept; the
// rest of the environment (tokens, keys) is never held past the parse. Readable only for the
// user's own processes: anything else, or any error, is null (the engine falls back to the GPU
// whose memory rose).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The two variables read from a run's environment; nothing else of it is kept. */
export interface DeviceEnvironment {
  visibleDevices: string;
  deviceOrder: string | null;
}

/** Longest value read: a list for 64 GPUs by UUID is under 3 KB. */
const MAX_VALUE_CHARS = 4096;

/** The device variables of an environment; null when CUDA_VISIBLE_DEVICES is not set. */
export function deviceEnvironment(env: Readonly<Record<string, string | undefined>>): DeviceEnvironment | null {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (typeof visible !== 'string' || visible.length > MAX_VALUE_CHARS) return null;
  const order = env.CUDA_DEVICE_ORDER;
  return { visibleDevices: visible, deviceOrder: typeof order === 'string' && order.length <= 64 ? order : null };
}

/** An environment larger than this is cut: the variables that matter are short, and the file is hostile. */
const MAX_ENVIRON_BYTES = 1024 * 1024;

/** The device variables in environ text (NUL-separated NAME=value entries). */
export function parseEnviron(text: string): DeviceEnvironment | null {
  const env: Record<string, string> = {};
  for (const entry of text.split('\0')) {
    if (entry.startsWith('CUDA_VISIBLE_DEVICES=') || entry.startsWith('CUDA_DEVICE_ORDER=')) {
      const at = entry.indexOf('=');
      env[entry.slice(0, at)] = entry.slice(at + 1);
    }
  }
  return deviceEnvironment(env);
}

export async function readDeviceEnvironment(pid: number, procRoot = '/proc'): Promise<DeviceEnvironment | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    const buf = await readFile(join(procRoot, String(pid), 'environ'));
    return parseEnviron(buf.subarray(0, MAX_ENVIRON_BYTES).toString('utf8'));
  } catch {
    return null;
  }
}
