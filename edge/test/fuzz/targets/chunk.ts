import { CompressingChunkWriter } from "../../../../lib/testing/chunk-writer.js";
import { EdgeError, EdgeErrorCode } from "../../../src/errors.js";
import { ChunkDecoder, type ChunkDecoderLimits } from "../../../src/rtmp/chunk-decoder.js";
import { encodeMessage } from "../../../src/rtmp/chunk-encoder.js";
import { MessageType, type RtmpMessage } from "../../../src/rtmp/message-types.js";
import { check, defineTarget, type Prng, type Target } from "../fuzz-harness.js";
import {
  describePlan,
  interestingValue,
  mutate,
  piecesOf,
  randomBytes,
  splitPlan,
  writeUIntBE,
} from "../mutators.js";

/**
 * ChunkDecoder on random bytes, on valid chunk streams, and on mutated
 * valid streams, in random pieces.
 *
 * Valid streams come from chunk-encoder.ts (fmt 0 + fmt 3) or from the
 * test's header-compressing writer (fmt 0/1/2/3, chunks of different chunk
 * streams interleaved), with 1–3 byte basic headers, extended timestamps,
 * empty messages and SetChunkSize changes. An unmutated stream must decode
 * to exactly the messages encoded. Every input: no message above
 * maxMessageBytes, bytesReceived counts every byte, a dead decoder rethrows.
 */

interface ChunkInput {
  data: Buffer;
  plan: number[];
  limits: ChunkDecoderLimits;
  /** The messages an unmutated valid stream must decode to, in completion order; null otherwise. */
  expected: RtmpMessage[] | null;
  mode: string;
}

/** Payload bytes are cut from this pool (content does not matter to the chunk layer). */
let payloadPool: Buffer | null = null;
function payload(rng: Prng, length: number): Buffer {
  payloadPool ??= randomBytesFixed(1 << 16);
  const at = rng.int(0, payloadPool.length - length);
  return Buffer.from(payloadPool.subarray(at, at + length));
}

function randomBytesFixed(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = 0x12345678;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function chunkStreamId(rng: Prng): number {
  const band = rng.int(0, 9);
  if (band <= 6) return rng.int(2, 63);
  if (band <= 8) return rng.pick([64, 65, rng.int(64, 319), 318, 319]);
  return rng.pick([320, 321, rng.int(320, 65599), 65599]);
}

function messageType(rng: Prng): number {
  return rng.pick([
    MessageType.Audio,
    MessageType.Video,
    MessageType.DataAmf0,
    MessageType.CommandAmf0,
    MessageType.CommandAmf3,
    MessageType.DataAmf3,
    MessageType.UserControl,
    MessageType.WindowAckSize,
    MessageType.Acknowledgement,
    MessageType.SetPeerBandwidth,
    MessageType.Aggregate,
    rng.int(7, 255),
  ]);
}

interface ValidStream {
  data: Buffer;
  expected: RtmpMessage[];
  /** Offsets where a chunk starts (targets for header mutations). */
  chunkStarts: number[];
}

/** A valid chunk stream of 1–12 messages, tracking the chunk size the decoder will be using. */
function validStream(rng: Prng, limits: ChunkDecoderLimits): ValidStream {
  const writer = new CompressingChunkWriter();
  const useEncoder = rng.bool(0.3);
  const pool: number[] = [];
  const poolSize = rng.int(1, Math.min(limits.maxChunkStreams - 1, 6));
  while (pool.length < poolSize) {
    const csid = chunkStreamId(rng);
    if (csid !== 2 && !pool.includes(csid)) pool.push(csid);
  }
  let chunkSize = 128;
  let timestamp = rng.bool(0.2) ? rng.pick([0xfffff0, 0xffffff, 0xfffffff0, rng.uint32()]) : 0;
  const pieces: Buffer[] = [];
  const expected: RtmpMessage[] = [];
  const chunkStarts: number[] = [];
  let length = 0;
  const emit = (chunk: Buffer): void => {
    chunkStarts.push(length);
    pieces.push(chunk);
    length += chunk.length;
  };
  const maxPayload = Math.min(limits.maxMessageBytes, rng.pick([0, 16, 200, 1000, 3000]));
  const nextMessage = (csid: number): RtmpMessage => {
    timestamp = rng.bool(0.1)
      ? rng.uint32()
      : (timestamp + rng.pick([0, 0, 1, 23, 40, rng.int(0, 0xffffff), 0x1000000])) >>> 0;
    return {
      chunkStreamId: csid,
      messageTypeId: messageType(rng),
      messageStreamId: rng.pick([0, 1, 1, rng.uint32()]),
      timestamp,
      payload: payload(rng, rng.bool(0.1) ? 0 : rng.int(0, maxPayload)),
    };
  };
  const count = rng.int(1, 12);
  for (let n = 0; n < count && length < 64 * 1024; n++) {
    const choice = rng.int(0, 9);
    if (choice === 0) {
      // SetChunkSize, alone on chunk stream 2: it applies from the next chunk on.
      const size = rng.pick(
        [1, 2, 7, 128, 129, 1000, 4096, 65536, limits.maxChunkSize].filter((s) => s <= limits.maxChunkSize),
      );
      const body = Buffer.alloc(4);
      body.writeUInt32BE(size, 0);
      const message: RtmpMessage = {
        chunkStreamId: 2,
        messageTypeId: MessageType.SetChunkSize,
        messageStreamId: 0,
        timestamp: 0,
        payload: body,
      };
      if (useEncoder) emit(encodeMessage(message, chunkSize));
      else for (const chunk of writer.chunks(message)) emit(chunk);
      expected.push(message);
      chunkSize = size;
      writer.chunkSize = size;
    } else if (choice <= 3 && !useEncoder && pool.length > 1) {
      // Several messages on distinct chunk streams, their chunks interleaved.
      const streams = pool.filter(() => rng.bool(0.6));
      const queues = streams.map((csid) => {
        const message = nextMessage(csid);
        return { message, chunks: writer.chunks(message, rng.bool(0.1)) };
      });
      let open = queues.filter((q) => q.chunks.length > 0);
      while (open.length > 0) {
        const queue = rng.pick(open);
        emit(queue.chunks.shift()!);
        if (queue.chunks.length === 0) expected.push(queue.message);
        open = open.filter((q) => q.chunks.length > 0);
      }
    } else {
      const message = nextMessage(rng.pick(pool));
      if (useEncoder) emit(encodeMessage(message, chunkSize));
      else for (const chunk of writer.chunks(message, rng.bool(0.1))) emit(chunk);
      expected.push(message);
    }
  }
  return { data: Buffer.concat(pieces, length), expected, chunkStarts };
}

/** A mutation aimed at a chunk header: fmt bits, the csid byte, a u24/u32 header field. */
function mutateHeader(rng: Prng, data: Buffer, chunkStarts: readonly number[]): Buffer {
  if (chunkStarts.length === 0) return mutate(rng, data, 1);
  const out = Buffer.from(data);
  const at = rng.pick(chunkStarts);
  if (at >= out.length) return out;
  switch (rng.int(0, 4)) {
    case 0:
      out[at] = (out[at]! & 0x3f) | (rng.int(0, 3) << 6);
      break;
    case 1:
      out[at] = (out[at]! & 0xc0) | rng.pick([0, 1, 2, 3, 63, rng.int(0, 63)]);
      break;
    case 2:
      // timestamp / delta field (after a 1-byte basic header).
      writeUIntBE(out, at + 1, 3, interestingValue(rng, 3));
      break;
    case 3:
      // message length field.
      writeUIntBE(
        out,
        at + 4,
        3,
        interestingValue(rng, 3, out.length >= at + 7 ? out.readUIntBE(at + 4, 3) : 0),
      );
      break;
    default:
      // type id and stream id.
      if (at + 7 < out.length) out[at + 7] = rng.pick([1, 2, 3, 4, 5, 6, 8, 9, 18, 20, rng.int(0, 255)]);
      writeUIntBE(out, at + 8, 4, interestingValue(rng, 4));
      break;
  }
  return out;
}

function generate(rng: Prng): ChunkInput {
  const limits: ChunkDecoderLimits = {
    maxMessageBytes: rng.pick([1024, 4096, 65536, 1 << 20]),
    maxChunkStreams: rng.pick([4, 16, 16, 64]),
    maxChunkSize: rng.pick([128, 4096, 16 * 1024 * 1024, 16 * 1024 * 1024, 0x7fffffff]),
  };
  const mode = rng.int(0, 19);
  if (mode <= 1) {
    const data = randomBytes(rng, rng.int(0, 2048));
    return { data, plan: splitPlan(rng, data.length), limits, expected: null, mode: "random" };
  }
  const stream = validStream(rng, limits);
  if (mode <= 6) {
    return {
      data: stream.data,
      plan: splitPlan(rng, stream.data.length, stream.chunkStarts),
      limits,
      expected: stream.expected,
      mode: "valid",
    };
  }
  let data = stream.data;
  const edits = rng.int(1, 4);
  for (let i = 0; i < edits; i++)
    data = rng.bool(0.5) ? mutateHeader(rng, data, stream.chunkStarts) : mutate(rng, data, 1);
  return {
    data,
    plan: splitPlan(rng, data.length, stream.chunkStarts),
    limits,
    expected: null,
    mode: "mutated",
  };
}

function execute(input: ChunkInput): void {
  const decoder = new ChunkDecoder(input.limits);
  const messages: RtmpMessage[] = [];
  try {
    for (const piece of piecesOf(input.data, input.plan)) {
      for (const message of decoder.push(piece)) messages.push(message);
    }
  } catch (error) {
    if (error instanceof EdgeError) {
      let again: unknown = null;
      try {
        decoder.push(Buffer.alloc(1));
      } catch (later) {
        again = later;
      }
      check(again === error, () => `after ${error.code}, push() did not rethrow the same error`);
    }
    if (input.expected !== null) {
      const message = error instanceof Error ? error.message : String(error);
      check(false, () => `a valid stream was rejected: ${message}`);
    }
    throw error;
  }
  check(
    decoder.bytesReceived === input.data.length,
    () => `bytesReceived ${decoder.bytesReceived} of ${input.data.length}`,
  );
  for (const message of messages) {
    check(
      message.payload.length <= input.limits.maxMessageBytes,
      () => `a ${message.payload.length}-byte message passed the limit`,
    );
  }
  const expected = input.expected;
  if (expected === null) return;
  check(
    messages.length === expected.length,
    () => `decoded ${messages.length} messages, encoded ${expected.length}`,
  );
  for (let i = 0; i < expected.length; i++) {
    const got = messages[i]!;
    const want = expected[i]!;
    check(
      got.chunkStreamId === want.chunkStreamId &&
        got.messageTypeId === want.messageTypeId &&
        got.messageStreamId === want.messageStreamId >>> 0 &&
        got.timestamp === want.timestamp >>> 0 &&
        got.payload.equals(want.payload),
      () =>
        `message ${i}: decoded csid ${got.chunkStreamId} type ${got.messageTypeId} stream ${got.messageStreamId} ts ${got.timestamp} ${got.payload.length} bytes, ` +
        `encoded csid ${want.chunkStreamId} type ${want.messageTypeId} stream ${want.messageStreamId} ts ${want.timestamp} ${want.payload.length} bytes`,
    );
  }
}

export const chunkTarget: Target = defineTarget<ChunkInput>({
  name: "chunk",
  summary: "ChunkDecoder: random, valid (round-trip checked) and mutated chunk streams, random splits",
  codes: [
    EdgeErrorCode.ChunkInvalid,
    EdgeErrorCode.MessageTooLarge,
    EdgeErrorCode.ChunkSizeInvalid,
    EdgeErrorCode.TooManyChunkStreams,
  ],
  generate,
  execute,
  bytes: (input) => input.data,
  withBytes: (input, data) => ({ ...input, data, expected: null }),
  describe: (input) =>
    `${input.mode}, limits ${JSON.stringify(input.limits)}, ${input.expected ? `${input.expected.length} messages, ` : ""}${describePlan(input.plan)}`,
});
