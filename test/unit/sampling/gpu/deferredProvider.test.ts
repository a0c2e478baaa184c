// The window's GPU provider is chosen when sampling starts, not when the window opens, and chosen
// again after each stop so a tool installed or a setting changed since is found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GpuAvailability } from '../../../../src/shared/snapshot';
import type { GpuProvider, GpuReadingsEvent, GpuSample } from '../../../../src/core/ports';
import { DeferredGpuProvider } from '../../../../src/core/sampling/gpu/deferredProvider';

function provider(kind: GpuProvider['kind'], log: string[]): GpuProvider {
  const availability: GpuAvailability = { provider: kind, available: true, reason: null };
  const sample: GpuSample = { timestamp: 1, gpus: [], processes: null };
  return {
    kind,
    start: async () => (log.push(`start ${kind}`), availability),
    read: async () => sample,
    availability: () => availability,
    stop: async () => void log.push(`stop ${kind}`),
  };
}

test('nothing is chosen before start; each start chooses again and stop stops the chosen one', async () => {
  const log: string[] = [];
  const kinds: GpuProvider['kind'][] = ['amd', 'nvidia'];
  let chosen = 0;
  const deferred = new DeferredGpuProvider(async () => {
    chosen++;
    return provider(kinds.shift() ?? 'none', log);
  });
  assert.equal(chosen, 0);
  assert.equal(deferred.kind, 'none');
  assert.equal(await deferred.read(), null);
  assert.deepEqual(deferred.availability(), { provider: 'none', available: false, reason: 'GPU monitoring has not started yet' });

  assert.deepEqual(await deferred.start(1000), { provider: 'amd', available: true, reason: null });
  assert.equal(deferred.kind, 'amd');
  await deferred.stop();
  assert.equal(deferred.kind, 'none', 'a stopped provider has chosen nothing');
  assert.equal(await deferred.read(), null, 'a stopped provider has no reading');

  await deferred.start(1000);
  assert.equal(chosen, 2, 'chosen again on the second start');
  assert.equal(deferred.kind, 'nvidia');
  assert.deepEqual(await deferred.read(), { timestamp: 1, gpus: [], processes: null });
  await deferred.stop();
  await deferred.stop();
  assert.deepEqual(log, ['start amd', 'stop amd', 'start nvidia', 'stop nvidia'], 'a second stop stops nothing');
});

test('the readings listener set before a start reaches each provider chosen, and leaves it at stop', async () => {
  const heard: string[] = [];
  const inner: Array<(event: GpuReadingsEvent) => void> = [];
  const listeners: Array<((event: GpuReadingsEvent) => void) | null> = [];
  const streaming = (): GpuProvider => ({
    ...provider('nvidia', []),
    onReadings: (l) => {
      listeners.push(l);
      if (l) inner.push(l);
    },
  });
  const deferred = new DeferredGpuProvider(async () => streaming());
  deferred.onReadings((event) => heard.push(event));
  await deferred.start(1000);
  inner.at(-1)?.('reading');
  assert.deepEqual(heard, ['reading'], 'the chosen provider tells the listener');
  await deferred.stop();
  assert.equal(listeners.at(-1), null, 'removed from the provider it leaves');
  await deferred.start(1000);
  inner.at(-1)?.('stopped');
  assert.deepEqual(heard, ['reading', 'stopped'], 'and given to the next one chosen');
  deferred.onReadings(null);
  assert.equal(listeners.at(-1), null);
  await deferred.stop();
});
