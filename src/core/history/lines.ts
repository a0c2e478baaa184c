// Streaming line splitter: a history of any size is read in fixed chunks and split into lines of
// bytes, so no file is ever held as one string (V8 strings stop at about 512 MB) and memory stays
// bounded by the longest line, itself capped.
import { createReadStream } from 'node:fs';

/** Longer lines are not records this product writes: reported without holding their bytes. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;
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

export async function* splitLines(chunks: AsyncIterable<Uint8Array>, startOffset = 0, maxLineBytes = MAX_LINE_BYTES, firstLineNo = 1): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let pendingLength = 0;
  let overflow = false;
  let lineStart = startOffset;
  let lineNo = firstLineNo;
  for await (const raw of chunks) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
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
          // Copy: the caller may keep the line while the stream reuses its buffers.
          parts.push(Buffer.from(chunk.subarray(from, end)));
        }
      }
      pendingLength += piece;
      if (nl === -1) break;
      yield { lineNo, offset: lineStart, length: pendingLength, bytes: overflow ? null : concat(parts, pendingLength), terminated: true };
      lineNo++;
      lineStart += pendingLength + 1;
      parts = [];
      pendingLength = 0;
      overflow = false;
      from = nl + 1;
    }
  }
  if (pendingLength > 0) yield { lineNo, offset: lineStart, length: pendingLength, bytes: overflow ? null : concat(parts, pendingLength), terminated: false };
}

function concat(parts: Buffer[], length: number): Buffer {
  if (parts.length === 1) return parts[0] as Buffer;
  return Buffer.concat(parts, length);
}

/** The bytes of `path` from `start` up to (not including) `end`, in chunks. */
export function readChunks(path: string, start = 0, end?: number): AsyncIterable<Buffer> {
  if (end !== undefined && end <= start) return (async function* () {})();
  return createReadStream(path, { start, ...(end !== undefined ? { end: end - 1 } : {}), highWaterMark: CHUNK_BYTES });
}

export function readLines(path: string, start = 0, end?: number): AsyncGenerator<RawLine> {
  return splitLines(readChunks(path, start, end), start);
}
