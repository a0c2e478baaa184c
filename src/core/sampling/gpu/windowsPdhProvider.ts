// GPUs on Windows without nvidia-smi (AMD, Intel, any WDDM adapter) through the PDH counters Task
// Manager uses, read with `typeperf ... -sc 1` (CSV). One run at a time on a background cadence of
// at least 2 s, because typeperf itself waits about a second to compute rate counters.
import { gpuReading, type GpuAvailability, type GpuReading } from '../../../shared/snapshot';
import { systemClock, type Clock, type GpuProvider, type GpuSample, type TimerHandle } from '../../ports';
import { PolledCommand } from './polledCommand';
import { describeSimpleFailure } from './simpleFailure';
import { nodeSpawn, type SpawnPort } from './spawnPort';
import { OnceLog } from '../../util/onceLog';

const ENGINE_COUNTER = '\\GPU Engine(*)\\Utilization Percentage';
const MEMORY_COUNTER = '\\GPU Adapter Memory(*)\\Dedicated Usage';
export const TYPEPERF_ARGS = [ENGINE_COUNTER, MEMORY_COUNTER, '-sc', '1'] as const;
const BYTES_PER_MIB = 1024 * 1024;

/** One adapter as the counters describe it, keyed by its LUID and physical index. */
export interface PdhAdapter {
  /** `luid_0x00000000_0x0000D1A4_phys_0`. */
  key: string;
  /** Busiest engine type (3D, Compute, Copy, VideoDecode...) summed over processes, as Task Manager shows. */
  utilizationPercent: number | null;
  dedicatedUsageBytes: number | null;
  busiestEngine: string | null;
}

/** Splits one CSV record of typeperf output: every field is quoted, `""` escapes a quote. */
function splitQuotedCsv(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"]|"")*)"/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push((m[1] ?? '').replace(/""/g, '"'));
  return out;
}

function parseValue(text: string | undefined): number | null {
  const t = (text ?? '').trim();
  if (!/^-?\d+(?:\.\d+)?$/.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/**
 * Parses `typeperf "\GPU Engine(*)\Utilization Percentage" "\GPU Adapter Memory(*)\Dedicated Usage" -sc 1`.
 * The header row names each counter instance; the last data row holds the values. Instances look like
 * `pid_1234_luid_0x00000000_0x0000D1A4_phys_0_eng_0_engtype_3D` and `luid_0x..._phys_0`.
 */
export function parseTypeperf(text: string): PdhAdapter[] {
  const rows = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('"'));
  const header = rows.find((r) => r.startsWith('"(PDH-CSV'));
  if (!header) return [];
  const data = rows.filter((r) => r !== header && /^"\d/.test(r)).pop();
  if (!data) return [];
  const names = splitQuotedCsv(header);
  const values = splitQuotedCsv(data);

  const engineSums = new Map<string, Map<string, number>>(); // adapter -> engtype -> summed %
  const memory = new Map<string, number | null>();
  const adapters = new Set<string>();
  for (let i = 1; i < names.length; i++) {
    const name = names[i] ?? '';
    const instance = /\(([^()]{1,200})\)\\[^\\]+$/.exec(name)?.[1] ?? '';
    const adapter = /luid_0x[0-9A-Fa-f]{1,8}_0x[0-9A-Fa-f]{1,8}_phys_\d{1,3}/.exec(instance)?.[0];
    if (!adapter) continue;
    const value = parseValue(values[i]);
    if (/\\GPU Engine\(/i.test(name)) {
      adapters.add(adapter);
      const engine = /engtype_([A-Za-z0-9_ ]{1,40})$/.exec(instance)?.[1] ?? 'other';
      const perEngine = engineSums.get(adapter) ?? new Map<string, number>();
      if (value !== null) perEngine.set(engine, (perEngine.get(engine) ?? 0) + value);
      engineSums.set(adapter, perEngine);
    } else if (/\\GPU Adapter Memory\(/i.test(name) && /Dedicated Usage$/i.test(name)) {
      adapters.add(adapter);
      memory.set(adapter, value);
    }
  }

  return [...adapters].sort().map((key) => {
    const perEngine = engineSums.get(key);
    let busiest: string | null = null;
    let max: number | null = null;
    for (const [engine, sum] of perEngine ?? []) {
      if (max === null || sum > max) {
        max = sum;
        busiest = engine;
      }
    }
    return {
      key,
      utilizationPercent: max === null ? null : Math.min(100, max),
      dedicatedUsageBytes: memory.get(key) ?? null,
      busiestEngine: busiest,
    };
  });
}

function pdhToReading(adapter: PdhAdapter, index: number): GpuReading {
  // The LUID identifies the adapter until reboot; PDH has no product name or uuid.
  return gpuReading({
    index,
    name: `GPU ${index} (${adapter.key.replace(/_phys_\d+$/, '')})`,
    utilizationPercent: adapter.utilizationPercent,
    vramUsedMb: adapter.dedicatedUsageBytes !== null ? adapter.dedicatedUsageBytes / BYTES_PER_MIB : null,
  });
}

export interface WindowsPdhProviderOptions {
  spawn?: SpawnPort;
  clock?: Clock;
  onLog?: (message: string) => void;
  typeperfPath?: string;
  /** Slowest useful cadence is the monitor's; typeperf needs ~1 s per run, so never below this. Default 2000. */
  minIntervalMs?: number;
  timeoutMs?: number;
}

export class WindowsPdhProvider implements GpuProvider {
  readonly kind = 'windows' as const;
  private readonly clock: Clock;
  private readonly command: PolledCommand;
  private readonly minIntervalMs: number;
  private intervalMs = 2000;
  private latest: GpuSample | null = null;
  private timer: TimerHandle | null = null;
  private state: GpuAvailability = { provider: 'windows', available: false, reason: 'Windows GPU counters have not been started yet.' };
  private readonly once: OnceLog;
  private stopped = false;

  constructor(options: WindowsPdhProviderOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.once = new OnceLog(options.onLog ?? (() => {}));
    this.minIntervalMs = options.minIntervalMs ?? 2000;
    this.command = new PolledCommand({
      spawn: options.spawn ?? nodeSpawn,
      clock: this.clock,
      command: options.typeperfPath ?? 'typeperf',
      args: TYPEPERF_ARGS,
      timeoutMs: options.timeoutMs ?? 10_000,
    });
  }

  async start(intervalMs: number): Promise<GpuAvailability> {
    this.intervalMs = Math.max(this.minIntervalMs, intervalMs);
    await this.poll();
    if (!this.stopped) this.schedule();
    return this.availability();
  }

  private schedule(): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      void this.poll().then(() => {
        if (!this.stopped) this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref?.();
  }

  private async poll(): Promise<void> {
    const run = await this.command.run();
    if (this.stopped) return;
    const failure = describeSimpleFailure('typeperf', run);
    const adapters = failure ? [] : parseTypeperf(run.stdout);
    if (failure || adapters.length === 0) {
      // typeperf prints "No valid counters." when the GPU counters are missing (old Windows 10,
      // no WDDM 2.x driver) or named in another language.
      const reason = failure ?? 'Windows lists no GPU performance counters (GPU Engine / GPU Adapter Memory); GPU figures are off.';
      this.state = { provider: 'windows', available: false, reason };
      this.latest = null;
      this.once.say(failure ? `fail:${run.code ?? run.spawnErrorCode}` : 'empty', reason);
      return;
    }
    this.state = { provider: 'windows', available: true, reason: null };
    this.latest = { timestamp: this.clock.now(), gpus: adapters.map((a, i) => pdhToReading(a, i)), processes: null };
  }

  async read(): Promise<GpuSample | null> {
    if (this.stopped || !this.latest) return null;
    // Older than three cadences means typeperf stopped answering: unknown, not stale.
    if (this.clock.now() - this.latest.timestamp > 3 * this.intervalMs) return null;
    return { ...this.latest, gpus: this.latest.gpus.map((g) => ({ ...g })) };
  }

  availability(): GpuAvailability {
    return { ...this.state };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.command.stop();
    this.latest = null;
  }

}
