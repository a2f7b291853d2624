import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../../lib/log.js";
import { listen } from "../../lib/net/listen.js";
import { EdgeErrorCode } from "./errors.js";
import type { EdgeMetrics, Protocol } from "./metrics.js";
import { Rejection } from "./metrics.js";

/** C0 of RTMP, and of RTMPE (plain, XTEA-signed, Blowfish-signed). */
const rtmpFirstByte = 0x03;
const rtmpeFirstBytes = new Set([0x06, 0x08, 0x09]);

export interface ListenerOptions {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  readonly metrics: EdgeMetrics;
  readonly limits: ConnectionLimits;
  /** A connection that sends nothing this long is closed (the session's handshake timeout takes over after). */
  readonly firstBytesTimeoutMs: number;
  /** Takes an RTMP connection; `head` holds bytes already read from it. */
  readonly acceptRtmp: (socket: Socket, head: Buffer | null, protocol: Protocol) => void;
  /** When set, connections whose first byte is not C0 go to this HTTP server. */
  readonly http?: HttpServer;
}

/**
 * Connection caps shared by all listeners of one edge: in total and per
 * client address. Counted at accept, released at close.
 */
export class ConnectionLimits {
  readonly #maxTotal: number;
  readonly #maxPerIp: number;
  readonly #perIp = new Map<string, number>();
  #total = 0;

  constructor(maxTotal: number, maxPerIp: number) {
    this.#maxTotal = maxTotal;
    this.#maxPerIp = maxPerIp;
  }

  get total(): number {
    return this.#total;
  }

  /** Returns a release function, or the rejection when over a cap. */
  acquire(ip: string): (() => void) | Rejection {
    if (this.#total >= this.#maxTotal) return Rejection.TooManyConnections;
    const current = this.#perIp.get(ip) ?? 0;
    if (current >= this.#maxPerIp) return Rejection.TooManyConnectionsPerIp;
    this.#total++;
    this.#perIp.set(ip, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, left);
    };
  }
}

/**
 * A TCP listener for viewers. On the RTMP port every connection is RTMP; on
 * the shared port (CloudFront's 80) the first byte tells RTMP's C0 from an
 * HTTP request line.
 */
export class RtmpListener {
  readonly #options: ListenerOptions;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(options: ListenerOptions) {
    this.#options = options;
    this.#server = createServer({ pauseOnConnect: false, noDelay: true }, (socket) => this.#accept(socket));
  }

  #accept(socket: Socket): void {
    const { limits, metrics, logger } = this.#options;
    const release = limits.acquire(socket.remoteAddress ?? "unknown");
    if (typeof release === "string") {
      metrics.rejections.inc({ code: release });
      logger.warn({ remote: socket.remoteAddress, reason: release }, "connection refused");
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once("close", () => {
      this.#sockets.delete(socket);
      release();
    });
    socket.on("error", () => socket.destroy());
    const http = this.#options.http;
    // The first bytes tell RTMP (C0 0x03) from RTMPE (0x06, 0x08, 0x09) and,
    // on the shared port, from an HTTP request line.
    const silent = setTimeout(() => {
      metrics.sessionErrors.inc({ code: EdgeErrorCode.HandshakeInvalid });
      logger.warn(
        {
          code: EdgeErrorCode.HandshakeInvalid,
          remote: socket.remoteAddress,
          err: "no bytes before the handshake timeout",
        },
        "closing connection",
      );
      socket.destroy();
    }, this.#options.firstBytesTimeoutMs);
    silent.unref();
    socket.once("close", () => clearTimeout(silent));
    socket.once("data", (head: Buffer) => {
      clearTimeout(silent);
      const c0 = head[0]!;
      if (rtmpeFirstBytes.has(c0)) {
        this.#options.acceptRtmp(socket, head, "rtmpe");
        return;
      }
      if (c0 === rtmpFirstByte || !http) {
        // On the RTMP port anything else is a bad C0, which the session reports.
        this.#options.acceptRtmp(socket, head, "rtmp");
        return;
      }
      metrics.connections.inc({ protocol: "http" });
      // The HTTP server must take the socket first: it reads straight from
      // the handle from then on. The bytes already read go back in front
      // and reach its parser through the stream's data event.
      socket.pause();
      http.emit("connection", socket);
      socket.unshift(head);
      socket.resume();
    });
  }

  async listen(): Promise<AddressInfo> {
    return listen(this.#server, this.#options.port, this.#options.host);
  }

  /** Stops accepting and closes every open connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}
