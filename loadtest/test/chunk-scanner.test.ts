import assert from "node:assert/strict";
import { test } from "node:test";
import { ChunkDecoder } from "../../edge/src/rtmp/chunk-decoder.js";
import { setChunkSize } from "../../edge/src/rtmp/control-messages.js";
import { MessageType, type RtmpMessage } from "../../edge/src/rtmp/message-types.js";
import { CompressingChunkWriter } from "../../lib/testing/chunk-writer.js";
import { Prng } from "../../lib/testing/prng.js";
import { ChunkScanner } from "../src/rtmp-load/chunk-scanner.js";

interface Seen {
  type: number;
  timestamp: number;
  length: number;
  payload: string | null;
}

function isMedia(type: number): boolean {
  return type === MessageType.Audio || type === MessageType.Video || type === MessageType.Aggregate;
}

/** A random server-like message sequence: media with rising timestamps, commands, control, chunk size changes. */
function messages(rng: Prng, count: number): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  let ts = rng.int(0, 3) === 0 ? 0xfffff0 : 0;
  for (let i = 0; i < count; i++) {
    const roll = rng.int(0, 19);
    if (roll === 0) {
      out.push(setChunkSize(rng.int(1, 3) === 1 ? rng.int(1, 300) : rng.int(128, 70_000)));
      continue;
    }
    const type =
      roll < 8
        ? MessageType.Video
        : roll < 15
          ? MessageType.Audio
          : roll < 18
            ? MessageType.CommandAmf0
            : MessageType.DataAmf0;
    ts += rng.int(0, 40);
    const length = isMedia(type) ? rng.int(0, rng.int(0, 1) ? 400 : 150_000) : rng.int(1, 600);
    const payload = Buffer.alloc(length);
    for (let j = 0; j < length; j += 97) payload[j] = rng.int(0, 255);
    out.push({
      chunkStreamId:
        type === MessageType.Video ? 6 : type === MessageType.Audio ? rng.int(4, 5) : rng.int(3, 400),
      messageTypeId: type,
      messageStreamId: 1,
      timestamp: ts,
      payload,
    });
  }
  return out;
}

test("the load scanner reads what the edge's decoder reads, in any read split", () => {
  for (let seed = 1; seed <= 60; seed++) {
    const rng = new Prng(seed);
    const writer = new CompressingChunkWriter();
    const pieces: Buffer[] = [];
    for (const m of messages(rng, 120)) {
      for (const chunk of writer.chunks(m)) pieces.push(chunk);
      if (m.messageTypeId === MessageType.SetChunkSize) writer.chunkSize = m.payload.readUInt32BE(0);
    }
    const wire = Buffer.concat(pieces);

    const decoder = new ChunkDecoder({
      maxMessageBytes: 1 << 24,
      maxChunkStreams: 1 << 16,
      maxChunkSize: 1 << 24,
    });
    const expected: Seen[] = decoder.push(wire).map((m) => ({
      type: m.messageTypeId,
      timestamp: m.timestamp,
      length: m.payload.length,
      payload: isMedia(m.messageTypeId) ? null : m.payload.toString("hex"),
    }));

    const got: Seen[] = [];
    const scanner = new ChunkScanner({
      onMedia: (type, timestamp, length) => got.push({ type, timestamp, length, payload: null }),
      onMessage: (m) =>
        got.push({
          type: m.messageTypeId,
          timestamp: m.timestamp,
          length: m.payload.length,
          payload: m.payload.toString("hex"),
        }),
    });
    // Feed through one reused read buffer, as the viewer does, in random sizes (1 byte up to 64 KiB).
    const readBuffer = Buffer.alloc(65_536);
    for (let at = 0; at < wire.length; ) {
      const n = Math.min(wire.length - at, rng.int(0, 3) === 0 ? rng.int(1, 20) : rng.int(1, 65_536));
      wire.copy(readBuffer, 0, at, at + n);
      scanner.push(readBuffer, 0, n);
      readBuffer.fill(0xee);
      at += n;
    }
    assert.deepEqual(got, expected, `seed ${seed}`);
  }
});
