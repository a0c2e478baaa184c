// The CLI's text formats the engine's figures; the VRAM share is the reading's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { machineLines } from '../../../src/cli/format';
import { gpuReading, type SystemPerformanceSnapshot } from '../../../src/shared/snapshot';

function snapshot(gpus: SystemPerformanceSnapshot['gpus']): SystemPerformanceSnapshot {
  return {
    timestamp: 0, cpuUsagePercent: 10, ramUsageMb: 8192, ramAvailableMb: 24_576, ramTotalMb: 32_768, diskUsagePercent: 50,
    gpuUsagePercent: null, vramUsageMb: null, vramAvailableMb: null, vramTotalMb: null, vramUsagePercent: null, temperatureCelsius: null, gpus,
  };
}

const AVAILABLE = { provider: 'nvidia', available: true, reason: null } as const;

test('machine lines: each GPU shows used / total and the reading\'s VRAM share; RAM its share of the total', () => {
  const built = gpuReading({ index: 0, name: 'GPU', vramUsedMb: 6144, vramTotalMb: 24_576 });
  const lines = machineLines(snapshot([built]), AVAILABLE);
  assert.ok(lines.some((l) => l.includes('6,144 / 24,576 MiB (25 %)')), lines.join('\n'));
  assert.equal(lines[1], 'RAM   8,192 / 32,768 MiB (25 %)');
  // The share printed is the reading's, not one worked out again from the MiB.
  const odd = machineLines(snapshot([{ ...built, vramUsedPercent: 40 }]), AVAILABLE);
  assert.ok(odd.some((l) => l.includes('6,144 / 24,576 MiB (40 %)')), odd.join('\n'));
  const unknown = machineLines(snapshot([{ ...built, vramUsedPercent: null }]), AVAILABLE);
  assert.ok(unknown.some((l) => /6,144 \/ 24,576 MiB(?! \()/.test(l)), unknown.join('\n'));
});
