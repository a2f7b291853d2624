import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import { errorCode, errorMessage } from "../../../lib/errors.js";
import type { Logger } from "../../../lib/log.js";
import type { Distribution } from "../../../proto/gen/streamfront/controller/v1/controller.js";
import type { EdgeConfig } from "../config.js";
import { parseConnectTarget } from "../connect-url.js";
import type { LookupFailure } from "../distribution-table.js";
import { EdgeError, EdgeErrorCode } from "../errors.js";
import { openMedia } from "../media/open-media.js";
import type { RangeSource } from "../media/range-source.js";
import type { EdgeMetrics, Protocol } from "../metrics.js";
import { PlayResult } from "../metrics.js";
import type { AmfObject, AmfValue } from "../rtmp/amf0.js";
import { ChunkDecoder } from "../rtmp/chunk-decoder.js";
import { encodeMessage } from "../rtmp/chunk-encoder.js";
import { decodeCommand, type RtmpCommand } from "../rtmp/command.js";
import {
  acknowledgement,
  parseUserControl,
  pingResponse,
  setChunkSize,
  setPeerBandwidth,
  userControl,
  windowAckSize,
} from "../rtmp/control-messages.js";
import { ServerHandshake } from "../rtmp/handshake.js";
import {
  MessageType,
  PeerBandwidthLimit,
  type RtmpMessage,
  UserControlEvent,
} from "../rtmp/message-types.js";
import { parseStreamName } from "../stream-name.js";
import { Playback, PlaybackEnd, type PlaybackSink } from "./playback.js";
import { callFailed, commandMessage, connectRejected, connectResult, onStatus } from "./status.js";

/** What a session needs from the edge around it. */
export interface SessionContext {
  readonly config: EdgeConfig;
  readonly logger: Logger;
  readonly metrics: EdgeMetrics;
  readonly protocol: Protocol;
  resolveDistribution(host: string): Distribution | LookupFailure;
  /** null when the object does not exist. */
  openObject(bucket: string, key: string): Promise<RangeSource | null>;
}

/**
 * A viewer's byte stream: a TCP socket, or the virtual stream of an RTMPT
 * session (HTTP tunnel). Socket-only knobs are optional; an RTMPT stream
 * times out at the tunnel instead.
 */
export type ViewerTransport = Duplex & {
  readonly remoteAddress?: string | undefined;
  setNoDelay?(noDelay?: boolean): unknown;
  setTimeout?(timeoutMs: number): unknown;
};

const SessionState = { Handshake: 0, AwaitConnect: 1, Connected: 2, Closed: 3 } as const;
type SessionState = (typeof SessionState)[keyof typeof SessionState];

/** FMS and librtmp's usual window and peer bandwidth (cloudfront-rtmp.md §3.4). */
const windowSize = 2_500_000;
/** Streams one connection may create; Flash players use one or two. */
const maxStreams = 8;

/**
 * One viewer connection: handshake, connect, createStream, play. It owns the
 * socket; codecs below it are pure. Any protocol error closes this one
 * connection with a log line and never escapes to the server.
 */
export class RtmpSession {
  readonly #socket: ViewerTransport;
  readonly #ctx: SessionContext;
  readonly #logger: Logger;
  readonly #clientId: string;
  readonly #handshake: ServerHandshake;
  readonly #decoder: ChunkDecoder;
  readonly #plays = new Map<number, PlayHandle>();
  #state: SessionState = SessionState.Handshake;
  #distribution: Distribution | null = null;
  #nextStreamId = 1;
  #bufferMs: number;
  #peerWindow = 0;
  #outChunkSize = 128;
  #lastAckAt = 0;
  #handshakeTimer: NodeJS.Timeout | null;
  #drainWaiters: (() => void)[] = [];
  #onClose: () => void;

  constructor(socket: ViewerTransport, ctx: SessionContext, onClose: () => void) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.#onClose = onClose;
    // Unguessable: it is logged and echoed to the client as `clientid`.
    this.#clientId = randomBytes(12).toString("base64url");
    this.#logger = ctx.logger.child({ session: this.#clientId, remote: socket.remoteAddress });
    this.#bufferMs = ctx.config.defaultBufferMs;
    this.#handshake = new ServerHandshake({ randomBytes, nowMs: () => Date.now() });
    this.#decoder = new ChunkDecoder({
      maxMessageBytes: ctx.config.maxMessageBytes,
      maxChunkStreams: ctx.config.maxChunkStreams,
      maxChunkSize: 16 * 1024 * 1024,
    });
    socket.setNoDelay?.(true);
    socket.setTimeout?.(ctx.config.idleTimeoutMs);
    socket.on("timeout", () => this.#fail(new EdgeError(EdgeErrorCode.IdleTimeout, "idle timeout")));
    socket.on("data", (bytes: Buffer) => this.#onData(bytes));
    socket.on("drain", () => this.#releaseDrainWaiters());
    socket.on("error", (error) => {
      this.#logger.debug({ err: error }, "socket error");
    });
    socket.on("close", () => this.#closed());
    this.#handshakeTimer = setTimeout(
      () => this.#fail(new EdgeError(EdgeErrorCode.HandshakeInvalid, "handshake and connect timed out")),
      ctx.config.handshakeTimeoutMs,
    );
    this.#handshakeTimer.unref();
    this.#logger.debug("connection opened");
  }

  get clientId(): string {
    return this.#clientId;
  }

  /** Closes the connection (server shutdown). */
  close(): void {
    this.#socket.destroy();
  }

  /** Starts the session on bytes already read from the socket (port sniffing). */
  feed(bytes: Buffer): void {
    this.#onData(bytes);
  }

  #isClosed(): boolean {
    return this.#state === SessionState.Closed;
  }

  #onData(bytes: Buffer): void {
    if (this.#isClosed()) return;
    try {
      if (this.#state === SessionState.Handshake) {
        const step = this.#handshake.push(bytes);
        if (step.output) this.#write(step.output);
        if (!step.done) return;
        this.#state = SessionState.AwaitConnect;
        if (!step.rest || step.rest.length === 0) return;
        bytes = step.rest;
      }
      const messages = this.#decoder.push(bytes);
      this.#maybeAcknowledge();
      for (const message of messages) {
        this.#onMessage(message);
        if (this.#isClosed()) return;
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  /** The peer asked for acknowledgements every #peerWindow bytes. */
  #maybeAcknowledge(): void {
    if (this.#peerWindow <= 0) return;
    const received = this.#decoder.bytesReceived;
    if (received - this.#lastAckAt >= this.#peerWindow) {
      this.#lastAckAt = received;
      this.#send([acknowledgement(received % 0x1_0000_0000)]);
    }
  }

  #onMessage(message: RtmpMessage): void {
    switch (message.messageTypeId) {
      case MessageType.SetChunkSize:
      case MessageType.Abort:
      case MessageType.Acknowledgement:
      case MessageType.SetPeerBandwidth:
        return;
      case MessageType.WindowAckSize:
        if (message.payload.length >= 4) this.#peerWindow = message.payload.readUInt32BE(0);
        return;
      case MessageType.UserControl:
        this.#onUserControl(message.payload);
        return;
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3:
        this.#onCommand(decodeCommand(message.payload, message.messageTypeId), message.messageStreamId);
        return;
      case MessageType.DataAmf0:
      case MessageType.DataAmf3:
        // @setDataFrame and the like belong to publishing, which a VOD edge refuses.
        return;
      case MessageType.Audio:
      case MessageType.Video:
      case MessageType.Aggregate:
        throw new EdgeError(EdgeErrorCode.CommandInvalid, "viewers may not send media: this edge only plays");
      default:
        this.#logger.debug({ type: message.messageTypeId }, "ignoring message of unknown type");
    }
  }

  #onUserControl(payload: Buffer): void {
    const event = parseUserControl(payload);
    if (event.event === UserControlEvent.SetBufferLength && event.bufferMs !== undefined) {
      this.#bufferMs = Math.min(event.bufferMs, this.#ctx.config.maxBufferMs);
    } else if (event.event === UserControlEvent.PingRequest && event.timestamp !== undefined) {
      this.#send([pingResponse(event.timestamp)]);
    }
  }

  #onCommand(command: RtmpCommand, streamId: number): void {
    if (this.#state === SessionState.AwaitConnect) {
      if (command.name !== "connect") {
        throw new EdgeError(EdgeErrorCode.CommandInvalid, `expected connect first, got ${command.name}`);
      }
      this.#connect(command);
      return;
    }
    switch (command.name) {
      case "connect":
        throw new EdgeError(EdgeErrorCode.CommandInvalid, "connect sent twice");
      case "createStream":
        this.#createStream(command);
        return;
      case "play":
        this.#play(command, streamId);
        return;
      case "closeStream":
        this.#stopPlayback(streamId);
        return;
      case "deleteStream": {
        const id = command.args[0];
        if (typeof id === "number") this.#stopPlayback(id);
        return;
      }
      case "getStreamLength":
        this.#getStreamLength(command);
        return;
      case "FCSubscribe":
        this.#send([
          commandMessage(
            0,
            "onFCSubscribe",
            0,
            null,
            statusObject("NetStream.Play.Start", String(command.args[0])),
          ),
        ]);
        return;
      case "FCUnsubscribe":
      case "receiveAudio":
      case "receiveVideo":
        return;
      case "_checkbw":
      case "checkBandwidth":
        if (command.transactionId > 0)
          this.#send([commandMessage(0, "_result", command.transactionId, null)]);
        return;
      case "releaseStream":
      case "FCPublish":
      case "publish":
        this.#send([
          onStatus(
            streamId,
            "error",
            "NetStream.Publish.BadName",
            "This is a video-on-demand edge: publishing is not allowed.",
          ),
        ]);
        return;
      default:
        if (command.transactionId > 0) {
          this.#send([callFailed(command.transactionId, `Method not found (${command.name}).`)]);
        }
    }
  }

  #connect(command: RtmpCommand): void {
    const obj = isObject(command.commandObject) ? command.commandObject : null;
    const target = parseConnectTarget(obj?.tcUrl, obj?.app);
    if (typeof target === "string") {
      this.#reject(
        command.transactionId,
        target,
        `bad connect (tcUrl ${JSON.stringify(obj?.tcUrl)}, app ${JSON.stringify(obj?.app)})`,
      );
      return;
    }
    const found = this.#ctx.resolveDistribution(target.host);
    if (typeof found === "string") {
      this.#reject(command.transactionId, found, `no streaming distribution serves ${target.host}`);
      return;
    }
    this.#distribution = found;
    this.#state = SessionState.Connected;
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = null;
    const objectEncoding = typeof obj?.objectEncoding === "number" ? obj.objectEncoding : 0;
    this.#send([
      windowAckSize(windowSize),
      setPeerBandwidth(windowSize, PeerBandwidthLimit.Dynamic),
      setChunkSize(this.#ctx.config.outChunkSize),
      userControl(UserControlEvent.StreamBegin, 0),
      connectResult(command.transactionId, objectEncoding, this.#clientId),
      commandMessage(0, "onBWDone", 0, null),
    ]);
    this.#logger.info({ distribution: found.id, host: target.host }, "connected");
  }

  #reject(txn: number, reason: string, detail: string): void {
    this.#ctx.metrics.rejections.inc({ code: reason });
    this.#logger.info({ reason }, `connect rejected: ${detail}`);
    this.#send([connectRejected(txn, reason, detail)]);
    this.#state = SessionState.Closed;
    this.#socket.end();
  }

  #createStream(command: RtmpCommand): void {
    if (this.#nextStreamId > maxStreams) {
      this.#send([callFailed(command.transactionId, `at most ${maxStreams} streams per connection`)]);
      return;
    }
    const id = this.#nextStreamId++;
    this.#send([commandMessage(0, "_result", command.transactionId, null, id)]);
  }

  #getStreamLength(command: RtmpCommand): void {
    const name = command.args[0];
    const request = typeof name === "string" ? parseStreamName(name) : null;
    const answer = (seconds: number) =>
      this.#send([commandMessage(0, "_result", command.transactionId, null, seconds)]);
    if (!request || !this.#distribution) {
      answer(0);
      return;
    }
    this.#ctx
      .openObject(this.#distribution.originBucket, request.key)
      .then(async (source) => (source ? (await openMedia(request.container, source)).durationMs / 1000 : 0))
      .then(answer, (error: unknown) => {
        this.#logger.debug({ err: error }, "getStreamLength failed");
        answer(0);
      });
  }

  #play(command: RtmpCommand, streamId: number): void {
    if (streamId <= 0 || streamId >= this.#nextStreamId) {
      throw new EdgeError(
        EdgeErrorCode.CommandInvalid,
        `play on stream ${streamId}, which was never created`,
      );
    }
    const [nameArg, startArg, lengthArg, resetArg] = command.args;
    this.#stopPlayback(streamId);
    if (nameArg === false) return; // play(false) stops.
    const name = typeof nameArg === "string" ? nameArg : "";
    const request = parseStreamName(name);
    const distribution = this.#distribution!;
    const started = performance.now();
    const notFound = (why: string) => {
      this.#ctx.metrics.plays.inc({ container: request?.container ?? "flv", result: PlayResult.NotFound });
      this.#logger.info({ stream: name, why }, "stream not found");
      this.#send([
        onStatus(
          streamId,
          "error",
          "NetStream.Play.StreamNotFound",
          `Failed to play ${name}; stream not found.`,
          {
            details: name,
            clientid: this.#clientId,
          },
        ),
      ]);
    };
    if (!request) {
      notFound("invalid stream name");
      return;
    }
    const startMs = typeof startArg === "number" && startArg > 0 ? startArg * 1000 : 0;
    const lengthMs = typeof lengthArg === "number" && lengthArg >= 0 ? lengthArg * 1000 : -1;
    const reset = resetArg !== false && resetArg !== 0;
    // Registered before the object opens, so a second play or a close cancels it.
    const handle = new PlayHandle();
    this.#plays.set(streamId, handle);
    void this.#ctx
      .openObject(distribution.originBucket, request.key)
      .then(async (source) => {
        if (handle.stopped || this.#isClosed()) return;
        if (!source) {
          this.#plays.delete(streamId);
          notFound("no such object");
          return;
        }
        const reader = await openMedia(request.container, source);
        if (handle.stopped || this.#isClosed()) return;
        const playback = new Playback({
          streamId,
          name,
          reader,
          sink: this.#sink,
          startMs,
          lengthMs,
          reset,
          clientId: this.#clientId,
          bufferMs: () => this.#bufferMs,
          marginMs: this.#ctx.config.sendAheadMarginMs,
          now: () => performance.now(),
          onFirstFrame: () =>
            this.#ctx.metrics.timeToFirstFrame.observe(
              { container: request.container },
              (performance.now() - started) / 1000,
            ),
        });
        handle.attach(playback);
        this.#ctx.metrics.plays.inc({ container: request.container, result: PlayResult.Started });
        this.#logger.info({ stream: name, key: request.key }, "play");
        const end = await playback.run();
        if (this.#plays.get(streamId) === handle) this.#plays.delete(streamId);
        if (end === PlaybackEnd.Completed) {
          this.#ctx.metrics.plays.inc({ container: request.container, result: PlayResult.Completed });
          this.#logger.info({ stream: name }, "play complete");
        }
      })
      .catch((error: unknown) => {
        if (handle.stopped) return;
        this.#ctx.metrics.plays.inc({ container: request.container, result: PlayResult.Failed });
        const code = errorCode(error);
        this.#logger.warn({ stream: name, code, err: errorMessage(error) }, "play failed");
        if (this.#isClosed()) return;
        this.#send([
          onStatus(
            streamId,
            "error",
            code === EdgeErrorCode.MediaInvalid || code === EdgeErrorCode.MediaTooLarge
              ? "NetStream.Play.FileStructureInvalid"
              : "NetStream.Play.Failed",
            `Failed to play ${name}: ${errorMessage(error)}`,
            { details: name, clientid: this.#clientId },
          ),
        ]);
      });
  }

  #stopPlayback(streamId: number): void {
    const handle = this.#plays.get(streamId);
    if (!handle) return;
    handle.stop();
    this.#plays.delete(streamId);
  }

  readonly #sink: PlaybackSink = {
    send: (messages) => this.#send(messages),
    waitWritable: () => this.#waitWritable(),
    isClosed: () => this.#isClosed(),
  };

  #send(messages: readonly RtmpMessage[]): void {
    if (!this.#socket.writable) return;
    const socket = this.#socket;
    socket.cork();
    let bytes = 0;
    for (const m of messages) {
      const encoded = encodeMessage(m, this.#outChunkSize);
      bytes += encoded.length;
      socket.write(encoded);
      // Messages before our Set Chunk Size use the default 128; after it, ours.
      if (m.messageTypeId === MessageType.SetChunkSize) this.#outChunkSize = m.payload.readUInt32BE(0);
    }
    socket.uncork();
    this.#ctx.metrics.bytesOut[this.#ctx.protocol] += bytes;
  }

  #write(bytes: Buffer): void {
    this.#socket.write(bytes);
    this.#ctx.metrics.bytesOut[this.#ctx.protocol] += bytes.length;
  }

  #waitWritable(): Promise<void> {
    if (this.#isClosed() || this.#socket.writableLength < this.#ctx.config.maxQueuedBytes) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #releaseDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #fail(error: unknown): void {
    if (this.#state === SessionState.Closed) return;
    const code = errorCode(error) ?? "EDGE_ERR_INTERNAL";
    this.#ctx.metrics.sessionErrors.inc({ code });
    if (error instanceof EdgeError) {
      this.#logger.warn({ code, err: error.message }, "closing connection");
    } else {
      this.#logger.error({ code, err: error }, "closing connection after an unexpected error");
    }
    this.#state = SessionState.Closed;
    this.#socket.destroy();
  }

  #closed(): void {
    const wasOpen = this.#state !== SessionState.Closed;
    this.#state = SessionState.Closed;
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    for (const handle of this.#plays.values()) handle.stop();
    this.#plays.clear();
    this.#releaseDrainWaiters();
    this.#logger.debug({ wasOpen }, "connection closed");
    this.#onClose();
  }
}

function isObject(value: AmfValue): value is AmfObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function statusObject(code: string, description: string): AmfObject {
  const o: AmfObject = Object.create(null);
  o.level = "status";
  o.code = code;
  o.description = description;
  return o;
}

/** A play from the command until its end; stop() works before the object has even opened. */
class PlayHandle {
  #stopped = false;
  #playback: Playback | null = null;

  get stopped(): boolean {
    return this.#stopped;
  }

  attach(playback: Playback): void {
    this.#playback = playback;
  }

  stop(): void {
    this.#stopped = true;
    this.#playback?.stop();
  }
}
