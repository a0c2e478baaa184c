// The extension as users get it: the .vsix from `npm run package`, installed into code-server
// with no development path. A .vscodeignore that drops a file the extension needs fails here.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../harness/codeServer.mjs';
import { openWorkbench, runCommand, screenshot, waitForStatusText } from '../harness/workbench.mjs';

const vsix = join(repoRoot, 'dist-package', 'model-perf-monitor.vsix');
let wb: Awaited<ReturnType<typeof openWorkbench>>;

before(async () => {
  execFileSync(process.execPath, ['scripts/package.mjs'], { cwd: repoRoot, stdio: 'pipe' });
  // Put the development build (with source maps) back for the other tests.
  execFileSync(process.execPath, ['esbuild.mjs'], { cwd: repoRoot, stdio: 'pipe' });
  // The NVML backend: koffi is required from the package's dist/node_modules; with no NVIDIA
  // library on this machine it falls back to the stream (the fake nvidia-smi), and nothing breaks.
  wb = await openWorkbench({ vsix, settings: { 'modelPerf.monitoringIntervalSeconds': 1, 'modelPerf.gpu.backend': 'nvml' } });
});

after(async () => {
  await wb?.close();
});

test('the packaged extension is small and runs from the .vsix: status bar and palette', async () => {
  // Bundles (extension, CLI and dashboard: about 0.6 MiB compressed), the README's ten screenshots
  // (about 0.8 MiB) and koffi's binaries for the NVML backend (Linux x64/arm64, Windows x64: about
  // 1.3 MiB compressed): 2.5 MiB on 2026-11-29. The budget leaves room for a few more pictures, not
  // for another native binary or an unbundled dependency.
  assert.ok(statSync(vsix).size < 3 * 1024 * 1024, 'the .vsix stays under 3 MiB');
  await waitForStatusText(wb.page, /CPU (\d+%|N\/A) · RAM/, { timeout: 60000 });
  await runCommand(wb.page, 'Model Perf: Show Current Status');
  await wb.page.waitForSelector('.tab[aria-label*="Current Status"]', { timeout: 15000 });
  await screenshot(wb.page, 'packaged-extension');
  assert.deepEqual(wb.consoleErrors(), []);
});
