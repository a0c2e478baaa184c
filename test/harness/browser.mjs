// Opens the workbench in Debian's headless Chromium through playwright-core, and collects console
// errors, filtering the few that every page load of this offline server logs with no extension.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const chromiumPath = process.env.MODEL_PERF_CHROMIUM ?? '/usr/bin/chromium';

const harmless = [
  /vsda/, // the signing module is not shipped by code-server
  /Failed to load resource: the server responded with a status of 404/,
  /ERR_NAME_NOT_RESOLVED/,
  /open-vsx|openvsx|gallery|marketplace/i,
  /An unknown error occurred\. Please consult the log/,
  /ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED|ERR_NETWORK_CHANGED/,
];

export async function launchBrowser() {
  if (!existsSync(chromiumPath)) {
    throw new Error(`Chromium not found at ${chromiumPath}; run: bash scripts/setup-test-host.sh`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    ],
  });
}

/** A new page that records console errors; `consoleErrors()` returns those not known harmless. */
export async function newWorkbenchPage(browser, { width = 1400, height = 900, colorScheme = 'dark' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (!harmless.some((re) => re.test(text))) errors.push(text);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  return { page, context, consoleErrors: () => errors.slice() };
}
