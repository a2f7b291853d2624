import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { eventually } from "../../../lib/testing/wait.js";
import { decodeCommand } from "../../src/rtmp/command.js";
import { MessageType } from "../../src/rtmp/message-types.js";
import type { EdgeHarness } from "./edge-harness.js";
import { isCommand, RtmpTestClient, statusCode } from "./rtmp-test-client.js";

/** Viewers that time what they receive, and metric reading, for tests of plays against a failing shield or S3. */

/** The sum of a metric's samples whose labels include `labels`. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const match of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, "gm"))) {
    const have = new Map([...(match[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(match[2]);
  }
  return sum;
}

export interface TimedPlay {
  readonly client: RtmpTestClient;
  /** Each audio and video message: its timestamp and when it arrived (performance.now()). */
  readonly arrivals: { ts: number; at: number }[];
  /** performance.now() when the play command went out. */
  readonly playedAt: number;
  /** performance.now() when the connection closed; null while open. */
  closedAt(): number | null;
}

/** A viewer on the project's RTMP client with a buffer of bufferMs that notes when each media message arrives. */
export async function timedPlay(harness: EdgeHarness, name: string, bufferMs: number): Promise<TimedPlay> {
  const client = await RtmpTestClient.handshake(harness.rtmpPort);
  const connected = await client.connectApp(`rtmp://127.0.0.1:${harness.rtmpPort}/cfx/st`);
  assert.equal(statusCode(connected), "NetConnection.Connect.Success");
  const streamId = await client.createStream();
  client.setBufferLength(streamId, bufferMs);
  const arrivals: { ts: number; at: number }[] = [];
  let seen = 0;
  // Registered after the client's own listener, so the messages of this read are decoded already.
  client.socket.on("data", () => {
    const at = performance.now();
    for (; seen < client.messages.length; seen++) {
      const m = client.messages[seen]!;
      if (m.messageTypeId === MessageType.Audio || m.messageTypeId === MessageType.Video) {
        arrivals.push({ ts: m.timestamp, at });
      }
    }
  });
  let closedAt: number | null = null;
  void client.closed.then(() => {
    closedAt = performance.now();
  });
  const playedAt = performance.now();
  client.command(streamId, "play", null, name, 0, -1);
  return { client, arrivals, playedAt, closedAt: () => closedAt };
}

export const endCodes = ["NetStream.Play.Stop", "NetStream.Play.Failed", "NetStream.Play.StreamNotFound"];

/** Waits for an onStatus with one of the codes; resolves the code and when it came (performance.now()). */
export async function statusOf(
  client: RtmpTestClient,
  codes: readonly string[],
  timeoutMs = 90_000,
): Promise<{ code: string; at: number }> {
  const message = await client.waitFor(
    (m) => isCommand(m) && codes.includes(statusCode(decodeCommand(m.payload, m.messageTypeId)) ?? ""),
    { timeoutMs },
  );
  return {
    code: statusCode(decodeCommand(message.payload, message.messageTypeId)) ?? "",
    at: performance.now(),
  };
}

/**
 * How late the worst media message was for a player that starts once it
 * holds its buffer and then plays in real time: above zero the player ran
 * dry (a visible stall).
 */
export function worstLatenessMs(arrivals: readonly { ts: number; at: number }[], bufferMs: number): number {
  const t0 = arrivals[0]!.ts;
  const start = (arrivals.find((a) => a.ts - t0 >= bufferMs) ?? arrivals.at(-1)!).at;
  const played = arrivals.filter((a) => a.ts - t0 >= bufferMs);
  return Math.max(...played.map((a) => a.at - (start + (a.ts - t0))));
}

export function waitForMediaAt(play: TimedPlay, ts: number): Promise<void> {
  return eventually(() => play.arrivals.some((a) => a.ts >= ts), 60_000, `media at ${ts} ms`);
}

/** How long after `since` (performance.now()) the play's connection closed; rejects if still open after timeoutMs. */
export async function closedWithin(play: TimedPlay, since: number, timeoutMs: number): Promise<number> {
  await eventually(() => play.closedAt() !== null, timeoutMs, "the connection to be closed");
  return play.closedAt()! - since;
}
