// The one place hostile text is made safe to print and store: escape sequences removed, controls
// neutralised, lengths bounded, task ids refused rather than changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasControlCharacters, MAX_ERROR_TEXT_CHARS, MAX_LABEL_CHARS, MAX_TASK_ID_CHARS, neutralizeControls, REPLACEMENT, safeErrorText, safeLabel, safeRecordText, safeTaskId, taskIdProblem, truncateText } from '../../../src/shared/text';

const ESC = '\u001b';

test('escape sequences are removed whole: colours, clear screen, cursor moves, terminal titles, C1 CSI', () => {
  assert.equal(neutralizeControls(`${ESC}[31mred${ESC}[0m`), 'red');
  assert.equal(neutralizeControls(`a${ESC}[2J${ESC}[Hb`), 'ab');
  assert.equal(neutralizeControls(`${ESC}]0;pwned\u0007title`), 'title');
  assert.equal(neutralizeControls(`${ESC}]8;;http://x${ESC}\\link${ESC}]8;;${ESC}\\`), 'link');
  assert.equal(neutralizeControls('\u009b31mx'), 'x');
  assert.equal(neutralizeControls(`${ESC}cafter`), 'after');
});

test('whitespace controls become spaces, other controls and bidi overrides a visible replacement', () => {
  assert.equal(neutralizeControls('a\nb\tc\rd'), 'a b c d');
  assert.equal(neutralizeControls('a\u0000b\u0007c\u007fd'), `a${REPLACEMENT}b${REPLACEMENT}c${REPLACEMENT}d`);
  assert.equal(neutralizeControls('evil\u202egnp.exe'), `evil${REPLACEMENT}gnp.exe`);
  const plain = 'sdxl-1024 ümlaut 日本 🎨';
  assert.equal(neutralizeControls(plain), plain);
  assert.equal(hasControlCharacters(plain), false);
  assert.equal(hasControlCharacters(`x${ESC}[1m`), true);
  assert.equal(hasControlCharacters('x\u2028y'), true);
});

test('lengths are bounded with an ellipsis, never splitting a surrogate pair', () => {
  assert.equal(truncateText('abcdef', 6), 'abcdef');
  assert.equal(truncateText('abcdef', 4), 'abc\u2026');
  const emoji = '🎨'.repeat(10); // 20 code units
  const cut = truncateText(emoji, 6);
  assert.ok(cut.length <= 6);
  assert.equal(cut, '🎨🎨\u2026');
  assert.equal(safeLabel('m'.repeat(10_000)).length, MAX_LABEL_CHARS);
  assert.equal(safeErrorText('e'.repeat(1_000_000)).length, MAX_ERROR_TEXT_CHARS);
  assert.equal(safeTaskId('t'.repeat(130_000)).length, MAX_TASK_ID_CHARS);
});

test('a task id is refused (with the reason) when empty, too long or holding controls; a good one passes', () => {
  assert.match(taskIdProblem('   ') ?? '', /empty/);
  assert.match(taskIdProblem('x'.repeat(MAX_TASK_ID_CHARS + 1)) ?? '', /at most 200 characters \(got 201\)/);
  assert.match(taskIdProblem(`job${ESC}[2J`) ?? '', /control characters/);
  assert.match(taskIdProblem('job\nnext') ?? '', /control characters/);
  assert.equal(taskIdProblem('x'.repeat(MAX_TASK_ID_CHARS)), null);
  assert.equal(taskIdProblem('sdxl-20250101-120000-ab12#2'), null);
});

test('a history record read back is made safe field by field; other fields are untouched', () => {
  const record = { taskId: `id${ESC}[2J`, modelType: 'm'.repeat(500), resolution: '1024\u0007', errorCategory: `oom${ESC}]0;x\u0007`, steps: 20 };
  const safe = safeRecordText(record);
  assert.deepEqual(safe, { taskId: 'id', modelType: `${'m'.repeat(MAX_LABEL_CHARS - 1)}\u2026`, resolution: `1024${REPLACEMENT}`, errorCategory: 'oom', steps: 20 });
  assert.deepEqual(safeRecordText({ taskId: 'a', modelType: 'b', resolution: 'c', errorCategory: null }), { taskId: 'a', modelType: 'b', resolution: 'c', errorCategory: null });
  const more = safeRecordText({ taskId: 'a', modelType: 'b', resolution: 'c', quantizationUsed: `fp8${ESC}[1m`, optimizationsApplied: ['sdpa', `x\u0007`], phases: [{ name: `load${ESC}[2J${'p'.repeat(100)}`, startTime: 1, endTime: null }] });
  assert.equal(more.quantizationUsed, 'fp8');
  assert.deepEqual(more.optimizationsApplied, ['sdpa', `x${REPLACEMENT}`]);
  assert.equal(more.phases[0]?.name.length, 64);
  assert.ok(more.phases[0]?.name.startsWith('loadppp'));
  assert.deepEqual(more.phases[0] && { startTime: more.phases[0].startTime, endTime: more.phases[0].endTime }, { startTime: 1, endTime: null });
});
