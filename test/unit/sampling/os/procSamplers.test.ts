import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import {
  ProcSystemSampler,
  cpuPercentBetween,
  diskPercentFromStatfs,
  parseMeminfo,
  parseProcStat,
} from '../../../../src/core/sampling/os/procSystemSampler';
import { waitUntil } from '../../helpers/waitUntil';
import { ProcFile } from '../../../../src/core/sampling/os/procFile';
import { ProcTreeSampler, pageKbFromAuxv, parsePidStat, parseStatmRssKb, parseStatusRssKb } from '../../../../src/core/sampling/os/procTreeSampler';

const PROC = join(__dirname, '../../../fixtures/proc');
const isLinux = process.platform === 'linux';

/** A scratch /proc that a test can move from one recorded moment to the next. */
async function scratchProc(from: string): Promise<{ root: string; moveTo(name: string): Promise<void>; dispose(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'mpm-proc-'));
  const moveTo = async (name: string): Promise<void> => {
    await rm(root, { recursive: true, force: true });
    await cp(join(PROC, name), root, { recursive: true });
  };
  await moveTo(from);
  return { root, moveTo, dispose: () => rm(root, { recursive: true, force: true }) };
}

test('/proc/stat: busy share of the ticks between two reads', () => {
  const a = parseProcStat('cpu  10000 500 3000 80000 1000 0 200 300 0 0\ncpu0 1 2 3 4\n');
  const b = parseProcStat('cpu  10150 500 3050 80180 1020 0 200 300 0 0\n');
  assert.ok(a && b);
  assert.equal(cpuPercentBetween(a, b), 50);
  assert.equal(cpuPercentBetween(a, a), null, 'no time passed: unknown, not 0');
  assert.equal(cpuPercentBetween(b, a), null, 'counters went backwards');
  assert.equal(parseProcStat('cpu0 1 2 3 4\n'), null, 'no aggregate line');
  assert.deepEqual(parseProcStat('intr 5\ncpu  1 2 3 4'), { totalTicks: 10, idleTicks: 4 }, 'not first, no newline at the end');
  assert.equal(parseProcStat('cpu  a b c d\n'), null);
  assert.equal(parseProcStat(''), null);
});

test('/proc/meminfo: used is total minus available; an old kernel leaves it unknown', () => {
  const mem = parseMeminfo('MemTotal:       16318412 kB\nMemFree: 1 kB\nMemAvailable:    8159206 kB\n');
  assert.equal(mem.ramTotalMb, 16318412 / 1024);
  assert.equal(mem.ramAvailableMb, 8159206 / 1024);
  assert.equal(mem.ramUsedMb, (16318412 - 8159206) / 1024);
  const old = parseMeminfo('MemTotal:       16318412 kB\nMemFree: 1 kB\n');
  assert.equal(old.ramUsedMb, null);
  assert.equal(old.ramAvailableMb, null);
  assert.deepEqual(parseMeminfo('garbage'), { ramTotalMb: null, ramAvailableMb: null, ramUsedMb: null });
  // Keys only at a line's start, whole (MemTotalX is not MemTotal), a number, then kB.
  assert.equal(parseMeminfo('xMemTotal: 5 kB\nMemTotalX: 6 kB\n').ramTotalMb, null);
  assert.equal(parseMeminfo('Buffers: 1 kB\nMemTotal:\t2048 kB\n').ramTotalMb, 2);
  assert.equal(parseMeminfo('MemTotal: 2048 MB\n').ramTotalMb, null, 'another unit');
  assert.equal(parseMeminfo('MemTotal: kB\n').ramTotalMb, null, 'no number');
  assert.equal(parseMeminfo('MemTotal:2048 kB\n').ramTotalMb, null, 'no space after the colon');
  assert.equal(parseMeminfo('MemTotal: 2048kB').ramTotalMb, 2, 'kB right after the digits, at the very end');
});

test('statfs: used share as df shows it, nonsense is unknown', () => {
  // 1000 blocks, 300 free of which 250 usable by users: used 700 of 950 usable.
  assert.equal(diskPercentFromStatfs({ blocks: 1000, bfree: 300, bavail: 250 }), (700 / 950) * 100);
  assert.equal(diskPercentFromStatfs({ blocks: 0, bfree: 0, bavail: 0 }), null, 'pseudo filesystem');
});

test('ProcSystemSampler on recorded /proc: 50 % CPU, RAM in MiB, disk from statfs', async () => {
  const proc = await scratchProc('tree-t0');
  try {
    const sampler = new ProcSystemSampler({
      procRoot: proc.root,
      diskPath: '/workspace',
      statfs: async (p) => {
        assert.equal(p, '/workspace');
        return { blocks: 1000, bfree: 500, bavail: 500 };
      },
    });
    const first = await sampler.sample();
    assert.equal(first.cpuUsagePercent, null, 'no ticks passed since the baseline');
    assert.equal(first.ramTotalMb, 16318412 / 1024);
    assert.equal(first.diskUsagePercent, 50);
    await proc.moveTo('tree-t1');
    const second = await sampler.sample();
    assert.equal(second.cpuUsagePercent, 50);
    assert.equal(second.ramAvailableMb, 4079603 / 1024);
    assert.equal(second.ramUsedMb, (16318412 - 4079603) / 1024);
  } finally {
    await proc.dispose();
  }
});

test('ProcSystemSampler reads the disk again only once its last reading is diskEveryMs old', async () => {
  let nowMs = 0;
  let free = 500;
  const asked: number[] = [];
  const sampler = new ProcSystemSampler({
    procRoot: PROC + '/tree-t0',
    diskPath: '/workspace',
    diskEveryMs: 10_000,
    nowMs: () => nowMs,
    statfs: async () => {
      asked.push(nowMs);
      return { blocks: 1000, bfree: free, bavail: free };
    },
  });
  try {
    assert.equal((await sampler.sample()).diskUsagePercent, 50);
    free = 250;
    nowMs = 9_999;
    assert.equal((await sampler.sample()).diskUsagePercent, 50, 'the reading of 10 s ago is reused');
    nowMs = 10_000;
    assert.equal((await sampler.sample()).diskUsagePercent, 75);
    assert.deepEqual(asked, [0, 10_000]);
  } finally {
    sampler.dispose();
  }
});

test('ProcSystemSampler: unreadable parts are unknown and logged once each, never thrown', async () => {
  const logs: string[] = [];
  const sampler = new ProcSystemSampler({
    procRoot: join(PROC, 'does-not-exist'),
    diskPath: '/nope',
    statfs: () => Promise.reject(Object.assign(new Error('gone'), { code: 'ENOENT' })),
    onLog: (m) => logs.push(m),
  });
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await sampler.sample(), {
      cpuUsagePercent: null,
      ramUsedMb: null,
      ramAvailableMb: null,
      ramTotalMb: null,
      diskUsagePercent: null,
    });
  }
  assert.equal(logs.length, 3, logs.join('\n'));
  assert.ok(logs.some((l) => /disk % is unknown/.test(l) && /ENOENT/.test(l)));

  const brokenLogs: string[] = [];
  const broken = new ProcSystemSampler({ procRoot: join(PROC, 'broken'), onLog: (m) => brokenLogs.push(m) });
  const r = await broken.sample();
  assert.equal(r.cpuUsagePercent, null);
  assert.equal(r.ramTotalMb, null);
  assert.equal(r.diskUsagePercent, null, 'no disk path given');
  assert.equal(brokenLogs.length, 2);

  const old = await new ProcSystemSampler({ procRoot: join(PROC, 'old-kernel') }).sample();
  assert.equal(old.ramUsedMb, null);
  assert.ok(old.ramTotalMb !== null);
});

test('/proc/PID/stat: command names with spaces and parentheses, malformed lines', () => {
  const s = parsePidStat('201 (python (worker) 1) R 200 200 200 0 -1 4194304 1000 0 0 0 570 120 0 0 20 0 4 0 6100 123 260000 1');
  assert.deepEqual(s, { pid: 201, comm: 'python (worker) 1', state: 'R', ppid: 200, utimeTicks: 570, stimeTicks: 120, startTicks: 6100 });
  assert.equal(parsePidStat('77 (unterminated S 1 2 3'), null);
  assert.equal(parsePidStat(''), null);
  assert.equal(parsePidStat('x (a) S 1 2 3'), null);
  assert.equal(parseStatusRssKb('Name:\tx\nVmRSS:\t  1664 kB\n'), 1664);
  assert.equal(parseStatusRssKb('Name:\tkthreadd\n'), null);
});

test('ProcTreeSampler on recorded /proc (scan): descendants, RSS and CPU from tick deltas', async () => {
  const proc = await scratchProc('tree-t0');
  let nowMs = 1000;
  // rescanMs 0: the tree is walked at every sample (the caching of members is tested below).
  const sampler = new ProcTreeSampler({ procRoot: proc.root, nowMs: () => nowMs, rescanMs: 0 });
  try {
    const first = await sampler.sampleTree(100);
    assert.ok(first);
    assert.equal(sampler.lastStrategy, 'scan', 'this recorded kernel has no children files');
    // bash 100 -> python 200 -> worker 201; zombie 202 is left out; unrelated 300 and init are not in the tree.
    assert.deepEqual(first.pids, [100, 200, 201]);
    assert.equal(first.rssMb, (4096 + 2048000 + 1024000) / 1024);
    assert.equal(first.cpuPercent, null, 'no previous reading of this root');

    await proc.moveTo('tree-t1');
    nowMs += 2000;
    const second = await sampler.sampleTree(100);
    assert.ok(second);
    assert.deepEqual(second.pids, [100, 200, 201, 203]);
    // Over 2 s: 200 +150 ticks, 201 +190, new 203 +60, bash 0 => 400 ticks = 4 s of CPU = 200 % of one core.
    assert.equal(second.cpuPercent, 200);
    assert.equal(second.rssMb, (4096 + 2088960 + 1064960 + 40960) / 1024);

    const subtree = await sampler.sampleTree(201);
    assert.deepEqual(subtree?.pids, [201, 203]);
  } finally {
    await proc.dispose();
  }
});

test('ProcTreeSampler walks the tree again only every rescanMs; in between it reads the known members', async () => {
  const proc = await scratchProc('tree-t0');
  let nowMs = 1000;
  const sampler = new ProcTreeSampler({ procRoot: proc.root, nowMs: () => nowMs, rescanMs: 5000 });
  try {
    assert.deepEqual((await sampler.sampleTree(100))?.pids, [100, 200, 201]);
    await proc.moveTo('tree-t1');
    nowMs += 2000;
    const cached = await sampler.sampleTree(100);
    assert.deepEqual(cached?.pids, [100, 200, 201], 'the new worker 203 is not looked for yet');
    // 200 +150 ticks, 201 +190 over 2 s: 340 ticks = 170 % of one core.
    assert.equal(cached?.cpuPercent, 170);
    nowMs += 3000;
    assert.deepEqual((await sampler.sampleTree(100))?.pids, [100, 200, 201, 203], 'found at the next walk');
  } finally {
    await proc.dispose();
  }
});

test('ProcTreeSampler walks a tree whose members stay the same less and less often, and again at once when one leaves', async () => {
  const proc = await scratchProc('tree-t0');
  let nowMs = 0;
  const sampler = new ProcTreeSampler({ procRoot: proc.root, nowMs: () => nowMs, rescanMs: 5000, rescanMaxMs: 20_000 });
  const walkedAt = async (from: number, to: number): Promise<number[]> => {
    const at: number[] = [];
    for (let t = from; t <= to; t += 1000) {
      nowMs = t;
      const before = sampler.walks;
      assert.ok(await sampler.sampleTree(100));
      if (sampler.walks > before) at.push(t);
    }
    return at;
  };
  try {
    // The same members each walk: 5 s, then 10, then 20 (the most).
    assert.deepEqual(await walkedAt(0, 60_000), [0, 5000, 15_000, 35_000, 55_000]);
    // A worker exits: the sample that misses it (61 s) has the next one walk, and the wait starts
    // again from 5 s (doubled at once: that walk found what the sample before it had).
    await rm(join(proc.root, '201'), { recursive: true });
    assert.deepEqual(await walkedAt(61_000, 80_000), [62_000, 72_000]);
    // New members are found at the next walk due (92 s), which brings the wait back to 5 s.
    await proc.moveTo('tree-t1');
    assert.deepEqual(await walkedAt(81_000, 110_000), [92_000, 97_000, 107_000]);
    assert.deepEqual((await sampler.sampleTree(100))?.pids, [100, 200, 201, 203]);
  } finally {
    await proc.dispose();
  }
});

test('ProcTreeSampler on a kernel with children files walks them instead of scanning', async () => {
  for (const strategy of ['auto', 'children'] as const) {
    const sampler = new ProcTreeSampler({ procRoot: join(PROC, 'tree-children'), strategy });
    const r = await sampler.sampleTree(100);
    assert.equal(sampler.lastStrategy, 'children');
    assert.deepEqual(r?.pids, [100, 200, 201, 203]);
    assert.equal(r?.rssMb, (4096 + 2088960 + 1064960 + 40960) / 1024);
  }
  const logs: string[] = [];
  const forced = new ProcTreeSampler({ procRoot: join(PROC, 'tree-t1'), strategy: 'children', onLog: (m) => logs.push(m) });
  assert.deepEqual((await forced.sampleTree(100))?.pids, [100, 200, 201, 203]);
  await forced.sampleTree(100);
  assert.equal(forced.lastStrategy, 'scan');
  assert.equal(logs.length, 1, 'the fallback is logged once');
});

test('ProcTreeSampler: a gone or zombie root reads null and its history is forgotten', async () => {
  const sampler = new ProcTreeSampler({ procRoot: join(PROC, 'tree-t0') });
  assert.equal(await sampler.sampleTree(4242), null);
  assert.equal(await sampler.sampleTree(202), null, 'zombie');
  assert.equal(await sampler.sampleTree(-1), null);
  assert.equal(await sampler.sampleTree(1.5), null);
});

test('real /proc: machine figures are in range', { skip: !isLinux }, async () => {
  const sampler = new ProcSystemSampler({ diskPath: process.cwd() });
  // CPU needs two /proc/stat readings that differ: sample until one has it, then check it too.
  const r = await waitUntil('a reading with a CPU figure', async () => {
    const reading = await sampler.sample();
    return reading.cpuUsagePercent !== null ? reading : null;
  }, { timeoutMs: 30_000 });
  assert.ok(r.ramTotalMb !== null && r.ramTotalMb > 64, `ramTotalMb ${r.ramTotalMb}`);
  assert.ok(r.ramUsedMb !== null && r.ramUsedMb > 0 && r.ramUsedMb <= r.ramTotalMb);
  assert.ok(r.ramAvailableMb !== null && r.ramAvailableMb <= r.ramTotalMb);
  assert.ok(r.diskUsagePercent !== null && r.diskUsagePercent >= 0 && r.diskUsagePercent <= 100);
  assert.ok(r.cpuUsagePercent !== null && r.cpuUsagePercent >= 0 && r.cpuUsagePercent <= 100, `cpu ${r.cpuUsagePercent}`);
});

test('real /proc: the test process tree is found, with a child and CPU in range', { skip: !isLinux }, async () => {
  const child = spawn(process.execPath, ['-e', 'const end = Date.now() + 400; while (Date.now() < end) {} setTimeout(() => {}, 5000)'], {
    stdio: 'ignore',
  });
  try {
    const sampler = new ProcTreeSampler();
    const first = await sampler.sampleTree(process.pid);
    assert.ok(first);
    assert.ok(first.pids.includes(process.pid));
    assert.ok(child.pid !== undefined && first.pids.includes(child.pid), `child ${child.pid} in ${first.pids.join(',')}`);
    assert.ok(first.rssMb > 10, `rssMb ${first.rssMb}`);
    // CPU needs a second reading some time after the first: sample until one has it.
    const second = await waitUntil('a tree reading with a CPU figure', async () => {
      const reading = await sampler.sampleTree(process.pid);
      return reading?.cpuPercent !== null && reading?.cpuPercent !== undefined ? { ...reading, cpuPercent: reading.cpuPercent } : null;
    }, { timeoutMs: 30_000 });
    // Two cores here: the busy child and this process cannot exceed the machine.
    assert.ok(second.cpuPercent >= 0 && second.cpuPercent <= 100 * 64, `cpu ${second.cpuPercent}`);
  } finally {
    child.kill('SIGKILL');
  }
});

test('ProcTreeSampler on the real /proc keeps each member\'s stat and statm open and closes those that leave', { skip: process.platform !== 'linux' ? 'Linux /proc only' : false }, async (t) => {
  // sh -> two sleeps: a tree of three whose members are killed one by one.
  const root = spawn('sh', ['-c', 'sleep 60 & sleep 60 & wait'], { stdio: 'ignore' });
  t.after(() => root.kill('SIGKILL'));
  const sampler = new ProcTreeSampler({ rescanMs: 0 });
  t.after(() => sampler.dispose());
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const before = fds();
  const full = await waitUntil('sh and both sleeps in the tree', async () => {
    const r = await sampler.sampleTree(root.pid as number);
    return r && r.pids.length === 3 ? r : null;
  });
  assert.equal(sampler.keptDescriptors, 6);
  assert.equal(fds(), before + 6, 'stat and statm of each member, kept');
  assert.deepEqual((await sampler.sampleTree(root.pid as number))?.pids, full.pids, 'read again through the same descriptors');
  assert.equal(fds(), before + 6);

  const sleeps = full.pids.filter((p) => p !== root.pid);
  process.kill(sleeps[0] as number, 'SIGKILL');
  await waitUntil('the killed sleep left the tree', async () => ((await sampler.sampleTree(root.pid as number))?.pids.length === 2 ? true : null));
  assert.equal(sampler.keptDescriptors, 4, 'the member that left is closed');

  root.kill('SIGKILL');
  await waitUntil('the root is gone', async () => ((await sampler.sampleTree(root.pid as number)) === null ? true : null));
  // The orphaned sleep is no longer part of any followed tree: its descriptor goes too.
  assert.equal(sampler.keptDescriptors, 0);
  assert.equal(fds(), before);
  try {
    process.kill(sleeps[1] as number, 'SIGKILL');
  } catch {
    // Already gone.
  }
});

test('ProcFile on the real /proc: one descriptor kept across reads, fresh text each time, closed on dispose', { skip: process.platform !== 'linux' ? 'Linux /proc only' : false }, async () => {
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const before = fds();
  const file = new ProcFile('/proc/self/stat');
  assert.equal(file.readNow(), null, 'nothing synchronous before the first read has opened it');
  const first = await file.readPrefix();
  const held = fds();
  assert.equal(held, before + 1, 'one descriptor kept open');
  // utime/stime of this process move as it works: the second read is regenerated, not cached.
  let later = first;
  for (let i = 0; i < 50 && later === first; i++) {
    for (let j = 0; j < 2e6; j++) Math.sqrt(j);
    later = await file.readPrefix();
  }
  assert.notEqual(later, first);
  assert.match(later, new RegExp(`^${process.pid} \\(`));
  assert.equal(fds(), held, 'no descriptor per read');
  assert.match(file.readNow() ?? '', new RegExp(`^${process.pid} \\(`), 'the steady state reads synchronously');
  file.close();
  assert.equal(file.readNow(), null, 'closed: nothing synchronous');
  await waitUntil('the descriptor to be closed', () => fds() === before || null, { timeoutMs: 2000, everyMs: 10 });
  await assert.rejects(file.readPrefix(), /closed/);
});

test('ProcFile on a regular file (a recorded /proc): read afresh each time, nothing kept open', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-procfile-'));
  try {
    const path = join(dir, 'stat');
    await writeFile(path, 'cpu  1 2 3 4\n');
    const file = new ProcFile(path);
    assert.equal(await file.readPrefix(), 'cpu  1 2 3 4\n');
    assert.equal(file.readNow(), null, 'a regular file is never read through a kept descriptor');
    await rm(path);
    await writeFile(path, 'cpu  5 6 7 8\n');
    assert.equal(await file.readPrefix(), 'cpu  5 6 7 8\n', 'the replaced file, not the old one');
    await rm(path);
    await assert.rejects(file.readPrefix(), /ENOENT/);
    file.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('RSS from statm (pages) and the page size from the auxiliary vector; anything else is unknown', () => {
  assert.equal(parseStatmRssKb('182123 10503 8831 6802 0 12248 0\n', 4), 42012);
  assert.equal(parseStatmRssKb('182123 10503', 16), 168048, 'no third field, no newline');
  assert.equal(parseStatmRssKb('182123 -1 8831', 4), null);
  assert.equal(parseStatmRssKb('182123 1e3 8831', 4), null);
  assert.equal(parseStatmRssKb('garbage', 4), null);
  const stat = (ppid: string) => `42 (py) S ${ppid} 42 42 0 -1 4194304 10 0 0 0 5 6 0 0 20 0 1 0 700 123456 10503 18446744073709551615 1 1 0`;
  assert.equal(parsePidStat(stat('1'))?.startTicks, 700);
  assert.equal(parsePidStat(stat('x')), null, 'a ppid that is not a number');
  assert.equal(parsePidStat(stat('-1')), null, 'nor a signed one');
  assert.equal(parsePidStat('42 (py) S 1 42 42 0 -1 4194304 10 0 0 0 5'), null, 'no start time');
  const auxv = (pairs: Array<[number, number]>, le = true): Buffer => {
    const b = Buffer.alloc(pairs.length * 16);
    pairs.forEach(([type, value], i) => {
      if (le) {
        b.writeBigUInt64LE(BigInt(type), i * 16);
        b.writeBigUInt64LE(BigInt(value), i * 16 + 8);
      } else {
        b.writeBigUInt64BE(BigInt(type), i * 16);
        b.writeBigUInt64BE(BigInt(value), i * 16 + 8);
      }
    });
    return b;
  };
  assert.equal(pageKbFromAuxv(auxv([[33, 1], [16, 0xbfebfbff], [6, 4096], [0, 0]]), true), 4);
  assert.equal(pageKbFromAuxv(auxv([[6, 65536], [0, 0]], false), false), 64, 'big-endian');
  assert.equal(pageKbFromAuxv(auxv([[16, 1], [0, 0], [6, 4096]]), true), null, 'after AT_NULL is not the vector');
  assert.equal(pageKbFromAuxv(auxv([[6, 5000], [0, 0]]), true), null, 'not a power of two');
  assert.equal(pageKbFromAuxv(auxv([[6, 1024], [0, 0]]), true), null, 'smaller than any page');
  assert.equal(pageKbFromAuxv(Buffer.alloc(7), true), null, 'truncated');
});

test('on the real /proc the tree RSS read through statm agrees with status VmRSS', { skip: process.platform !== 'linux' ? 'Linux /proc only' : false }, async (t) => {
  // A process with no children whose memory stands still: its tree is itself.
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  const pid = child.pid as number;
  const sampler = new ProcTreeSampler();
  t.after(() => sampler.dispose());
  // Just after exec the loader is still mapping pages, so RSS moves between two reads: wait until
  // the sampler's figure and status agree (a wrong field or page size never would: the wait fails).
  let last = '';
  const { reading, vmRssKb } = await waitUntil(
    'the sampler\'s RSS of the sleep process to agree with its status VmRSS',
    async () => {
      const r = await sampler.sampleTree(pid);
      if (!r || !readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('sleep')) return null;
      const kb = parseStatusRssKb(readFileSync(`/proc/${pid}/status`, 'utf8')) ?? 0;
      last = `${r.rssMb * 1024} kB vs ${kb} kB`;
      // The same kernel counter read a moment apart.
      return kb > 0 && Math.abs(r.rssMb * 1024 - kb) <= 64 ? { reading: r, vmRssKb: kb } : null;
    },
    { timeoutMs: 10_000 },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; last: ${last}`);
  });
  assert.ok(vmRssKb > 0);
  assert.deepEqual(reading.pids, [pid]);
});
