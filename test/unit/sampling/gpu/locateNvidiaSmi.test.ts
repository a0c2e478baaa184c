import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { locateNvidiaSmi, nvidiaSmiCandidates } from '../../../../src/core/sampling/gpu/locateNvidiaSmi';

const only = (files: string[]) => async (f: string): Promise<boolean> => files.includes(f);

test('PATH is searched in order; relative and empty entries are never used', async () => {
  const env = { PATH: ':.:relative/bin:/opt/a:/usr/bin' };
  assert.deepEqual(
    nvidiaSmiCandidates('linux', env).map((c) => c.path),
    ['/opt/a/nvidia-smi', '/usr/bin/nvidia-smi', '/usr/lib/wsl/lib/nvidia-smi'],
  );
  const r = await locateNvidiaSmi({ platform: 'linux', env, isExecutable: only(['/usr/bin/nvidia-smi']) });
  assert.deepEqual(r, { found: true, path: '/usr/bin/nvidia-smi', source: 'path' });
});

test('WSL2: found at /usr/lib/wsl/lib when PATH misses it', async () => {
  const r = await locateNvidiaSmi({ platform: 'linux', env: { PATH: '/usr/bin' }, isExecutable: only(['/usr/lib/wsl/lib/nvidia-smi']) });
  assert.deepEqual(r, { found: true, path: '/usr/lib/wsl/lib/nvidia-smi', source: 'wsl' });
});

test('Windows: System32, then NVSMI under Program Files', async () => {
  const env = { Path: 'C:\\Tools', SystemRoot: 'C:\\WINDOWS', ProgramFiles: 'D:\\Program Files' };
  const cands = nvidiaSmiCandidates('win32', env).map((c) => c.path);
  assert.deepEqual(cands, [
    'C:\\Tools\\nvidia-smi.exe',
    'C:\\WINDOWS\\System32\\nvidia-smi.exe',
    'D:\\Program Files\\NVIDIA Corporation\\NVSMI\\nvidia-smi.exe',
  ]);
  const r = await locateNvidiaSmi({ platform: 'win32', env, isExecutable: only([cands[2] as string]) });
  assert.deepEqual(r, { found: true, path: cands[2], source: 'windows-default' });
});

test('a configured path wins, and a wrong one is reported, not bypassed', async () => {
  const ok = await locateNvidiaSmi({ configuredPath: '/opt/nv/nvidia-smi', platform: 'linux', env: { PATH: '/usr/bin' }, isExecutable: only(['/opt/nv/nvidia-smi', '/usr/bin/nvidia-smi']) });
  assert.deepEqual(ok, { found: true, path: '/opt/nv/nvidia-smi', source: 'config' });
  const bad = await locateNvidiaSmi({ configuredPath: '/nope', platform: 'linux', env: { PATH: '/usr/bin' }, isExecutable: only(['/usr/bin/nvidia-smi']) });
  assert.equal(bad.found, false);
  assert.match(bad.found ? '' : bad.reason, /not found at \/nope \(the path set in settings\)/);
});

test('not found: a sentence naming what was searched', async () => {
  const r = await locateNvidiaSmi({ platform: 'linux', env: { PATH: '/usr/bin:/bin' }, isExecutable: only([]) });
  assert.equal(r.found, false);
  if (!r.found) {
    assert.match(r.reason, /^nvidia-smi not found on PATH or \/usr\/lib\/wsl\/lib\/nvidia-smi; NVIDIA GPU figures are off/);
    assert.deepEqual(r.searched, ['/usr/bin/nvidia-smi', '/bin/nvidia-smi', '/usr/lib/wsl/lib/nvidia-smi']);
  }
  const mac = await locateNvidiaSmi({ platform: 'darwin', env: {} });
  assert.equal(mac.found, false);
});

test('real filesystem: the fake nvidia-smi in test/fixtures/bin is found and a plain file is not', async () => {
  const bin = join(__dirname, '../../../fixtures/bin');
  const r = await locateNvidiaSmi({ platform: 'linux', env: { PATH: `${bin}:/nonexistent` } });
  assert.deepEqual(r, { found: true, path: join(bin, 'nvidia-smi'), source: 'path' });
  const notExec = await locateNvidiaSmi({ configuredPath: join(__dirname, '../../../fixtures/nvidia-smi/query-1gpu.csv'), platform: 'linux' });
  assert.equal(notExec.found, false);
});
