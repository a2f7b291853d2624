import type { Prng } from "../../../lib/testing/prng.js";

/**
 * Byte-level mutations shared by the targets. Each returns a new Buffer and
 * never mutates its input (corpus files are shared between cases).
 */

/** Byte values that tend to sit on boundaries: zero, sign bits, all ones, small counts. */
const INTERESTING_BYTES = [
  0x00, 0x01, 0x02, 0x03, 0x07, 0x08, 0x09, 0x10, 0x11, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0xc0, 0xfe, 0xff,
];

/** Field values that tend to break length and count checks. */
export const INTERESTING_U32 = [
  0, 1, 2, 7, 8, 9, 15, 16, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0xfffff, 0x7fffff,
  0x800000, 0xffffff, 0x1000000, 0x3fffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
];

/** A byte biased towards interesting values. */
export function interestingByte(rng: Prng): number {
  return rng.bool(0.5) ? rng.pick(INTERESTING_BYTES) : rng.int(0, 255);
}

/** Random bytes, a fraction of them interesting. */
export function randomBytes(rng: Prng, length: number): Buffer {
  const out = rng.bytes(length);
  for (let i = 0; i < length; i++) if (rng.bool(0.2)) out[i] = rng.pick(INTERESTING_BYTES);
  return out;
}

/** A value for a `width`-byte field near interesting points, or around `original` when given. */
export function interestingValue(rng: Prng, width: 1 | 2 | 3 | 4, original?: number): number {
  const max = 2 ** (8 * width) - 1;
  const choice = rng.int(0, 9);
  let value: number;
  if (original !== undefined && choice <= 2) {
    value = original + rng.pick([-2, -1, 1, 2, original, -original + 1, 1000, -1000]);
  } else if (choice <= 6) {
    value = rng.pick(INTERESTING_U32);
  } else {
    value = rng.int(0, max);
  }
  return Math.max(0, Math.min(max, value));
}

export function writeUIntBE(bytes: Buffer, offset: number, width: 1 | 2 | 3 | 4, value: number): void {
  if (offset < 0 || offset + width > bytes.length) return;
  bytes.writeUIntBE(value, offset, width);
}

function randomRange(rng: Prng, length: number, maxSpan: number): [number, number] {
  const at = rng.int(0, Math.max(0, length - 1));
  const span = rng.int(1, Math.max(1, Math.min(maxSpan, length - at)));
  return [at, at + span];
}

/**
 * One random mutation: bit flip, interesting byte, a byte run, an
 * interesting u16/u24/u32 (big- or little-endian), insert, delete,
 * duplicate, swap with elsewhere, or truncate. `from`/`to` bound where the
 * mutation lands (default: anywhere).
 */
export function mutateOnce(rng: Prng, input: Buffer, from = 0, to = input.length): Buffer {
  if (input.length === 0) return randomBytes(rng, rng.int(1, 16));
  const lo = Math.max(0, Math.min(from, input.length - 1));
  const hi = Math.max(lo + 1, Math.min(to, input.length));
  const at = rng.int(lo, hi - 1);
  switch (rng.int(0, 10)) {
    case 0: {
      const out = Buffer.from(input);
      out[at] = out[at]! ^ (1 << rng.int(0, 7));
      return out;
    }
    case 1: {
      const out = Buffer.from(input);
      out[at] = interestingByte(rng);
      return out;
    }
    case 2: {
      // A run of one byte value (zero pages, 0xff padding, repeated markers).
      const out = Buffer.from(input);
      const end = Math.min(out.length, at + rng.int(1, 64));
      out.fill(rng.bool(0.7) ? rng.pick([0x00, 0xff, 0x03, 0x0a, 0x09]) : rng.int(0, 255), at, end);
      return out;
    }
    case 3:
    case 4: {
      const out = Buffer.from(input);
      const width = rng.pick([2, 3, 4] as const);
      if (at + width > out.length) return out;
      const value = interestingValue(rng, width);
      if (rng.bool(0.8) || width === 3) out.writeUIntBE(value, at, width);
      else out.writeUIntLE(value, at, width);
      return out;
    }
    case 5: {
      const insert = randomBytes(rng, rng.int(1, 32));
      return Buffer.concat([input.subarray(0, at), insert, input.subarray(at)]);
    }
    case 6: {
      const [start, end] = randomRange(rng, input.length, 64);
      return Buffer.concat([input.subarray(0, start), input.subarray(end)]);
    }
    case 7: {
      // Duplicate a range (repeated headers, repeated markers).
      const [start, end] = randomRange(rng, input.length, 256);
      return Buffer.concat([input.subarray(0, end), input.subarray(start, end), input.subarray(end)]);
    }
    case 8: {
      // Copy a range over another place (a header where data should be).
      const out = Buffer.from(input);
      const [start, end] = randomRange(rng, input.length, 64);
      input.copy(out, at, start, end);
      return out;
    }
    case 9:
      return input.subarray(0, rng.int(0, input.length));
    default: {
      const out = Buffer.from(input);
      const count = rng.int(1, 8);
      for (let i = 0; i < count; i++) out[rng.int(lo, hi - 1)] = rng.int(0, 255);
      return out;
    }
  }
}

/** 1..max mutations in a row. */
export function mutate(rng: Prng, input: Buffer, max = 4, from = 0, to = input.length): Buffer {
  let out = input;
  const count = rng.int(1, max);
  for (let i = 0; i < count; i++) out = mutateOnce(rng, out, from, Math.min(to, out.length));
  return out;
}

/**
 * Piece lengths for feeding `length` bytes to an incremental decoder:
 * whole, byte by byte (short inputs), random pieces of up to a random size
 * (empty pieces included), or cuts at the given structural offsets ± 1.
 */
export function splitPlan(rng: Prng, length: number, boundaries: readonly number[] = []): number[] {
  const choice = rng.int(0, 9);
  if (choice <= 1) return [length];
  // Tiny pieces cost one decoder call per byte or two: kept for short inputs.
  if (choice === 2 && length <= 2048) return new Array<number>(length).fill(1);
  if (choice === 3 && boundaries.length > 0) {
    const cuts = new Set<number>();
    const count = rng.int(1, Math.min(8, boundaries.length));
    for (let i = 0; i < count; i++)
      cuts.add(Math.max(0, Math.min(length, rng.pick(boundaries) + rng.int(-1, 1))));
    const sorted = [...cuts].sort((a, b) => a - b);
    const pieces: number[] = [];
    let previous = 0;
    for (const cut of sorted) {
      pieces.push(cut - previous);
      previous = cut;
    }
    pieces.push(length - previous);
    return pieces;
  }
  const maxPiece = rng.pick(
    length <= 2048 ? [1, 2, 3, 7, 16, 64, 200, 1500, 8192] : [7, 16, 64, 200, 1500, 8192],
  );
  const pieces: number[] = [];
  let total = 0;
  while (total < length) {
    const take = rng.int(0, maxPiece);
    pieces.push(take);
    total += take;
  }
  return pieces;
}

/**
 * `bytes` cut by `plan`; bytes the plan does not cover (it was made for a
 * longer input, or the input grew while minimizing) follow as one last piece.
 */
export function piecesOf(bytes: Buffer, plan: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let at = 0;
  for (const length of plan) {
    const end = Math.min(bytes.length, at + length);
    pieces.push(bytes.subarray(at, end));
    at = end;
  }
  if (at < bytes.length) pieces.push(bytes.subarray(at));
  return pieces;
}

/** A short summary of a split plan for failure reports. */
export function describePlan(plan: readonly number[]): string {
  if (plan.length <= 24) return `pieces [${plan.join(", ")}]`;
  return `${plan.length} pieces [${plan.slice(0, 24).join(", ")}, …]`;
}
