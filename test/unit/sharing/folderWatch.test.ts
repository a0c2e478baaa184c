// FolderWatch: a change wakes one look (debounced), the poll is fast while a folder is missing, its
// filesystem is not trusted or the owner must look, and slow otherwise. Real folders in a temp
// folder and real timers at small paces; every wait is on a condition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changeEventsTrusted, FolderWatch, SLOW_POLL_MS } from '../../../src/core/util/folderWatch';
import { waitUntil } from '../helpers/waitUntil';

const HOUR_MS = 3_600_000;

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-folderwatch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('the pace: fast while a folder is missing or untrusted or the owner must look; slow when every folder is watched on a trusted filesystem', async (t) => {
  const root = await tempDir(t);
  const a = join(root, 'a');
  const b = join(root, 'b');
  await mkdir(a);
  let trustB = false;
  let must = false;
  const w = new FolderWatch({ dirs: [a, b], look: () => undefined, fastPollMs: 5000, slowPollMs: HOUR_MS, trusted: async (dir) => dir === a || trustB, mustPoll: () => must });
  t.after(() => w.dispose());
  await w.arm();
  assert.equal(w.pollMs, 5000, 'b does not exist yet');
  await mkdir(b);
  await w.arm();
  assert.equal(w.pollMs, 5000, 'b is watched, on a filesystem not trusted');
  const trusting = new FolderWatch({ dirs: [a, b], look: () => undefined, fastPollMs: 5000, slowPollMs: HOUR_MS, trusted: async () => true, mustPoll: () => must });
  t.after(() => trusting.dispose());
  await trusting.arm();
  assert.equal(trusting.pollMs, HOUR_MS);
  must = true;
  assert.equal(trusting.pollMs, 5000, 'the owner must look (a run shown may die without a word)');
  trustB = true;
  must = false;
  assert.equal(new FolderWatch({ dirs: [a], look: () => undefined, fastPollMs: 5000 }).pollMs, 5000, 'nothing armed yet');
  assert.equal(SLOW_POLL_MS, 60_000);
  const slowTooFast = new FolderWatch({ dirs: [a], look: () => undefined, fastPollMs: 5000, slowPollMs: 10, trusted: async () => true });
  t.after(() => slowTooFast.dispose());
  await slowTooFast.arm();
  assert.equal(slowTooFast.pollMs, 5000, 'the slow pace is never faster than the fast one');
});

test('a change in a watched folder wakes one look, however many events come within the debounce; unwanted names wake none', async (t) => {
  const dir = await tempDir(t);
  let looks = 0;
  const w = new FolderWatch({ dirs: [dir], look: () => looks++, matters: (_d, name) => name !== 'noise', fastPollMs: HOUR_MS, debounceMs: 1000, trusted: async () => true });
  t.after(() => w.dispose());
  w.start();
  await w.arm();
  await writeFile(join(dir, 'noise'), 'x');
  await writeFile(join(dir, 'one'), '1');
  await writeFile(join(dir, 'two'), '2');
  await waitUntil('a look after the events', () => looks > 0);
  // Wait for a second, unrelated look to prove the burst gave only one: a later change.
  await writeFile(join(dir, 'three'), '3');
  await waitUntil('a look after the later change', () => looks >= 2);
  assert.equal(looks, 2);
});

test('a missing folder is polled at the fast pace and watched once it appears; a trusted watch then stops the fast poll', async (t) => {
  const root = await tempDir(t);
  const dir = join(root, 'later');
  let looks = 0;
  const w = new FolderWatch({ dirs: [dir], look: () => looks++, fastPollMs: 20, slowPollMs: HOUR_MS, trusted: async () => true });
  t.after(() => w.dispose());
  w.start();
  await waitUntil('three polls while the folder is missing', () => looks >= 3);
  await mkdir(dir);
  await waitUntil('the folder watched', () => w.pollMs === HOUR_MS);
  const before = looks;
  await writeFile(join(dir, 'x'), 'x');
  await waitUntil('the change seen through the watch', () => looks > before);
});

test('paceChanged brings a slow poll forward when the owner must look', async (t) => {
  const dir = await tempDir(t);
  let looks = 0;
  let must = false;
  const w = new FolderWatch({ dirs: [dir], look: () => looks++, fastPollMs: 20, slowPollMs: HOUR_MS, mustPoll: () => must, trusted: async () => true });
  t.after(() => w.dispose());
  w.start();
  await waitUntil('the watch armed and trusted', () => w.pollMs === HOUR_MS);
  must = true;
  w.paceChanged();
  await waitUntil('polls at the fast pace', () => looks >= 3);
});

test('changeEventsTrusted: only Linux filesystems known to be local; a missing folder is not', async (t) => {
  const dir = await tempDir(t);
  assert.equal(await changeEventsTrusted(dir, 'darwin'), false);
  assert.equal(await changeEventsTrusted(dir, 'win32'), false);
  assert.equal(await changeEventsTrusted(join(dir, 'missing'), 'linux'), false);
});

test('a missing folder inside a trusted watched folder needs no fast poll: its creation wakes the parent watch', async (t) => {
  const root = await tempDir(t);
  const child = join(root, 'running');
  let looks = 0;
  const w = new FolderWatch({ dirs: [child, root], matters: (dir, name) => dir === child || name === 'running', look: () => looks++, fastPollMs: 20, slowPollMs: HOUR_MS, trusted: async () => true });
  t.after(() => w.dispose());
  w.start();
  await w.arm();
  assert.equal(w.pollMs, HOUR_MS, 'the parent watch covers the child folder');
  await writeFile(join(root, 'leader.lock'), 'x');
  await mkdir(child);
  await waitUntil('the creation seen through the parent', () => looks > 0);
  await w.arm();
  assert.equal(w.pollMs, HOUR_MS);
  const untrusted = new FolderWatch({ dirs: [join(root, 'other'), root], look: () => undefined, fastPollMs: 20, slowPollMs: HOUR_MS, trusted: async (d) => d !== root });
  t.after(() => untrusted.dispose());
  await untrusted.arm();
  assert.equal(untrusted.pollMs, 20, 'an untrusted parent does not cover a missing child');
});
