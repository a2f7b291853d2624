import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** One audio or video packet as ffprobe reports it, times in ms. */
export interface ProbedPacket {
  readonly type: "audio" | "video";
  readonly ptsMs: number;
  readonly dtsMs: number;
  readonly size: number;
  readonly key: boolean;
}

/** `ffprobe -show_packets` of a file or URL: the audio and video packets in order. */
export async function probePackets(input: string, timeoutMs = 60_000): Promise<ProbedPacket[]> {
  const { stdout } = await run(
    "ffprobe",
    [
      "-v",
      "error",
      "-show_packets",
      "-show_entries",
      "packet=codec_type,pts_time,dts_time,size,flags",
      "-of",
      "json",
      input,
    ],
    { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
  );
  const parsed = JSON.parse(stdout) as {
    packets?: { codec_type: string; pts_time?: string; dts_time?: string; size: string; flags: string }[];
  };
  return (parsed.packets ?? [])
    .filter((p) => p.codec_type === "audio" || p.codec_type === "video")
    .map((p) => ({
      type: p.codec_type as "audio" | "video",
      ptsMs: Math.round(Number(p.pts_time ?? p.dts_time) * 1000),
      dtsMs: Math.round(Number(p.dts_time ?? p.pts_time) * 1000),
      size: Number(p.size),
      key: p.flags.startsWith("K"),
    }));
}

/** The codec types and names of a file's or URL's streams. */
export async function probeStreams(
  input: string,
  inputOptions: readonly string[] = [],
  timeoutMs = 60_000,
): Promise<{ type: string; codec: string }[]> {
  const { stdout } = await run(
    "ffprobe",
    ["-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "json", ...inputOptions, input],
    { timeout: timeoutMs },
  );
  const parsed = JSON.parse(stdout) as { streams?: { codec_type: string; codec_name?: string }[] };
  return (parsed.streams ?? []).map((s) => ({ type: s.codec_type, codec: s.codec_name ?? "unknown" }));
}

export async function runTool(command: string, args: readonly string[], timeoutMs = 120_000) {
  return run(command, [...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
}

/**
 * Runs rtmpdump to a file. rtmpdump exits 2 ("Download may be incomplete")
 * when the last media timestamp is under 99.9% of onMetaData's duration,
 * which is so for most files (the duration includes the last frame's
 * length) and for FMS itself; that exit is accepted when rtmpdump saw the
 * server end the stream, and the output is checked packet by packet anyway.
 */
export async function rtmpdump(args: readonly string[], timeoutMs = 120_000): Promise<string> {
  try {
    const { stderr } = await run("rtmpdump", ["-V", ...args], {
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stderr;
  } catch (error) {
    const failure = error as { code?: number; stderr?: string };
    if (failure.code === 2 && /Got Play\.Complete or Play\.Stop from server/.test(failure.stderr ?? "")) {
      return failure.stderr ?? "";
    }
    throw error;
  }
}

/**
 * The same audio and video packets, in order: timestamps, sizes, key flags.
 * With `shift: "auto"` every time may be moved by one constant, found from
 * the first video (else audio) packet: FLV has no negative times, so an
 * MP4 whose edit list starts below zero is shifted as a whole.
 */
export function assertSamePackets(
  actual: readonly ProbedPacket[],
  expected: readonly ProbedPacket[],
  options: { shift?: "auto" | number } = {},
): void {
  assert.equal(actual.length, expected.length, "packet count");
  const lead = expected.some((p) => p.type === "video") ? "video" : "audio";
  const shift =
    options.shift === "auto"
      ? (actual.find((p) => p.type === lead)?.dtsMs ?? 0) -
        (expected.find((p) => p.type === lead)?.dtsMs ?? 0)
      : (options.shift ?? 0);
  for (const type of ["audio", "video"] as const) {
    const a = actual.filter((p) => p.type === type);
    const e = expected.filter((p) => p.type === type);
    assert.equal(a.length, e.length, `${type} packet count`);
    for (let i = 0; i < e.length; i++) {
      assert.deepEqual(
        a[i],
        { ...e[i]!, ptsMs: e[i]!.ptsMs + shift, dtsMs: e[i]!.dtsMs + shift },
        `${type} packet ${i}`,
      );
    }
  }
}
