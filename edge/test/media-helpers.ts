import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fromRepoRoot } from "../../lib/testing/paths.js";
import { EdgeError, type EdgeErrorCode } from "../src/errors.js";
import { type MediaReader, type MediaTag, TagKind } from "../src/media/media-tag.js";
import type { RangeSource } from "../src/media/range-source.js";

export const SAMPLE_FLV = fromRepoRoot("deploy/local/media/videos/sample.flv");
export const SAMPLE_MP4 = fromRepoRoot("deploy/local/media/videos/sample.mp4");
export const SAMPLE_MP3 = fromRepoRoot("deploy/local/media/audio/sample.mp3");

export function fixture(name: string): string {
  return fromRepoRoot("edge/test/fixtures", name);
}

/** One packet as ffprobe reports it, with times rescaled to ms. */
export interface ProbedPacket {
  codecType: "audio" | "video";
  dtsMs: number;
  ptsMs: number;
  size: number;
  key: boolean;
}

interface FfprobeJson {
  streams: { index: number; codec_type: string; time_base: string }[];
  packets: { stream_index: number; pts?: number; dts?: number; size: string; flags: string }[];
}

/**
 * `ffprobe -show_packets` on the source file, grouped by codec type, with
 * each integer pts/dts rescaled to ms by `toMs` (the reader's rounding), so
 * both sides round the same integers the same way.
 */
export function probePackets(
  file: string,
  toMs: (ticks: number, num: number, den: number) => number = roundMs,
): Record<"audio" | "video", ProbedPacket[]> {
  const json = JSON.parse(
    execFileSync("ffprobe", ["-v", "error", "-show_streams", "-show_packets", "-of", "json", file], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    }),
  ) as FfprobeJson;
  const out: Record<"audio" | "video", ProbedPacket[]> = { audio: [], video: [] };
  for (const p of json.packets) {
    const stream = json.streams.find((s) => s.index === p.stream_index)!;
    const [num, den] = stream.time_base.split("/").map(Number) as [number, number];
    const codecType = stream.codec_type as "audio" | "video";
    const dts = p.dts ?? p.pts!;
    const pts = p.pts ?? dts;
    out[codecType].push({
      codecType,
      dtsMs: toMs(dts, num, den),
      ptsMs: toMs(pts, num, den),
      size: Number(p.size),
      key: p.flags.startsWith("K"),
    });
  }
  return out;
}

/** Round half up, the rule the MP4 reader applies to ticks → ms. */
export function roundMs(ticks: number, num: number, den: number): number {
  return Math.floor((ticks * num * 1000) / den + 0.5);
}

export async function readAll(reader: MediaReader): Promise<MediaTag[]> {
  const tags: MediaTag[] = [];
  for (let tag = await reader.next(); tag; tag = await reader.next()) tags.push(tag);
  return tags;
}

/** pts of an FLV/RTMP video body: dts plus the AVC composition time. */
export function videoPtsMs(tag: MediaTag): number {
  return tag.kind === TagKind.Video && tag.body.length >= 5
    ? tag.timestampMs + tag.body.readIntBE(2, 3)
    : tag.timestampMs;
}

/** A RangeSource over a Buffer that records every read it serves. */
export interface CountingSource extends RangeSource {
  readonly reads: { offset: number; length: number }[];
  readonly bytesRead: number;
}

export function countingSource(buf: Buffer): CountingSource {
  const reads: { offset: number; length: number }[] = [];
  return {
    size: buf.length,
    reads,
    get bytesRead() {
      return reads.reduce((sum, r) => sum + r.length, 0);
    },
    read(offset: number, length: number): Promise<Buffer> {
      const bytes = buf.subarray(offset, Math.min(buf.length, offset + length));
      reads.push({ offset, length: bytes.length });
      return Promise.resolve(bytes);
    },
  };
}

/** mulberry32: a tiny seeded PRNG so garbage tests are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Asserts that `fn` rejects with an EdgeError, optionally of one of `codes`. */
export async function rejectsEdge(fn: () => Promise<unknown>, ...codes: EdgeErrorCode[]): Promise<void> {
  await assert.rejects(fn, (error: unknown) => {
    assert.ok(error instanceof EdgeError, `expected EdgeError, got ${String(error)}`);
    if (codes.length > 0)
      assert.ok(codes.includes(error.code), `unexpected code ${error.code}: ${error.message}`);
    return true;
  });
}

export function throwsEdge(fn: () => unknown, ...codes: EdgeErrorCode[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof EdgeError, `expected EdgeError, got ${String(error)}`);
    if (codes.length > 0)
      assert.ok(codes.includes(error.code), `unexpected code ${error.code}: ${error.message}`);
    return true;
  });
}
