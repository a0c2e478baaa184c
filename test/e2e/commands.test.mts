// A person uses the extension from the palette with a (fake) NVIDIA GPU: the status bar follows
// the GPU, tasks are started, completed and cancelled through the quick inputs, metrics are
// exported through the save dialog, the history is cleared after a confirmation.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeToolsPath } from '../harness/codeServer.mjs';
import { openWorkbench, runCommand, screenshot, statusItemSelector, waitForStatusText } from '../harness/workbench.mjs';
import { waitUntil } from '../unit/helpers/waitUntil.js';

type Workbench = Awaited<ReturnType<typeof openWorkbench>>;
let wb: Workbench;
const scratch = mkdtempSync(join(tmpdir(), 'model-perf-e2e-cmd-'));
const vramFile = join(scratch, 'vram-mib');

before(async () => {
  writeFileSync(vramFile, '12000');
  wb = await openWorkbench({
    settings: { 'modelPerf.monitoringIntervalSeconds': 0.5 },
    env: {
      PATH: fakeToolsPath,
      FAKE_NVIDIA_SMI_SCENARIO: '1gpu',
      FAKE_NVIDIA_SMI_VRAM_FILE: vramFile,
    },
  });
});

after(async () => {
  await wb?.close();
});

async function quickInput(text: string, opts: { replace?: boolean } = {}): Promise<void> {
  const input = wb.page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10000 });
  if (opts.replace) await input.fill(text);
  else await input.pressSequentially(text);
  // Enter only once the box holds the text (a pick list filters on it), and the next step only
  // once this one is taken: the widget closes or shows the next step's own value. Conditions,
  // not fixed pauses, so a slow machine waits longer instead of typing into the wrong step.
  const value = () => input.inputValue({ timeout: 2000 }).catch(() => null);
  await waitUntil(`the quick input to hold "${text}"`, async () => (await value()) === text, { timeoutMs: 10000 });
  const taken = async () => !(await input.isVisible()) || (await value()) !== text;
  await wb.page.keyboard.press('Enter');
  // The save dialog may still be listing the typed path's folder and ignore the first Enter, as a
  // person sees: then Enter is pressed again, at most twice more.
  for (let again = 0; again < 2 && opts.replace; again++) {
    const done = await waitUntil('the step to be taken', taken, { timeoutMs: 5000 }).catch(() => false);
    if (done) return;
    await wb.page.keyboard.press('Enter');
  }
  await waitUntil(`the quick input to take "${text}"`, taken, { timeoutMs: 30000 });
}

async function notification(re: RegExp): Promise<string> {
  const toast = wb.page.locator('.notification-toast', { hasText: re }).first();
  await toast.waitFor({ state: 'visible', timeout: 15000 });
  return (await toast.innerText()).trim();
}

async function statusClasses(): Promise<string> {
  return (await wb.page.locator(statusItemSelector()).first().getAttribute('class')) ?? '';
}

test('the status bar follows the fake GPU: figures, and the warning colour when VRAM is nearly full', async () => {
  const text = await waitForStatusText(wb.page, /GPU 97% · 11\.7\/24\.0 GB/, { timeout: 60000 });
  assert.equal(text, 'GPU 97% · 11.7/24.0 GB');
  assert.doesNotMatch(await statusClasses(), /warning-kind|error-kind/);
  writeFileSync(vramFile, '22500'); // 91.6 % of 24564 MiB: over the 90 % threshold
  await waitForStatusText(wb.page, /GPU 97% · 22\.0\/24\.0 GB/, { timeout: 15000 });
  assert.match(await statusClasses(), /warning-kind/);
  await screenshot(wb.page, 'status-bar-vram-warning');
  writeFileSync(vramFile, '12000');
  await waitForStatusText(wb.page, /11\.7\/24\.0 GB/, { timeout: 15000 });
});

test('the tooltip shows a table per GPU and links to the dashboard and export', async () => {
  await wb.page.locator(statusItemSelector()).first().hover();
  const hover = wb.page.locator('.monaco-hover, .workbench-hover', { hasText: 'NVIDIA GeForce RTX 4090' }).first();
  await hover.waitFor({ state: 'visible', timeout: 10000 });
  const text = await hover.innerText();
  assert.match(text, /NVIDIA GeForce RTX 4090/);
  assert.match(text, /97%/);
  assert.match(text, /71 °C/);
  assert.match(text, /Dashboard/);
  assert.match(text, /Export/);
  await screenshot(wb.page, 'status-bar-tooltip');
  await wb.page.mouse.move(700, 400);
});

test('Start Task… from the palette starts a task that the status bar shows', async () => {
  await runCommand(wb.page, 'Model Perf: Start Task…');
  await quickInput('e2e-run', { replace: true });
  await quickInput('sdxl');
  await quickInput('1280x720', { replace: true });
  await quickInput('30', { replace: true });
  await notification(/task e2e-run started/);
  await waitForStatusText(wb.page, /\$?\(?run\)? ?e2e-run \d+:\d\d|e2e-run \d+:\d\d/, { timeout: 10000 });
  await screenshot(wb.page, 'status-bar-active-task');
});

test('Complete Task… picks the running task and records its outcome', async () => {
  await wb.page.waitForTimeout(1000);
  await runCommand(wb.page, 'Model Perf: Complete Task…');
  await quickInput('e2e-run');
  await quickInput('Succeeded');
  const text = await notification(/e2e-run: succeeded in/);
  assert.match(text, /peak VRAM 11\.7 GB/);
});

test('Cancel Task… picks the running task and cancels it', async () => {
  await runCommand(wb.page, 'Model Perf: Start Task…');
  await quickInput('e2e-cancel', { replace: true });
  await quickInput('wan');
  await quickInput('1080p', { replace: true });
  await quickInput('10', { replace: true });
  await notification(/task e2e-cancel started/);
  await runCommand(wb.page, 'Model Perf: Cancel Task…');
  await quickInput('e2e-cancel');
  await notification(/task e2e-cancel cancelled/);
});

test('Export Metrics… writes the file chosen in the save dialog and offers to open it', async () => {
  const target = join(scratch, 'export.json');
  await runCommand(wb.page, 'Model Perf: Export Metrics…');
  await quickInput('Last hour');
  await quickInput('JSON');
  // The web workbench's save dialog is a path box in the quick input. It fills in its default
  // path after it opens: replace that, not the empty box it shows first (it would overwrite ours).
  const pathBox = wb.page.locator('.quick-input-widget input');
  await waitUntil('the save dialog to offer its default file', async () => /model-perf-[\d-]+\.json$/.test(await pathBox.inputValue({ timeout: 2000 }).catch(() => '')), { timeoutMs: 15000 });
  await quickInput(target, { replace: true });
  const text = await notification(/exported 2 task\(s\) to/);
  assert.match(text, /Open/);
  assert.ok(text.includes(target), `the notification names the chosen file: ${text}`);
  assert.ok(existsSync(target), `no file at ${target}; the notification said: ${text}`);
  const doc = JSON.parse(readFileSync(target, 'utf8'));
  assert.equal(doc.metrics_count, 2);
  assert.deepEqual(doc.metrics.map((m: { taskId: string; status: string }) => `${m.taskId}:${m.status}`).sort(), ['e2e-cancel:cancelled', 'e2e-run:succeeded']);
  assert.equal(doc.performance_analysis.successRate, 1);
});

test('Stop Monitoring and Start Monitoring from the palette', async () => {
  await runCommand(wb.page, 'Model Perf: Stop Monitoring');
  await waitForStatusText(wb.page, /^Model Perf$/, { timeout: 10000 });
  await runCommand(wb.page, 'Model Perf: Start Monitoring');
  await waitForStatusText(wb.page, /GPU 97%/, { timeout: 15000 });
});

test('Clear History… asks first, then empties the history', async () => {
  await runCommand(wb.page, 'Model Perf: Clear History…');
  const dialog = wb.page.locator('.monaco-dialog-box');
  await dialog.waitFor({ state: 'visible', timeout: 10000 });
  assert.match(await dialog.innerText(), /Delete all 2 finished task\(s\) from the history/);
  await screenshot(wb.page, 'clear-history-confirm');
  await dialog.locator('.monaco-button', { hasText: 'Delete' }).first().click();
  await notification(/2 task\(s\) deleted from the history/);
  await runCommand(wb.page, 'Model Perf: Clear History…');
  await notification(/the history is already empty/);
});

test('Show Log shows the extension\'s log with what happened', async () => {
  await runCommand(wb.page, 'Model Perf: Show Log');
  const output = wb.page.locator('.panel .monaco-editor .view-lines').first();
  await output.waitFor({ state: 'visible', timeout: 10000 });
  // The editor fills in after it shows, and draws only the lines in view: go to each end of the
  // log and wait for the line this test looks for there, not a fixed time.
  const read = async () => (await output.innerText().catch(() => '')).replace(/\u00a0/g, ' ');
  const seeAt = async (key: string, line: RegExp): Promise<string> => {
    await output.click();
    await wb.page.keyboard.press(key);
    return waitUntil(`the log to show ${line}`, async () => {
      const text = await read();
      return line.test(text) ? text : null;
    }, { timeoutMs: 30000 });
  };
  await seeAt('Control+End', /Task completed: e2e-run: succeeded/);
  await seeAt('Control+Home', /Model Performance Monitor started in \d+ ms/);
  await screenshot(wb.page, 'show-log');
  assert.deepEqual(wb.consoleErrors(), []);
});
