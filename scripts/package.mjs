// Builds for production and packs the .vsix with @vscode/vsce (offline: bundles only, no
// node_modules), then lists what went in, so a .vscodeignore that drops a needed file shows here.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';

const out = 'dist-package/model-perf-monitor.vsix';
mkdirSync('dist-package', { recursive: true });
execFileSync(process.execPath, ['esbuild.mjs', '--production'], { stdio: 'inherit' });
execFileSync(process.execPath, [
  'node_modules/@vscode/vsce/vsce', 'package', '--no-dependencies', '--allow-missing-repository',
  '--skip-license', '--no-rewrite-relative-links', '--out', out,
], { stdio: 'inherit' });
const files = execFileSync(process.execPath, ['node_modules/@vscode/vsce/vsce', 'ls', '--no-dependencies'], { encoding: 'utf8' });
console.log(files.trim());
console.log(`${out}: ${(statSync(out).size / 1024).toFixed(1)} KiB`);
