#!/usr/bin/env node
// A stand-in for the desktop VS Code executable, for @vscode/test-electron's runTests
// (`vscodeExecutablePath`). It takes the same arguments (--extensionDevelopmentPath=…,
// --extensionTestsPath=…, --user-data-dir=…, --extensions-dir=…, a workspace folder), starts
// code-server on loopback, opens the workbench in headless Chromium with those arguments as the
// `payload`, and exits with the suite's code. It always stops the server and the browser: on
// success, failure, a hung suite (MODEL_PERF_TEST_TIMEOUT_MS, default 180 s: exit 124 with a
// message) and SIGINT/SIGTERM.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { format } from 'node:util';
import { join, resolve } from 'node:path';
import { launchBrowser, newWorkbenchPage } from './browser.mjs';
import { startCodeServer, workbenchUrl } from './codeServer.mjs';

const opts = { devPaths: [], testsPath: undefined, userDataDir: undefined, extensionsDir: undefined, folder: undefined };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const [key, inline] = a.startsWith('--') ? a.slice(2).split(/=(.*)/s, 2) : [undefined, undefined];
  const value = () => (inline !== undefined ? inline : argv[++i]);
  switch (key) {
    case 'extensionDevelopmentPath': opts.devPaths.push(value()); break;
    case 'extensionTestsPath': opts.testsPath = value(); break;
    case 'user-data-dir': opts.userDataDir = value(); break;
    case 'extensions-dir': opts.extensionsDir = value(); break;
    case undefined: opts.folder = a; break;
    default: break; // desktop-only flags (--no-sandbox, --disable-updates, …) mean nothing here
  }
}

const timeoutMs = Number(process.env.MODEL_PERF_TEST_TIMEOUT_MS ?? 180000);
const scratch = mkdtempSync(join(tmpdir(), 'model-perf-launcher-'));
let server;
let browser;
let exiting = false;

async function cleanup() {
  try { await browser?.close(); } catch { /* already closed */ }
  server?.stop();
}

async function finish(code, message) {
  if (exiting) return;
  exiting = true;
  if (message) console.error(`[launcher] ${message}`);
  await cleanup();
  process.exit(code);
}

process.on('SIGINT', () => finish(130, 'interrupted; stopped code-server and the browser'));
process.on('SIGTERM', () => finish(143, 'terminated; stopped code-server and the browser'));

async function main() {
  if (!opts.testsPath) throw new Error('no --extensionTestsPath given');
  const folder = resolve(opts.folder ?? join(scratch, 'workspace'));
  server = await startCodeServer({
    workspace: folder,
    userDataDir: opts.userDataDir ?? join(scratch, 'user-data'),
    extensionsDir: opts.extensionsDir ?? join(scratch, 'extensions'),
  });
  browser = await launchBrowser();
  const { page } = await newWorkbenchPage(browser);
  const done = new Promise((resolveDone) => {
    page.exposeFunction('codeAutomationExit', (code) => resolveDone(Number(code)));
  });
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    const line = format(...(Array.isArray(args) ? args : [args]));
    (type === 'error' ? console.error : console.log)(line);
  });
  const payload = [
    ...opts.devPaths.map((p) => ['extensionDevelopmentPath', p]),
    ['extensionTestsPath', opts.testsPath],
    ['skipWelcome', 'true'],
    ['skipReleaseNotes', 'true'],
  ];
  await page.goto(workbenchUrl(server, folder, payload));
  let timer;
  const timedOut = new Promise((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout('timeout'), timeoutMs);
  });
  const result = await Promise.race([done, timedOut]);
  clearTimeout(timer);
  if (result === 'timeout') {
    await finish(124, `the test suite did not finish within ${timeoutMs / 1000} s; stopped it (server log tail:\n${server.output().slice(-2000)})`);
    return;
  }
  await finish(result, result === 0 ? undefined : `the test suite failed (exit code ${result})`);
}

main().catch((err) => finish(1, err instanceof Error ? err.message : String(err)));
