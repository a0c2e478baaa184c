// A GPU provider that chooses the real one when it starts. Choosing looks for nvidia-smi on disk,
// which must not delay a window's activation, and choosing again after each stop finds a GPU tool
// installed (or a setting changed) since.
import type { GpuAvailability } from '../../../shared/snapshot';
import type { GpuProvider, GpuReadingsEvent, GpuSample } from '../../ports';

export class DeferredGpuProvider implements GpuProvider {
  private inner: GpuProvider | null = null;
  private readingsListener: ((event: GpuReadingsEvent) => void) | null = null;
  constructor(private readonly choose: () => Promise<GpuProvider>) {}

  get kind(): GpuProvider['kind'] {
    return this.inner?.kind ?? 'none';
  }

  async start(intervalMs: number): Promise<GpuAvailability> {
    this.inner = await this.choose();
    this.inner.onReadings?.(this.readingsListener);
    return this.inner.start(intervalMs);
  }

  async read(): Promise<GpuSample | null> {
    return this.inner ? this.inner.read() : null;
  }

  availability(): GpuAvailability {
    return this.inner?.availability() ?? { provider: 'none', available: false, reason: 'GPU monitoring has not started yet' };
  }

  async stop(): Promise<void> {
    const inner = this.inner;
    this.inner = null;
    inner?.onReadings?.(null);
    await inner?.stop();
  }

  onReadings(listener: ((event: GpuReadingsEvent) => void) | null): void {
    this.readingsListener = listener;
    this.inner?.onReadings?.(listener);
  }
}
