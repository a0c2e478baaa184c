import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLines, readLinesBackward, splitLines, type RawLine } from '../../../src/core/history/lines';
import { parseLineBytes } from '../../../src/core/history/records';
import { quickStartTime } from '../../../src/core/history/segments';

async function* chunksOf(...parts: (string | Buffer)[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.isBuffer(p) ? p : Buffer.from(p);
}

async function all(it: AsyncIterable<RawLine>): Promise<RawLine[]> {
  const out: RawLine[] = [];
  for await (const l of it) out.push(l);
  return out;
}

test('lines split across chunks come back whole, with offsets, numbers and a cut-off last line', async () => {
  const lines = await all(splitLines(chunksOf('ab', 'c\nde', 'f\n\ngh'), 100));
  assert.deepEqual(
    lines.map((l) => [l.lineNo, l.offset, l.length, l.bytes?.toString(), l.terminated]),
    [
      [1, 100, 3, 'abc', true],
      [2, 104, 3, 'def', true],
      [3, 108, 0, '', true],
      [4, 109, 2, 'gh', false],
    ],
  );
});

test('more bytes than V8 can hold in one string stream through in bounded memory; an endless line is capped, not held', async () => {
  // 640 MiB in all (V8's longest string is about 512 MiB), made of one reused 1 MiB chunk.
  const line = Buffer.alloc(256 * 1024, 0x61);
  line[line.length - 1] = 0x0a;
  const chunk = Buffer.concat([line, line, line, line]);
  async function* big(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 640; i++) yield chunk;
  }
  let count = 0;
  let lastOffset = 0;
  for await (const l of splitLines(big())) {
    count++;
    lastOffset = l.offset;
    assert.equal(l.length, 256 * 1024 - 1);
  }
  assert.equal(count, 640 * 4);
  assert.equal(lastOffset, 640 * 1024 * 1024 - 256 * 1024);

  // One 600 MiB line without a newline: reported with its length, its bytes not kept.
  const noNewline = Buffer.alloc(1024 * 1024, 0x62);
  async function* endless(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 600; i++) yield noNewline;
    yield Buffer.from('\n{"x":1}\n');
  }
  const got = await all(splitLines(endless()));
  assert.deepEqual(
    got.map((l) => [l.lineNo, l.length, l.bytes === null ? null : l.bytes.toString(), l.terminated]),
    [
      [1, 600 * 1024 * 1024, null, true],
      [2, 7, '{"x":1}', true],
    ],
  );
});

test('a BOM at the start of a line is tolerated; bytes that are not UTF-8 make the line unreadable', () => {
  const rec = Buffer.from('{"schemaVersion":1,"taskId":"a","modelType":"m","resolution":"r","steps":1,"startTime":1,"status":"succeeded","success":true}');
  assert.equal(parseLineBytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), rec]))?.kind, 'task');
  assert.deepEqual(parseLineBytes(Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), { kind: 'bad', reason: 'not valid UTF-8 text' });
  assert.equal(parseLineBytes(Buffer.from('   ')), null);
});

test('reading from the end gives the same lines as reading forward, last first, whatever the block size', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mpm-lines-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'f');
  const cases = ['', '\n', 'a', 'a\n', '\nab\n\ncde\nf', 'one\ntwo\nthree\n', `${'x'.repeat(50)}\nshort\n${'y'.repeat(23)}`];
  for (const text of cases) {
    await writeFile(file, text);
    const forward: RawLine[] = [];
    for await (const l of readLines(file)) forward.push(l);
    for (const block of [1, 3, 7, 64]) {
      for (const cap of [10, 1000]) {
        const back: RawLine[] = [];
        for await (const l of readLinesBackward(file, undefined, block, cap)) back.push(l);
        const simplify = (l: RawLine) => [l.offset, l.length, l.length > cap ? null : text.slice(l.offset, l.offset + l.length), l.terminated];
        assert.deepEqual(
          back.reverse().map((l) => [l.offset, l.length, l.bytes === null ? null : l.bytes.toString(), l.terminated]),
          forward.map(simplify),
          `${JSON.stringify(text)} block ${block} cap ${cap}`,
        );
      }
    }
  }
});

test('the start-time prefilter reads only a plain integer start of the record itself; anything else is left to the parser', () => {
  const b = (s: string) => Buffer.from(s);
  assert.equal(quickStartTime(b('{"schemaVersion":1,"taskId":"a","startTime":1700000000000,"endTime":1}')), 1_700_000_000_000);
  assert.equal(quickStartTime(b('{"startTime":42}')), 42);
  // A task id that spells the key is escaped in JSON, so it never matches.
  assert.equal(quickStartTime(b(JSON.stringify({ taskId: '"startTime":1,', startTime: 99 }))), 99);
  for (const s of ['{"startTime":-5,"x":1}', '{"startTime":1.5,"x":1}', '{"startTime":"1","x":1}', '{"startTime":1e3}', '{"x":1}', '{"startTime":12345678901234567890}']) assert.equal(quickStartTime(b(s)), null, s);
});
