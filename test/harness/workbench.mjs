// Drives the served workbench as a person would: opens it with the extension under development,
// runs commands from the palette (F1), reads the status bar, and saves screenshots.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, newWorkbenchPage } from './browser.mjs';
import { codeServerEntry, repoRoot, startCodeServer, workbenchUrl } from './codeServer.mjs';

export const EXTENSION_ID = 'model-perf.model-perf-monitor';
export const screenshotDir = join(repoRoot, 'test-output', 'screenshots');

/**
 * Starts code-server and a browser page on a fresh workspace with the extension loaded.
 * Options: settings (user settings), env (server environment), workspace, colorScheme,
 * vsix (install this package as a user would, instead of loading the extension under development).
 * @param {{ settings?: Record<string, unknown>, env?: Record<string, string>, workspace?: string,
 *   colorScheme?: 'dark' | 'light', width?: number, height?: number, vsix?: string }} [options]
 */
export async function openWorkbench({ settings = {}, env = {}, workspace = undefined, colorScheme = 'dark', width = 1400, height = 900, vsix = undefined } = {}) {
  const scratch = mkdtempSync(join(tmpdir(), 'model-perf-e2e-'));
  const folder = workspace ?? join(scratch, 'workspace');
  const extensionsDir = join(scratch, 'extensions');
  if (vsix) {
    execFileSync(process.execPath, [codeServerEntry, '--extensions-dir', extensionsDir, '--user-data-dir', join(scratch, 'user-data'), '--install-extension', vsix, '--force'], { stdio: 'pipe' });
  }
  const server = await startCodeServer({
    workspace: folder,
    userDataDir: join(scratch, 'user-data'),
    extensionsDir,
    env: { MODEL_PERF_HOME: join(scratch, 'model-perf-home'), ...env },
    settings: { 'workbench.colorTheme': colorScheme === 'light' ? 'Default Light Modern' : 'Default Dark Modern', ...settings },
  });
  let browser;
  try {
    browser = await launchBrowser();
    const { page, consoleErrors } = await newWorkbenchPage(browser, { colorScheme, width, height });
    const payload = vsix ? [['skipWelcome', 'true']] : [['extensionDevelopmentPath', repoRoot], ['skipWelcome', 'true']];
    const url = workbenchUrl(server, folder, payload);
    await page.goto(url);
    await page.waitForSelector('#workbench\\.parts\\.statusbar', { timeout: 60000 });
    return {
      page, server, scratch, folder, consoleErrors, url,
      /** Opens the same workspace in another window (tab), with its own extension host. */
      async openAnotherWindow() {
        const other = await page.context().newPage();
        await other.goto(url);
        await other.waitForSelector('#workbench\\.parts\\.statusbar', { timeout: 60000 });
        return other;
      },
      async close() {
        try { await browser.close(); } finally { server.stop(); }
      },
    };
  } catch (err) {
    try { await browser?.close(); } catch { /* ignore */ }
    server.stop();
    throw err;
  }
}

export function statusItemSelector(itemId = 'status') {
  return `[id="${EXTENSION_ID}.${itemId}"]`;
}

/** Waits until the extension's status item shows text matching `re`, and returns that text. */
export async function waitForStatusText(page, re, { itemId = 'status', timeout = 30000 } = {}) {
  const sel = statusItemSelector(itemId);
  const deadline = Date.now() + timeout;
  let last = '';
  while (Date.now() < deadline) {
    last = (await page.locator(sel).first().innerText({ timeout: 2000 }).catch(() => '')).trim();
    if (re.test(last)) return last;
    await page.waitForTimeout(200);
  }
  throw new Error(`status item ${sel} never matched ${re}; last text: "${last}"`);
}

/** Runs a command by its full title ("Model Perf: Show Current Status") from the palette. */
export async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10000 });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: 10000 });
  await page.keyboard.press('Enter');
}

export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** The text of the active editor's visible lines (Monaco renders only what is on screen). */
/**
 * Opens a terminal from the palette, waits for its prompt (and shell integration, which arrives with
 * it), clicks into it as a person would and types `command` with Enter.
 */
export async function typeInNewTerminal(page, command) {
  await runCommand(page, 'Terminal: Create New Terminal');
  const rows = page.locator('.terminal-wrapper.active .xterm-rows, .xterm-rows').first();
  await rows.waitFor({ state: 'visible', timeout: 20000 });
  const deadline = Date.now() + 20000;
  while (!/[$#]\s*$/m.test((await rows.innerText().catch(() => '')).trim()) && Date.now() < deadline) await page.waitForTimeout(200);
  await page.waitForTimeout(1000); // shell integration arrives with the first prompt
  // The terminal's widget layer lies over its rows: click where a person would, on the text area.
  const box = await rows.boundingBox();
  if (!box) throw new Error('the terminal is not on screen');
  await page.mouse.click(box.x + box.width / 2, box.y + Math.min(box.height / 2, 40));
  await page.keyboard.type(command, { delay: 5 });
  await page.keyboard.press('Enter');
}

export async function activeEditorText(page) {
  const lines = page.locator('.editor-group-container.active .monaco-editor .view-lines .view-line');
  await lines.first().waitFor({ timeout: 10000 });
  const items = await lines.evaluateAll((els) => els
    .map((e) => ({ top: parseFloat(e.style.top || '0'), text: e.textContent ?? '' }))
    .sort((a, b) => a.top - b.top)
    .map((l) => l.text.replace(/\u00a0/g, ' ')));
  return items.join('\n');
}

/** The extension's log in the server's user-data folder (the LogOutputChannel writes there). */
export function extensionLog(scratch) {
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('Model Perf.log')) out.push(readFileSync(p, 'utf8'));
    }
  };
  walk(join(scratch, 'user-data'));
  return out.join('\n');
}
