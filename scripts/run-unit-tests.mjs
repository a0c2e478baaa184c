// Runs every unit test (test/unit/**/*.test.ts) in plain node through the tsx loader.
// Extra arguments are test files or folders to run instead of all of them.
// --serial runs one file at a time. With --tap FILE, a TAP copy of the results is written there (the test command counts it).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
let tapFile = null;
let serial = false;
const roots = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--tap') tapFile = args[++i];
  else if (args[i] === '--serial') serial = true;
  else roots.push(args[i]);
}

function collect(path, out) {
  const st = statSync(path);
  if (st.isFile()) {
    if (/\.test\.m?ts$/.test(path)) out.push(path);
    return out;
  }
  for (const entry of readdirSync(path).sort()) collect(join(path, entry), out);
  return out;
}

const files = (roots.length ? roots : ['test/unit']).flatMap((r) => collect(r, []));
if (files.length === 0) {
  console.error('no unit test files found under', roots.join(' ') || 'test/unit');
  process.exit(1);
}

const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout'];
// Browser tests each start a code-server and a Chromium: one file at a time (--serial).
if (serial) reporters.push('--test-concurrency=1');
if (tapFile) reporters.push('--test-reporter=tap', `--test-reporter-destination=${tapFile}`);
const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...reporters, ...files], {
  stdio: 'inherit',
  env: { ...process.env, TSX_TSCONFIG_PATH: 'tsconfig.json' },
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
