// Starts code-server (the real VS Code workbench and Node extension host, from npm) bound to
// loopback on a free port, in its own process group so that it and every extension host and
// terminal it spawns can be stopped together, also after a failure or a timeout.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.100.3';
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The fake GPU tools (nvidia-smi replaying recorded output), and PATH with them first. */
export const fakeToolsBin = join(repoRoot, 'test', 'fixtures', 'bin');
export const fakeToolsPath = `${fakeToolsBin}${delimiter}${process.env.PATH ?? ''}`;
export const codeServerEntry = join(
  repoRoot, '.cache', `code-server-${CODE_SERVER_VERSION}`, 'node_modules', 'code-server', 'out', 'node', 'entry.js',
);

/** Settings that make a run repeatable: no trust prompt, no restored terminals, DOM-rendered terminals. */
export const testUserSettings = {
  'security.workspace.trust.enabled': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'terminal.integrated.enablePersistentSessions': false,
  'terminal.integrated.gpuAcceleration': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'telemetry.telemetryLevel': 'off',
  'workbench.enableExperiments': false,
};

export function assertInstalled() {
  if (!existsSync(codeServerEntry)) {
    throw new Error(
      `code-server ${CODE_SERVER_VERSION} is not installed in .cache; run: bash scripts/setup-test-host.sh`,
    );
  }
}

export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts a server. Returns { url, port, stop(), output() }. `env` is added to the server's
 * environment, which every extension host it starts inherits (PATH with a fake nvidia-smi, say).
 */
export async function startCodeServer({ workspace, userDataDir, extensionsDir, env = {}, settings = {}, auth = 'none', extraArgs = [] }) {
  assertInstalled();
  await mkdir(join(userDataDir, 'User'), { recursive: true });
  await mkdir(extensionsDir, { recursive: true });
  await mkdir(workspace, { recursive: true });
  await writeFile(
    join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({ ...testUserSettings, ...settings }, null, 2),
  );
  const port = await freePort();
  const args = [
    codeServerEntry,
    '--auth', auth,
    '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    ...extraArgs,
    workspace,
  ];
  const child = spawn(process.execPath, args, {
    detached: true, // own process group: stop() kills the server and everything under it
    stdio: ['ignore', 'pipe', 'pipe'],
    // VSCODE_CLI=1 stops the server from replacing the extension host's environment with a login
    // shell's (which would reset PATH and drop a fake nvidia-smi put first on it).
    env: { ...process.env, VSCODE_CLI: '1', ...env, XDG_CONFIG_HOME: join(userDataDir, 'xdg-config') },
  });
  let log = '';
  const keep = (d) => { log = (log + d.toString()).slice(-20000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);

  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
  };
  // A test process that dies must not leave a server behind.
  process.once('exit', stop);

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (child.exitCode !== null) {
      stop();
      throw new Error(`code-server exited with code ${child.exitCode} before listening:\n${log}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      stop();
      throw new Error(`code-server did not listen on ${url} within 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return { url, port, stop, output: () => log, pid: child.pid };
}

/** The workbench URL for `folder`, with the desktop-style test arguments passed as `payload`. */
export function workbenchUrl(server, folder, payload = []) {
  const remote = (p) => `vscode-remote://127.0.0.1:${server.port}${resolve(p)}`;
  const entries = payload.map(([k, v]) =>
    k === 'extensionDevelopmentPath' || k === 'extensionTestsPath' ? [k, remote(v)] : [k, v],
  );
  const query = new URLSearchParams({ folder: resolve(folder) });
  if (entries.length) query.set('payload', JSON.stringify(entries));
  return `${server.url}/?${query.toString()}`;
}
