// Characterisation: analyzePerformance's output on varied seeded histories, captured before the
// function was split into rules and steps (test/fixtures/analysis/characterisation.json). Any
// change to a figure, a finding, an advice's order or a trend bucket fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzePerformance } from '../../../src/core/engine/analysis';
import { MAX_FINDINGS } from '../../../src/shared/metrics';
import { HISTORY_NOW_MS, SCENARIOS, seededHistory } from './seededHistory';

const golden = JSON.parse(readFileSync(join(__dirname, '../../fixtures/analysis/characterisation.json'), 'utf8')) as Record<string, unknown>;

test('every scenario has a captured analysis', () => {
  assert.deepEqual(Object.keys(golden).sort(), SCENARIOS.map((s) => s.name).sort());
});

for (const s of SCENARIOS) {
  test(`analysis deep-equals the captured one: ${s.name}`, () => {
    const tasks = seededHistory(s.seed, s.count, s.spanHours);
    // No JSON round trip of the result: a field that became `undefined` or a -0 must fail too.
    // `findings` came after the capture: everything else must be as it was, and findings stay a handful.
    const { findings, ...rest } = analyzePerformance(tasks, s.thresholds, HISTORY_NOW_MS, s.windowHours);
    assert.deepEqual(rest, golden[s.name]);
    assert.ok(Array.isArray(findings) && findings.length <= MAX_FINDINGS);
  });
}

test('the seeded history is the same on every run (the generator is deterministic)', () => {
  assert.deepEqual(seededHistory(9, 50, 10), seededHistory(9, 50, 10));
  assert.notDeepEqual(seededHistory(9, 50, 10), seededHistory(10, 50, 10));
});
