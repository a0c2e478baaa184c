// Entry point the extension host loads (`extensionTestsPath`): runs every bundled host suite
// (out/test/host/*.test.js) with mocha inside the real extension host, and writes the counts to
// $MODEL_PERF_TEST_RESULTS so the test command can add them to its summary.
import Mocha from 'mocha';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60000, color: false, reporter: 'spec' });
  const only = process.env.MODEL_PERF_HOST_SUITES?.split(',').filter(Boolean);
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.js'))
    .filter((f) => !only || only.some((o) => f.startsWith(o)))
    .sort();
  for (const f of files) mocha.addFile(join(__dirname, f));

  const counts = { passed: 0, failed: 0, failures: [] as string[] };
  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => resolve());
    runner.on('pass', () => { counts.passed++; });
    runner.on('fail', (test, err: Error) => {
      counts.failed++;
      counts.failures.push(`${test.fullTitle()}: ${err.message}`);
    });
  });
  if (files.length === 0) counts.failures.push('no host suites found');
  const resultsFile = process.env.MODEL_PERF_TEST_RESULTS;
  if (resultsFile) writeFileSync(resultsFile, JSON.stringify(counts));
  if (counts.failed > 0 || files.length === 0) {
    throw new Error(`${counts.failed} host test(s) failed`);
  }
}
