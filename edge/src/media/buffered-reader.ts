import { mediaInvalid } from "./media-error.js";
import type { RangeSource } from "./range-source.js";

export interface BufferedReaderOptions {
  /** Bytes fetched per range read when a small read misses. @default 256 KiB */
  blockSize?: number | undefined;
  /**
   * Blocks kept at once. One suits a container read front to back (FLV,
   * MP3); an MP4 whose audio and video chunks sit far apart in mdat needs
   * two so each track's read-ahead survives the other's reads. @default 1
   */
  maxBlocks?: number | undefined;
}

export const DEFAULT_BLOCK_SIZE = 256 * 1024;

const EMPTY: Buffer = Buffer.alloc(0);

interface Block {
  start: number;
  bytes: Buffer;
}

/**
 * Serves many small reads (an 11-byte FLV tag header, one MP4 sample) from a
 * few large range reads on the underlying source, so walking a file issues
 * one network request per block instead of one per tag.
 *
 * Returned buffers are views into a cached block: they stay valid, but a
 * caller keeping one long-term (sequence headers, metadata) should copy it so
 * it does not pin the whole block. Calls are not reentrant: await each one.
 */
export class BufferedReader {
  readonly source: RangeSource;
  readonly blockSize: number;
  /** May be raised after construction, e.g. once a demuxer knows it reads two regions at once. */
  maxBlocks: number;
  /** Cursor for read/peek/skip. */
  position = 0;
  /** Most recently used first. */
  #blocks: Block[] = [];

  constructor(source: RangeSource, options: BufferedReaderOptions = {}) {
    this.source = source;
    this.blockSize = Math.max(1, Math.floor(options.blockSize ?? DEFAULT_BLOCK_SIZE));
    this.maxBlocks = Math.max(1, Math.floor(options.maxBlocks ?? 1));
  }

  get size(): number {
    return this.source.size;
  }

  /** Bytes left after the cursor. */
  get remaining(): number {
    return Math.max(0, this.source.size - this.position);
  }

  /**
   * Resolves min(length, size - offset) bytes starting at offset. Blocks are
   * aligned to blockSize, so each byte is fetched once and, over the edge's
   * slice cache, a block is a view of the shared slice rather than a copy:
   * only a read that straddles blocks is joined into a buffer of its own.
   */
  async readAt(offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw mediaInvalid(`invalid read of ${length} bytes at ${offset}`);
    }
    const end = Math.min(offset + length, this.source.size);
    if (end <= offset) return EMPTY;
    const first = Math.floor(offset / this.blockSize);
    const last = Math.floor((end - 1) / this.blockSize);
    if (first === last) {
      const block = await this.#block(first);
      return block.bytes.subarray(offset - block.start, end - block.start);
    }
    if (this.source.readCached) {
      // Fetch the blocks (through the source's cache), then let the source
      // join them: it hands every reader of this range the same buffer.
      for (let index = first; index <= last; index++) await this.#block(index);
      const shared = this.source.readCached(offset, end - offset);
      if (shared) return shared;
    }
    const out = Buffer.allocUnsafe(end - offset);
    for (let index = first, written = 0; index <= last; index++) {
      const block = await this.#block(index);
      const from = Math.max(offset, block.start) - block.start;
      const to = Math.min(end, block.start + block.bytes.length) - block.start;
      written += block.bytes.copy(out, written, from, to);
    }
    return out;
  }

  /**
   * readAt without waiting: the bytes when they are already here (in a
   * block, or in the source's cache), null when they need a fetch. Lets a
   * demuxer walk a cached file without a promise per tag.
   */
  tryReadAt(offset: number, length: number): Buffer | null {
    if (!(offset >= 0 && length >= 0)) return null;
    const end = Math.min(offset + length, this.source.size);
    if (end <= offset) return EMPTY;
    const blocks = this.#blocks;
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i]!;
      if (offset >= block.start && end <= block.start + block.bytes.length) {
        if (i > 0) {
          // Recency as readAt keeps it: an MP4's audio block must not be evicted for being read this way.
          blocks.splice(i, 1);
          blocks.unshift(block);
        }
        return block.bytes.subarray(offset - block.start, end - block.start);
      }
    }
    return this.source.readCached ? this.source.readCached(offset, end - offset) : null;
  }

  /** The aligned block `index`, from the most-recently-used list or fetched. */
  async #block(index: number): Promise<Block> {
    const start = index * this.blockSize;
    for (let i = 0; i < this.#blocks.length; i++) {
      const block = this.#blocks[i]!;
      if (block.start !== start) continue;
      if (i > 0) {
        this.#blocks.splice(i, 1);
        this.#blocks.unshift(block);
      }
      return block;
    }
    const bytes = await this.#fetch(start, Math.min(this.blockSize, this.source.size - start));
    const block = { start, bytes };
    this.#blocks.unshift(block);
    if (this.#blocks.length > this.maxBlocks) this.#blocks.length = this.maxBlocks;
    return block;
  }

  /** Bytes at the cursor without moving it. */
  peek(length: number): Promise<Buffer> {
    return this.readAt(this.position, length);
  }

  /** Bytes at the cursor, moving the cursor past what was returned. */
  async read(length: number): Promise<Buffer> {
    const bytes = await this.readAt(this.position, length);
    this.position += bytes.length;
    return bytes;
  }

  skip(length: number): void {
    this.position += length;
  }

  seek(position: number): void {
    this.position = position;
  }

  /** Drops the cached blocks (e.g. after a seek far away). */
  clear(): void {
    this.#blocks = [];
  }

  async #fetch(offset: number, length: number): Promise<Buffer> {
    const bytes = await this.source.read(offset, length);
    if (bytes.length !== length) {
      throw mediaInvalid(`range read at ${offset} returned ${bytes.length} of ${length} bytes`);
    }
    return bytes;
  }
}
