// `importHistory`: round trips of this product's JSON and CSV exports and of the original module's
// JSON, duplicates, all-or-nothing versus --partial, and hostile files (cut off, invalid UTF-8, huge
// records, deep nesting, prototype keys, control characters, impossible numbers, pipes, folders).
// Every file lives in a throwaway temp folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildExportDocument, writeExport, type MachineInventory } from '../../../src/core/history/exporter';
import { JsonlHistoryStore, MemoryHistoryStore } from '../../../src/core/history/historyStore';
import { ImportError, MAX_RECORD_CHARS, importHistory, implausibility, safeText, type ImportReport } from '../../../src/core/history/importer';
import type { PerformanceAnalysis, PerformanceMetrics } from '../../../src/shared/metrics';
import { makeTask } from '../engine/fakes';

const NOW = Date.UTC(2026, 0, 2);
const MACHINE = { hostname: 'other-gpu-box' } as MachineInventory;

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-import-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function tasks(n: number, from = 0): PerformanceMetrics[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return makeTask({
      taskId: `task-${i}`,
      modelType: i % 2 ? '=formula-looking' : 'wan, "quoted"',
      startTime: Date.UTC(2026, 0, 1) + i * 1000,
      endTime: Date.UTC(2026, 0, 1) + i * 1000 + 500,
      generationTimeSeconds: 0.5,
      status: i % 3 === 0 ? 'failed' : 'succeeded',
      success: i % 3 !== 0,
      errorCategory: i % 3 === 0 ? '-oom' : null,
      gpuIndices: [0, 1],
      optimizationsApplied: i % 2 ? ['fp16', 'tiling'] : [],
      peakVramUsageMb: 1234.5,
      ...(i % 4 === 0 ? { phases: [{ name: 'denoise@x', startTime: Date.UTC(2026, 0, 1), endTime: null }], stepsCompleted: 3, stepsTotal: 20 } : {}),
    });
  });
}

async function exportTo(dir: string, name: string, list: PerformanceMetrics[]): Promise<string> {
  const path = join(dir, name);
  await writeExport(path, name.endsWith('.csv') ? 'csv' : 'json', buildExportDocument(list, { successRate: 1 } as PerformanceAnalysis, 24, NOW, MACHINE));
  return path;
}

async function run(dir: string, file: string, store = new MemoryHistoryStore(), partial = false): Promise<{ report: ImportReport; store: MemoryHistoryStore }> {
  const report = await importHistory(file, store, { partial, nowMs: NOW, spoolDir: join(dir, 'home') });
  // The spool is always removed.
  assert.deepEqual(await readdir(join(dir, 'home')).catch(() => []), []);
  return { report, store };
}

/** A task with the optional fields it had, compared field by field (key order is the parser's). */
function sameTasks(actual: PerformanceMetrics[], expected: PerformanceMetrics[]): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i] as PerformanceMetrics;
    const got = actual[i] as PerformanceMetrics;
    // CSV has no way to tell an absent optional number from a null one: both come back absent.
    for (const key of Object.keys(want) as (keyof PerformanceMetrics)[]) {
      if (want[key] === undefined) continue;
      assert.deepEqual(got[key], want[key], `${want.taskId}.${key}`);
    }
  }
}

test('a JSON export of model-perf round-trips: every field of every task, in order', async (t) => {
  const dir = await tempDir(t);
  const list = tasks(25);
  const { report, store } = await run(dir, await exportTo(dir, 'a.json', list));
  assert.equal(report.format, 'json');
  assert.deepEqual(report.keyStyles, ['model-perf']);
  assert.deepEqual({ records: report.records, imported: report.imported, duplicates: report.duplicates, rejected: report.rejected, written: report.written }, { records: 25, imported: 25, duplicates: 0, rejected: 0, written: true });
  assert.deepEqual(report.problems, []);
  sameTasks(store.tasks, list);
});

test('records, characters and line ends cut anywhere between reads come back whole (JSON and CSV, 1, 2 and 7 bytes a read)', async (t) => {
  const dir = await tempDir(t);
  const list = tasks(3).map((x, i) => ({ ...x, modelType: `modèle-😀-${i}`, optimizationsApplied: ['a"b', 'c,d'] }));
  for (const name of ['a.json', 'a.csv']) {
    const file = await exportTo(dir, name, list);
    for (const readChunkBytes of [1, 2, 7]) {
      const store = new MemoryHistoryStore();
      const report = await importHistory(file, store, { partial: false, nowMs: NOW, spoolDir: join(dir, 'home'), readChunkBytes });
      assert.deepEqual(report.problems, [], `${name} at ${readChunkBytes}`);
      sameTasks(store.tasks, list);
    }
  }
  // And a larger file in many reads of 64 KiB.
  const many = tasks(1000);
  for (const name of ['big.json', 'big.csv']) {
    const store = new MemoryHistoryStore();
    const report = await importHistory(await exportTo(dir, name, many), store, { partial: false, nowMs: NOW, spoolDir: join(dir, 'home'), readChunkBytes: 65_536 });
    assert.equal(report.imported, 1000, name);
    sameTasks(store.tasks, many);
  }
});

test('a CSV export of model-perf round-trips, formula guards and quotes undone', async (t) => {
  const dir = await tempDir(t);
  const list = tasks(25);
  const { report, store } = await run(dir, await exportTo(dir, 'a.csv', list));
  assert.equal(report.format, 'csv');
  assert.equal(report.imported, 25);
  sameTasks(store.tasks, list);
  assert.equal(store.tasks[1]?.modelType, '=formula-looking');
  assert.equal(store.tasks[0]?.errorCategory, '-oom');
  assert.deepEqual(store.tasks[0]?.phases, [{ name: 'denoise@x', startTime: Date.UTC(2026, 0, 1), endTime: null }]);
});

test('the original module JSON: snake_case keys, times in seconds, no status', async (t) => {
  const dir = await tempDir(t);
  const start = Date.UTC(2026, 0, 1, 12) / 1000;
  const original = {
    export_timestamp: '2026-01-01T13:00:00',
    time_window_hours: 24,
    metrics_count: 2,
    performance_analysis: { average_generation_time: 42, success_rate: 0.5, bottleneck_analysis: {}, optimization_recommendations: [], performance_trends: {} },
    metrics: [
      {
        task_id: 'gen_1',
        model_type: 't2v-A14B',
        resolution: '1280x720',
        steps: 50,
        start_time: start + 0.25,
        end_time: start + 42.25,
        generation_time_seconds: 42,
        model_load_time_seconds: 3.5,
        peak_vram_usage_mb: 20000,
        average_vram_usage_mb: 18000,
        peak_ram_usage_mb: 9000,
        average_cpu_usage_percent: 35.5,
        optimizations_applied: ['fp16'],
        quantization_used: 'int8',
        offload_used: true,
        success: true,
        error_category: null,
      },
      { task_id: 'gen_2', model_type: 'i2v', resolution: '1080p', steps: 30, start_time: '2026-01-01 12:05:00.123456+00:00', end_time: null, generation_time_seconds: null, model_load_time_seconds: null, peak_vram_usage_mb: 0, average_vram_usage_mb: 0, peak_ram_usage_mb: 0, average_cpu_usage_percent: 0, optimizations_applied: [], quantization_used: null, offload_used: false, success: false, error_category: 'vram_oom' },
    ],
  };
  const file = join(dir, 'original.json');
  await writeFile(file, JSON.stringify(original, null, 2));
  const { report, store } = await run(dir, file);
  assert.deepEqual(report.keyStyles, ['original']);
  assert.equal(report.imported, 2);
  const [a, b] = store.tasks as [PerformanceMetrics, PerformanceMetrics];
  assert.equal(a.taskId, 'gen_1');
  assert.equal(a.startTime, Date.UTC(2026, 0, 1, 12) + 250);
  assert.equal(a.endTime, Date.UTC(2026, 0, 1, 12) + 42_250);
  assert.equal(a.status, 'succeeded');
  assert.equal(a.resolutionClass, '720p');
  assert.equal(a.modelLoadTimeSeconds, 3.5);
  assert.equal(a.quantizationUsed, 'int8');
  assert.equal(a.offloadUsed, true);
  assert.deepEqual(a.optimizationsApplied, ['fp16']);
  assert.equal(b.status, 'failed');
  assert.equal(b.errorCategory, 'vram_oom');
  assert.equal(b.startTime, Date.UTC(2026, 0, 1, 12, 5) + 123);
  assert.equal(b.resolutionClass, '1080p');
});

test('duplicates by task id and start time are skipped and counted: in the history and inside the file', async (t) => {
  const dir = await tempDir(t);
  const store = new MemoryHistoryStore();
  for (const task of tasks(3)) await store.append(task);
  // Same id, other start: a different run, imported. Same id and start: skipped.
  const list = [...tasks(5), makeTask({ taskId: 'task-0', startTime: Date.UTC(2026, 0, 1, 6), endTime: Date.UTC(2026, 0, 1, 7) }), ...tasks(1, 4)];
  const { report } = await run(dir, await exportTo(dir, 'a.json', list), store);
  assert.deepEqual({ records: report.records, imported: report.imported, duplicates: report.duplicates }, { records: 7, imported: 3, duplicates: 4 });
  assert.deepEqual(
    store.tasks.map((x) => x.taskId),
    ['task-0', 'task-1', 'task-2', 'task-3', 'task-4', 'task-0'],
  );
  // Importing the same file again adds nothing.
  const again = await run(dir, await exportTo(dir, 'a.json', list), store);
  assert.deepEqual({ imported: again.report.imported, duplicates: again.report.duplicates, written: again.report.written }, { imported: 0, duplicates: 7, written: false });
});

/** An export whose metrics list is given as raw JSON texts, for hostile records. */
async function rawExport(dir: string, records: string[], name = 'raw.json'): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `{\n  "schema_version": 1,\n  "metrics": [\n${records.join(',\n')}\n  ]\n}\n`);
  return file;
}

function good(overrides: Partial<PerformanceMetrics> = {}): string {
  return JSON.stringify(makeTask({ taskId: `good-${Math.random().toString(36).slice(2)}`, ...overrides }));
}

test('one bad record: nothing is written, every rejected record is reported with where and why', async (t) => {
  const dir = await tempDir(t);
  const bad = { ...makeTask({ taskId: 'neg' }), steps: -5 };
  const file = await rawExport(dir, [good(), JSON.stringify(bad), good(), '"a string"', good()]);
  const { report, store } = await run(dir, file);
  assert.equal(report.written, false);
  assert.equal(store.tasks.length, 0);
  assert.deepEqual(report.problems, [
    { where: 'metrics[1], line 5', reason: 'field "steps" must be between 0 and 1000000000 (got -5)' },
    { where: 'metrics[3], line 7', reason: 'not a JSON object' },
  ]);
  assert.deepEqual({ records: report.records, rejected: report.rejected }, { records: 5, rejected: 2 });
  // --partial: the good ones, the same report.
  const partial = await run(dir, file, new MemoryHistoryStore(), true);
  assert.equal(partial.report.imported, 3);
  assert.equal(partial.store.tasks.length, 3);
  assert.equal(partial.report.problems.length, 2);
});

test('hostile records: wrong types, absurd numbers, control characters, prototype keys, future times', async (t) => {
  const dir = await tempDir(t);
  const base = makeTask({ taskId: 'h' });
  const cases: [string, string][] = [
    [JSON.stringify({ ...base, steps: '20' }), 'field "steps" must be a number'],
    [JSON.stringify({ ...base, peakVramUsageMb: 1e300 }), 'field "peakVramUsageMb" must be between 0 and 1000000000 (got 1e+300)'],
    [JSON.stringify({ ...base, averageGpuUtilizationPercent: 250 }), 'field "averageGpuUtilizationPercent" must be between 0 and 100 (got 250)'],
    [JSON.stringify({ ...base, generationTimeSeconds: -1 }), 'field "generationTimeSeconds" must be between 0 and 31622400 (got -1)'],
    [JSON.stringify({ ...base, steps: 2.5 }), 'field "steps" must be a whole number'],
    [JSON.stringify({ ...base, taskId: 'evil\u001b[2J\u0007' }), 'field "taskId" contains control characters'],
    [JSON.stringify({ ...base, modelType: 'rtl\u202eexe' }), 'field "modelType" contains control characters'],
    [JSON.stringify({ ...base, taskId: 'x'.repeat(513) }), 'field "taskId" is longer than 512 characters'],
    [JSON.stringify({ ...base, taskId: '   ' }), 'field "taskId" is empty'],
    [JSON.stringify({ ...base, startTime: NOW + 365 * 86_400_000 }), 'field "startTime" is not a plausible time (2027-01-02T00:00:00.000Z is before 2000 or more than a day ahead of this machine\'s clock)'],
    [JSON.stringify({ ...base, endTime: base.startTime - 1 }), 'field "endTime" is before "startTime"'],
    [JSON.stringify({ ...base, status: 'succeeded', success: false }), 'fields "success" (false) and "status" (succeeded) disagree'],
    [JSON.stringify({ ...base, status: 'running' }), 'field "status" must be one of succeeded, failed, cancelled, interrupted'],
    [JSON.stringify({ ...base, gpuIndices: [-1] }), 'field "gpuIndices" must hold whole numbers from 0 to 1023'],
    [`{"__proto__": {"polluted": true}, ${JSON.stringify(base).slice(1)}`, 'holds the key "__proto__", which no task record has'],
    [JSON.stringify({ ...base, constructor: { prototype: { polluted: true } } }), 'holds the key "constructor", which no task record has'],
    [JSON.stringify({ modelType: 'no id' }), 'has neither "taskId" nor "task_id": not a task record'],
    [JSON.stringify({ ...base, schemaVersion: 99 }), 'written by a newer version of model-perf (record schema 99)'],
    ['{"taskId": "x", broken}', 'not valid JSON ('],
  ];
  const file = await rawExport(
    dir,
    cases.map(([text]) => text),
  );
  const { report, store } = await run(dir, file, new MemoryHistoryStore(), true);
  assert.equal(store.tasks.length, 0);
  assert.equal(report.rejected, cases.length);
  cases.forEach(([, reason], i) => {
    const p = report.problems[i];
    assert.ok(p?.reason.startsWith(reason), `case ${i}: ${p?.reason} should start with ${reason}`);
    assert.match(p.where, new RegExp(`^metrics\\[${i}\\], line \\d+$`));
  });
  // Nothing reached a prototype, and no reason carries a raw control character.
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  for (const p of report.problems) assert.doesNotMatch(p.reason, /[\u0000-\u001f\u007f-\u009f\u202e]/);
});

test('a record over the size bound and one nested too deep are rejected unread; reading goes on', async (t) => {
  const dir = await tempDir(t);
  const huge = JSON.stringify({ ...makeTask({ taskId: 'huge' }), modelType: 'm'.repeat(MAX_RECORD_CHARS) });
  const deep = `{"taskId": "deep", "x": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
  const file = await rawExport(dir, [huge, deep, good()]);
  const { report, store } = await run(dir, file, new MemoryHistoryStore(), true);
  assert.deepEqual(
    report.problems.map((p) => p.reason),
    [`the record is larger than ${MAX_RECORD_CHARS} characters`, 'the record is nested more than 32 levels deep'],
  );
  assert.equal(store.tasks.length, 1);
});

test('a cut-off file: nothing without --partial; with it, the records before the cut', async (t) => {
  const dir = await tempDir(t);
  const full = await readFile(await exportTo(dir, 'full.json', tasks(4)), 'utf8');
  const file = join(dir, 'cut.json');
  await writeFile(file, full.slice(0, full.indexOf('"task-3"') + 3));
  const strict = await run(dir, file);
  assert.equal(strict.store.tasks.length, 0);
  assert.match(strict.report.fileError ?? '', /^line \d+: the file ends before the JSON document does: it was cut off, or is not a complete export$/);
  assert.deepEqual(strict.report.problems.at(-1)?.where, 'file');
  const partial = await run(dir, file, new MemoryHistoryStore(), true);
  assert.deepEqual(
    partial.store.tasks.map((x) => x.taskId),
    ['task-0', 'task-1', 'task-2'],
  );
  // A cut-off CSV (inside a quoted cell).
  const csv = await readFile(await exportTo(dir, 'full.csv', tasks(3)), 'utf8');
  const cutCsv = join(dir, 'cut.csv');
  await writeFile(cutCsv, csv.slice(0, csv.lastIndexOf('"wan') + 3));
  const csvReport = (await run(dir, cutCsv, new MemoryHistoryStore(), true)).report;
  assert.match(csvReport.fileError ?? '', /^line 4: the file ends inside a quoted cell/);
  assert.equal(csvReport.imported, 2);
});

test('files that are no export at all are refused with the reason', async (t) => {
  const dir = await tempDir(t);
  const cases: [string, string | Buffer, RegExp][] = [
    ['empty.json', '', /the file is empty/],
    ['text.json', 'hello', /the header has no taskId, modelType, resolution, steps, startTime, status, success columns: not a CSV export of model-perf/],
    ['nolist.json', '{"a": 1}', /no "metrics" list/],
    ['twice.json', '{"metrics": [], "metrics": []}', /the key "metrics" appears twice/],
    ['notlist.json', '{"metrics": {"a": 1}}', /"metrics" must be a list of tasks/],
    ['trailing.json', '{"metrics": []} x', /unexpected text after the end/],
    ['newer.json', '{"schema_version": 2, "metrics": []}', /newer version of model-perf \(schema_version 2\)/],
    ['utf8.json', Buffer.concat([Buffer.from('{"metrics": [{"taskId": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]), /not valid UTF-8/],
    ['proto.csv', 'taskId,__proto__\r\nx,y\r\n', /a column named "__proto__"/],
  ];
  for (const [name, content, error] of cases) {
    const file = join(dir, name);
    await writeFile(file, content);
    const { report, store } = await run(dir, file, new MemoryHistoryStore(), true);
    assert.match(report.fileError ?? '', error, name);
    assert.equal(store.tasks.length, 0, name);
  }
  // Blank lines before the document, even a whole read of them, still count in line numbers.
  const blank = join(dir, 'blank.json');
  await writeFile(blank, `\n\n\n{"metrics": [\n${JSON.stringify({ ...makeTask(), steps: -1 })}]}`);
  const blankReport = await importHistory(blank, new MemoryHistoryStore(), { partial: false, nowMs: NOW, spoolDir: join(dir, 'home'), readChunkBytes: 2 });
  assert.deepEqual(blankReport.problems[0]?.where, 'metrics[0], line 5');
  // A byte order mark is not content.
  const bom = join(dir, 'bom.json');
  await writeFile(bom, `\ufeff${await readFile(await exportTo(dir, 'plain.json', tasks(2)), 'utf8')}`);
  assert.equal((await run(dir, bom)).report.imported, 2);
  // Python writes NaN for a missing float: that record is rejected with the reason, the others read on.
  const nan = await rawExport(dir, [JSON.stringify(makeTask({ taskId: 'n' })).replace('"peakVramUsageMb":null', '"peakVramUsageMb":NaN'), good()], 'nan.json');
  const nanReport = (await run(dir, nan, new MemoryHistoryStore(), true)).report;
  assert.deepEqual(nanReport.problems, [{ where: 'metrics[0], line 4', reason: 'not valid JSON (holds NaN or Infinity, which JSON does not allow)' }]);
  assert.equal(nanReport.imported, 1);
  // A bare list of records (a JSON array) is read like the metrics list.
  const list = join(dir, 'list.json');
  await writeFile(list, JSON.stringify(tasks(2)));
  assert.equal((await run(dir, list)).report.imported, 2);
});

test('the input must be a regular file: a folder and a named pipe are refused without blocking', async (t) => {
  const dir = await tempDir(t);
  const fifo = join(dir, 'pipe.json');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(importHistory(fifo, new MemoryHistoryStore(), { partial: false, nowMs: NOW, spoolDir: dir }), (e: unknown) => e instanceof ImportError && /it is a named pipe/.test(e.message));
  await mkdir(join(dir, 'folder'));
  await assert.rejects(importHistory(join(dir, 'folder'), new MemoryHistoryStore(), { partial: false, nowMs: NOW, spoolDir: dir }), /it is a folder/);
  await assert.rejects(importHistory(join(dir, 'missing.json'), new MemoryHistoryStore(), { partial: false, nowMs: NOW, spoolDir: dir }), { message: `cannot read "${join(dir, 'missing.json')}": no such file` });
});

test('CSV rows with the wrong cell count, stray quotes or control characters are rejected by line; quoted cells may span lines', async (t) => {
  const dir = await tempDir(t);
  const csv = await readFile(await exportTo(dir, 'a.csv', [makeTask({ taskId: 'multi\nline' }), makeTask({ taskId: 'b' })]), 'utf8');
  const lines = csv.split('\r\n');
  const file = join(dir, 'b.csv');
  await writeFile(file, [...lines.slice(0, -1), 'only,three,cells', `x"y${lines[3]?.slice(1)}`, ''].join('\r\n'));
  const { report, store } = await run(dir, file, new MemoryHistoryStore(), true);
  assert.deepEqual(
    store.tasks.map((x) => x.taskId),
    ['b'],
  );
  assert.deepEqual(report.problems, [
    { where: 'line 2', reason: 'field "taskId" contains control characters' },
    { where: 'line 5', reason: `the row has 3 cells, the header ${lines[0]?.split(',').length}` },
    { where: 'line 6', reason: 'the row has a quote inside an unquoted cell' },
  ]);
});

test('into a real history file: appended after what is there, readable by the store', async (t) => {
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  const store = new JsonlHistoryStore(home, { retentionDays: 3650, retentionMaxTasks: 1000 });
  await store.append(makeTask({ taskId: 'mine' }));
  const report = await importHistory(await exportTo(dir, 'a.json', tasks(3)), store, { partial: false, nowMs: NOW, spoolDir: home });
  assert.equal(report.imported, 3);
  const loaded = await store.load(NOW);
  assert.deepEqual(
    loaded.tasks.map((x) => x.taskId),
    ['mine', 'task-0', 'task-1', 'task-2'],
  );
  assert.deepEqual(loaded.warnings, []);
  assert.deepEqual((await readdir(home)).filter((f) => !f.startsWith('history')), []);
});

test('implausibility and safeText', () => {
  assert.equal(implausibility(makeTask(), NOW), null);
  assert.equal(implausibility(makeTask({ startTime: Date.UTC(1999, 0, 1), endTime: Date.UTC(1999, 0, 2) }), NOW)?.startsWith('field "startTime" is not a plausible time'), true);
  assert.equal(implausibility(makeTask({ rootPid: 0 }), NOW), 'field "rootPid" must be between 1 and 4294967296 (got 0)');
  assert.equal(safeText('a\u001bb\u202ec'), 'a\\u001bb\\u202ec');
  assert.equal(safeText('x'.repeat(10), 4), 'xxxx…');
});

test('a history that refuses midway: the error says how many got in; the same import again adds the rest', async (t) => {
  const dir = await tempDir(t);
  const file = await exportTo(dir, 'a.json', tasks(5));
  const memory = new MemoryHistoryStore();
  let allowed = 2;
  const flaky = {
    load: () => memory.load(),
    append: async (task: PerformanceMetrics) => {
      if (allowed-- <= 0) throw new Error('Cannot append to the history file "h": the disk is full');
      await memory.append(task);
    },
  };
  await assert.rejects(importHistory(file, flaky, { partial: false, nowMs: NOW, spoolDir: join(dir, 'home') }), {
    name: 'ImportError',
    message: '2 of 5 task(s) were imported, then: Cannot append to the history file "h": the disk is full. Run the same import again to add the rest (those already in are skipped).',
  });
  assert.deepEqual(await readdir(join(dir, 'home')), []); // the spool is gone
  allowed = Number.POSITIVE_INFINITY;
  const again = await importHistory(file, flaky, { partial: false, nowMs: NOW, spoolDir: join(dir, 'home') });
  assert.deepEqual({ imported: again.imported, duplicates: again.duplicates }, { imported: 3, duplicates: 2 });
  sameTasks(memory.tasks, tasks(5));
  // No place for the spool: nothing is read or written, and the reason is given.
  const blocker = join(dir, 'a-file');
  await writeFile(blocker, '');
  await assert.rejects(importHistory(file, memory, { partial: false, nowMs: NOW, spoolDir: join(blocker, 'home') }), (e: unknown) => e instanceof ImportError && /^cannot create the import spool ".*": part of the path is a file, not a folder; nothing was imported$/.test(e.message));
});

test('the import appends in batches through appendMany; one that fails midway says how many got in', async (t) => {
  const dir = await tempDir(t);
  const file = await exportTo(dir, 'a.json', tasks(5));
  const memory = new MemoryHistoryStore();
  const calls: number[] = [];
  let fail = true;
  const batched = {
    load: () => memory.load(),
    append: () => Promise.reject(new Error('append one by one was used')),
    appendMany: async (many: readonly PerformanceMetrics[], onWritten?: (n: number) => void) => {
      calls.push(many.length);
      // The first segment goes in, the second is refused.
      for (const task of many.slice(0, 3)) await memory.append(task);
      onWritten?.(3);
      if (fail) throw new Error('Cannot append to the history file "h": the disk is full');
      for (const task of many.slice(3)) await memory.append(task);
      onWritten?.(many.length - 3);
    },
  };
  await assert.rejects(importHistory(file, batched, { partial: false, nowMs: NOW, spoolDir: join(dir, 'home') }), { name: 'ImportError', message: /^3 of 5 task\(s\) were imported, then: Cannot append/ });
  assert.deepEqual(calls, [5]);
  fail = false;
  calls.length = 0;
  const all = new MemoryHistoryStore();
  const report = await importHistory(file, { ...batched, load: () => all.load(), appendMany: async (many: readonly PerformanceMetrics[], onWritten?: (n: number) => void) => { calls.push(many.length); for (const task of many) await all.append(task); onWritten?.(many.length); } }, { partial: false, nowMs: NOW, spoolDir: join(dir, 'home') });
  assert.equal(report.imported, 5);
  assert.deepEqual(calls, [5]);
  assert.equal((await all.load()).tasks.length, 5);
});

test('a flood of bad records: each counted, the first 1000 kept for the report, the rest counted as omitted', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'flood.json');
  await writeFile(file, `[${'1,'.repeat(9_999)}1]`);
  const { report, store } = await run(dir, file, new MemoryHistoryStore(), true);
  assert.deepEqual({ records: report.records, rejected: report.rejected, kept: report.problems.length, omitted: report.problemsOmitted }, { records: 10_000, rejected: 10_000, kept: 1000, omitted: 9000 });
  assert.deepEqual(report.problems[999], { where: '[999], line 1', reason: 'not a JSON object' });
  assert.equal(store.tasks.length, 0);
  // Every one of them reaches onProblem, the omitted ones too, in file order.
  const seen: string[] = [];
  await importHistory(file, new MemoryHistoryStore(), { partial: true, nowMs: NOW, spoolDir: join(dir, 'home'), onProblem: (p) => void seen.push(p.where) });
  assert.equal(seen.length, 10_000);
  assert.equal(seen[9_999], '[9999], line 1');
});
