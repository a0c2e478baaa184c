// A person types a model script into the integrated terminal, with no other step: the status bar
// shows the run's progress (`3/8`) while it runs, and the finished run is in the history the
// dashboard shows. Screenshots: test-output/screenshots/terminal-run.png (mid-run) and
// terminal-run-dashboard.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeToolsPath, repoRoot } from '../harness/codeServer.mjs';
import { openWorkbench, runCommand, screenshot, typeInNewTerminal, waitForStatusText } from '../harness/workbench.mjs';

type Workbench = Awaited<ReturnType<typeof openWorkbench>>;
let wb: Workbench;
const scratch = mkdtempSync(join(tmpdir(), 'model-perf-e2e-tracking-'));
const vramFile = join(scratch, 'vram-mib');
const pidFile = join(scratch, 'pid');
const script = join(repoRoot, 'test', 'fixtures', 'scripts', 'fake_generate.py');

before(async () => {
  writeFileSync(vramFile, '9000');
  wb = await openWorkbench({
    settings: {
      'modelPerf.monitoringIntervalSeconds': 0.5,
      'terminal.integrated.defaultProfile.linux': 'bash',
      'terminal.integrated.profiles.linux': { bash: { path: '/bin/bash' } },
    },
    env: {
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

test('a script typed into the terminal shows its progress in the status bar and lands in the history', async () => {
  const { page } = wb;
  await waitForStatusText(page, /GPU 97%/, { timeout: 60000 });
  // Open a terminal as a person would, after the extension is up (its environment reaches it).
  await typeInNewTerminal(page, `python3 ${script} --steps 8 --step-seconds 0.7 --resolution 720p`);

  const text = await waitForStatusText(page, /\b[3-6]\/8\b/, { timeout: 30000 });
  // `fake_generate.py@14:05:03` is 25 characters: the status bar keeps the time and shortens the name.
  assert.match(text, /fake_generate\.…@\d\d:\d\d:\d\d \d+:\d\d · [3-6]\/8( ETA \d+:\d\d)?/);
  await screenshot(page, 'terminal-run');

  // The run ends: the status bar drops the task, and the dashboard's history lists it.
  await waitForStatusText(page, /^(?![\s\S]*fake_generate)[\s\S]*GPU 97%/, { timeout: 30000 });
  await runCommand(page, 'Model Perf: Open Dashboard');
  let found = false;
  const end = Date.now() + 30000;
  while (!found && Date.now() < end) {
    for (const frame of page.frames()) {
      const row = frame.locator('tr', { hasText: /fake_generate\.py@/ }).first();
      if ((await row.count().catch(() => 0)) === 0) continue;
      const rowText = await row.innerText().catch(() => '');
      assert.match(rowText, /succeeded/i, `the history row: ${rowText}`);
      assert.match(rowText, /720p/, `the history row: ${rowText}`);
      await row.scrollIntoViewIfNeeded();
      found = true;
      break;
    }
    if (!found) await page.waitForTimeout(500);
  }
  assert.ok(found, 'the dashboard lists the finished run');
  await screenshot(page, 'terminal-run-dashboard');
});
