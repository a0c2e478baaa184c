import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GPU_MONITORING_OFF_REASON, selectGpuProvider } from '../../../../src/core/sampling/gpu/selectProvider';

const SYSFS = join(__dirname, '../../../fixtures/sysfs-amd');
const none = async (): Promise<boolean> => false;
const only = (files: string[]) => async (f: string): Promise<boolean> => files.includes(f);

test('GPU monitoring off in settings: none, with that reason, whatever the machine has', async () => {
  const p = await selectGpuProvider({ enabled: false, platform: 'linux', isExecutable: async () => true });
  assert.equal(p.kind, 'none');
  assert.equal(p.availability().reason, GPU_MONITORING_OFF_REASON);
});

test('nvidia-smi found wins on Linux, even with an AMD card present', async () => {
  const p = await selectGpuProvider({
    enabled: true,
    platform: 'linux',
    env: { PATH: '/usr/bin' },
    sysfsRoot: join(SYSFS, 'two-cards'),
    isExecutable: only(['/usr/bin/nvidia-smi']),
  });
  assert.equal(p.kind, 'nvidia');
});

test('Linux without nvidia-smi: AMD sysfs when present, else none explaining both searches', async () => {
  const amd = await selectGpuProvider({ enabled: true, platform: 'linux', env: { PATH: '/usr/bin' }, sysfsRoot: join(SYSFS, 'two-cards'), isExecutable: none });
  assert.equal(amd.kind, 'amd');
  const nothing = await selectGpuProvider({ enabled: true, platform: 'linux', env: { PATH: '/usr/bin' }, sysfsRoot: join(SYSFS, 'intel-only'), isExecutable: none });
  assert.equal(nothing.kind, 'none');
  const reason = nothing.availability().reason ?? '';
  assert.match(reason, /nvidia-smi not found on PATH/);
  assert.match(reason, /no AMD GPU under/);
  assert.match(reason, /GPU figures are off/);
});

test('a wrong configured nvidia-smi path is reported, not replaced by another GPU', async () => {
  const p = await selectGpuProvider({ enabled: true, platform: 'linux', nvidiaSmiPath: '/opt/missing/nvidia-smi', sysfsRoot: join(SYSFS, 'two-cards'), isExecutable: none });
  assert.equal(p.kind, 'none');
  assert.match(p.availability().reason ?? '', /\/opt\/missing\/nvidia-smi \(the path set in settings\)/);
});

test('macOS: Apple silicon reads ioreg; Intel Macs get a reason', async () => {
  assert.equal((await selectGpuProvider({ enabled: true, platform: 'darwin', arch: 'arm64' })).kind, 'apple');
  const intel = await selectGpuProvider({ enabled: true, platform: 'darwin', arch: 'x64' });
  assert.equal(intel.kind, 'none');
  assert.match(intel.availability().reason ?? '', /Intel Macs/);
});

test('Windows: nvidia-smi from System32 when present, else the PDH counters', async () => {
  const env = { Path: 'C:\\Tools', SystemRoot: 'C:\\Windows' };
  const nv = await selectGpuProvider({ enabled: true, platform: 'win32', env, isExecutable: only(['C:\\Windows\\System32\\nvidia-smi.exe']) });
  assert.equal(nv.kind, 'nvidia');
  const pdh = await selectGpuProvider({ enabled: true, platform: 'win32', env, isExecutable: none });
  assert.equal(pdh.kind, 'windows');
});

test('other systems: none with a reason', async () => {
  const p = await selectGpuProvider({ enabled: true, platform: 'freebsd', env: { PATH: '/usr/bin' }, isExecutable: none });
  assert.equal(p.kind, 'none');
  assert.match(p.availability().reason ?? '', /freebsd/);
});
