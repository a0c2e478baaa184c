// The helper channel kept across sessions of one workspace: the same token and socket path, so a
// terminal restored with its saved environment still reaches the extension; a path that is not
// safe (a link, another user's or an open folder, a live socket) is refused, never reused. Every
// folder here is a throwaway temp folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HelperChannel, type HelperMessage } from '../../../src/core/runs/helperChannel';
import { EndpointError, isHelperToken, newHelperToken, prepareSocketPath, stableSocketPath, workspaceKey } from '../../../src/core/runs/helperEndpoint';
import { waitUntil } from '../helpers/waitUntil';

const skip = process.platform === 'win32' ? 'Unix sockets and modes' : false;

async function temp(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-endpoint-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function quietLog() {
  const lines: string[] = [];
  return { lines, info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
}

function send(address: string, line: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(address.slice('unix:'.length));
    s.once('connect', () => {
      s.write(`${line}\n`);
      resolve(s);
    });
    s.once('error', reject);
  });
}

test('tokens and keys: 64 hex digits, stable per workspace, distinct across workspaces', () => {
  const t = newHelperToken();
  assert.ok(isHelperToken(t));
  assert.notEqual(newHelperToken(), t);
  for (const bad of [undefined, null, '', 'abc', t.toUpperCase(), `${t}0`, 42, `${t.slice(0, 63)}g`]) assert.equal(isHelperToken(bad), false, String(bad));
  assert.equal(workspaceKey('file:///a'), workspaceKey('file:///a'));
  assert.notEqual(workspaceKey('file:///a'), workspaceKey('file:///b'));
  assert.match(workspaceKey('file:///a'), /^[0-9a-f]{16}$/);
  const path = stableSocketPath(workspaceKey('file:///a'), '/tmp');
  assert.match(path, /^\/tmp\/model-perf-\d+-[0-9a-f]{16}\/helper\.sock$/);
  assert.ok(Buffer.byteLength(path) < 104, 'fits a Unix socket address');
});

test('a second session of the workspace listens at the same address with the same token; a restored terminal gets in', { skip }, async (t) => {
  const dir = await temp(t);
  const socketPath = join(dir, 'ws', 'helper.sock');
  const token = newHelperToken();
  const first = new HelperChannel({ log: quietLog(), onMessage: () => undefined, token, socketPath });
  const address = await first.start();
  assert.equal(address, `unix:${socketPath}`);
  assert.equal(((await stat(join(dir, 'ws'))).mode & 0o777), 0o700);
  await first.dispose();
  const received: HelperMessage[] = [];
  const log = quietLog();
  const second = new HelperChannel({ log, onMessage: (m) => received.push(m), token, socketPath });
  assert.equal(await second.start(), address);
  assert.deepEqual(second.env(), { MODEL_PERF_CHANNEL: address, MODEL_PERF_TOKEN: token });
  const s = await send(address, JSON.stringify({ token, v: 1, pid: 9, type: 'hello' }));
  await waitUntil('the hello', () => received.length === 1, { timeoutMs: 30_000, everyMs: 10 });
  s.destroy();
  assert.deepEqual(log.lines, []);
  await second.dispose();
});

test('a live socket of another host is never taken over: the channel falls back to a fresh folder and says so', { skip }, async (t) => {
  const dir = await temp(t);
  const socketPath = join(dir, 'ws', 'helper.sock');
  const live = new HelperChannel({ log: quietLog(), onMessage: () => undefined, socketPath });
  await live.start();
  const log = quietLog();
  const other = new HelperChannel({ log, onMessage: () => undefined, socketPath });
  const address = await other.start();
  assert.notEqual(address, `unix:${socketPath}`);
  assert.match(log.lines.join('\n'), /another process already listens/);
  await other.dispose();
  // The live one still works, and its dispose removes its socket but not a newer host's.
  await assert.rejects(prepareSocketPath(socketPath), EndpointError);
  await live.dispose();
  await assert.rejects(stat(join(dir, 'ws')), /ENOENT/, 'the emptied folder goes with the last socket');
  await prepareSocketPath(socketPath);
});

test('unsafe folders are refused: a link, an open mode, a file in place of the socket', { skip }, async (t) => {
  const dir = await temp(t);
  await mkdir(join(dir, 'real'), { mode: 0o700 });
  await symlink(join(dir, 'real'), join(dir, 'link'));
  await assert.rejects(prepareSocketPath(join(dir, 'link', 'helper.sock')), /not a plain folder/);
  await mkdir(join(dir, 'open'));
  await chmod(join(dir, 'open'), 0o755);
  await assert.rejects(prepareSocketPath(join(dir, 'open', 'helper.sock')), /open to other users \(mode 755\)/);
  await writeFile(join(dir, 'real', 'helper.sock'), 'not a socket');
  await assert.rejects(prepareSocketPath(join(dir, 'real', 'helper.sock')), /not a socket/);
  // A socket nobody listens on (its host was killed, so it never removed it) is removed.
  const stale = join(dir, 'real', 'stale.sock');
  const host = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`]);
  await new Promise<void>((resolve) => host.stdout.once('data', () => resolve()));
  host.kill('SIGKILL');
  await new Promise((resolve) => host.once('close', resolve));
  assert.ok((await lstat(stale)).isSocket(), 'the killed host left its socket');
  await prepareSocketPath(stale);
  await assert.rejects(stat(stale), /ENOENT/);
  const log = quietLog();
  const ch = new HelperChannel({ log, onMessage: () => undefined, socketPath: join(dir, 'open', 'helper.sock') });
  const address = await ch.start();
  assert.ok(address.startsWith('unix:') && !address.includes(join(dir, 'open')), address);
  assert.match(log.lines.join('\n'), /cannot be used .*open to other users.*must be reopened/);
  await ch.dispose();
});

test('rotating the token: the old one is refused for new connections, the new one accepted', { skip }, async () => {
  const received: HelperMessage[] = [];
  const ch = new HelperChannel({ log: quietLog(), onMessage: (m) => received.push(m) });
  const address = await ch.start();
  const old = ch.token;
  const next = ch.rotateToken();
  assert.notEqual(next, old);
  assert.equal(ch.env().MODEL_PERF_TOKEN, next);
  const a = await send(address, JSON.stringify({ token: old, v: 1, pid: 1, type: 'hello' }));
  await waitUntil('the refusal', () => (ch.rejections().bad_token ?? 0) === 1, { timeoutMs: 30_000, everyMs: 10 });
  const b = await send(address, JSON.stringify({ token: next, v: 1, pid: 2, type: 'hello' }));
  await waitUntil('the new token to get in', () => received.length === 1, { timeoutMs: 30_000, everyMs: 10 });
  assert.equal(received[0]?.pid, 2);
  assert.throws(() => ch.rotateToken('short'), /64 hexadecimal/);
  assert.throws(() => new HelperChannel({ log: quietLog(), onMessage: () => undefined, token: 'x' }), /64 hexadecimal/);
  a.destroy();
  b.destroy();
  await ch.dispose();
});

test('loopback TCP tries the previous port first, and any port when it is taken', async () => {
  const first = new HelperChannel({ log: quietLog(), onMessage: () => undefined, tcp: true });
  const address = await first.start();
  const port = Number(address.split(':')[2]);
  const taken = new HelperChannel({ log: quietLog(), onMessage: () => undefined, tcp: true, preferredPort: port });
  const other = await taken.start();
  assert.notEqual(other, address);
  await first.dispose();
  await taken.dispose();
  const again = new HelperChannel({ log: quietLog(), onMessage: () => undefined, tcp: true, preferredPort: port });
  assert.equal(await again.start(), address);
  await again.dispose();
});
