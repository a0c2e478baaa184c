// Streaming line splitter: a history of any size is read in fixed chunks and split into lines of
// bytes, so no file is ever held as one string (V8 strings stop at about 512 MB) and memory stays
// bounded by the longest line, itself capped.
import { open } from 'node:fs/promises';

/** Longer lines are not records this product writes: reported without holding their bytes. */
const MAX_LINE_BYTES = 4 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;
const NEWLINE = 0x0a;

export interface RawLine {
  /** 1-based, counted from `firstLineNo`. */
  lineNo: number;
  /** Byte offset of the line's first byte in the file. */
  offset: number;
  /** Bytes of the line without its newline. */
  length: number;
  /** The line's bytes; null when longer than the cap (copy it by offset and length). */
  bytes: Buffer | null;
  /** False for a last line with no newline after it: a write that was cut off, or one in flight. */
  terminated: boolean;
}

/**
 * Splits chunks into lines, one batch per chunk, so a reader handles a chunk's lines in one
 * synchronous pass. A line inside one chunk is a view into it, not a copy: the chunks must be
 * buffers their source does not reuse (readChunks' are fresh). Bytes carried over to the next
 * chunk are copied.
 */
async function* splitLineBatches(chunks: AsyncIterable<Uint8Array>, startOffset = 0, maxLineBytes = MAX_LINE_BYTES, firstLineNo = 1): AsyncGenerator<RawLine[]> {
  let parts: Buffer[] = [];
  let pendingLength = 0;
  let overflow = false;
  let lineStart = startOffset;
  let lineNo = firstLineNo;
  for await (const raw of chunks) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const batch: RawLine[] = [];
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, from);
      const end = nl === -1 ? chunk.length : nl;
      const piece = end - from;
      if (!overflow) {
        if (pendingLength + piece > maxLineBytes) {
          overflow = true;
          parts = [];
        } else if (piece > 0) {
          // A line's end in this chunk is a view; its start carried from earlier chunks was copied.
          parts.push(nl === -1 ? Buffer.from(chunk.subarray(from, end)) : chunk.subarray(from, end));
        }
      }
      pendingLength += piece;
      if (nl === -1) break;
      batch.push({ lineNo, offset: lineStart, length: pendingLength, bytes: overflow ? null : concat(parts, pendingLength), terminated: true });
      lineNo++;
      lineStart += pendingLength + 1;
      parts = [];
      pendingLength = 0;
      overflow = false;
      from = nl + 1;
    }
    if (batch.length > 0) yield batch;
  }
  if (pendingLength > 0) yield [{ lineNo, offset: lineStart, length: pendingLength, bytes: overflow ? null : concat(parts, pendingLength), terminated: false }];
}

export async function* splitLines(chunks: AsyncIterable<Uint8Array>, startOffset = 0, maxLineBytes = MAX_LINE_BYTES, firstLineNo = 1): AsyncGenerator<RawLine> {
  for await (const batch of splitLineBatches(chunks, startOffset, maxLineBytes, firstLineNo)) yield* batch;
}

function concat(parts: Buffer[], length: number): Buffer {
  if (parts.length === 1) return parts[0] as Buffer;
  if (parts.length === 0) return EMPTY;
  return Buffer.concat(parts, length);
}

const EMPTY = Buffer.alloc(0);

/**
 * The bytes of `path` from `start` up to (not including) `end`, or to its end, in chunks of at
 * most 1 MiB. Every chunk is a fresh buffer, never reused: lines may be views into it.
 */
export async function* readChunks(path: string, start = 0, end?: number): AsyncGenerator<Buffer> {
  if (end !== undefined && end <= start) return;
  const fh = await open(path, 'r');
  try {
    // Sized by what is there (a small segment gets a small buffer), reading on past it while the file grows.
    let known = end ?? (await fh.stat()).size;
    let pos = start;
    for (;;) {
      const want = end !== undefined ? Math.min(CHUNK_BYTES, end - pos) : Math.min(CHUNK_BYTES, Math.max(known - pos, 64 * 1024));
      if (want <= 0) return;
      const buf = Buffer.allocUnsafeSlow(want);
      const { bytesRead } = await fh.read(buf, 0, want, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      if (pos > known) known = pos;
      yield bytesRead === want ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

export function readLines(path: string, start = 0, end?: number): AsyncGenerator<RawLine> {
  return splitLines(readChunks(path, start, end), start);
}

/** readLines a chunk at a time (see splitLineBatches). */
export function readLineBatches(path: string, start = 0, end?: number): AsyncGenerator<RawLine[]> {
  return splitLineBatches(readChunks(path, start, end), start);
}

/**
 * The lines of `path` before `end`, last first, read in blocks from the end: the newest N
 * records cost in proportion to N, not to the file. Line numbers are unknown here (0).
 */
export async function* readLinesBackward(path: string, end?: number, blockBytes = 64 * 1024, maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<RawLine> {
  const fh = await open(path, 'r');
  try {
    let pos = end ?? (await fh.stat()).size;
    const fileEnd = pos;
    // The bytes after the newest newline seen, which begin a line whose start is further back.
    let tail: Buffer = Buffer.alloc(0);
    let tailLength = 0;
    let overflow = false;
    // Until a newline is found, the bytes at the end are a last line with no newline.
    let atEnd = true;
    const line = (offset: number, head: Buffer, terminated: boolean): RawLine => {
      const length = head.length + tailLength;
      return { lineNo: 0, offset, length, bytes: overflow || length > maxLineBytes ? null : Buffer.concat([head, tail]), terminated };
    };
    while (pos > 0) {
      const size = Math.min(blockBytes, pos);
      pos -= size;
      const block = Buffer.alloc(size);
      let got = 0;
      while (got < size) {
        const { bytesRead } = await fh.read(block, got, size - got, pos + got);
        if (bytesRead === 0) throw new Error(`"${path}" shrank while being read`);
        got += bytesRead;
      }
      let idx = block.length;
      while (idx > 0) {
        const nl = block.lastIndexOf(0x0a, idx - 1);
        if (nl === -1) break;
        const head = block.subarray(nl + 1, idx);
        if (atEnd) {
          if (head.length + tailLength > 0) yield line(pos + nl + 1, head, false);
          atEnd = false;
        } else yield line(pos + nl + 1, head, true);
        tail = Buffer.alloc(0);
        tailLength = 0;
        overflow = false;
        idx = nl;
      }
      tailLength += idx;
      if (!overflow) {
        if (tailLength > maxLineBytes) {
          overflow = true;
          tail = Buffer.alloc(0);
        } else tail = Buffer.concat([block.subarray(0, idx), tail]);
      }
    }
    if (atEnd) {
      if (tailLength > 0) yield line(0, Buffer.alloc(0), false);
    } else if (fileEnd > 0) yield line(0, Buffer.alloc(0), true);
  } finally {
    await fh.close();
  }
}
