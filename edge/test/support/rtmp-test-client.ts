import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { type AmfValue, createAmfObject } from "../../src/rtmp/amf0.js";
import { ChunkDecoder } from "../../src/rtmp/chunk-decoder.js";
import { encodeMessage } from "../../src/rtmp/chunk-encoder.js";
import { decodeCommand, encodeCommand, type RtmpCommand } from "../../src/rtmp/command.js";
import { userControlSetBufferLength } from "../../src/rtmp/control-messages.js";
import { MessageType, type RtmpMessage } from "../../src/rtmp/message-types.js";

/**
 * The project's own RTMP client for tests: a plain handshake, then commands
 * built with the edge's own codecs, and every message the server sends kept
 * in order so tests can assert exact sequences. Real TCP on loopback.
 */
export class RtmpTestClient {
  readonly socket: Socket;
  readonly messages: RtmpMessage[] = [];
  readonly closed: Promise<void>;
  #decoder = new ChunkDecoder({
    maxMessageBytes: 16 * 1024 * 1024,
    maxChunkStreams: 1024,
    maxChunkSize: 16 * 1024 * 1024,
  });
  #waiters: (() => void)[] = [];
  #handshakeBytes = 0;
  #handshakeDone: () => void = () => {};
  #txn = 1;
  #isClosed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.once("close", () => {
      this.#isClosed = true;
      this.#wake();
    });
    socket.on("error", () => {});
    socket.on("data", (bytes: Buffer) => this.#onData(bytes));
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /**
   * Opens TCP only; the caller writes whatever (bad) bytes it likes.
   * `localAddress` picks the client address (any 127.x.y.z on loopback).
   */
  static async open(port: number, host = "127.0.0.1", localAddress?: string): Promise<RtmpTestClient> {
    const socket = connect({ port, host, ...(localAddress ? { localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new RtmpTestClient(socket);
  }

  /** Opens TCP and completes a plain (version 0) handshake. */
  static async handshake(port: number, host = "127.0.0.1", localAddress?: string): Promise<RtmpTestClient> {
    const client = await RtmpTestClient.open(port, host, localAddress);
    const done = new Promise<void>((resolve) => {
      client.#handshakeDone = resolve;
    });
    client.#handshakeBytes = 1 + 1536 + 1536;
    const c1 = randomBytes(1536);
    c1.writeUInt32BE(0, 0);
    c1.writeUInt32BE(0, 4);
    client.socket.write(Buffer.concat([Buffer.from([3]), c1]));
    await done;
    return client;
  }

  #onData(bytes: Buffer): void {
    if (this.#handshakeBytes > 0) {
      const take = Math.min(this.#handshakeBytes, bytes.length);
      this.#handshakeBytes -= take;
      if (this.#handshakeBytes === 0) {
        // C2 = echo of S1 is accepted by the edge; any 1536 bytes will do here.
        this.socket.write(randomBytes(1536));
        this.#handshakeDone();
      }
      bytes = bytes.subarray(take);
      if (bytes.length === 0) return;
    }
    for (const m of this.#decoder.push(bytes)) this.messages.push(m);
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  send(message: RtmpMessage): void {
    this.socket.write(encodeMessage(message, 128));
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

  /** Waits for the first message after index `from` that matches. */
  async waitFor(
    match: (m: RtmpMessage) => boolean,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<RtmpMessage> {
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    let index = options.from ?? 0;
    for (;;) {
      for (; index < this.messages.length; index++)
        if (match(this.messages[index]!)) return this.messages[index]!;
      if (this.#isClosed) throw new Error("connection closed while waiting");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a message");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async waitForCommand(name: string | ((c: RtmpCommand) => boolean), from = 0): Promise<RtmpCommand> {
    const matches = typeof name === "string" ? (c: RtmpCommand) => c.name === name : name;
    const m = await this.waitFor(
      (msg) => isCommand(msg) && matches(decodeCommand(msg.payload, msg.messageTypeId)),
      {
        from,
      },
    );
    return decodeCommand(m.payload, m.messageTypeId);
  }

  /** connect(app) → the _result or _error command. */
  async connectApp(tcUrl: string, app = "cfx/st"): Promise<RtmpCommand> {
    const obj = createAmfObject();
    obj.app = app;
    obj.flashVer = "LNX 10,0,32,18";
    obj.tcUrl = tcUrl;
    obj.fpad = false;
    obj.capabilities = 15;
    obj.audioCodecs = 3191;
    obj.videoCodecs = 252;
    obj.videoFunction = 1;
    obj.objectEncoding = 0;
    const txn = this.command(0, "connect", obj);
    return this.waitForCommand(
      (c) => (c.name === "_result" || c.name === "_error") && c.transactionId === txn,
    );
  }

  async createStream(): Promise<number> {
    const txn = this.command(0, "createStream", null);
    const result = await this.waitForCommand((c) => c.name === "_result" && c.transactionId === txn);
    const id = result.args[0];
    if (typeof id !== "number") throw new Error("createStream gave no stream id");
    return id;
  }

  setBufferLength(streamId: number, ms: number): void {
    this.send(userControlSetBufferLength(streamId, ms));
  }

  close(): void {
    this.socket.destroy();
  }
}

export function isCommand(m: RtmpMessage): boolean {
  return m.messageTypeId === MessageType.CommandAmf0 || m.messageTypeId === MessageType.CommandAmf3;
}

/** The `code` of an onStatus / _error info object. */
export function statusCode(command: RtmpCommand): string | undefined {
  for (const arg of command.args) {
    if (typeof arg === "object" && arg !== null && !Array.isArray(arg) && !(arg instanceof Date)) {
      const code = (arg as Record<string, AmfValue>).code;
      if (typeof code === "string") return code;
    }
  }
  return undefined;
}
