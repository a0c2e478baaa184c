// The one test command: builds, type-checks and lints, then runs every layer and adds them up.
//   unit   node:test over test/unit (plain node, fake clocks, recorded fixtures)
//   host   mocha suites inside a real extension host (code-server + headless Chromium, or desktop
//          VS Code with MODEL_PERF_DESKTOP=1), launched through @vscode/test-electron's runTests
//   e2e    node:test files in test/e2e driving the workbench as a person would (palette, status
//          bar, screenshots under test-output/), and the harness's own must-fail checks
// Ends with one line `N passed, N failed` over all layers; exits non-zero if anything failed.
// Flags: --unit-only, --skip-checks; MODEL_PERF_HOST_SUITES=prefix,… narrows the host suites.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { runHostSuite } from '../test/harness/runHostTests.mjs';

const args = new Set(process.argv.slice(2));
const resultsDir = join('out', 'results');
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });
const layers = [];
const started = Date.now();

function run(cmd, cmdArgs, opts = {}) {
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', ...opts });
  return r.status ?? 1;
}

function step(name, cmd, cmdArgs) {
  const t0 = Date.now();
  const code = run(cmd, cmdArgs);
  console.log(`-- ${name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return code === 0;
}

/** Counts `# pass N` / `# fail N` (and cancelled as failed) from a node:test TAP file. */
function tapCounts(file) {
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  const get = (k) => Number(text.match(new RegExp(`^# ${k} (\\d+)$`, 'm'))?.[1] ?? 0);
  return { passed: get('pass'), failed: get('fail') + get('cancelled') };
}

let checksOk = true;
if (!step('build', process.execPath, ['esbuild.mjs'])) process.exit(1);
if (!step('build host suites', process.execPath, ['scripts/build-tests.mjs'])) process.exit(1);
if (!args.has('--skip-checks')) {
  checksOk = step('typecheck', process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', 'tsconfig.json']) && checksOk;
  checksOk = step('typecheck webview', process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', 'webview/tsconfig.json']) && checksOk;
  checksOk = step('lint', process.execPath, ['node_modules/eslint/bin/eslint.js', 'src', 'webview', 'test', 'scripts', 'esbuild.mjs']) && checksOk;
  // Unused exports, files and dependencies stay at zero (knip.json; tsx is loaded with --import and vsce run by path).
  checksOk = step('unused exports (knip)', process.execPath, ['node_modules/knip/bin/knip.js', '--no-progress']) && checksOk;
}

// unit
{
  const tap = join(resultsDir, 'unit.tap');
  const code = run(process.execPath, ['scripts/run-unit-tests.mjs', '--tap', tap]);
  const c = tapCounts(tap) ?? { passed: 0, failed: 1 };
  if (code !== 0 && c.failed === 0) c.failed = 1; // the runner itself broke
  layers.push({ name: 'unit', ...c });
}

if (!args.has('--unit-only')) {
  // host
  {
    const resultsFile = join(process.cwd(), resultsDir, 'host.json');
    // The extension host inherits this environment: a fake nvidia-smi (one RTX 4090) first on
    // PATH, and a history folder of its own.
    const code = await runHostSuite({
      testsPath: join(process.cwd(), 'out', 'test', 'host', 'index.js'),
      env: {
        MODEL_PERF_TEST_RESULTS: resultsFile,
        PATH: `${join(process.cwd(), 'test', 'fixtures', 'bin')}${delimiter}${process.env.PATH ?? ''}`,
        FAKE_NVIDIA_SMI_SCENARIO: '1gpu',
        MODEL_PERF_HOME: mkdtempSync(join(tmpdir(), 'model-perf-host-home-')),
      },
    });
    let c = { passed: 0, failed: 1 };
    if (existsSync(resultsFile)) {
      const r = JSON.parse(readFileSync(resultsFile, 'utf8'));
      c = { passed: r.passed, failed: r.failed };
      for (const f of r.failures ?? []) console.log(`   host failure: ${f}`);
    } else {
      console.log('   host: the suite wrote no results (it did not start, or the launcher failed)');
    }
    if (code !== 0 && c.failed === 0) c.failed = 1;
    layers.push({ name: 'host', ...c });
  }
  // e2e
  {
    const tap = join(resultsDir, 'e2e.tap');
    const files = readdirSync('test/e2e').filter((f) => /\.test\.m?ts$/.test(f)).map((f) => join('test', 'e2e', f));
    const code = run(process.execPath, ['scripts/run-unit-tests.mjs', '--serial', '--tap', tap, ...files]);
    const c = tapCounts(tap) ?? { passed: 0, failed: 1 };
    if (code !== 0 && c.failed === 0) c.failed = 1;
    layers.push({ name: 'e2e', ...c });
  }
}

if (!checksOk) layers.push({ name: 'checks', passed: 0, failed: 1 });
console.log('');
console.log('layer     passed  failed');
for (const l of layers) console.log(`${l.name.padEnd(8)} ${String(l.passed).padStart(7)} ${String(l.failed).padStart(7)}`);
const passed = layers.reduce((a, l) => a + l.passed, 0);
const failed = layers.reduce((a, l) => a + l.failed, 0);
console.log(`total time ${((Date.now() - started) / 1000).toFixed(0)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
