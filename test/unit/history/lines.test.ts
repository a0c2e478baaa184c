import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitLines, type RawLine } from '../../../src/core/history/lines';
import { parseLineBytes } from '../../../src/core/history/records';

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
