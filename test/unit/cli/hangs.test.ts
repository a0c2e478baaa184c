// The CLI never hangs: a command that ignores SIGINT and SIGTERM is killed (with the processes it
// started) after the grace period and recorded; a reader that goes away (`| head -1`) ends `run`
// and `watch` as a Unix tool ends. In-process with real child processes and a temp history; then
// the built CLI with a real pipe that the test closes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { runCli } from '../../../src/cli/cli';
import { waitUntil } from '../helpers/waitUntil';
import { historyRecords } from '../helpers/historyFiles';
import { testIo, type TestIo } from '../helpers/cliIo';

const ROOT = join(__dirname, '../../..');
const skip = process.platform === 'win32' ? 'POSIX signals and process groups' : false;

let work = '';

function io(env: NodeJS.ProcessEnv, killGraceMs: number): TestIo {
  return testIo({ env, cwd: work, killGraceMs });
}

const history = historyRecords;

/** Gone, or a zombie nobody reaped yet (it runs no more either way). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return process.platform === 'linux';
  }
}

// A command deaf to SIGINT and SIGTERM, with a grandchild just as deaf that holds the output pipe
// (so its parent's death alone would not end the run). Writes the grandchild's pid, then "ready".
const STUBBORN = `
const { spawn } = require('child_process');
process.on('SIGINT', () => {}); process.on('SIGTERM', () => {});
const grand = "process.on('SIGINT',()=>{});process.on('SIGTERM',()=>{});require('fs').writeFileSync(process.argv[1],String(process.pid));process.stdout.write('ready\\\\n');setInterval(()=>{},1000)";
spawn(process.execPath, ['-e', grand, process.argv[2]], { stdio: 'inherit' });
setInterval(() => {}, 1000);
`;

// Writes lines as fast as the pipe takes them, for ever (like `yes`); ends on SIGTERM by default.
const CHATTY = `
const line = 'y\\n'.repeat(1000);
const pump = () => { while (process.stdout.write(line)) {} process.stdout.once('drain', pump); };
pump();
`;

describe('model-perf never hangs', { skip, timeout: 60_000 }, () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'model-perf-hangs-'));
    await writeFile(join(work, 'stubborn.js'), STUBBORN);
    await writeFile(join(work, 'chatty.js'), CHATTY);
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a command that ignores SIGTERM is killed with its processes after the grace period, and recorded', async () => {
    const home = join(work, 'stubborn-home');
    const pidFile = join(work, 'grandchild.pid');
    const t = io({ MODEL_PERF_HOME: home }, 300);
    const done = runCli(['run', '--no-gpu', '--task-id', 'deaf', '--interval', '0.25', '--', process.execPath, 'stubborn.js', pidFile], t);
    await waitUntil('the command to be ready', () => t.out.text.includes('ready'));
    t.signal('SIGTERM');
    const code = await done;
    assert.equal(code, 137, t.err.text);
    assert.match(t.err.text, /model-perf run: ".*node" did not stop within 0\.3 s of SIGTERM; killing it and the processes it started \(SIGKILL\)\n/);
    assert.match(t.err.text, /task "deaf" was interrupted \(killed, signal SIGKILL\)/);
    const grandchild = Number(await readFile(pidFile, 'utf8'));
    await waitUntil('the grandchild to be killed too', () => isGone(grandchild));
    const tasks = await history(home);
    assert.deepEqual(tasks.map((x) => [x.taskId, x.status, x.success, x.errorCategory]), [['deaf', 'interrupted', false, 'killed']]);
  });

  test('run: the reader goes away, the command is stopped and recorded, exit 141', async () => {
    const home = join(work, 'pipe-home');
    const t = io({ MODEL_PERF_HOME: home }, 5000);
    const done = runCli(['run', '--no-gpu', '--task-id', 'headed', '--', process.execPath, 'chatty.js'], t);
    await waitUntil('output to flow', () => t.out.text.length > 0);
    t.out.breakPipe();
    assert.equal(await done, 141, t.err.text);
    assert.match(t.err.text, /the output was closed \(no reader left\); stopping ".*node"/);
    assert.doesNotMatch(t.err.text, /SIGKILL/);
    const tasks = await history(home);
    assert.deepEqual(tasks.map((x) => [x.taskId, x.status, x.errorCategory]), [['headed', 'interrupted', 'output_closed']]);
  });

  test('run: a reader gone before the command started stops a command that never writes', async () => {
    const home = join(work, 'early-home');
    const t = io({ MODEL_PERF_HOME: home }, 5000);
    t.out.breakPipe();
    assert.equal(await runCli(['run', '--no-gpu', '--task-id', 'early', '--', process.execPath, '-e', 'setInterval(() => {}, 1000)'], t), 141, t.err.text);
    const tasks = await history(home);
    assert.deepEqual(tasks.map((x) => [x.taskId, x.status, x.errorCategory]), [['early', 'interrupted', 'output_closed']]);
  });

  test('watch: the reader goes away, watch ends with 141', async () => {
    const t = io({ MODEL_PERF_HOME: join(work, 'watch-home') }, 5000);
    const done = runCli(['watch', '--no-gpu', '--interval', '0.25'], t);
    await waitUntil('a first line', () => t.out.text.includes('\n'));
    t.out.breakPipe();
    assert.equal(await done, 141);
  });

  describe('the built CLI with a real pipe', () => {
    let cli = '';
    before(async () => {
      cli = join(work, 'cli.js');
      await esbuild.build({ entryPoints: [join(ROOT, 'src/cli/main.ts')], outfile: cli, bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'error' });
    });

    /** Starts the CLI, reads stdout until it has `bytes`, then closes the pipe as `head` does. */
    function runThenCloseReader(args: string[], home: string, bytes: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [cli, ...args], { cwd: work, env: { ...process.env, MODEL_PERF_HOME: home }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        let seen = 0;
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => {
          seen += c.length;
          if (seen >= bytes) child.stdout.destroy();
        });
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        const timer = setTimeout(() => {
          try {
            process.kill(-(child.pid as number), 'SIGKILL');
          } catch {
            // already gone
          }
          reject(new Error(`model-perf ${args.join(' ')} hung after its reader went away\nstderr: ${stderr}`));
        }, 20_000);
        child.on('error', reject);
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal, stderr });
        });
      });
    }

    test('run -- chatty | head: ends, records the task', async () => {
      const home = join(work, 'real-pipe-home');
      const r = await runThenCloseReader(['run', '--no-gpu', '--task-id', 'yes', '--', process.execPath, 'chatty.js'], home, 10_000);
      assert.equal(r.code, 141, r.stderr);
      const tasks = await history(home);
      assert.deepEqual(tasks.map((x) => [x.taskId, x.status, x.errorCategory]), [['yes', 'interrupted', 'output_closed']]);
    });

    test('watch | head: ends', async () => {
      const r = await runThenCloseReader(['watch', '--no-gpu', '--interval', '0.25'], join(work, 'real-watch-home'), 1);
      assert.equal(r.code, 141, r.stderr);
    });
  });
});
