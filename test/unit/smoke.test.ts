import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/core/ports';

test('system clock reads epoch milliseconds', () => {
  const before = Date.now();
  const now = systemClock.now();
  assert.ok(now >= before && now <= Date.now());
});
