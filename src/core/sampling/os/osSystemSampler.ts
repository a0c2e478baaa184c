// The monitor's fallback system sampler over node's `os` module, for a monitor built without the
// platform's samplers (tests, embedders): CPU and RAM only, disk unknown.
import { cpus, freemem, totalmem } from 'node:os';
import type { SystemReading, SystemSampler } from '../../ports';

/**
 * Fallback sampler over node's `os` module: CPU from the change in cumulative core times since the
 * previous call (never a blocking wait), RAM from total/free. Production wires the full sampler.
 */
export class OsSystemSampler implements SystemSampler {
  private previous: { idle: number; total: number } | null = null;

  async sample(): Promise<SystemReading> {
    let idle = 0;
    let total = 0;
    for (const c of cpus()) {
      idle += c.times.idle;
      total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq;
    }
    const prev = this.previous;
    this.previous = { idle, total };
    const dTotal = prev ? total - prev.total : 0;
    const cpu = prev && dTotal > 0 ? Math.min(100, Math.max(0, (1 - (idle - prev.idle) / dTotal) * 100)) : null;
    const totalMb = totalmem() / 1048576;
    const freeMb = freemem() / 1048576;
    return { cpuUsagePercent: cpu, ramUsedMb: totalMb - freeMb, ramAvailableMb: freeMb, ramTotalMb: totalMb, diskUsagePercent: null };
  }
}
