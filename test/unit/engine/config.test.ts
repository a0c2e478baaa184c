import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULT_CONFIG, validateConfig } from '../../../src/core/engine/config';
import { normalizeResolution } from '../../../src/core/engine/resolution';

test('defaults: 1 s interval, GPU on, original thresholds', () => {
  const c = validateConfig();
  assert.equal(c.monitoringIntervalMs, 1000);
  assert.equal(c.enableGpuMonitoring, true);
  assert.deepEqual(c.thresholds.maxGenerationTimeSecondsByResolution, { '720p': 300, '1080p': 900 });
  assert.equal(c.thresholds.maxVramUsagePercent, 90);
  assert.equal(c.thresholds.maxRamUsagePercent, 85);
  assert.equal(c.thresholds.maxCpuUsagePercent, 90);
  assert.equal(c.thresholds.maxModelLoadTimeSeconds, 30);
  assert.equal(c.thresholds.minSuccessRate, 0.95);
  assert.equal(c.storageDir, null);
  assert.deepEqual(validateConfig(null), validateConfig({}));
});

test('a bad value names the key and the accepted range', () => {
  const cases: [unknown, string][] = [
    [{ monitoringIntervalMs: 'abc' }, 'modelPerf config: "monitoringIntervalMs" must be a number between 250 and 60000 (got "abc")'],
    [{ monitoringIntervalMs: 100 }, 'modelPerf config: "monitoringIntervalMs" must be a number between 250 and 60000 (got 100)'],
    [{ monitoringIntervalMs: Number.NaN }, 'modelPerf config: "monitoringIntervalMs" must be a number between 250 and 60000 (got null)'],
    [{ maxHistorySize: 10.5 }, 'modelPerf config: "maxHistorySize" must be a whole number between 1 and 1000000 (got 10.5)'],
    [{ retentionDays: 0 }, 'modelPerf config: "retentionDays" must be a number between 1 and 36500 (got 0)'],
    [{ retentionMaxTasks: -1 }, 'modelPerf config: "retentionMaxTasks" must be a whole number between 1 and 10000000 (got -1)'],
    [{ enableGpuMonitoring: 'yes' }, 'modelPerf config: "enableGpuMonitoring" must be true or false (got "yes")'],
    [{ storageDir: '' }, 'modelPerf config: "storageDir" must be a folder path or null for the default (got "")'],
    [{ thresholds: { minSuccessRate: 2 } }, 'modelPerf config: "thresholds.minSuccessRate" must be a number between 0 and 1 (got 2)'],
    [{ thresholds: { maxGenerationTimeSecondsByResolution: { banana: 10 } } }, 'modelPerf config: "thresholds.maxGenerationTimeSecondsByResolution" has a key "banana" that is not a resolution (use e.g. 720p, 1280x720, HD)'],
    [{ thresholds: { maxGenerationTimeSecondsByResolution: { '720p': 0 } } }, 'modelPerf config: "thresholds.maxGenerationTimeSecondsByResolution.720p" must be a number between 1 and 604800 (got 0)'],
    [{ gpuRecheckInitialMs: 20_000, gpuRecheckMaxMs: 10_000 }, 'modelPerf config: "gpuRecheckMaxMs" must be at least "gpuRecheckInitialMs" (20000) (got 10000)'],
    [{ monitoring_interval_seconds: 5 }, `modelPerf config: unknown key "monitoring_interval_seconds"; accepted keys: ${Object.keys(DEFAULT_CONFIG).join(', ')}`],
    [42, 'modelPerf config: the configuration must be an object (got 42)'],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => validateConfig(input), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, message);
      return true;
    });
  }
});

test('targets given in any spelling land on the class and merge over the defaults', () => {
  const c = validateConfig({ thresholds: { maxGenerationTimeSecondsByResolution: { '1280x720': 200, '4K': 3600 } } });
  assert.deepEqual(c.thresholds.maxGenerationTimeSecondsByResolution, { '720p': 200, '1080p': 900, '2160p': 3600 });
  // The defaults object is not mutated by a caller's config.
  assert.equal(DEFAULT_CONFIG.thresholds.maxGenerationTimeSecondsByResolution['720p'], 300);
});

test('resolution spellings are normalised to one class', () => {
  for (const s of ['720p', '720P', ' 720p ', '1280x720', '1280×720', '1280 X 720', '720x1280', 'HD', 'hd', '1280x704', '720i']) {
    assert.equal(normalizeResolution(s), '720p', s);
  }
  for (const s of ['1080p', '1920x1080', 'FHD', 'Full HD', 'full-hd', '1920×1088']) assert.equal(normalizeResolution(s), '1080p', s);
  assert.equal(normalizeResolution('832x480'), '480p');
  assert.equal(normalizeResolution('4k'), '2160p');
  assert.equal(normalizeResolution('1000x1000'), '1000p');
  for (const s of ['', 'banana', '720', 'x720', '0x0']) assert.equal(normalizeResolution(s), null, s);
  // Names that only an inherited property would match are no resolution.
  for (const s of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) assert.equal(normalizeResolution(s), null, s);
});
