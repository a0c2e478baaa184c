// Runs a suite inside a real extension host through @vscode/test-electron's runTests. By default
// the "VS Code executable" is our launcher (code-server + headless Chromium, offline); with
// MODEL_PERF_DESKTOP=1 runTests downloads desktop VS Code instead (a laptop with internet).
import { runTests } from '@vscode/test-electron';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './codeServer.mjs';

export const launcherPath = join(repoRoot, 'test', 'harness', 'launcher.mjs');

/**
 * Returns the suite's exit code (0 = passed); never throws for a failing suite.
 * @param {{ testsPath: string, extensionDevelopmentPath?: string, env?: Record<string, string>,
 *   workspace?: string, version?: string }} options
 */
export async function runHostSuite({ testsPath, extensionDevelopmentPath = repoRoot, env = {}, workspace = undefined, version = '1.100.3' }) {
  const scratch = mkdtempSync(join(tmpdir(), 'model-perf-host-'));
  const desktop = process.env.MODEL_PERF_DESKTOP === '1';
  try {
    await runTests({
      ...(desktop ? { version } : { vscodeExecutablePath: launcherPath }),
      extensionDevelopmentPath,
      extensionTestsPath: testsPath,
      launchArgs: [workspace ?? join(scratch, 'workspace'), `--user-data-dir=${join(scratch, 'user-data')}`, `--extensions-dir=${join(scratch, 'extensions')}`],
      extensionTestsEnv: env,
    });
    return 0;
  } catch (err) {
    if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'number') return err.code;
    if (err && typeof err === 'object' && 'signal' in err && err.signal) return 1;
    console.error(`[host tests] ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
