import { EdgeError, EdgeErrorCode } from "../errors.js";
import { ByteQueue } from "./byte-queue.js";
import { MessageType, type RtmpMessage } from "./message-types.js";
import type { ReassemblyBudget } from "./reassembly-budget.js";

/**
 * Reassembles RTMP messages from the chunk stream (everything after the
 * handshake).
 *
 * A chunk is: basic header | message header | [extended timestamp] | data.
 *
 * Basic header (1–3 bytes), fmt = top two bits of the first byte:
 *
 *   0 1 2 3 4 5 6 7
 *   |fmt| csid 2..63|                              1 byte
 *   |fmt|    0      | csid - 64 (u8)|              2 bytes, csid 64..319
 *   |fmt|    1      | low byte | high byte |       3 bytes, csid = high*256 + low + 64
 *
 * Message header by fmt (all big-endian except the stream id):
 *
 *   fmt 0, 11 bytes: timestamp u24 | length u24 | type u8 | msg stream id u32 LE
 *   fmt 1,  7 bytes: delta u24     | length u24 | type u8
 *   fmt 2,  3 bytes: delta u24
 *   fmt 3,  0 bytes
 *
 * Extended timestamp (u32 BE) follows when the 24-bit field is 0xFFFFFF; the
 * real timestamp/delta is then the u32. A fmt 3 chunk carries one too when
 * the last fmt 0/1/2 header of its chunk stream did.
 *
 * Data: up to the current chunk size (initially 128, changed by the peer's
 * SetChunkSize) bytes of the message payload.
 *
 * Memory. A message that arrives in one piece is handed out as a view of
 * the input. One that spans chunks is copied into a buffer of its own that
 * grows (doubling, never past the declared length) as its bytes arrive, so
 * what a partial message holds is about what was actually received — not
 * its declared length, and nothing per chunk: at chunk size 1 a message
 * costs the same memory as at 64 KiB. Those buffers count against the
 * connection's maxBufferedBytes and, when given, the edge-wide
 * ReassemblyBudget; passing either closes the connection (the error
 * names which).
 */

export interface ChunkDecoderLimits {
  /** Largest message length accepted from a header; longer throws MessageTooLarge. */
  maxMessageBytes: number;
  /** Most distinct chunk stream ids one connection may use. */
  maxChunkStreams: number;
  /** Largest chunk size the peer may set with SetChunkSize. */
  maxChunkSize: number;
  /**
   * Most bytes the partial messages of this connection may hold together
   * (buffer capacity, all chunk streams); above it throws ReassemblyLimit.
   * Unbounded when absent (maxChunkStreams × maxMessageBytes is then the bound).
   */
  maxBufferedBytes?: number;
}

const DEFAULT_CHUNK_SIZE = 128;
const EXTENDED_TIMESTAMP = 0xffffff;
/** Message header sizes indexed by fmt. */
const MESSAGE_HEADER_SIZE = [11, 7, 3, 0] as const;
/** First allocation for a message that spans chunks (or its length, if smaller). */
const MIN_REASSEMBLY_CAPACITY = 256;

const ParserState = {
  BasicHeader: 0,
  MessageHeader: 1,
  ExtendedTimestamp: 2,
  Payload: 3,
} as const;
type ParserState = (typeof ParserState)[keyof typeof ParserState];

/** What the decoder remembers per chunk stream id, for header compression and reassembly. */
interface ChunkStream {
  readonly id: number;
  /** Absolute timestamp of the current (or last) message. */
  timestamp: number;
  /** Added to the timestamp by a fmt 3 chunk that starts a new message. */
  delta: number;
  length: number;
  typeId: number;
  streamId: number;
  /** The last fmt 0/1/2 header used an extended timestamp. */
  extended: boolean;
  /** A message is partly received: its next chunk must be fmt 3. */
  inProgress: boolean;
  received: number;
  /** Reassembly buffer of a message spanning chunks (its capacity is charged to the budgets); null otherwise. */
  buffer: Buffer | null;
  /** A message received in one piece: a view of the input, not charged. */
  whole: Buffer | null;
}

function chunkInvalid(message: string): EdgeError {
  return new EdgeError(EdgeErrorCode.ChunkInvalid, message);
}

export class ChunkDecoder {
  #limits: ChunkDecoderLimits;
  readonly #budget: ReassemblyBudget | null;
  readonly #queue = new ByteQueue();
  readonly #streams = new Map<number, ChunkStream>();
  #state: ParserState = ParserState.BasicHeader;
  #chunkSize = DEFAULT_CHUNK_SIZE;
  #bytesReceived = 0;
  #failure: EdgeError | null = null;
  /** Capacity of every reassembly buffer held now (what maxBufferedBytes bounds). */
  #bufferedBytes = 0;
  /** The message the last #drain step completed, if any. */
  #ready: RtmpMessage | null = null;

  // The chunk being parsed.
  #fmt = 0;
  #stream: ChunkStream | null = null;
  /** The 24-bit timestamp/delta field of a fmt 0/1/2 header. */
  #timestampField = 0;
  /** Payload bytes still expected in the current chunk. */
  #chunkRemaining = 0;

  /**
   * @param budget the edge-wide reassembly budget this connection's
   *   partial messages also count against; none when absent (tests, clients).
   */
  constructor(limits: ChunkDecoderLimits, budget?: ReassemblyBudget) {
    this.#limits = limits;
    this.#budget = budget ?? null;
  }

  /**
   * Replaces the limits for headers and chunks parsed from now on (a
   * session allows more once connect was accepted). Bytes already buffered
   * are not re-checked.
   */
  setLimits(limits: ChunkDecoderLimits): void {
    this.#limits = limits;
  }

  /** Bytes the partial messages hold now (reassembly buffer capacity). */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /** Unparsed input held (at most a partial header once next() returned null). */
  get queuedBytes(): number {
    return this.#queue.length;
  }

  /** Every byte pushed so far (what Acknowledgement sequence numbers count, before wrapping). */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** The chunk size currently applied to incoming chunks. */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  /**
   * Parses `bytes` and returns the messages completed by them, in order.
   * Payloads may be views of the pushed Buffers, so those must not be
   * reused. SetChunkSize and Abort are applied here (and still returned).
   *
   * @throws EdgeError ChunkInvalid, ChunkSizeInvalid, MessageTooLarge or
   *   TooManyChunkStreams; the decoder is then dead and throws the same error
   *   on every later call.
   */
  push(bytes: Buffer): RtmpMessage[] {
    this.write(bytes);
    const messages: RtmpMessage[] = [];
    for (let message = this.next(); message !== null; message = this.next()) messages.push(message);
    return messages;
  }

  /**
   * Queues `bytes` without parsing them; next() parses. Lets a caller take
   * one message at a time and stop (backpressure, fairness) with the rest
   * left unparsed. The same aliasing rule as push() applies.
   */
  write(bytes: Buffer): void {
    if (this.#failure !== null) throw this.#failure;
    this.#bytesReceived += bytes.length;
    this.#queue.push(bytes);
  }

  /**
   * Parses queued bytes up to the end of the next complete message and
   * returns it, or null once the queue holds no complete message. Throws
   * as push() does.
   */
  next(): RtmpMessage | null {
    if (this.#failure !== null) throw this.#failure;
    try {
      return this.#drain();
    } catch (error) {
      if (error instanceof EdgeError) {
        this.#failure = error;
        this.close();
      }
      throw error;
    }
  }

  /**
   * Releases every reassembly buffer (and its share of the budget). Call
   * when the connection ends; the decoder must not be used afterwards.
   */
  close(): void {
    for (const stream of this.#streams.values()) this.#dropPartial(stream);
    this.#failure ??= new EdgeError(EdgeErrorCode.ChunkInvalid, "chunk decoder closed");
  }

  #drain(): RtmpMessage | null {
    const queue = this.#queue;
    for (;;) {
      const ready = this.#ready;
      if (ready !== null) {
        this.#ready = null;
        return ready;
      }
      switch (this.#state) {
        case ParserState.BasicHeader: {
          if (queue.length < 1) return null;
          const first = queue.peekByte(0);
          const low = first & 0x3f;
          const size = low === 0 ? 2 : low === 1 ? 3 : 1;
          if (queue.length < size) return null;
          let csid = low;
          if (low === 0) csid = queue.peekByte(1) + 64;
          else if (low === 1) csid = queue.peekByte(2) * 256 + queue.peekByte(1) + 64;
          // Read in place: at chunk size 1 this runs once per payload byte.
          queue.skip(size);
          this.#fmt = first >> 6;
          this.#stream = this.#lookup(csid, this.#fmt);
          this.#state = ParserState.MessageHeader;
          break;
        }
        case ParserState.MessageHeader: {
          const size = MESSAGE_HEADER_SIZE[this.#fmt as 0 | 1 | 2 | 3];
          if (queue.length < size) return null;
          const stream = this.#stream!;
          if (this.#fmt !== 3) {
            if (stream.inProgress) {
              throw chunkInvalid(
                `fmt ${this.#fmt} header on chunk stream ${stream.id} before its message of ${stream.length} bytes was complete (${stream.received} received)`,
              );
            }
            this.#readMessageHeader(queue.consume(size), stream);
          }
          if (stream.extended) {
            this.#state = ParserState.ExtendedTimestamp;
          } else {
            this.#startChunk(stream, this.#fmt === 3 ? stream.delta : this.#timestampField);
          }
          break;
        }
        case ParserState.ExtendedTimestamp: {
          if (queue.length < 4) return null;
          this.#startChunk(this.#stream!, queue.consume(4).readUInt32BE(0));
          break;
        }
        case ParserState.Payload: {
          if (queue.length === 0) return null;
          const stream = this.#stream!;
          const take = Math.min(queue.length, this.#chunkRemaining);
          if (stream.received === 0 && take === stream.length) {
            // The whole message in one piece of input: no copy.
            stream.whole = queue.consume(take);
          } else {
            this.#reserve(stream, stream.received + take);
            queue.copyInto(take, stream.buffer!, stream.received);
          }
          stream.received += take;
          this.#chunkRemaining -= take;
          if (this.#chunkRemaining > 0) return null;
          this.#state = ParserState.BasicHeader;
          if (stream.received === stream.length) this.#finishMessage(stream);
          break;
        }
      }
    }
  }

  #lookup(csid: number, fmt: number): ChunkStream {
    const known = this.#streams.get(csid);
    if (known !== undefined) return known;
    if (fmt !== 0)
      throw chunkInvalid(`fmt ${fmt} chunk on chunk stream ${csid}, which has no fmt 0 header yet`);
    if (this.#streams.size >= this.#limits.maxChunkStreams) {
      throw new EdgeError(
        EdgeErrorCode.TooManyChunkStreams,
        `chunk stream ${csid} would be stream number ${this.#streams.size + 1}, above the limit of ${this.#limits.maxChunkStreams}`,
      );
    }
    const stream: ChunkStream = {
      id: csid,
      timestamp: 0,
      delta: 0,
      length: 0,
      typeId: 0,
      streamId: 0,
      extended: false,
      inProgress: false,
      received: 0,
      buffer: null,
      whole: null,
    };
    this.#streams.set(csid, stream);
    return stream;
  }

  /** Reads a fmt 0/1/2 message header (layouts in the file comment). */
  #readMessageHeader(header: Buffer, stream: ChunkStream): void {
    this.#timestampField = header.readUIntBE(0, 3);
    stream.extended = this.#timestampField === EXTENDED_TIMESTAMP;
    if (this.#fmt <= 1) {
      const length = header.readUIntBE(3, 3);
      if (length > this.#limits.maxMessageBytes) {
        throw new EdgeError(
          EdgeErrorCode.MessageTooLarge,
          `message of ${length} bytes on chunk stream ${stream.id} exceeds the limit of ${this.#limits.maxMessageBytes}`,
        );
      }
      stream.length = length;
      stream.typeId = header[6]!;
    }
    if (this.#fmt === 0) stream.streamId = header.readUInt32LE(7);
  }

  /**
   * Applies the header's timestamp (`field` is the 24-bit field, the
   * extended timestamp, or for fmt 3 the remembered delta) and moves to the
   * payload.
   */
  #startChunk(stream: ChunkStream, field: number): void {
    if (!stream.inProgress) {
      if (this.#fmt === 0) {
        // An absolute timestamp. Like ffmpeg and SRS, a following fmt 3 chunk
        // that starts a new message treats this value as its delta.
        stream.timestamp = field;
      } else {
        stream.timestamp = (stream.timestamp + field) >>> 0;
      }
      stream.delta = field;
      stream.inProgress = true;
      stream.received = 0;
    }
    // A continuation chunk's extended timestamp (if any) repeats the first
    // chunk's and is ignored.
    this.#chunkRemaining = Math.min(this.#chunkSize, stream.length - stream.received);
    if (this.#chunkRemaining > 0) {
      this.#state = ParserState.Payload;
      return;
    }
    // Only an empty message gets here: it is complete with its header.
    this.#state = ParserState.BasicHeader;
    this.#finishMessage(stream);
  }

  /**
   * Makes the stream's reassembly buffer hold at least `needed` bytes,
   * doubling (at least MIN_REASSEMBLY_CAPACITY, at most the declared
   * length), and charges the growth to both bounds before allocating.
   */
  #reserve(stream: ChunkStream, needed: number): void {
    const old = stream.buffer;
    const oldCapacity = old === null ? 0 : old.length;
    if (needed <= oldCapacity) return;
    const capacity = Math.min(stream.length, Math.max(needed, oldCapacity * 2, MIN_REASSEMBLY_CAPACITY));
    const growth = capacity - oldCapacity;
    const perConnection = this.#limits.maxBufferedBytes;
    if (perConnection !== undefined && this.#bufferedBytes + growth > perConnection) {
      throw new EdgeError(
        EdgeErrorCode.ReassemblyLimit,
        `partial messages would hold ${this.#bufferedBytes + growth} bytes (chunk stream ${stream.id}, ${stream.received} of ${stream.length} bytes received), above the limit of ${perConnection} per connection`,
      );
    }
    if (this.#budget !== null && !this.#budget.tryReserve(growth)) {
      throw new EdgeError(
        EdgeErrorCode.ReassemblyBudget,
        `the edge-wide reassembly budget of ${this.#budget.limitBytes} bytes is spent (${this.#budget.usedBytes} in use); chunk stream ${stream.id} needed ${growth} more`,
      );
    }
    this.#bufferedBytes += growth;
    // Its own allocation, not a slice of Node's shared pool, so what is charged is what is held.
    const buffer = Buffer.allocUnsafeSlow(capacity);
    if (old !== null) old.copy(buffer, 0, 0, stream.received);
    stream.buffer = buffer;
  }

  /** Forgets the stream's partial message and returns its buffer's charge. */
  #dropPartial(stream: ChunkStream): void {
    const buffer = stream.buffer;
    if (buffer !== null) {
      this.#bufferedBytes -= buffer.length;
      this.#budget?.release(buffer.length);
    }
    stream.buffer = null;
    stream.whole = null;
    stream.inProgress = false;
    stream.received = 0;
  }

  #finishMessage(stream: ChunkStream): void {
    const buffer = stream.buffer;
    let payload: Buffer;
    if (stream.whole !== null) payload = stream.whole;
    else if (buffer === null) payload = Buffer.alloc(0);
    else payload = buffer.length === stream.length ? buffer : buffer.subarray(0, stream.length);
    // The payload now belongs to whoever handles the message; it is no longer buffered here.
    this.#dropPartial(stream);
    const message: RtmpMessage = {
      chunkStreamId: stream.id,
      messageTypeId: stream.typeId,
      messageStreamId: stream.streamId,
      timestamp: stream.timestamp,
      payload,
    };
    this.#applyControl(message);
    this.#ready = message;
  }

  /** SetChunkSize and Abort change how the following chunks parse, so they take effect here. */
  #applyControl(message: RtmpMessage): void {
    if (message.messageTypeId === MessageType.SetChunkSize) {
      const size = readControlUint32(message, "SetChunkSize");
      // The top bit must be zero; the value is a 31-bit size.
      if (size === 0 || size > 0x7fffffff || size > this.#limits.maxChunkSize) {
        throw new EdgeError(
          EdgeErrorCode.ChunkSizeInvalid,
          `peer set chunk size ${size}, outside [1, ${this.#limits.maxChunkSize}]`,
        );
      }
      this.#chunkSize = size;
    } else if (message.messageTypeId === MessageType.Abort) {
      const csid = readControlUint32(message, "Abort");
      const stream = this.#streams.get(csid);
      if (stream?.inProgress) this.#dropPartial(stream);
    }
  }
}

function readControlUint32(message: RtmpMessage, name: string): number {
  if (message.payload.length < 4) {
    throw chunkInvalid(`${name} payload of ${message.payload.length} bytes, expected 4`);
  }
  return message.payload.readUInt32BE(0);
}
