import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blankTask, parseRecord, parseRecordWithReason, serializeRecord } from '../../../src/core/history/records';
import { metricsFieldsOfKind } from '../../../src/shared/metrics';
import { seededRandom } from '../helpers/seededRandom';
import { makeTask } from '../engine/fakes';

test('a parsed task starts with exactly the nullable fields, in field order', () => {
  const want = [...metricsFieldsOfKind('nullableNumber'), ...metricsFieldsOfKind('scope'), ...metricsFieldsOfKind('nullableText')];
  assert.deepEqual(Object.keys(blankTask()), want);
  assert.ok(Object.values(blankTask()).every((v) => v === null));
});

// Values a hostile or older file may hold in any field.
const ODD: unknown[] = [null, undefined, 0, -1, 1.5, 1e308, '', 'x', 'succeeded', 'device', true, false, [], [1], ['a'], {}, { name: 'p', startTime: 1, endTime: null }, { hash: 'abcd', branch: null, dirty: false }];

test('the fast path of parseRecord gives what the field-by-field check gives, over random records', () => {
  const rand = seededRandom(12);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const base = JSON.parse(serializeRecord(makeTask({ stepsCompleted: 3, stepsTotal: 10, phases: [{ name: 'load', startTime: 1, endTime: 2 }], adopted: true }))) as Record<string, unknown>;
  const keys = [...Object.keys(base), 'timeline', 'gitCommit', 'prediction', 'stepsPerSecond', 'progressUpdatedAt', 'unknownKey', '__proto__'];
  let tasks = 0;
  let bad = 0;
  for (let i = 0; i < 5000; i++) {
    const r: Record<string, unknown> = { ...base };
    const changes = Math.floor(rand() * 3);
    for (let c = 0; c < changes; c++) {
      const key = pick(keys);
      if (rand() < 0.25) delete r[key];
      else Object.defineProperty(r, key, { value: pick(ODD), enumerable: true, writable: true, configurable: true });
    }
    const fast = parseRecord(r);
    const slow = parseRecordWithReason(r);
    assert.deepStrictEqual(fast, slow, JSON.stringify(r));
    if (fast.kind === 'task' && slow.kind === 'task') assert.deepEqual(Object.keys(fast.task), Object.keys(slow.task));
    if (fast.kind === 'task') tasks++;
    else bad++;
  }
  // Both kinds were tried.
  assert.ok(tasks > 500 && bad > 500, `${tasks} tasks, ${bad} bad`);
});
