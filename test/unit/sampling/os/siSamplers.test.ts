import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProcessSampler, createSystemSampler } from '../../../../src/core/sampling/os';
import { ProcSystemSampler } from '../../../../src/core/sampling/os/procSystemSampler';
import { ProcTreeSampler } from '../../../../src/core/sampling/os/procTreeSampler';
import { SiProcessSampler, SiSystemSampler, mountFor, type SiSystemPort } from '../../../../src/core/sampling/os/siSystemSampler';

const GiB = 1024 ** 3;

// Recorded from systeminformation 5.33 on a MacBook Pro (M1 Pro) and on Windows 11.
const macFs = [
  { fs: '/dev/disk3s1s1', mount: '/', size: 994662584320, used: 10854703104, available: 600000000000, use: 1.78 },
  { fs: '/dev/disk3s5', mount: '/System/Volumes/Data', size: 994662584320, used: 380000000000, available: 600000000000, use: 38.77 },
  { fs: '/dev/disk4s1', mount: '/Volumes/External', size: 2000000000000, used: 1500000000000, available: 500000000000, use: 75 },
];
const winFs = [
  { fs: 'C:', mount: 'C:', size: 511000000000, used: 301000000000, available: 210000000000, use: 58.9 },
  { fs: 'D:', mount: 'D:', size: 2000000000000, used: 200000000000, available: 1800000000000, use: 10 },
];

test('mountFor: longest mount prefix; Windows case-blind with either slash', () => {
  assert.equal(mountFor(macFs, '/Volumes/External/proj', 'darwin')?.use, 75);
  assert.equal(mountFor(macFs, '/Users/ada/proj', 'darwin')?.mount, '/');
  assert.equal(mountFor(macFs, '/Volumes/Externalish/x', 'darwin')?.mount, '/', 'a prefix must end at a path separator');
  assert.equal(mountFor(winFs, 'd:/work/proj', 'win32')?.use, 10);
  assert.equal(mountFor(winFs, 'C:\\Users\\ada', 'win32')?.use, 58.9);
  assert.equal(mountFor(winFs, 'E:\\x', 'win32'), null);
});

test('SiSystemSampler: CPU, RAM as total - available, disk of the workspace filesystem', async () => {
  const si: SiSystemPort = {
    currentLoad: async () => ({ currentLoad: 23.5 }),
    mem: async () => ({ total: 32 * GiB, available: 12 * GiB }),
    fsSize: async () => winFs,
  };
  const s = new SiSystemSampler({ si, platform: 'win32', diskPath: 'D:\\work' });
  assert.deepEqual(await s.sample(), { cpuUsagePercent: 23.5, ramTotalMb: 32768, ramAvailableMb: 12288, ramUsedMb: 20480, diskUsagePercent: 10 });
});

test('SiSystemSampler: failures and nonsense are unknown, logged once each', async () => {
  const logs: string[] = [];
  const si: SiSystemPort = {
    currentLoad: async () => ({ currentLoad: Number.NaN }),
    mem: async () => {
      throw new Error('wmic not found');
    },
    fsSize: async () => [],
  };
  const s = new SiSystemSampler({ si, platform: 'darwin', diskPath: '/Users/ada', onLog: (m) => logs.push(m) });
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(await s.sample(), { cpuUsagePercent: null, ramTotalMb: null, ramAvailableMb: null, ramUsedMb: null, diskUsagePercent: null });
  }
  assert.equal(logs.length, 2, logs.join('\n'));
  assert.ok(logs.some((l) => /wmic not found/.test(l)));
});

test('SiProcessSampler: the tree under a root, RSS in MiB, CPU summed; concurrent calls share one listing', async () => {
  let calls = 0;
  const list = [
    { pid: 1, parentPid: 0, cpu: 1, memRss: 10_000 },
    { pid: 50, parentPid: 1, cpu: 90, memRss: 2_048_000 },
    { pid: 51, parentPid: 50, cpu: 45.5, memRss: 1_024_000 },
    { pid: 52, parentPid: 51, cpu: 0, memRss: 1024 },
    { pid: 60, parentPid: 1, cpu: 3, memRss: 50_000 },
  ];
  const sampler = new SiProcessSampler({
    si: {
      processes: async () => {
        calls++;
        await new Promise((r) => setImmediate(r));
        return { list };
      },
    },
  });
  const [a, b] = await Promise.all([sampler.sampleTree(50), sampler.sampleTree(51)]);
  assert.equal(calls, 1);
  assert.deepEqual(a, { rootPid: 50, pids: [50, 51, 52], rssMb: (2_048_000 + 1_024_000 + 1024) / 1024, cpuPercent: 135.5 });
  assert.deepEqual(b?.pids, [51, 52]);
  assert.equal(await sampler.sampleTree(999), null);
});

test('factories: /proc on Linux, systeminformation elsewhere', () => {
  assert.ok(createSystemSampler('linux', '/tmp') instanceof ProcSystemSampler);
  assert.ok(createSystemSampler('darwin', null) instanceof SiSystemSampler);
  assert.ok(createSystemSampler('win32', 'C:\\') instanceof SiSystemSampler);
  assert.ok(createProcessSampler('linux') instanceof ProcTreeSampler);
  assert.ok(createProcessSampler('win32') instanceof SiProcessSampler);
});
