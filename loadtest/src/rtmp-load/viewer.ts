import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { type AmfValue, createAmfObject, decodeAmf0 } from "../../../edge/src/rtmp/amf0.js";
import { encodeMessage } from "../../../edge/src/rtmp/chunk-encoder.js";
import { decodeCommand, encodeCommand } from "../../../edge/src/rtmp/command.js";
import {
  acknowledgement,
  parseUserControl,
  pingResponse,
  userControlSetBufferLength,
} from "../../../edge/src/rtmp/control-messages.js";
import { MessageType, type RtmpMessage, UserControlEvent } from "../../../edge/src/rtmp/message-types.js";
import { ChunkScanner, type ScannerSink } from "./chunk-scanner.js";
import type { LoadPlan, StreamResult } from "./protocol.js";

const HANDSHAKE_SIZE = 1536;
/** Our chunk size for what we send (commands are small; the RTMP default). */
const OUT_CHUNK_SIZE = 128;
const CONNECT_TXN = 1;
const CREATE_STREAM_TXN = 2;
/** After the first end-of-play signal, the rest (Stop/Complete/EOF) may take this long. */
const END_GRACE_MS = 1000;

/**
 * One read buffer shared by every viewer of the process: onread callbacks
 * run synchronously and the scanner copies out what it keeps, so no read
 * allocates.
 */
const sharedReadBuffer = Buffer.allocUnsafe(256 * 1024);

const Phase = { Handshake: 0, Connecting: 1, Creating: 2, Playing: 3, Done: 4 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/**
 * One RTMP viewer: plain handshake, connect, createStream, SetBufferLength,
 * play; then it counts bytes and media time and, in real-time mode, checks
 * that a player with that buffer never runs dry. Built on the edge's own
 * codecs for everything it sends and for commands it reads.
 */
export class Viewer implements ScannerSink {
  readonly #plan: LoadPlan;
  readonly #now: () => number;
  readonly #scanner = new ChunkScanner(this);
  readonly #finished: (result: StreamResult) => void;
  #socket: Socket | null = null;
  #phase: Phase = Phase.Handshake;
  #handshake = Buffer.allocUnsafe(1 + 2 * HANDSHAKE_SIZE);
  #handshakeHave = 0;
  #bytes = 0;
  #lastAck = 0;
  #ackWindow = 0;
  #error: string | null = null;
  #mediaBytes = 0;
  #firstTs = -1;
  #lastTs = -1;
  #connectAt = 0;
  #playAt = 0;
  #firstMediaAt = 0;
  /** Wall time playback began (buffer full); 0 before. */
  #playbackAt = 0;
  #startupMs = -1;
  #minAheadMs = Number.POSITIVE_INFINITY;
  #maxLeadMs = Number.NEGATIVE_INFINITY;
  #sawStop = false;
  #sawEof = false;
  #endTimer: NodeJS.Timeout | null = null;
  #closedAt = 0;

  constructor(plan: LoadPlan, now: () => number, finished: (result: StreamResult) => void) {
    this.#plan = plan;
    this.#now = now;
    this.#finished = finished;
  }

  start(): void {
    this.#connectAt = this.#now();
    const socket = connect({
      host: this.#plan.host,
      port: this.#plan.port,
      noDelay: true,
      onread: {
        buffer: sharedReadBuffer,
        callback: (n: number, buf: Uint8Array) => {
          this.#onRead(buf as Buffer, n);
          return true;
        },
      },
    });
    this.#socket = socket;
    socket.on("connect", () => {
      const c0c1 = Buffer.allocUnsafe(1 + HANDSHAKE_SIZE);
      c0c1[0] = 3;
      randomBytes(HANDSHAKE_SIZE).copy(c0c1, 1);
      c0c1.writeUInt32BE(0, 1); // time
      c0c1.writeUInt32BE(0, 5); // zero version: the plain (non-digest) handshake
      socket.write(c0c1);
    });
    socket.on("error", (error: Error) => this.#fail(`socket: ${error.message}`));
    socket.on("close", () => {
      if (this.#phase !== Phase.Done) this.#fail(this.#endedEarlyReason());
    });
  }

  /** Real-time mode: the viewer leaves (at the end of the measured window). */
  leave(): void {
    if (this.#phase === Phase.Done) return;
    if (this.#phase !== Phase.Playing || this.#playbackAt === 0) {
      this.#fail("still not playing when the window ended");
      return;
    }
    this.#checkAhead(this.#now());
    this.#complete();
  }

  /** A periodic check, so a stream that gets no data at all still shows its stall. */
  tick(now: number): void {
    if (this.#phase === Phase.Playing) this.#checkAhead(now);
  }

  get done(): boolean {
    return this.#phase === Phase.Done;
  }

  #endedEarlyReason(): string {
    if (this.#phase === Phase.Playing) return "server closed the connection during play";
    return `server closed the connection in phase ${this.#phase}`;
  }

  #onRead(buf: Buffer, n: number): void {
    if (this.#phase === Phase.Done) return;
    const now = this.#now();
    this.#bytes += n;
    let at = 0;
    if (this.#phase === Phase.Handshake) {
      const need = this.#handshake.length - this.#handshakeHave;
      const take = Math.min(need, n);
      buf.copy(this.#handshake, this.#handshakeHave, 0, take);
      this.#handshakeHave += take;
      at = take;
      if (this.#handshakeHave < this.#handshake.length) return;
      // C2 echoes S1; then connect, without waiting (the server reads C2 first).
      this.#write(this.#handshake.subarray(1, 1 + HANDSHAKE_SIZE));
      this.#handshake = Buffer.alloc(0);
      this.#phase = Phase.Connecting;
      this.#sendConnect();
      if (at === n) return;
    }
    if (this.#phase === Phase.Playing) this.#checkAhead(now);
    try {
      this.#scanner.push(buf, at, n);
    } catch (error) {
      this.#fail(`protocol: ${(error as Error).message}`);
      return;
    }
    if (this.#ackWindow > 0 && this.#bytes - this.#lastAck >= this.#ackWindow) {
      this.#lastAck = this.#bytes;
      this.#send(acknowledgement(this.#bytes));
    }
  }

  /**
   * The player model: playback starts once `bufferMs` of media is buffered
   * (Flash's NetStream.Buffer.Full) and then runs at real time. ahead =
   * media buffered − media played; a negative value is a stall.
   */
  #checkAhead(now: number): void {
    if (this.#firstTs < 0) return;
    const received = this.#lastTs - this.#firstTs;
    const lead = received - (now - this.#firstMediaAt);
    if (lead > this.#maxLeadMs) this.#maxLeadMs = lead;
    if (this.#playbackAt === 0) {
      if (received >= this.#plan.bufferMs || this.#sawEof || this.#sawStop) {
        this.#playbackAt = now;
        this.#startupMs = now - this.#connectAt;
      }
      return;
    }
    if (this.#sawEof || this.#sawStop) return; // all media is in; the player plays it out
    const ahead = received - (now - this.#playbackAt);
    if (ahead < this.#minAheadMs) this.#minAheadMs = ahead;
  }

  onMedia(typeId: number, timestamp: number, length: number): void {
    if (typeId !== MessageType.Audio && typeId !== MessageType.Video) {
      this.#mediaBytes += length;
      return;
    }
    this.#mediaBytes += length;
    if (this.#firstTs < 0) {
      this.#firstTs = timestamp;
      this.#firstMediaAt = this.#now();
    }
    if (timestamp > this.#lastTs) this.#lastTs = timestamp;
    if (this.#playbackAt === 0 && this.#lastTs - this.#firstTs >= this.#plan.bufferMs) {
      const now = this.#now();
      this.#playbackAt = now;
      this.#startupMs = now - this.#connectAt;
    }
  }

  onMessage(message: RtmpMessage): void {
    switch (message.messageTypeId) {
      case MessageType.WindowAckSize:
        if (message.payload.length >= 4) this.#ackWindow = message.payload.readUInt32BE(0);
        return;
      case MessageType.UserControl: {
        const event = parseUserControl(message.payload);
        if (event.event === UserControlEvent.PingRequest && event.timestamp !== undefined)
          this.#send(pingResponse(event.timestamp));
        else if (event.event === UserControlEvent.StreamEOF && this.#phase === Phase.Playing) {
          this.#sawEof = true;
          this.#onEndSignal();
        }
        return;
      }
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3:
        this.#onCommand(message);
        return;
      case MessageType.DataAmf0: {
        const values = safeDecode(message.payload);
        if (values[0] === "onPlayStatus" && codeOf(values) === "NetStream.Play.Complete") this.#onEndSignal();
        return;
      }
      default:
        return;
    }
  }

  #onCommand(message: RtmpMessage): void {
    const command = decodeCommand(message.payload, message.messageTypeId);
    if (command.name === "_error") {
      this.#fail(`${command.name} for transaction ${command.transactionId}: ${codeOf(command.args)}`);
      return;
    }
    if (command.name === "_result" && command.transactionId === CONNECT_TXN) {
      this.#phase = Phase.Creating;
      this.#command(0, "createStream", CREATE_STREAM_TXN, null);
      return;
    }
    if (command.name === "_result" && command.transactionId === CREATE_STREAM_TXN) {
      const id = command.args[0];
      if (typeof id !== "number") {
        this.#fail("createStream returned no stream id");
        return;
      }
      this.#phase = Phase.Playing;
      this.#send(userControlSetBufferLength(id, this.#plan.bufferMs));
      this.#playAt = this.#now();
      this.#command(id, "play", 0, null, this.#plan.streamName, 0);
      return;
    }
    if (command.name === "onStatus") {
      const code = codeOf(command.args) ?? "";
      if (code === "NetStream.Play.Stop") {
        this.#sawStop = true;
        this.#onEndSignal();
      } else if (code === "NetStream.Play.StreamNotFound" || code === "NetStream.Play.Failed") {
        this.#fail(code);
      }
    }
  }

  #onEndSignal(): void {
    if (this.#plan.mode === "realtime") {
      // A real-time window shorter than the file never sees the end; if it does, the file ran out.
      if (this.#sawEof && this.#sawStop) this.#complete();
      return;
    }
    if (this.#sawEof && this.#sawStop) {
      this.#complete();
      return;
    }
    if (this.#endTimer === null) this.#endTimer = setTimeout(() => this.#complete(), END_GRACE_MS);
  }

  #complete(): void {
    if (this.#phase === Phase.Done) return;
    if (this.#plan.mode === "full") {
      const mediaMs = this.#lastTs - this.#firstTs;
      if (this.#firstTs < 0 || mediaMs < this.#plan.expectedDurationMs - 2000) {
        this.#fail(`incomplete: got ${Math.max(0, mediaMs)} ms of ${this.#plan.expectedDurationMs} ms media`);
        return;
      }
    }
    this.#finish(null);
  }

  #fail(reason: string): void {
    if (this.#phase === Phase.Done) return;
    this.#finish(reason);
  }

  #finish(error: string | null): void {
    this.#phase = Phase.Done;
    this.#error = error;
    this.#closedAt = this.#now();
    if (this.#endTimer) clearTimeout(this.#endTimer);
    this.#socket?.destroy();
    const minAhead = this.#minAheadMs === Number.POSITIVE_INFINITY ? 0 : this.#minAheadMs;
    const stalled = this.#plan.mode === "realtime" && this.#playbackAt > 0 && minAhead < 0;
    const ok = this.#error === null && !stalled;
    this.#finished({
      ok,
      error: this.#error ?? (stalled ? `stalled ${Math.round(-minAhead)} ms` : null),
      bytes: this.#bytes,
      mediaBytes: this.#mediaBytes,
      mediaMs: this.#firstTs < 0 ? 0 : this.#lastTs - this.#firstTs,
      playWallMs: this.#playAt > 0 ? this.#closedAt - this.#playAt : 0,
      startupMs: this.#startupMs,
      minAheadMs: minAhead,
      maxLeadMs: this.#maxLeadMs === Number.NEGATIVE_INFINITY ? 0 : this.#maxLeadMs,
    });
  }

  #sendConnect(): void {
    const obj = createAmfObject();
    obj.app = this.#plan.app;
    obj.flashVer = "LNX 11,2,202,635";
    obj.tcUrl = `rtmp://${this.#plan.tcUrlHost}:${this.#plan.port}/${this.#plan.app}`;
    obj.fpad = false;
    obj.capabilities = 15;
    obj.audioCodecs = 3191;
    obj.videoCodecs = 252;
    obj.videoFunction = 1;
    obj.objectEncoding = 0;
    this.#command(0, "connect", CONNECT_TXN, obj);
  }

  #command(streamId: number, name: string, txn: number, commandObject: AmfValue, ...args: AmfValue[]): void {
    this.#send({
      chunkStreamId: streamId === 0 ? 3 : 8,
      messageTypeId: MessageType.CommandAmf0,
      messageStreamId: streamId,
      timestamp: 0,
      payload: encodeCommand(name, txn, commandObject, ...args),
    });
  }

  #send(message: RtmpMessage): void {
    this.#write(encodeMessage(message, OUT_CHUNK_SIZE));
  }

  #write(bytes: Buffer): void {
    const socket = this.#socket;
    if (socket && !socket.destroyed && socket.writable) socket.write(bytes);
  }
}

function safeDecode(payload: Buffer): AmfValue[] {
  try {
    return decodeAmf0(payload);
  } catch {
    return [];
  }
}

/** The `code` of the first info object among `values`. */
function codeOf(values: readonly AmfValue[]): string | undefined {
  for (const value of values) {
    if (typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date)) {
      const code = (value as Record<string, AmfValue>).code;
      if (typeof code === "string") return code;
    }
  }
  return undefined;
}
