// A long run goes on in a terminal while the person reloads the window ("Developer: Reload
// Window"; terminals are persistent by default, so the run survives). The new extension host
// adopts the run from the terminal's process tree: the status bar shows its progress again, and
// when it ends it is recorded once, as adopted, with its real outcome. Screenshot:
// test-output/screenshots/reload-adopted.png (after the reload, mid-run).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeToolsPath, repoRoot } from '../harness/codeServer.mjs';
import { historyRecords } from '../unit/helpers/historyFiles.js';
import { extensionLog, openWorkbench, runCommand, screenshot, typeInNewTerminal, waitForStatusText } from '../harness/workbench.mjs';

type Workbench = Awaited<ReturnType<typeof openWorkbench>>;
let wb: Workbench;
const scratch = mkdtempSync(join(tmpdir(), 'model-perf-e2e-reload-'));
const home = join(scratch, 'home');
const vramFile = join(scratch, 'vram-mib');
const pidFile = join(scratch, 'pid');
const script = join(repoRoot, 'test', 'fixtures', 'scripts', 'fake_generate.py');
const STEPS = 80;

before(async () => {
  writeFileSync(vramFile, '9000');
  wb = await openWorkbench({
    settings: {
      'modelPerf.monitoringIntervalSeconds': 0.5,
      'terminal.integrated.defaultProfile.linux': 'bash',
      'terminal.integrated.profiles.linux': { bash: { path: '/bin/bash' } },
      'terminal.integrated.enablePersistentSessions': true,
    },
    env: {
      MODEL_PERF_HOME: home,
      PATH: fakeToolsPath,
      FAKE_NVIDIA_SMI_SCENARIO: '1gpu',
      FAKE_NVIDIA_SMI_VRAM_FILE: vramFile,
      FAKE_NVIDIA_SMI_PID_FILE: pidFile,
    },
  });
});

after(async () => {
  await wb?.close();
});

test('a run going on in a terminal survives Reload Window: adopted, shown live again, recorded once with its outcome', async () => {
  const { page } = wb;
  await waitForStatusText(page, /GPU 97%/, { timeout: 60000 });
  await typeInNewTerminal(page, `python3 ${script} --steps ${STEPS} --step-seconds 0.5 --resolution 720p`);
  await waitForStatusText(page, new RegExp(`\\b[2-9]/${STEPS}\\b`), { timeout: 30000 });

  // The person reloads the window; the run goes on in the persistent terminal.
  await runCommand(page, 'Developer: Reload Window');
  await page.waitForEvent('load', { timeout: 30_000 });
  await page.waitForSelector('#workbench\\.parts\\.statusbar', { timeout: 60_000 });
  // The new host adopts it: the run is in the status bar again (its output so far was drawn before
  // this host existed, so its progress may be unknown until the next redraw reaches the terminal).
  const text = await waitForStatusText(page, /fake_generate/, { timeout: 60000 }).catch((err: unknown) => {
    throw new Error(`${String(err)}\nextension log:\n${extensionLog(wb.scratch).slice(-4000)}`);
  });
  assert.match(text, /fake_generate\.…@\d\d:\d\d:\d\d \d+:\d\d/);
  await screenshot(page, 'reload-adopted');

  // It ends: recorded once, adopted, with the outcome its exit gave (0: succeeded), not `interrupted`.
  await waitForStatusText(page, /^(?![\s\S]*fake_generate)[\s\S]*GPU 97%/, { timeout: 60000 });
  let runs: Awaited<ReturnType<typeof historyRecords>> = [];
  const end = Date.now() + 20000;
  while (Date.now() < end) {
    runs = (await historyRecords(home)).filter((t) => /fake_generate/.test(t.taskId));
    if (runs.length > 0 && runs.every((t) => t.status !== 'running')) break;
    await page.waitForTimeout(250);
  }
  assert.equal(runs.length, 1, `recorded once: ${JSON.stringify(runs.map((t) => [t.taskId, t.status, t.adopted]))}`);
  const [run] = runs;
  assert.equal(run?.adopted, true, 'marked adopted');
  // Its exit code comes through shell integration (0: succeeded); where it cannot, the outcome is
  // said to be unknown rather than guessed.
  assert.ok(run?.status === 'succeeded' || run?.errorCategory === 'unknown', `outcome: ${run?.status} ${run?.errorCategory}`);
});
