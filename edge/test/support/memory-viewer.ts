import { Duplex } from "node:stream";
import { Registry } from "prom-client";
import { createLogger } from "../../../lib/log.js";
import {
  type Distribution,
  DistributionKind,
  type PublicKey,
} from "../../../proto/gen/streamfront/controller/v1/controller.js";
import { loadEdgeConfig } from "../../src/config.js";
import { type AccessLogDelivery, EdgeServer } from "../../src/edge-server.js";
import { bufferSource, type RangeSource } from "../../src/media/range-source.js";
import { type AmfValue, createAmfObject, decodeAmf0 } from "../../src/rtmp/amf0.js";
import { ChunkDecoder } from "../../src/rtmp/chunk-decoder.js";
import { encodeMessage } from "../../src/rtmp/chunk-encoder.js";
import { decodeCommand, encodeCommand, type RtmpCommand } from "../../src/rtmp/command.js";
import { userControlSetBufferLength } from "../../src/rtmp/control-messages.js";
import { MessageType, type RtmpMessage } from "../../src/rtmp/message-types.js";
import { Protocol } from "../../src/vocabulary.js";
import { ManualScheduler } from "./manual-scheduler.js";
import { isCommand, statusCode } from "./rtmp-test-client.js";

/**
 * A viewer's connection held in memory: the bytes a session writes land in
 * a Duplex the test reads (or stops reading, so they queue as on a socket
 * whose peer does not read), and the test's messages go in the other way.
 * No socket, no port.
 */
export class MemoryTransport extends Duplex {
  /** The viewer's address as the session sees it. */
  remoteAddress = "memory";
  /** Called with each chunk the session wrote, as the peer reads it. */
  onOutput: (bytes: Buffer) => void = () => {};
  #reading = true;
  #held: { chunk: Buffer; done: () => void }[] = [];

  /** Bytes from the viewer to the session. */
  fromPeer(bytes: Buffer): void {
    this.push(bytes);
  }

  /** The viewer stops reading: what the session writes stays queued (writableLength grows). */
  stopReading(): void {
    this.#reading = false;
  }

  /** The viewer reads again: everything queued is taken, and 'drain' follows. */
  startReading(): void {
    this.#reading = true;
    const held = this.#held;
    this.#held = [];
    for (const { chunk, done } of held) {
      this.onOutput(chunk);
      done();
    }
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (!this.#reading) {
      this.#held.push({ chunk, done: () => done() });
      return;
    }
    this.onOutput(chunk);
    done();
  }

  override _final(done: (error?: Error | null) => void): void {
    done();
    // The viewer closes its side once the session ended its own (a rejected connect).
    this.push(null);
  }
}

export const testHost = "stest000000000.test";
const bucket = "media";

export interface MemoryEdgeOptions {
  /** STREAMFRONT_EDGE_* settings. */
  readonly env?: Record<string, string>;
  /** Objects of the distribution's bucket by key: bytes, or a source of its own (a test injecting read faults). */
  readonly objects?: Readonly<Record<string, Buffer | RangeSource>>;
  /** The clock every session runs on; a new one by default. */
  readonly scheduler?: ManualScheduler;
  /** The distribution's TrustedSigners as pushed (account ids); none: public. */
  readonly trustedAccounts?: readonly string[];
  /** The pushed public keys; read on every play, so a test may change the map's contents. */
  readonly publicKeys?: Map<string, PublicKey>;
  /** The viewer's address the sessions see (policies' AWS:SourceIp). */
  readonly remoteAddress?: string;
  /** The distribution's Logging as pushed; none: off. */
  readonly logging?: { readonly enabled: boolean; readonly bucket: string; readonly prefix: string };
  /** How the access log leaves the edge (with env STREAMFRONT_EDGE_ACCESS_LOG_SPOOL_DIR). */
  readonly accessLogDelivery?: AccessLogDelivery;
}

/**
 * An EdgeServer that is never started (no listener): viewers come in
 * through acceptRtmp on MemoryTransports, objects are opened from memory,
 * and every session runs on one ManualScheduler.
 */
export class MemoryEdge {
  readonly scheduler: ManualScheduler;
  readonly server: EdgeServer;
  readonly logLines: Record<string, unknown>[] = [];
  readonly registry = new Registry();
  /** Object opens, in order (bucket/key). */
  readonly opens: string[] = [];
  readonly #remoteAddress: string | undefined;

  constructor(options: MemoryEdgeOptions = {}) {
    this.scheduler = options.scheduler ?? new ManualScheduler();
    this.#remoteAddress = options.remoteAddress;
    const config = loadEdgeConfig(options.env ?? {}, []);
    const distribution: Distribution = {
      id: "ETEST",
      domainName: testHost,
      cnames: ["localhost"],
      originBucket: bucket,
      enabled: true,
      kind: DistributionKind.DISTRIBUTION_KIND_STREAMING,
      trustedSigners: options.trustedAccounts
        ? { enabled: true, accountIds: [...options.trustedAccounts] }
        : { enabled: false, accountIds: [] },
      logging: options.logging,
    };
    const distributions = new Map([[distribution.id, distribution]]);
    const objects = options.objects ?? {};
    this.server = new EdgeServer({
      config,
      logger: createLogger({
        component: "edge",
        level: "debug",
        destination: { write: (line: string) => void this.logLines.push(JSON.parse(line)) },
      }),
      registry: this.registry,
      distributions: {
        current: () => distributions,
        // A fresh map object per read: the edge re-reads keys when the map's identity changes.
        publicKeys: () => new Map(options.publicKeys ?? []),
      },
      objects: {
        open: async (b, key) => {
          this.opens.push(`${b}/${key}`);
          const object = b === bucket ? objects[key] : undefined;
          if (object === undefined) return null;
          return Buffer.isBuffer(object) ? bufferSource(object) : object;
        },
      },
      scheduler: this.scheduler,
      ...(options.accessLogDelivery ? { accessLogDelivery: options.accessLogDelivery } : {}),
    });
  }

  /** A new viewer connection (nothing sent yet). */
  viewer(): MemoryViewer {
    const transport = new MemoryTransport();
    if (this.#remoteAddress !== undefined) transport.remoteAddress = this.#remoteAddress;
    const viewer = new MemoryViewer(transport, this.scheduler);
    this.server.acceptRtmp(transport, null, Protocol.Rtmp);
    return viewer;
  }

  /** The codes of the connections the edge closed, in order. */
  closedWith(): unknown[] {
    return this.logLines.filter((l) => l.msg === "closing connection").map((l) => l.code);
  }

  async close(): Promise<void> {
    await this.server.close();
    await this.scheduler.settle();
  }
}

/** Bytes of S0 + S1 + S2. */
const handshakeReplyBytes = 1 + 1536 + 1536;

/** The viewer side of a MemoryTransport: a plain handshake, commands, every message the edge sent. */
export class MemoryViewer {
  readonly transport: MemoryTransport;
  readonly scheduler: ManualScheduler;
  readonly messages: RtmpMessage[] = [];
  /** scheduler.now() when each of `messages` arrived. */
  readonly arrivedAt: number[] = [];
  #decoder = new ChunkDecoder({
    maxMessageBytes: 16 * 1024 * 1024,
    maxChunkStreams: 1024,
    maxChunkSize: 16 * 1024 * 1024,
  });
  #handshakeLeft = handshakeReplyBytes;
  #txn = 1;
  #closed = false;

  constructor(transport: MemoryTransport, scheduler: ManualScheduler) {
    this.transport = transport;
    this.scheduler = scheduler;
    transport.onOutput = (bytes) => this.#onOutput(bytes);
    transport.once("close", () => {
      this.#closed = true;
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  #onOutput(bytes: Buffer): void {
    if (this.#handshakeLeft > 0) {
      const take = Math.min(this.#handshakeLeft, bytes.length);
      this.#handshakeLeft -= take;
      bytes = bytes.subarray(take);
      if (bytes.length === 0) return;
    }
    for (const m of this.#decoder.push(bytes)) {
      this.messages.push(m);
      this.arrivedAt.push(this.scheduler.now());
    }
  }

  /** C0 + C1 (version 0: the plain handshake) and C2, at once. */
  handshake(): void {
    const c1 = Buffer.alloc(1536, 0x5a);
    c1.writeUInt32BE(0, 0);
    c1.writeUInt32BE(0, 4);
    this.transport.fromPeer(Buffer.concat([Buffer.from([3]), c1, Buffer.alloc(1536, 0xa5)]));
  }

  send(message: RtmpMessage): void {
    this.transport.fromPeer(encodeMessage(message, 128));
  }

  command(streamId: number, name: string, commandObject: AmfValue, ...args: AmfValue[]): number {
    const txn = name === "play" || name === "pause" || name === "seek" ? 0 : this.#txn++;
    this.send({
      chunkStreamId: 3,
      messageTypeId: MessageType.CommandAmf0,
      messageStreamId: streamId,
      timestamp: 0,
      payload: encodeCommand(name, txn, commandObject, ...args),
    });
    return txn;
  }

  connectCommand(tcUrl = `rtmp://${testHost}/cfx/st`): number {
    const obj = createAmfObject();
    obj.app = "cfx/st";
    obj.tcUrl = tcUrl;
    obj.objectEncoding = 0;
    return this.command(0, "connect", obj);
  }

  setBufferLength(streamId: number, ms: number): void {
    this.send(userControlSetBufferLength(streamId, ms));
  }

  /** Handshake, connect and createStream, settled: the new stream's id. */
  async connectAndCreateStream(bufferMs?: number): Promise<number> {
    this.handshake();
    this.connectCommand();
    const txn = this.command(0, "createStream", null);
    await this.scheduler.settle();
    const result = this.commands().find((c) => c.name === "_result" && c.transactionId === txn);
    const id = result?.args[0];
    if (typeof id !== "number") throw new Error(`createStream gave no stream id: ${this.trace().join(" ")}`);
    if (bufferMs !== undefined) {
      this.setBufferLength(id, bufferMs);
      await this.scheduler.settle();
    }
    return id;
  }

  commands(from = 0): RtmpCommand[] {
    return this.messages
      .slice(from)
      .filter(isCommand)
      .map((m) => decodeCommand(m.payload, m.messageTypeId));
  }

  /** The status codes of the onStatus commands after `from`. */
  statuses(from = 0): string[] {
    return this.commands(from)
      .filter((c) => c.name === "onStatus")
      .map((c) => statusCode(c) ?? "?");
  }

  /**
   * A compact trace of what came after index `from`: user control events
   * (uc:N), status codes, command names, data names (data:name[:code]),
   * runs of media collapsed to "media" and sequence headers to "header".
   */
  trace(from = 0, to = this.messages.length): string[] {
    const events: string[] = [];
    for (const m of this.messages.slice(from, to)) {
      if (m.messageTypeId === MessageType.UserControl) events.push(`uc:${m.payload.readUInt16BE(0)}`);
      else if (isCommand(m)) {
        const c = decodeCommand(m.payload, m.messageTypeId);
        events.push(c.name === "onStatus" ? (statusCode(c) ?? "onStatus") : c.name);
      } else if (m.messageTypeId === MessageType.DataAmf0) {
        const [name, info] = decodeAmf0(m.payload);
        const code =
          typeof info === "object" && info !== null && !Array.isArray(info) && !(info instanceof Date)
            ? info.code
            : undefined;
        events.push(`data:${String(name)}${code ? `:${String(code)}` : ""}`);
      } else if (m.messageTypeId === MessageType.Audio || m.messageTypeId === MessageType.Video) {
        const header = isSequenceHeader(m) ? "header" : "media";
        if (events.at(-1) !== header) events.push(header);
      } else {
        events.push(`type:${m.messageTypeId}`);
      }
    }
    return events;
  }

  /** Media messages (no sequence headers) of one type after `from`. */
  media(type: number, from = 0): RtmpMessage[] {
    return this.messages.slice(from).filter((m) => m.messageTypeId === type && !isSequenceHeader(m));
  }

  /** Audio and video messages (no sequence headers) after `from` with the clock's time at their arrival. */
  arrivals(from = 0, to = this.messages.length): { type: number; timestamp: number; at: number }[] {
    const out: { type: number; timestamp: number; at: number }[] = [];
    for (let i = from; i < to; i++) {
      const m = this.messages[i]!;
      if (
        (m.messageTypeId === MessageType.Audio || m.messageTypeId === MessageType.Video) &&
        !isSequenceHeader(m)
      )
        out.push({ type: m.messageTypeId, timestamp: m.timestamp, at: this.arrivedAt[i]! });
    }
    return out;
  }

  /** Advances the clock from timer to timer (so arrivals are stamped with their exact time) until `done` or `limitMs` from now. */
  async runUntil(done: () => boolean, limitMs = 60_000): Promise<boolean> {
    const end = this.scheduler.now() + limitMs;
    await this.scheduler.settle();
    while (!done()) {
      const next = this.scheduler.nextTimerAt;
      if (next === null || next > end) return false;
      await this.scheduler.advance(Math.max(0, next - this.scheduler.now()));
    }
    return true;
  }
}

export function isSequenceHeader(m: RtmpMessage): boolean {
  return m.payload.length > 1 && m.payload[1] === 0 && (m.payload[0] === 0x17 || m.payload[0]! >> 4 === 10);
}
