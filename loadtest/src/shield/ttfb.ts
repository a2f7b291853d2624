import { randomInt } from "node:crypto";
import { settle } from "../harness/lifecycle.js";
import { median, percentile } from "../harness/stats.js";
import { BUCKET, bodyOf, runTask, type Setup } from "./setup.js";
import { counterDelta, type S3Seen, type ShieldCounters, s3Seen, scrapeCounters } from "./shield-metrics.js";
import type { TtfbResult, TtfbSample } from "./worker-protocol.js";

/**
 * Time to first byte: ReadRange of --ttfb-kib at a random aligned offset,
 * one call at a time, pinned. Cold = a slice never read (a fresh key per
 * run, a distinct slice per sample: the shield's S3 GET is in the time; its
 * HEAD is not, the object was stat'ed first, as an edge opens a file before
 * reading). Warm = the same ranges again once their slices are in memory.
 */

export interface TtfbRecord {
  readonly key: string;
  readonly offsets: readonly number[];
  readonly coldMs: readonly number[];
  readonly warmMs: readonly number[];
  readonly coldP50Ms: number;
  readonly coldP90Ms: number;
  readonly warmP50Ms: number;
  readonly warmP90Ms: number;
  readonly coldTotalP50Ms: number;
  readonly warmTotalP50Ms: number;
  /** What the cold pass asked of S3 (ideal: one GET per sample). */
  readonly coldS3: S3Seen;
  /** Slice fetches the cache abandoned during the cold pass. */
  readonly coldAbandoned: number;
  /** Slices of cold samples not in the cache after the cold pass (the fill pass fetched them again). */
  readonly uncachedAfterCold: number;
  /** Must be 0: the warm samples are memory hits. */
  readonly warmS3Gets: number;
  readonly evictions: number;
  readonly errors: readonly string[];
}

export interface TtfbPass {
  readonly timings: TtfbResult["timings"];
  readonly s3: S3Seen;
  readonly shield: ShieldCounters;
  readonly errors: readonly string[];
}

/** One worker reading `samples` one at a time, with the S3 requests and shield counters of just that pass. */
async function ttfbPass(
  setup: Setup,
  key: string,
  objectSize: number,
  samples: TtfbSample[],
  deadlineMs: number,
) {
  const { o } = setup;
  // Untimed first: cached ranges of the big object (JIT on both sides, the connection).
  const warmup: TtfbSample[] = Array.from({ length: 20 }, (_, i) => ({
    label: "warmup",
    key: setup.objectKey,
    offset: (i % Math.max(1, Math.floor(o.objectBytes / o.ttfbBytes))) * o.ttfbBytes,
    length: Math.min(o.ttfbBytes, o.objectBytes),
  }));
  setup.s3.clearRequests();
  const before = await scrapeCounters(setup.admin);
  const result = await runTask<TtfbResult>(
    setup,
    { kind: "ttfb", target: setup.target, warmup, samples, deadlineMs },
    "ttfb",
  );
  await settle();
  const pass: TtfbPass = {
    timings: result.timings,
    s3: s3Seen(setup.s3.requests, key, objectSize),
    shield: counterDelta(before, await scrapeCounters(setup.admin)),
    errors: result.errors,
  };
  return pass;
}

/**
 * Cold: each sample in a slice never read. Then an untimed pass reads each
 * of those slices whole (a short read of a cold slice may leave it uncached:
 * the cache abandons a fetch whose last reader left before finishFraction of
 * it arrived; counted here). Warm: the same ranges again, every slice now
 * in memory (checked: no S3 GET).
 */
export async function measureTtfb(setup: Setup, run: number, deadlineMs: number): Promise<TtfbRecord> {
  const { o, s3 } = setup;
  const key = `bench/ttfb-run${run}.bin`;
  const objectSize = o.ttfbSamples * o.sliceBytes;
  await s3.putObject(BUCKET, key, bodyOf(setup, objectSize));
  const slices = Math.ceil(objectSize / o.sliceBytes);
  // A distinct slice per sample, in random order, at a random offset aligned to the sample length.
  const order = Array.from({ length: slices }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const ranges = order.slice(0, o.ttfbSamples).map((slice) => {
    const base = slice * o.sliceBytes;
    const sliceLength = Math.min(o.sliceBytes, objectSize - base);
    const positions = Math.max(1, Math.floor(sliceLength / o.ttfbBytes));
    const offset = base + randomInt(positions) * o.ttfbBytes;
    return { key, offset, length: Math.min(o.ttfbBytes, objectSize - offset), slice, sliceLength };
  });
  const cold = await ttfbPass(
    setup,
    key,
    objectSize,
    ranges.map((r) => ({ label: "cold", key, offset: r.offset, length: r.length })),
    deadlineMs,
  );
  const fill = await ttfbPass(
    setup,
    key,
    objectSize,
    ranges.map((r) => ({ label: "fill", key, offset: r.slice * o.sliceBytes, length: r.sliceLength })),
    deadlineMs,
  );
  const warm = await ttfbPass(
    setup,
    key,
    objectSize,
    ranges.map((r) => ({ label: "warm", key, offset: r.offset, length: r.length })),
    deadlineMs,
  );
  const ok = (pass: TtfbPass) => pass.timings.filter((t) => t.firstMs >= 0);
  const coldMs = ok(cold).map((t) => t.firstMs);
  const warmMs = ok(warm).map((t) => t.firstMs);
  return {
    key,
    offsets: ranges.map((r) => r.offset),
    coldMs,
    warmMs,
    coldP50Ms: median(coldMs),
    coldP90Ms: percentile(coldMs, 90),
    warmP50Ms: median(warmMs),
    warmP90Ms: percentile(warmMs, 90),
    coldTotalP50Ms: median(ok(cold).map((t) => t.totalMs)),
    warmTotalP50Ms: median(ok(warm).map((t) => t.totalMs)),
    coldS3: cold.s3,
    coldAbandoned: cold.shield.abandoned,
    uncachedAfterCold: fill.s3.gets,
    warmS3Gets: warm.s3.gets,
    evictions: cold.shield.evictions + fill.shield.evictions + warm.shield.evictions,
    errors: [...cold.errors, ...fill.errors, ...warm.errors],
  };
}
