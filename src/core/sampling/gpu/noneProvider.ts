// The provider used when no GPU can be measured: it reports why, so the dashboard can say it
// ("GPU monitoring is off in settings", "nvidia-smi not found on PATH; …") instead of showing zeros.
import type { GpuAvailability } from '../../../shared/snapshot';
import type { GpuProvider, GpuSample } from '../../ports';

export class NoneGpuProvider implements GpuProvider {
  readonly kind = 'none' as const;

  constructor(private readonly reason: string) {}

  async start(): Promise<GpuAvailability> {
    return this.availability();
  }

  async read(): Promise<GpuSample | null> {
    return null;
  }

  availability(): GpuAvailability {
    return { provider: 'none', available: false, reason: this.reason };
  }

  async stop(): Promise<void> {}
}
