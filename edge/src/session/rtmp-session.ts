import type { Duplex } from "node:stream";
import { errorCode } from "../../../lib/errors.js";
import { type Logger, type LogRateLimiter, redactQuery } from "../../../lib/log.js";
import { traces } from "../../../lib/trace/channels.js";
import type { Distribution } from "../../../proto/gen/streamfront/controller/v1/controller.js";
import {
  type AccessLogConnection,
  type AccessLogEvent,
  type AccessLogRecord,
  splitQuery,
} from "../access-log/w3c-line.js";
import type { EdgeConfig } from "../config.js";
import type { DistributionCell } from "../distribution-labels.js";
import { EdgeError, EdgeErrorCode } from "../errors.js";
import { NoPlayableTrackError } from "../media/media-error.js";
import type { SkippedTrack } from "../media/media-tag.js";
import { openMedia } from "../media/open-media.js";
import type { RangeSource } from "../media/range-source.js";
import type { EdgeMetrics } from "../metrics.js";
import { parseConnectTarget } from "../routing/connect-url.js";
import { type LookupFailure, lookupFailureDetail } from "../routing/distribution-table.js";
import { parseStreamName, type StreamRequest } from "../routing/stream-name.js";
import type { AmfValue } from "../rtmp/amf0.js";
import { ChunkDecoder, type ChunkDecoderLimits } from "../rtmp/chunk-decoder.js";
import { encodeMessages } from "../rtmp/chunk-encoder.js";
import { decodeCommand, type RtmpCommand } from "../rtmp/command.js";
import { acknowledgement, parseUserControl, pingResponse } from "../rtmp/control-messages.js";
import { ServerHandshake } from "../rtmp/handshake.js";
import { MessageType, type RtmpMessage, UserControlEvent } from "../rtmp/message-types.js";
import type { ReassemblyBudget } from "../rtmp/reassembly-budget.js";
import type { RtmpeCiphers } from "../rtmp/rtmpe/stream-cipher.js";
import { parseConnect, parseStreamCommand } from "../rtmp/stream-commands.js";
import { OpenPurpose } from "../shield-client/object-opener.js";
import type { PlayAuthorization } from "../signed-urls/play-authorizer.js";
import { LookupCommand, type Protocol } from "../vocabulary.js";
import {
  callFailed,
  commandMessage,
  connectAccepted,
  connectRejected,
  fcSubscribeStarted,
  playStoppedForShutdown,
  publishRefused,
} from "./fms-messages.js";
import { LookupBudget } from "./lookup-budget.js";
import { NetStream, type OpenResult } from "./net-stream.js";
import type { Scheduler, TimerHandle } from "./scheduler.js";
import type { SharedEncoder } from "./shared-encoder.js";
import type { PlayerSink } from "./stream-player.js";

/** What a session needs from the edge around it. */
export interface SessionContext {
  readonly config: EdgeConfig;
  readonly logger: Logger;
  readonly metrics: EdgeMetrics;
  readonly protocol: Protocol;
  /** Clocks, timers, deferred turns and random bytes (session/scheduler.ts): the real ones, or a test's manual clock. */
  readonly scheduler: Scheduler;
  /** Encodes media once for all viewers of the same bytes. */
  readonly encoder: SharedEncoder;
  /** The edge-wide bound on bytes of partly received messages, shared by every session. */
  readonly reassemblyBudget: ReassemblyBudget;
  /** The distribution a host names; a failure carries the distribution it found, if any (a disabled or web one). */
  resolveDistribution(host: string): Distribution | { readonly failure: LookupFailure; readonly id?: string };
  /** null when the object does not exist. */
  openObject(bucket: string, key: string, purpose?: OpenPurpose): Promise<RangeSource | null>;
  /**
   * The signed-URL gate of a play event (signed-urls/play-authorizer.ts):
   * allowed for distributions without trusted signers. Absent: every play
   * is allowed (tests of other things).
   */
  authorizePlay?(
    distribution: Distribution,
    request: StreamRequest,
    clientAddress: string,
  ): PlayAuthorization;
  /** Called when a play starts (its object opened): the connection counts as a playing viewer from then on. */
  onPlaying?(): void;
  /** Rate-limits the "closing connection" warnings, so a flood of bad peers costs a few lines. */
  readonly noisy?: LogRateLimiter;
  /** A play of the object leaves these tracks out (metric each time; log once per object). */
  reportSkipped?(bucket: string, key: string, tracks: readonly SkippedTrack[]): void;
  /**
   * One access-log event of a connection to a distribution with Logging
   * enabled (access-log/). Absent: nothing is logged.
   */
  accessLog?(distribution: Distribution, record: AccessLogRecord): void;
  /** The access log's x-edge-location. */
  readonly edgeLocation?: string;
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

/** Streams one connection may create; Flash players use one or two. */
const maxStreams = 8;
/**
 * Messages handled in one go before the session yields to the event loop
 * (setImmediate), so a peer flooding cheap requests (pings, unknown calls)
 * shares the loop with every other viewer instead of holding it for a
 * whole socket read (64 KiB of 7-byte pings is ~9,000 messages).
 */
const messagesPerTurn = 64;
/**
 * onBWCheck payloads (32 KiB each, for a ~40-byte request) one connection
 * may ask for; later checkBandwidth calls get the last result at once, so a
 * client cannot use the edge as a 800× bandwidth amplifier.
 */
const maxBandwidthChecks = 3;
/**
 * Room above twice max-queued-bytes before a viewer is dropped at once: a
 * media batch the player sent while the queue was just under the bound
 * (up to 1 MiB and its last tag) must fit, so only a peer that is not
 * reading ever gets there.
 */
const queueSlackBytes = 2 * 1024 * 1024;
/**
 * Reply bytes a peer's requests may add while its queue is at
 * max-queued-bytes, before its input is paused: a viewer whose queue is
 * full of media (it reads at the stream's rate) still gets its seek or
 * pause handled at once, while a peer whose queue fills with its own
 * answers stops being read.
 */
const replyAllowanceBytes = 64 * 1024;
/** The largest chunk size a peer may set; what it costs is bounded by max-reassembly-bytes. */
const maxPeerChunkSize = 16 * 1024 * 1024;

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
  readonly #streams = new Map<number, NetStream>();
  /** The client connected with AMF3 command messages (type 17): answer in kind. */
  #amf3Commands = false;
  #bandwidthCheck: { readonly txn: number; readonly sentAt: number; readonly bytes: number } | null = null;
  #bandwidthChecks = 0;
  /** The last onBWDone arguments, for checkBandwidth calls past maxBandwidthChecks. */
  #lastBandwidth: AmfValue[] = [0, 0, 0, 0];
  #state: SessionState = SessionState.Handshake;
  #distribution: Distribution | null = null;
  /** The connect's application past cfx/st/: the front of every play name (routing/connect-url.ts). */
  #streamPrefix = "";
  #nextStreamId = 1;
  #bufferMs: number;
  #peerWindow = 0;
  /** Set by an RTMPE handshake: the RC4 streams of this connection. */
  #rtmpe: RtmpeCiphers | null = null;
  #outChunkSize = 128;
  #lastAckAt = 0;
  #handshakeTimer: TimerHandle | null;
  #drainWaiters: (() => void)[] = [];
  #slowViewerTimer: TimerHandle | null = null;
  /** Armed when a play fails: closes a connection that then plays nothing and says nothing. */
  #failedPlayTimer: TimerHandle | null = null;
  readonly #lookups: LookupBudget;
  /** Reading from the peer is paused: its queue is over max-queued-bytes, or a turn is scheduled. */
  #inputPaused = false;
  #nextTurn: TimerHandle | null = null;
  /**
   * Replies produced while handling input, written as one buffer when the
   * turn ends: one socket write per turn instead of one per reply (a
   * buffered write costs ~100 bytes of bookkeeping, more than a ping answer).
   */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #inTurn = false;
  /** Bytes of replies to the peer's requests since its queue last drained. */
  #replyBytesSinceDrain = 0;
  #onClose: () => void;
  /** Bytes written to this viewer so far: the access log's sc-bytes. */
  #bytesSent = 0;
  /** The connection's access-log fields, set at an accepted connect of a distribution that logs. */
  #accessLog: AccessLogConnection | null = null;
  /** The metrics' distribution cell this connection counts against: none until a connect is accepted. */
  #cell: DistributionCell;
  /** This connection counts as a viewer (a play started); undone when it closes. */
  #viewer = false;
  /** scheduler.now() when the connection was accepted (its close event's duration). */
  readonly #openedAt: number;

  constructor(socket: ViewerTransport, ctx: SessionContext, onClose: () => void) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.#onClose = onClose;
    this.#cell = ctx.metrics.distributions.none;
    ctx.metrics.distributions.attach(this.#cell);
    const scheduler = ctx.scheduler;
    // Unguessable: it is logged and echoed to the client as `clientid`.
    this.#clientId = scheduler.randomBytes(12).toString("base64url");
    this.#logger = ctx.logger.child({ session: this.#clientId, remote: socket.remoteAddress });
    this.#bufferMs = ctx.config.defaultBufferMs;
    this.#lookups = new LookupBudget({
      burst: ctx.config.lookupBurst,
      perSecond: ctx.config.lookupsPerSecond,
      now: () => scheduler.now(),
    });
    this.#handshake = new ServerHandshake({
      randomBytes: (n) => scheduler.randomBytes(n),
      nowMs: () => scheduler.wallClockMs(),
    });
    // Until connect is accepted the peer is anonymous: far smaller bounds.
    this.#decoder = new ChunkDecoder(
      {
        ...decoderLimits(ctx.config),
        maxMessageBytes: Math.min(ctx.config.maxMessageBytes, ctx.config.maxConnectBytes),
        maxBufferedBytes: Math.min(ctx.config.maxReassemblyBytes, ctx.config.maxConnectBytes),
      },
      ctx.reassemblyBudget,
    );
    socket.setNoDelay?.(true);
    socket.setTimeout?.(ctx.config.idleTimeoutMs);
    socket.on("timeout", () => this.#fail(new EdgeError(EdgeErrorCode.IdleTimeout, "idle timeout")));
    socket.on("data", (bytes: Buffer) => this.#onData(bytes));
    socket.on("drain", () => this.#onDrain());
    socket.on("error", (error) => {
      this.#logger.debug({ err: error }, "socket error");
    });
    socket.on("close", () => this.#closed());
    this.#handshakeTimer = scheduler.setTimer(ctx.config.handshakeTimeoutMs, () =>
      this.#fail(new EdgeError(EdgeErrorCode.HandshakeTimeout, "handshake and connect timed out")),
    );
    this.#openedAt = scheduler.now();
    if (traces.connectionOpen.hasSubscribers)
      traces.connectionOpen.publish({
        session: this.#clientId,
        protocol: ctx.protocol,
        remoteAddress: socket.remoteAddress ?? "",
      });
    this.#logger.debug("connection opened");
  }

  get clientId(): string {
    return this.#clientId;
  }

  /** Closes the connection (server shutdown). */
  close(): void {
    this.#socket.destroy();
  }

  /** Something plays on this connection, or is about to (an object opening). */
  get playing(): boolean {
    for (const stream of this.#streams.values()) if (stream.busy) return true;
    return false;
  }

  /**
   * The edge's drain ran out with this connection still playing: every play
   * stops with NetStream.Play.Stop "the edge is shutting down", then the
   * connection is ended once those bytes are out (close() still destroys it).
   */
  endForShutdown(): void {
    if (this.#isClosed()) return;
    for (const [streamId, stream] of this.#streams) {
      const name = stream.player.current?.name;
      if (!stream.busy) continue;
      stream.stop();
      if (name !== undefined)
        this.#send(playStoppedForShutdown({ streamId, name, clientId: this.#clientId }));
    }
    this.#socket.end();
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
        // S0+S1+S2 go out in the clear, even for RTMPE.
        if (step.output) this.#write(step.output);
        if (!step.done) return;
        if (step.encryption) this.#rtmpe = step.encryption;
        this.#state = SessionState.AwaitConnect;
        if (!step.rest || step.rest.length === 0) return;
        bytes = step.rest;
      }
      // RTMPE: everything after the handshake is RC4 in both directions.
      this.#decoder.write(this.#rtmpe ? this.#rtmpe.decrypt.update(bytes) : bytes);
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (this.#nextTurn === null) this.#turn();
  }

  /**
   * Handles queued input: at most messagesPerTurn messages, and none while
   * the bytes queued for the peer are at max-queued-bytes and its requests
   * already added replyAllowanceBytes since it last drained — a peer that
   * does not read gets no more answers, and its requests stay unread in
   * the kernel (reading resumes on 'drain'). Replies go out together at
   * the end of the turn.
   */
  #turn(): void {
    this.#nextTurn = null;
    if (this.#isClosed()) return;
    this.#inTurn = true;
    try {
      for (let handled = 0; ; handled++) {
        if (
          this.#queuedBytes() >= this.#ctx.config.maxQueuedBytes &&
          this.#replyBytesSinceDrain >= replyAllowanceBytes
        ) {
          // 'drain' resumes; the slow-viewer timer drops a peer that never reads.
          this.#pauseInput();
          this.#armSlowViewerTimer();
          break;
        }
        if (handled === messagesPerTurn) {
          this.#pauseInput();
          this.#nextTurn = this.#ctx.scheduler.defer(() => this.#turn());
          break;
        }
        const message = this.#decoder.next();
        if (message === null) {
          this.#resumeInput();
          break;
        }
        this.#onMessage(message);
        if (this.#isClosed()) return;
      }
      this.#maybeAcknowledge();
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#inTurn = false;
      this.#flush();
    }
  }

  #pauseInput(): void {
    if (this.#inputPaused) return;
    this.#inputPaused = true;
    this.#socket.pause();
  }

  #resumeInput(): void {
    if (!this.#inputPaused) return;
    this.#inputPaused = false;
    this.#socket.resume();
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
        if (message.messageTypeId === MessageType.CommandAmf3) this.#amf3Commands = true;
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
    this.#disarmFailedPlayTimer();
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
      case "play2":
      case "seek":
      case "pause":
      case "pauseRaw":
      case "receiveAudio":
      case "receiveVideo":
      case "closeStream":
      case "deleteStream":
        this.#streamCommand(command, streamId);
        return;
      case "getStreamLength":
        this.#getStreamLength(command);
        return;
      case "FCSubscribe":
        this.#send([fcSubscribeStarted(String(command.args[0]))]);
        return;
      case "FCUnsubscribe":
        return;
      case "_checkbw":
        // librtmp's answer to onBWDone: acknowledge only, or it would ask again.
        if (command.transactionId > 0)
          this.#send([commandMessage(0, "_result", command.transactionId, null)]);
        return;
      case "checkBandwidth":
        this.#startBandwidthCheck();
        return;
      case "_result":
        this.#onClientResult(command);
        return;
      case "releaseStream":
      case "FCPublish":
      case "publish":
        this.#send([publishRefused(streamId)]);
        return;
      default:
        if (command.transactionId > 0) {
          this.#send([callFailed(command.transactionId, `Method not found (${command.name}).`)]);
        }
    }
  }

  #connect(command: RtmpCommand): void {
    const request = parseConnect(command);
    const target = parseConnectTarget(request.tcUrl, request.app);
    if (typeof target === "string") {
      this.#reject(
        command.transactionId,
        target,
        `bad connect (tcUrl ${shownConnectField(request.tcUrl)}, app ${shownConnectField(request.app)})`,
      );
      return;
    }
    const found = this.#ctx.resolveDistribution(target.host);
    if ("failure" in found) {
      const { failure, id } = found;
      if (id !== undefined) this.#moveTo(this.#ctx.metrics.distributions.cell(id));
      this.#reject(command.transactionId, failure, lookupFailureDetail(failure, target.host));
      return;
    }
    this.#distribution = found;
    this.#moveTo(this.#ctx.metrics.distributions.cell(found.id));
    this.#streamPrefix = target.streamPrefix;
    this.#state = SessionState.Connected;
    this.#decoder.setLimits(decoderLimits(this.#ctx.config));
    this.#handshakeTimer?.cancel();
    this.#handshakeTimer = null;
    this.#send(
      connectAccepted(
        command.transactionId,
        request.objectEncoding,
        this.#clientId,
        this.#ctx.config.outChunkSize,
      ),
    );
    if (found.logging?.enabled && this.#ctx.accessLog) {
      const url = splitQuery(typeof request.tcUrl === "string" ? request.tcUrl : "");
      this.#accessLog = {
        edgeLocation: this.#ctx.edgeLocation ?? "",
        clientIp: this.#socket.remoteAddress ?? "",
        clientId: this.#clientId,
        uriStem: url.base,
        uriQuery: url.query,
        referrer: request.swfUrl,
        pageUrl: request.pageUrl,
        userAgent: request.flashVer,
      };
      // After the _result went out: sc-bytes counts it, as a running total at the event.
      this.#logAccess("connect");
    }
    this.#logger.info(
      {
        distribution: found.id,
        host: target.host,
        ...(target.streamPrefix ? { prefix: target.streamPrefix } : {}),
      },
      "connected",
    );
  }

  /** Counts this connection against another distribution's cell (at connect; bytes before stay with none). */
  #moveTo(cell: DistributionCell): void {
    const labels = this.#ctx.metrics.distributions;
    labels.attach(cell);
    labels.detach(this.#cell);
    this.#cell = cell;
  }

  #reject(txn: number, reason: string, detail: string): void {
    this.#ctx.metrics.countRejection(reason, this.#cell);
    this.#logger.info({ reason }, `connect rejected: ${detail}`);
    this.#send([connectRejected(txn, reason, detail)]);
    this.#state = SessionState.Closed;
    this.#flush();
    this.#socket.end();
  }

  #createStream(command: RtmpCommand): void {
    if (this.#nextStreamId > maxStreams) {
      this.#send([callFailed(command.transactionId, `at most ${maxStreams} streams per connection`)]);
      return;
    }
    const id = this.#nextStreamId++;
    this.#streams.set(
      id,
      new NetStream({
        streamId: id,
        clientId: this.#clientId,
        sink: this.#sink,
        logger: this.#logger,
        metrics: this.#ctx.metrics,
        distribution: this.#cell,
        scheduler: this.#ctx.scheduler,
        marginMs: this.#ctx.config.sendAheadMarginMs,
        fmsDataStart: this.#ctx.config.fmsDataStart,
        bufferMs: () => this.#bufferMs,
        distributionId: this.#distribution?.id ?? "",
        keyOf: (name) => parseStreamName(name, this.#streamPrefix)?.key ?? null,
        open: (name) => this.#open(name),
        authorize: (name) => this.#authorize(name),
        stall: { minMs: this.#ctx.config.playStallMinMs, maxMs: this.#ctx.config.playStallMaxMs },
        lookups: this.#lookups,
        onPlayFailed: () => this.#armFailedPlayTimer(),
        onAccessEvent: (event, name) => this.#logAccess(event, id, name),
      }),
    );
    this.#send([commandMessage(0, "_result", command.transactionId, null, id)]);
  }

  #getStreamLength(command: RtmpCommand): void {
    const name = command.args[0];
    const request = typeof name === "string" ? parseStreamName(name, this.#streamPrefix) : null;
    const answer = (seconds: number) =>
      this.#send([commandMessage(0, "_result", command.transactionId, null, seconds)]);
    if (!request || !this.#distribution) {
      answer(0);
      return;
    }
    const access = this.#authorize(name as string);
    if (!access.allowed) {
      // A name the viewer may not play has no length: 0 says nothing about whether it exists.
      answer(0);
      return;
    }
    if (!this.#lookups.take()) {
      this.#ctx.metrics.lookupsRefused.inc({ command: LookupCommand.GetStreamLength });
      this.#send([
        callFailed(command.transactionId, "Too many lookups on this connection; try again later."),
      ]);
      return;
    }
    this.#ctx
      .openObject(this.#distribution.originBucket, request.key, OpenPurpose.Lookup)
      .then(async (source) => (source ? (await openMedia(request.container, source)).durationMs / 1000 : 0))
      .then(answer, (error: unknown) => {
        this.#logger.debug({ err: error }, "getStreamLength failed");
        answer(0);
      });
  }

  /** A NetStream command, parsed here and acted on by its stream (closeStream and deleteStream by the session). */
  #streamCommand(command: RtmpCommand, streamId: number): void {
    const request = parseStreamCommand(command);
    if (request === null) return;
    if (request.kind === "deleteStream") {
      this.#deleteStream(request.streamId);
      return;
    }
    const stream = this.#streams.get(streamId);
    if (request.kind === "closeStream") {
      stream?.stop();
      return;
    }
    // A deleteStream without an id names no stream: ignored, on whichever stream it came.
    if (request.kind === "rejected" && request.command === "deleteStream") return;
    if (!stream) {
      throw new EdgeError(
        EdgeErrorCode.CommandInvalid,
        `${command.name} on stream ${streamId}, which was never created`,
      );
    }
    stream.handle(request);
  }

  #deleteStream(streamId: number): void {
    const stream = this.#streams.get(streamId);
    if (!stream) return;
    stream.close();
    this.#streams.delete(streamId);
  }

  /**
   * The signed-URL gate for a play event of `name` (play, play2, seek,
   * unpause, getStreamLength). A name that does not parse is let through:
   * it is answered StreamNotFound, which says nothing either way.
   */
  #authorize(name: string): PlayAuthorization {
    const gate = this.#ctx.authorizePlay;
    const request = parseStreamName(name, this.#streamPrefix);
    if (!gate || !request || !this.#distribution) return { allowed: true, signed: false };
    const access = gate(this.#distribution, request, this.#socket.remoteAddress ?? "");
    if (!access.allowed) {
      this.#ctx.metrics.countSignedUrlRefusal(this.#cell, access.reason);
      this.#logger.info(
        { stream: redactQuery(name), reason: access.reason, detail: access.detail },
        "play refused",
      );
    }
    return access;
  }

  /** Maps a play name to its object in the distribution's bucket and opens the container. */
  async #open(name: string): Promise<OpenResult> {
    const request = parseStreamName(name, this.#streamPrefix);
    if (!request) return { ok: false, notFound: true, container: null, why: "invalid stream name" };
    const source = await this.#ctx.openObject(this.#distribution!.originBucket, request.key);
    if (!source) return { ok: false, notFound: true, container: request.container, why: "no such object" };
    let reader: Awaited<ReturnType<typeof openMedia>>;
    try {
      reader = await openMedia(request.container, source);
    } catch (error) {
      // Nothing playable is still worth naming: the log line and metric say which tracks and why.
      if (error instanceof NoPlayableTrackError && error.skippedTracks.length > 0)
        this.#ctx.reportSkipped?.(this.#distribution!.originBucket, request.key, error.skippedTracks);
      throw error;
    }
    this.#ctx.onPlaying?.();
    if (!this.#viewer) {
      this.#viewer = true;
      this.#cell.viewers[this.#ctx.protocol]++;
    }
    if (reader.skippedTracks && reader.skippedTracks.length > 0)
      this.#ctx.reportSkipped?.(this.#distribution!.originBucket, request.key, reader.skippedTracks);
    return { ok: true, reader, container: request.container, key: request.key };
  }

  /**
   * FMS native bandwidth detection, client-initiated (checkBandwidth): the
   * edge calls the client's onBWCheck with a payload, times the answer and
   * reports onBWDone(kbitDown, deltaDown, deltaTime, latency).
   */
  #startBandwidthCheck(): void {
    if (this.#bandwidthCheck) return;
    if (this.#bandwidthChecks >= maxBandwidthChecks) {
      this.#send([commandMessage(0, "onBWDone", 0, null, ...this.#lastBandwidth)]);
      return;
    }
    this.#bandwidthChecks++;
    const bytes = 32 * 1024;
    const txn = 1_000_000 + (this.#ctx.scheduler.randomBytes(4).readUInt32BE(0) % 1_000_000);
    this.#bandwidthCheck = { txn, sentAt: this.#ctx.scheduler.now(), bytes };
    this.#send([commandMessage(0, "onBWCheck", txn, null, "x".repeat(bytes))]);
  }

  #onClientResult(command: RtmpCommand): void {
    const check = this.#bandwidthCheck;
    if (!check || command.transactionId !== check.txn) return;
    this.#bandwidthCheck = null;
    const elapsedMs = Math.max(1, this.#ctx.scheduler.now() - check.sentAt);
    const kbitDown = Math.round((check.bytes * 8) / elapsedMs);
    this.#lastBandwidth = [kbitDown, check.bytes / 1024, elapsedMs / 1000, Math.round(elapsedMs)];
    this.#send([commandMessage(0, "onBWDone", 0, null, ...this.#lastBandwidth)]);
  }

  readonly #sink: PlayerSink = {
    send: (messages) => this.#send(messages),
    waitWritable: () => this.#waitWritable(),
    isClosed: () => this.#isClosed(),
  };

  /**
   * Writes a batch in one corked go (one writev): media bodies through the
   * shared encoder (encoded once for every viewer of the same bytes), the
   * small messages between them encoded together into one buffer.
   */
  #send(messages: readonly RtmpMessage[]): void {
    if (!this.#socket.writable || messages.length === 0) return;
    const socket = this.#socket;
    const out: Buffer[] = [];
    let small: RtmpMessage[] = [];
    const flushSmall = () => {
      if (small.length === 0) return;
      out.push(encodeMessages(this.#amf3Commands ? small.map(asAmf3Command) : small, this.#outChunkSize));
      small = [];
    };
    for (const m of messages) {
      if (
        (m.messageTypeId === MessageType.Video || m.messageTypeId === MessageType.Audio) &&
        m.payload.length >= 1024
      ) {
        flushSmall();
        out.push(this.#ctx.encoder.encode(m, this.#outChunkSize));
        continue;
      }
      small.push(m);
      if (m.messageTypeId === MessageType.SetChunkSize) {
        // Messages up to our Set Chunk Size use the size in force; after it, ours.
        flushSmall();
        this.#outChunkSize = m.payload.readUInt32BE(0);
      }
    }
    flushSmall();
    if (this.#inTurn) {
      for (const encoded of out) this.#enqueue(this.#rtmpe ? this.#rtmpe.encrypt.update(encoded) : encoded);
      this.#checkQueue();
      return;
    }
    let bytes = 0;
    socket.cork();
    for (const encoded of out) {
      bytes += encoded.length;
      // update() never changes its input, so buffers shared by viewers stay intact.
      socket.write(this.#rtmpe ? this.#rtmpe.encrypt.update(encoded) : encoded);
    }
    socket.uncork();
    this.#cell.egress[this.#ctx.protocol] += bytes;
    this.#bytesSent += bytes;
    this.#checkQueue();
  }

  #write(bytes: Buffer): void {
    this.#socket.write(bytes);
    this.#cell.egress[this.#ctx.protocol] += bytes.length;
    this.#bytesSent += bytes.length;
    this.#checkQueue();
  }

  /** Holds a reply produced during a turn for the turn's single write. */
  #enqueue(bytes: Buffer): void {
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    this.#replyBytesSinceDrain += bytes.length;
  }

  /** Writes the replies held during a turn, as one buffer. */
  #flush(): void {
    if (this.#pendingBytes === 0) return;
    const pending = this.#pending;
    const bytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    if (!this.#socket.writable) return;
    this.#socket.write(pending.length === 1 ? pending[0]! : Buffer.concat(pending, bytes));
    this.#cell.egress[this.#ctx.protocol] += bytes;
    this.#bytesSent += bytes;
  }

  /**
   * Every byte queued for the peer and not yet sent: replies held for the
   * turn's write plus the transport's own queue, which for a socket counts
   * the bytes handed to it until the kernel took them, and for an RTMPT
   * tunnel the bytes no poll has taken yet.
   */
  #queuedBytes(): number {
    return this.#pendingBytes + this.#socket.writableLength;
  }

  /**
   * The one bound on what a peer may have queued: at max-queued-bytes the
   * session stops producing (input paused, media waits) and the
   * slow-viewer clock runs; past twice that plus queueSlackBytes — more
   * than a reading viewer ever holds — the peer is dropped at once.
   */
  #checkQueue(): void {
    if (this.#isClosed()) return;
    const queued = this.#queuedBytes();
    const max = this.#ctx.config.maxQueuedBytes;
    const hard = 2 * max + queueSlackBytes;
    if (queued > hard) {
      this.#ctx.metrics.slowViewerDrops.inc();
      this.#fail(
        new EdgeError(
          EdgeErrorCode.SlowViewer,
          `${queued} bytes queued for a viewer that is not reading (max ${max}, dropped past ${hard})`,
        ),
      );
      return;
    }
    if (queued >= max) this.#armSlowViewerTimer();
  }

  /**
   * Resolves once the viewer's unsent bytes are under max-queued-bytes. A
   * viewer that stays over it for slow-viewer-timeout-ms reads slower than
   * the stream plays: it is dropped, so its queue never grows without bound.
   */
  #waitWritable(): Promise<void> {
    if (this.#isClosed() || this.#queuedBytes() < this.#ctx.config.maxQueuedBytes) {
      return Promise.resolve();
    }
    this.#armSlowViewerTimer();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #armSlowViewerTimer(): void {
    if (this.#slowViewerTimer) return;
    this.#slowViewerTimer = this.#ctx.scheduler.setTimer(this.#ctx.config.slowViewerTimeoutMs, () => {
      this.#slowViewerTimer = null;
      this.#ctx.metrics.slowViewerDrops.inc();
      this.#fail(
        new EdgeError(
          EdgeErrorCode.SlowViewer,
          `viewer kept ${this.#queuedBytes()} bytes unread for ${this.#ctx.config.slowViewerTimeoutMs} ms`,
        ),
      );
    });
  }

  /** The queue emptied: media may go on and the peer's requests are read again. */
  #onDrain(): void {
    this.#replyBytesSinceDrain = 0;
    this.#releaseDrainWaiters();
    if (this.#inputPaused && this.#nextTurn === null) this.#turn();
  }

  #releaseDrainWaiters(): void {
    this.#slowViewerTimer?.cancel();
    this.#slowViewerTimer = null;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * After a failed play FMS keeps the connection (the player may try
   * another name); one that then plays nothing and sends no command for
   * failed-play-idle-timeout-ms is closed, instead of holding a connection
   * slot until the idle timeout.
   */
  #armFailedPlayTimer(): void {
    if (this.#isClosed()) return;
    this.#disarmFailedPlayTimer();
    const timeoutMs = this.#ctx.config.failedPlayIdleTimeoutMs;
    this.#failedPlayTimer = this.#ctx.scheduler.setTimer(timeoutMs, () => {
      this.#failedPlayTimer = null;
      for (const stream of this.#streams.values()) if (stream.busy) return;
      this.#fail(
        new EdgeError(
          EdgeErrorCode.FailedPlayIdle,
          `nothing played or asked for ${timeoutMs} ms after a failed play`,
        ),
      );
    });
  }

  #disarmFailedPlayTimer(): void {
    this.#failedPlayTimer?.cancel();
    this.#failedPlayTimer = null;
  }

  #fail(error: unknown): void {
    if (this.#state === SessionState.Closed) return;
    const code = errorCode(error) ?? EdgeErrorCode.Internal;
    this.#ctx.metrics.sessionErrors.inc({ code });
    if (error instanceof EdgeError) {
      const fields = { code, err: error.message };
      if (this.#ctx.noisy)
        this.#ctx.noisy.warn(this.#logger, `closing:${code}`, fields, "closing connection");
      else this.#logger.warn(fields, "closing connection");
    } else {
      this.#logger.error({ code, err: error }, "closing connection after an unexpected error");
    }
    this.#state = SessionState.Closed;
    this.#socket.destroy();
  }

  /** One access-log line, when this connection logs; stream events carry fields 14–17 of `name`. */
  #logAccess(event: AccessLogEvent, streamId?: number, name?: string): void {
    const connection = this.#accessLog;
    const distribution = this.#distribution;
    if (!connection || !distribution || !this.#ctx.accessLog) return;
    let stream: AccessLogRecord["stream"];
    if (streamId !== undefined) {
      const { base, query } = splitQuery(name ?? "");
      const request = name ? parseStreamName(name, this.#streamPrefix) : null;
      const ext = request ? /\.([A-Za-z0-9]+)$/.exec(request.key)?.[1]?.toLowerCase() : undefined;
      stream = { name: base, query, fileExt: ext ?? request?.container ?? "", streamId };
    }
    this.#ctx.accessLog(distribution, {
      timeMs: this.#ctx.scheduler.wallClockMs(),
      event,
      scBytes: this.#bytesSent,
      connection,
      stream,
    });
  }

  #closed(): void {
    const wasOpen = this.#state !== SessionState.Closed;
    this.#state = SessionState.Closed;
    this.#handshakeTimer?.cancel();
    this.#disarmFailedPlayTimer();
    this.#nextTurn?.cancel();
    this.#nextTurn = null;
    this.#pending = [];
    this.#pendingBytes = 0;
    // Returns this connection's share of the edge-wide reassembly budget.
    this.#decoder.close();
    for (const stream of this.#streams.values()) stream.close();
    this.#streams.clear();
    if (this.#accessLog) this.#logAccess("disconnect");
    this.#accessLog = null;
    this.#releaseDrainWaiters();
    if (this.#viewer) {
      this.#viewer = false;
      this.#cell.viewers[this.#ctx.protocol]--;
    }
    this.#ctx.metrics.distributions.detach(this.#cell);
    this.#logger.debug({ wasOpen }, "connection closed");
    if (traces.connectionClose.hasSubscribers)
      traces.connectionClose.publish({
        session: this.#clientId,
        protocol: this.#ctx.protocol,
        distribution: this.#distribution?.id ?? null,
        bytes: this.#bytesSent,
        durationMs: Math.round(this.#ctx.scheduler.now() - this.#openedAt),
      });
    this.#onClose();
  }
}

/** A connect field for a log line: its query values (a signed URL's among them) redacted. */
function shownConnectField(value: AmfValue | undefined): string | undefined {
  return JSON.stringify(typeof value === "string" ? redactQuery(value, { all: true }) : value);
}

/** The decoder's bounds once connect was accepted. */
function decoderLimits(config: EdgeConfig): ChunkDecoderLimits {
  return {
    maxMessageBytes: config.maxMessageBytes,
    maxChunkStreams: config.maxChunkStreams,
    maxChunkSize: maxPeerChunkSize,
    maxBufferedBytes: config.maxReassemblyBytes,
  };
}

/**
 * A client that speaks AMF3 commands (type 17, objectEncoding 3) gets its
 * answers the same way: type 17 is a 0x00 format byte and then the same
 * AMF0 values (an AMF0 value may switch to AMF3 with marker 0x11).
 */
function asAmf3Command(message: RtmpMessage): RtmpMessage {
  if (message.messageTypeId !== MessageType.CommandAmf0) return message;
  return {
    ...message,
    messageTypeId: MessageType.CommandAmf3,
    payload: Buffer.concat([amf3FormatByte, message.payload]),
  };
}

const amf3FormatByte = Buffer.from([0]);
