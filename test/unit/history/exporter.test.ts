import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSV_COLUMNS, ExportError, csvCell, toCsv, writeExport, type ExportDocument } from '../../../src/core/history/exporter';
import { MemoryHistoryStore } from '../../../src/core/history/historyStore';
import { PerformanceMonitor } from '../../../src/core/engine/monitor';
import { FakeClock } from '../helpers/fakeClock';
import { FakeGpuProvider, FakeSystemSampler, makeTask } from '../engine/fakes';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-export-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function monitorWithTasks() {
  const clock = new FakeClock();
  const monitor = new PerformanceMonitor({}, { clock, systemSampler: new FakeSystemSampler(), gpuProvider: new FakeGpuProvider(true, () => clock.now()), historyStore: new MemoryHistoryStore() });
  await monitor.startMonitoring();
  monitor.startTaskMonitoring('ok', '=HYPERLINK("http://evil")', '1280x720', 20, { optimizations: ['a,b', 'say "hi"'] });
  await clock.advance(2000);
  await monitor.completeTaskMonitoring('ok');
  monitor.startTaskMonitoring('bad', 'wan', '1080p', 20);
  await clock.advance(1000);
  await monitor.completeTaskMonitoring('bad', false, '+oom');
  await monitor.stopMonitoring();
  return { monitor, clock };
}

test('JSON export: the original top-level keys plus schema version and machine inventory', async (t) => {
  const dir = await tempDir(t);
  const { monitor, clock } = await monitorWithTasks();
  const path = join(dir, 'perf.json');
  assert.deepEqual(await monitor.exportMetrics(path), { path, format: 'json', metricsCount: 2 });
  const doc = JSON.parse(await readFile(path, 'utf8')) as ExportDocument;
  assert.deepEqual(Object.keys(doc).sort(), ['export_timestamp', 'history_schema_version', 'machine', 'metrics', 'metrics_count', 'performance_analysis', 'schema_version', 'time_window_hours'].sort());
  assert.equal(doc.export_timestamp, new Date(clock.now()).toISOString());
  assert.equal(doc.time_window_hours, 24);
  assert.equal(doc.metrics_count, 2);
  assert.equal(doc.schema_version, 1);
  assert.deepEqual(doc.metrics.map((m) => [m.taskId, m.status]), [['ok', 'succeeded'], ['bad', 'failed']]);
  assert.equal(doc.performance_analysis.successRate, 0.5);
  assert.equal(doc.machine.gpuProvider, 'nvidia');
  assert.deepEqual(doc.machine.gpus, [{ index: 0, uuid: 'GPU-0', name: 'NVIDIA Test', vramTotalMb: 24_000 }]);
  assert.ok(doc.machine.cpuCount > 0);
  assert.deepEqual(await readdir(dir), ['perf.json']); // no temporary file left behind
  await assert.rejects(monitor.exportMetrics(path, 0), { message: 'timeWindowHours must be a number greater than 0 (got 0)' });
});

test('CSV export: every task field, quoted where needed, formulas neutralised', async (t) => {
  const dir = await tempDir(t);
  const { monitor } = await monitorWithTasks();
  const path = join(dir, 'perf.csv');
  assert.deepEqual(await monitor.exportMetrics(path), { path, format: 'csv', metricsCount: 2 });
  const lines = (await readFile(path, 'utf8')).split('\r\n');
  assert.equal(lines[0], CSV_COLUMNS.join(','));
  assert.equal(lines.length, 4); // header, two rows, final empty
  assert.ok(lines[1]?.startsWith(`ok,"'=HYPERLINK(""http://evil"")",1280x720,720p,20,succeeded,true,,`), lines[1]);
  assert.ok(lines[1]?.includes(`,"a,b;say ""hi""",`), lines[1]);
  assert.ok(lines[2]?.startsWith("bad,wan,1080p,1080p,20,failed,false,'+oom,"), lines[2]);
  // Same export to a .json path but with format csv forces CSV.
  const forced = join(dir, 'forced.json');
  assert.equal((await monitor.exportMetrics(forced, 24, 'csv')).format, 'csv');
  assert.ok((await readFile(forced, 'utf8')).startsWith('taskId,'));
});

test('csvCell: nulls empty, numbers kept (negative too), formula prefixes guarded', () => {
  assert.equal(csvCell(null), '');
  assert.equal(csvCell(-3.5), '-3.5');
  assert.equal(csvCell(Number.NaN), '');
  assert.equal(csvCell(true), 'true');
  assert.equal(csvCell('=1+1'), "'=1+1");
  assert.equal(csvCell('-cmd'), "'-cmd");
  assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(csvCell('\tx'), "'\tx");
  assert.equal(csvCell('a\nb'), '"a\nb"');
  assert.equal(csvCell(['x', '=y']), 'x;=y');
  assert.equal(csvCell(['=x']), "'=x");
  assert.equal(toCsv([]), `${CSV_COLUMNS.join(',')}\r\n`);
  assert.equal(toCsv([makeTask({ taskId: 'k' })]).split('\r\n')[1]?.split(',').length, CSV_COLUMNS.length);
});

/** The export must fail with the path and the reason, and leave nothing behind. */
async function expectExportFailure(monitor: PerformanceMonitor, path: string, reason: string): Promise<void> {
  const err = await monitor.exportMetrics(path).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ExportError, `expected an ExportError for ${path}, got ${String(err)}`);
  assert.equal(err.message, `Export failed: cannot write "${path}": ${reason}`);
  assert.equal(err.path, path);
}

test('an export into a place that cannot be written names the path and why (works as root too)', async (t) => {
  const dir = await tempDir(t);
  const { monitor } = await monitorWithTasks();
  // Root ignores permission bits, so use paths that fail for everyone.
  const file = join(dir, 'a-regular-file');
  await writeFile(file, 'x');
  await expectExportFailure(monitor, join(file, 'perf.json'), 'part of the path is a file, not a folder');
  await expectExportFailure(monitor, join(dir, 'no', 'such', 'folder', 'perf.json'), 'the folder does not exist');
  // The target is a folder: the rename fails after the temp file was written; the temp file is removed.
  const target = join(dir, 'is-a-folder');
  await mkdir(target);
  const err = await monitor.exportMetrics(target).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ExportError);
  assert.match(err.message, new RegExp(`^Export failed: cannot write "${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}": `));
  assert.deepEqual((await readdir(dir)).sort(), ['a-regular-file', 'is-a-folder']);
  assert.deepEqual(await readdir(target), []);
  // Not root: a real read-only folder must fail too.
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) {
    const ro = join(dir, 'read-only');
    await mkdir(ro);
    await chmod(ro, 0o500);
    t.after(() => chmod(ro, 0o700));
    await expectExportFailure(monitor, join(ro, 'perf.json'), 'permission denied');
  }
});

test('an existing export is replaced whole, never truncated in place', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'perf.json');
  await writeFile(path, 'old contents that are longer than nothing');
  const doc = { metrics: [] } as unknown as ExportDocument;
  await writeExport(path, 'json', doc);
  assert.equal(await readFile(path, 'utf8'), `${JSON.stringify(doc, null, 2)}\n`);
  await assert.rejects(writeExport(path, 'xml' as never, doc), { name: 'ExportError', message: 'Export failed: format must be "json" or "csv" (got "xml")' });
  await assert.rejects(writeExport('  ', 'json', doc), { message: 'Export failed: no file path was given' });
});
