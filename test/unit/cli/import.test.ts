// `model-perf import FILE [--partial]` in-process, against a history in a throwaway folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helpText, parseArgs } from '../../../src/cli/args';
import { runCli } from '../../../src/cli/cli';
import { JsonlHistoryStore } from '../../../src/core/history/historyStore';
import { makeTask } from '../engine/fakes';
import { historyRecords } from '../helpers/historyFiles';
import { testIo, type TestIo } from '../helpers/cliIo';

function io(env: NodeJS.ProcessEnv, cwd: string): TestIo {
  return testIo({ env, cwd });
}

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-cli-import-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const home = join(dir, 'home');
  return { dir, home, env: { MODEL_PERF_HOME: home } };
}

const recent = (i: number) => makeTask({ taskId: `t${i}`, startTime: Date.now() - 3_600_000 + i, endTime: Date.now() - 3_000_000 });

test('import --help, parsing and the command list', () => {
  assert.match(helpText(null), /\n {2}import {3}merge an export/);
  assert.match(helpText('import'), /Usage: model-perf import FILE \[--partial\] \[--list-all\]/);
  const r = parseArgs(['import', 'x.json', '--partial']);
  assert.ok(r.kind === 'command' && r.parsed.command === 'import' && r.parsed.flags.get('partial') === true && r.parsed.positionals[0] === 'x.json');
  assert.throws(() => parseArgs(['import']), { message: 'missing FILE' });
  assert.throws(() => parseArgs(['import', 'a', 'b']), { message: 'unexpected argument "b"' });
  assert.throws(() => parseArgs(['import', 'a', '--partial=yes']), { message: '--partial takes no value (got "yes")' });
});

test('export from one history, import into another: the tasks arrive once; a second import skips them', async (t) => {
  const { dir, home, env } = await setup(t);
  const otherHome = join(dir, 'other');
  const other = new JsonlHistoryStore(otherHome, { retentionDays: 90, retentionMaxTasks: 1000 });
  for (let i = 0; i < 3; i++) await other.append(recent(i));
  const exporting = io({ MODEL_PERF_HOME: otherHome }, dir);
  assert.equal(await runCli(['export', 'from-other.csv'], exporting), 0, exporting.err.text);

  const first = io(env, dir);
  assert.equal(await runCli(['import', 'from-other.csv'], first), 0, first.err.text);
  assert.equal(first.out.text, `Imported 3 task(s) from ${join(dir, 'from-other.csv')} (CSV) into ${join(home, 'history')}\n`);
  assert.equal(first.err.text, '');
  const lines = (await historyRecords(home)).map((t) => JSON.stringify(t));
  assert.deepEqual(
    lines.map((l) => (JSON.parse(l) as { taskId: string }).taskId),
    ['t0', 't1', 't2'],
  );

  const again = io(env, dir);
  assert.equal(await runCli(['import', 'from-other.csv'], again), 0);
  assert.equal(again.out.text, `Nothing to import from ${join(dir, 'from-other.csv')}: all 3 task(s) are already in the history\n`);
});

test('a file with a bad record: nothing imported, the record named, exit 1; --partial imports the rest', async (t) => {
  const { dir, home, env } = await setup(t);
  const file = join(dir, 'mixed.json');
  const bad = { ...recent(1), peakRamUsageMb: -3, taskId: 'bad\u001b]0;owned\u0007' };
  await writeFile(file, JSON.stringify({ schema_version: 1, metrics: [recent(0), bad, recent(2)] }, null, 2));
  const strict = io(env, dir);
  assert.equal(await runCli(['import', file], strict), 1);
  assert.equal(strict.out.text, '');
  assert.equal(
    strict.err.text,
    [
      'model-perf import: rejected:',
      '  metrics[1], line 46: field "taskId" contains control characters',
      'model-perf import: nothing was imported: 1 of 3 record(s) were rejected (--partial imports the 2 good one(s))',
      '',
    ].join('\n'),
  );
  assert.doesNotMatch(strict.err.text, /\u001b/); // the hostile id is never echoed
  assert.deepEqual(await historyRecords(home), []);

  const partial = io(env, dir);
  assert.equal(await runCli(['import', file, '--partial'], partial), 1);
  assert.match(partial.out.text, /^Imported 2 task\(s\) from .*mixed\.json \(JSON\) into /);
  assert.match(partial.err.text, /metrics\[1\], line 46: /);
  assert.equal((await historyRecords(home)).length, 2);
});

test('import of a missing file or a folder fails with the reason', async (t) => {
  const { dir, env } = await setup(t);
  const missing = io(env, dir);
  assert.equal(await runCli(['import', 'nope.json'], missing), 1);
  assert.equal(missing.err.text, `model-perf import: cannot read "${join(dir, 'nope.json')}": no such file\n`);
  const folder = io(env, dir);
  assert.equal(await runCli(['import', '.'], folder), 1);
  assert.match(folder.err.text, /it is a folder; give an export file \(JSON or CSV\)\n$/);
});

test('the first 50 rejected records are listed, then a count; --list-all lists every one', async (t) => {
  const { dir, env } = await setup(t);
  const file = join(dir, 'many-bad.json');
  await writeFile(file, JSON.stringify({ metrics: Array.from({ length: 60 }, (_, i) => ({ ...recent(i), steps: -1 })) }));
  const short = io(env, dir);
  assert.equal(await runCli(['import', file], short), 1);
  const lines = short.err.text.split('\n');
  assert.equal(lines[0], 'model-perf import: rejected:');
  assert.equal(lines.filter((l) => /^ {2}metrics\[\d+\], line 1: field "steps" must be between/.test(l)).length, 50);
  assert.equal(lines[51], '  ... and 10 more (--list-all lists every one)');
  assert.equal(lines[52], 'model-perf import: nothing was imported: 60 of 60 record(s) were rejected');
  const all = io(env, dir);
  assert.equal(await runCli(['import', file, '--list-all'], all), 1);
  assert.equal(all.err.text.split('\n').filter((l) => l.startsWith('  metrics[')).length, 60);
  assert.doesNotMatch(all.err.text, /more \(--list-all/);
});
