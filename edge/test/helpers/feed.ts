import type { Prng } from "../../../lib/testing/prng.js";

/**
 * Ways to deliver `bytes` to an incremental parser, as lists of pieces:
 * whole, one byte at a time, and split in two at every offset. Parsers must
 * give the same result for each.
 */
export function* everyFeeding(bytes: Buffer): Generator<{ label: string; pieces: Buffer[] }> {
  yield { label: "whole", pieces: [bytes] };
  const single: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 1) single.push(bytes.subarray(i, i + 1));
  yield { label: "byte by byte", pieces: single };
  for (let split = 0; split <= bytes.length; split += 1) {
    yield { label: `split at ${split}`, pieces: [bytes.subarray(0, split), bytes.subarray(split)] };
  }
}

/** `bytes` cut at random points into pieces of 0..maxPiece bytes (empty pieces included on purpose). */
export function randomPieces(bytes: Buffer, prng: Prng, maxPiece: number): Buffer[] {
  const pieces: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const take = prng.int(0, maxPiece);
    pieces.push(bytes.subarray(at, at + take));
    at += take;
  }
  return pieces;
}

/** Concatenates every non-null Buffer (for comparing outputs collected piecewise). */
export function joinBuffers(buffers: ReadonlyArray<Buffer | null>): Buffer {
  return Buffer.concat(buffers.filter((b): b is Buffer => b !== null));
}
