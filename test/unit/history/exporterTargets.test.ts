// Export targets that are not regular files are refused (a rename would replace them), an existing
// file keeps its mode, and the streamed output is the very text the one-string export produced.
// Everything happens in a throwaway temp folder: no device file is ever a target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSV_COLUMNS, ExportError, csvCell, csvChunks, jsonChunks, writeExport, type ExportDocument } from '../../../src/core/history/exporter';
import { writeFileAtomic, WriteFileError } from '../../../src/core/util/atomicWrite';
import type { PerformanceAnalysis } from '../../../src/shared/metrics';
import { makeTask } from '../engine/fakes';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-export-target-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function sampleDocument(taskCount: number): ExportDocument {
  const metrics = Array.from({ length: taskCount }, (_, i) =>
    makeTask({
      taskId: `task-${i} "quoted"\nline\u2028é😀`,
      modelType: i % 2 ? '=formula' : 'wan',
      startTime: Date.UTC(2026, 0, 1) + i * 1000,
      gpuIndices: [0, i],
      optimizationsApplied: ['a,b', 'c;d'],
      peakVramUsageMb: i * 1.5,
      ...(i % 3 === 0 ? { phases: [{ name: 'denoise', startTime: 1, endTime: null }], stepsCompleted: 3 } : {}),
    }),
  );
  const analysis = { averageGenerationTime: 1.25, successRate: 1, nested: { list: [1, [2, {}], []], empty: {} }, missing: undefined } as unknown as PerformanceAnalysis;
  return {
    schema_version: 1,
    history_schema_version: 1,
    export_timestamp: '2026-01-01T00:00:00.000Z',
    time_window_hours: 24,
    metrics_count: metrics.length,
    machine: { hostname: 'h', platform: 'linux', arch: 'x64', osRelease: '6', cpuModel: null, cpuCount: 2, ramTotalMb: 1, gpuProvider: 'none', gpuAvailable: false, gpus: [] },
    performance_analysis: analysis,
    metrics,
  };
}

/** The CSV as toCsv built it before it streamed: rows joined in memory. */
function oneStringCsv(tasks: ExportDocument['metrics']): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const t of tasks) rows.push(CSV_COLUMNS.map((c) => csvCell(t[c])).join(','));
  return `${rows.join('\r\n')}\r\n`;
}

test('streamed JSON is character for character JSON.stringify(document, null, 2) plus a newline', () => {
  for (const n of [0, 1, 7]) {
    const doc = sampleDocument(n);
    const streamed = [...jsonChunks(doc)];
    assert.equal(streamed.join(''), `${JSON.stringify(doc, null, 2)}\n`, `${n} tasks`);
    // One piece per task (plus the head and tail), not one string.
    assert.ok(streamed.length >= n + 2);
  }
  // Keys JSON cannot hold are left out, and a document with none left is `{}`.
  const odd = { a: undefined, metrics: [undefined, 1], b: () => 1, c: null } as unknown as ExportDocument;
  assert.equal([...jsonChunks(odd)].join(''), `${JSON.stringify(odd, null, 2)}\n`);
  assert.equal([...jsonChunks({} as ExportDocument)].join(''), `${JSON.stringify({}, null, 2)}\n`);
});

test('streamed CSV is the text the one-string CSV export wrote', () => {
  for (const n of [0, 1, 7]) {
    const doc = sampleDocument(n);
    assert.equal([...csvChunks(doc.metrics)].join(''), oneStringCsv(doc.metrics));
  }
});

test('writeExport writes the same bytes as before, for JSON and CSV, a task at a time', async (t) => {
  const dir = await tempDir(t);
  const doc = sampleDocument(2000);
  await writeExport(join(dir, 'a.json'), 'json', doc);
  await writeExport(join(dir, 'a.csv'), 'csv', doc);
  assert.equal(await readFile(join(dir, 'a.json'), 'utf8'), `${JSON.stringify(doc, null, 2)}\n`);
  assert.equal(await readFile(join(dir, 'a.csv'), 'utf8'), oneStringCsv(doc.metrics));
  assert.deepEqual((await readdir(dir)).sort(), ['a.csv', 'a.json']);
});

async function exportError(path: string): Promise<ExportError> {
  const err = await writeExport(path, 'json', sampleDocument(1)).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ExportError, `expected an ExportError for ${path}, got ${String(err)}`);
  return err;
}

test('a named pipe as the export target is refused and left a pipe (nothing blocks on it)', async (t) => {
  const dir = await tempDir(t);
  const fifo = join(dir, 'perf.json');
  execFileSync('mkfifo', [fifo]);
  const err = await exportError(fifo);
  assert.equal(err.message, `Export failed: cannot write "${fifo}": it is a named pipe (FIFO); only a regular file or a new path can be written. Choose another path`);
  assert.ok((await lstat(fifo)).isFIFO());
  assert.deepEqual(await readdir(dir), ['perf.json']); // no temporary file left
});

test('a symbolic link as the export target is refused; the link and its file stay as they were', async (t) => {
  const dir = await tempDir(t);
  const real = join(dir, 'real.json');
  await writeFile(real, 'keep me');
  const link = join(dir, 'link.json');
  await symlink(real, link);
  const err = await exportError(link);
  assert.match(err.message, /: it is a symbolic link \(to ".*real\.json"\); replacing it would replace the link, not the file it points to\. Give the target's own path, or remove the link first$/);
  assert.ok((await lstat(link)).isSymbolicLink());
  assert.equal(await readlink(link), real);
  assert.equal(await readFile(real, 'utf8'), 'keep me');
  // A dangling link is refused too (the rename would still replace the link).
  const dangling = join(dir, 'dangling.json');
  await symlink(join(dir, 'nowhere'), dangling);
  assert.match((await exportError(dangling)).message, /it is a symbolic link/);
  assert.deepEqual((await readdir(dir)).sort(), ['dangling.json', 'link.json', 'real.json']);
});

test('a folder as the export target is refused before anything is written', async (t) => {
  const dir = await tempDir(t);
  const folder = join(dir, 'out');
  await mkdir(folder);
  assert.match((await exportError(folder)).message, /: it is a folder; only a regular file or a new path can be written/);
  assert.deepEqual(await readdir(dir), ['out']);
});

test('replacing an existing export keeps its mode: a 0600 file stays 0600', async (t) => {
  const dir = await tempDir(t);
  for (const mode of [0o600, 0o640, 0o604]) {
    const path = join(dir, `perf-${mode.toString(8)}.csv`);
    await writeFile(path, 'old');
    await chmod(path, mode);
    await writeExport(path, 'csv', sampleDocument(3));
    assert.equal((await stat(path)).mode & 0o777, mode, `mode ${mode.toString(8)}`);
    assert.equal(await readFile(path, 'utf8'), oneStringCsv(sampleDocument(3).metrics));
  }
});

test('writeFileAtomic: a new file gets the mode asked for regardless of umask; refusals carry a code', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'private');
  await writeFileAtomic(path, ['a', Buffer.from('b'), 'c'], { mode: 0o600 });
  assert.equal(await readFile(path, 'utf8'), 'abc');
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  // Async chunk sources are written in order.
  async function* chunks(): AsyncGenerator<string> {
    for (let i = 0; i < 5000; i++) yield `${i}\n`;
  }
  await writeFileAtomic(path, chunks());
  assert.equal(await readFile(path, 'utf8'), Array.from({ length: 5000 }, (_, i) => `${i}\n`).join(''));
  const fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(writeFileAtomic(fifo, 'x'), (e: unknown) => e instanceof WriteFileError && e.code === 'ENOTREG' && e.path === fifo);
  const link = join(dir, 'link');
  await symlink(path, link);
  await assert.rejects(writeFileAtomic(link, 'x'), (e: unknown) => e instanceof WriteFileError && e.code === 'ESYMLINK');
  // A chunk source that fails leaves the old file and no temporary file.
  async function* failing(): AsyncGenerator<string> {
    yield 'partial';
    throw new Error('source broke');
  }
  await assert.rejects(writeFileAtomic(path, failing()), { name: 'WriteFileError', message: `Cannot write "${path}": source broke` });
  assert.equal((await readFile(path, 'utf8')).length, Array.from({ length: 5000 }, (_, i) => `${i}\n`).join('').length);
  assert.deepEqual((await readdir(dir)).sort(), ['link', 'pipe', 'private']);
});
