// What the extension costs with one and with three VS Code windows open on one machine, measured
// in the real workbench (code-server + headless Chromium) with the fake nvidia-smi (one GPU).
// For each configuration the CPU time of the whole code-server process group (server, every
// window's extension host, their nvidia-smi children) is read from /proc over the same duration,
// with the extension loaded and without it (the workbench alone), so the difference is ours.
// Usage: node scripts/bench-windows.mjs [--duration S] [--json FILE]
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { launchBrowser, newWorkbenchPage } from '../test/harness/browser.mjs';
import { fakeToolsPath, repoRoot, startCodeServer, workbenchUrl } from '../test/harness/codeServer.mjs';

const args = process.argv.slice(2);
const durationS = Number(args[args.indexOf('--duration') + 1] || 30) || 30;
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (self + reaped children) of every process in the group `pgid`. */
function groupCpuSeconds(pgid) {
  let ticks = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) !== pgid) continue; // field 5: pgrp
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
  }
  return ticks / TICKS;
}

async function measure({ windows, withExtension }) {
  const scratch = mkdtempSync(join(tmpdir(), 'model-perf-bench-win-'));
  const vram = join(scratch, 'vram');
  writeFileSync(vram, '6000');
  const server = await startCodeServer({
    workspace: join(scratch, 'ws'),
    userDataDir: join(scratch, 'ud'),
    extensionsDir: join(scratch, 'ext'),
    env: {
      PATH: fakeToolsPath,
      FAKE_NVIDIA_SMI_SCENARIO: '1gpu',
      FAKE_NVIDIA_SMI_VRAM_FILE: vram,
      MODEL_PERF_HOME: join(scratch, 'home'),
    },
  });
  const browser = await launchBrowser();
  try {
    const { page } = await newWorkbenchPage(browser);
    const payload = withExtension ? [['extensionDevelopmentPath', repoRoot], ['skipWelcome', 'true']] : [['skipWelcome', 'true']];
    const url = workbenchUrl(server, join(scratch, 'ws'), payload);
    const pages = [page];
    for (let i = 1; i < windows; i++) pages.push(await page.context().newPage());
    for (const p of pages) await p.goto(url);
    for (const p of pages) await p.waitForSelector('#workbench\\.parts\\.statusbar', { timeout: 60000 });
    await new Promise((r) => setTimeout(r, 10000)); // start-up is not counted
    const t0 = process.hrtime.bigint();
    const c0 = groupCpuSeconds(server.pid);
    await new Promise((r) => setTimeout(r, durationS * 1000));
    const c1 = groupCpuSeconds(server.pid);
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    return { windows, withExtension, cpuSeconds: c1 - c0, wallSeconds: wallS, corePercent: ((c1 - c0) / wallS) * 100 };
  } finally {
    await browser.close().catch(() => undefined);
    server.stop();
  }
}

const rows = [];
for (const windows of [1, 3]) {
  for (const withExtension of [false, true]) {
    const r = await measure({ windows, withExtension });
    rows.push(r);
    console.error(`measured ${windows} window(s) ${withExtension ? 'with' : 'without'} the extension: ${r.corePercent.toFixed(2)} % of one core`);
  }
}
const added = (w) => rows.find((r) => r.windows === w && r.withExtension).corePercent - rows.find((r) => r.windows === w && !r.withExtension).corePercent;
console.log(`\nCost of the extension in the real workbench (fake nvidia-smi, 1 GPU, 1 s interval, ${durationS} s each)`);
console.log('windows  without ext  with ext  added by the extension');
for (const w of [1, 3]) {
  const a = rows.find((r) => r.windows === w && !r.withExtension).corePercent;
  const b = rows.find((r) => r.windows === w && r.withExtension).corePercent;
  console.log(`${String(w).padStart(7)}  ${a.toFixed(2).padStart(9)} %  ${b.toFixed(2).padStart(6)} %  ${added(w).toFixed(2).padStart(8)} % of one core`);
}
const summary = { durationS, rows, addedPercent: { oneWindow: added(1), threeWindows: added(3) } };
if (jsonOut) {
  mkdirSync(dirname(jsonOut), { recursive: true });
  writeFileSync(jsonOut, JSON.stringify(summary, null, 2));
}
