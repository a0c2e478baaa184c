// `model-perf run` beside a window, started outside the window's own tracking (a plain child of
// this test, as from another terminal or an ssh session): the window's status bar shows the run's
// progress live, like its own terminal runs, and the run starts no nvidia-smi of its own (the
// window samples the machine; the fake counts every spawn). Screenshot:
// test-output/screenshots/cli-run-beside.png and cli-run-beside-dashboard.png (mid-run). Then one
// steady reading per progress format: recorded nested tqdm, nested rich and Keras 2 bars replayed
// through `run`, the status bar read every 100 ms while each goes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeToolsPath, repoRoot } from '../harness/codeServer.mjs';
import { historyRecords } from '../unit/helpers/historyFiles.js';
import type { Frame, Page } from 'playwright-core';
import { openWorkbench, runCommand, screenshot, statusItemSelector, waitForStatusText } from '../harness/workbench.mjs';

type Workbench = Awaited<ReturnType<typeof openWorkbench>>;
let wb: Workbench;
const scratch = mkdtempSync(join(tmpdir(), 'model-perf-e2e-cli-run-'));
const home = join(scratch, 'home');
const vramFile = join(scratch, 'vram-mib');
const cliLog = join(scratch, 'cli-nvidia-smi.jsonl');
// The script writes its pid here; the window's fake nvidia-smi then lists it holding the VRAM.
const pidFile = join(scratch, 'pid');
const script = join(repoRoot, 'test', 'fixtures', 'scripts', 'fake_generate.py');
const PATH = fakeToolsPath;

before(async () => {
  writeFileSync(vramFile, '6000');
  wb = await openWorkbench({
    settings: { 'modelPerf.monitoringIntervalSeconds': 1 },
    env: { PATH, FAKE_NVIDIA_SMI_SCENARIO: '1gpu', FAKE_NVIDIA_SMI_VRAM_FILE: vramFile, FAKE_NVIDIA_SMI_PID_FILE: pidFile, MODEL_PERF_HOME: home },
  });
});

/** The dashboard's document: the nested webview iframe whose page holds its heading. */
async function dashboardFrame(page: Page): Promise<Frame> {
  for (let i = 0; i < 120; i++) {
    for (const f of page.frames()) {
      const heading = await f.locator('#app h1').first().textContent({ timeout: 250 }).catch(() => null);
      if (heading === 'Model Performance') return f;
    }
    await page.waitForTimeout(250);
  }
  throw new Error('the dashboard webview never appeared');
}

after(async () => {
  await wb?.close();
});

test("a model-perf run outside the window: its progress in the window's status bar, live; no nvidia-smi of its own", async () => {
  const { page } = wb;
  await waitForStatusText(page, /GPU 97%/, { timeout: 60000 });
  const run = spawn(process.execPath, [join(repoRoot, 'dist', 'cli.js'), 'run', '--task-id', 'cli-beside', '--', 'python3', script, '--steps', '16', '--step-seconds', '0.8'], {
    cwd: scratch,
    env: { ...process.env, PATH, MODEL_PERF_HOME: home, FAKE_NVIDIA_SMI_SCENARIO: '1gpu', FAKE_NVIDIA_SMI_PID_FILE: pidFile, FAKE_NVIDIA_SMI_LOG: cliLog },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  run.stdout.on('data', (c: Buffer) => (output += c.toString()));
  run.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => run.on('close', resolve));
  try {
    // Two different readings while it runs: the window follows it, not a single picture of it.
    const first = await waitForStatusText(page, /cli-beside \d+:\d\d · ([2-5])\/16/, { timeout: 30000 });
    const firstStep = Number(/ (\d+)\/16/.exec(first)?.[1]);
    const later = await waitForStatusText(page, new RegExp(`cli-beside \\d+:\\d\\d · (?!${firstStep}/)([6-9]|1[0-5])/16`), { timeout: 30000 });
    assert.match(later, /GPU 97% · 5\.9\/24\.0 GB[\s\S]*cli-beside/);
    await screenshot(page, 'cli-run-beside');
    // The dashboard lists it among the running tasks, with its progress.
    await runCommand(page, 'Model Perf: Open Dashboard');
    const frame = await dashboardFrame(page);
    const card = frame.locator('.active-task', { hasText: 'cli-beside' }).first();
    await card.waitFor({ state: 'visible', timeout: 20000 });
    await card.scrollIntoViewIfNeeded();
    const cardText = await card.innerText();
    assert.match(cardText, /\d+ ?%/, 'its progress is shown');
    assert.match(cardText, new RegExp(`outside this window \\(model-perf run or another window, pid ${run.pid}\\)`), 'marked as not the window\'s own, with its pid');
    await screenshot(page, 'cli-run-beside-dashboard');
  } finally {
    assert.equal(await exited, 0, output);
  }
  // Ended: the window drops it, and the run's own record is in the shared history.
  await waitForStatusText(page, /^(?![\s\S]*cli-beside)[\s\S]*GPU 97%/, { timeout: 20000 });
  assert.match(output, /task "cli-beside" succeeded/);
  let spawns = '';
  try {
    spawns = readFileSync(cliLog, 'utf8');
  } catch {
    // no log: the fake was never started with it
  }
  assert.equal(spawns, '', 'model-perf run started no nvidia-smi beside the window');
  // Its own VRAM came from the per-process list the window published (the window's query runs
  // while any task on the machine runs).
  const [task] = await historyRecords(home);
  assert.equal(task?.taskId, 'cli-beside');
  assert.equal(task?.vramScope, 'processTree');
  assert.equal(task?.processTreePeakVramUsageMb, 6000);
});

/** Starts `model-perf run --task-id ID -- node replay_output.cjs FIXTURE` beside the window; resolves with its exit code and output. */
function replayRun(id: string, fixture: string): Promise<{ code: number | null; output: string }> {
  const replay = join(repoRoot, 'test', 'fixtures', 'scripts', 'replay_output.cjs');
  const child = spawn(process.execPath, [join(repoRoot, 'dist', 'cli.js'), 'run', '--task-id', id, '--', process.execPath, replay, join(repoRoot, 'test', 'fixtures', 'progress', fixture), '6'], {
    cwd: scratch,
    env: { ...process.env, PATH, MODEL_PERF_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

test('one steady reading per progress format: nested tqdm, nested rich and Keras 2 bars never flip between bars', async (t) => {
  const { page } = wb;
  // Each format: which readings may show (the outer bar only: its total, or `%` for rich's
  // percent-only default columns, shown as `43 %`, never `43/100`), and whether its count only grows.
  const formats = [
    { id: 'steady-tqdm', fixture: 'tqdm-nested.pty.txt', total: '3', growing: true },
    { id: 'steady-rich', fixture: 'rich-nested.pty.txt', total: '%', growing: true },
    { id: 'steady-keras', fixture: 'keras2.tty.txt', total: '50', growing: false },
  ];
  for (const f of formats) {
    const done = replayRun(f.id, f.fixture);
    let finished = false;
    void done.then(() => (finished = true));
    const readings: string[] = [];
    while (!finished) {
      const text = (await page.locator(statusItemSelector()).first().innerText({ timeout: 2000 }).catch(() => '')).replace(/\s+/g, ' ');
      const reading = new RegExp(`${f.id} \\d+:\\d\\d · (\\d+(?:/\\d+| %)?)`).exec(text)?.[1];
      if (reading && readings.at(-1) !== reading) readings.push(reading);
      await page.waitForTimeout(100);
    }
    const { code, output } = await done;
    assert.equal(code, 0, output);
    t.diagnostic(`${f.id}: ${readings.join(' ')}`);
    assert.ok(readings.length >= 2, `${f.id}: the status bar followed the run (${readings.join(' ')})`);
    const parsed = readings.map((r) => /^(\d+)(?:\/(\d+)| (%))?/.exec(r)).map((m) => ({ done: Number(m?.[1]), total: m?.[2] ?? m?.[3] ?? null }));
    assert.ok(parsed.every((p) => p.total === f.total), `${f.id}: one bar only (${readings.join(' ')})`);
    if (f.growing) assert.ok(parsed.every((p, i) => i === 0 || p.done >= (parsed[i - 1] as { done: number }).done), `${f.id}: never backwards (${readings.join(' ')})`);
  }
});
