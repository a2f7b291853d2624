import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import type { Logger, LogRateLimiter } from "../../../lib/log.js";
import { listen, type PortSetting } from "../../../lib/net/listen.js";
import { EdgeErrorCode } from "../errors.js";
import type { EdgeMetrics } from "../metrics.js";
import { type Protocol, Rejection } from "../vocabulary.js";
import type { Admission, ConnectionLimits } from "./connection-limits.js";
import { isRtmpC0, isRtmpeC0 } from "./first-byte.js";
import type { HttpDeadlines } from "./http-deadlines.js";

export interface ListenerOptions {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Where the port is configured, named when it cannot be bound. */
  readonly portSetting?: PortSetting;
  readonly logger: Logger;
  readonly metrics: EdgeMetrics;
  readonly limits: ConnectionLimits;
  /** Rate-limits the per-connection warnings (refused, timed out): a flood costs a few lines, metrics count all. */
  readonly noisy: LogRateLimiter;
  /** A connection that sends nothing this long is closed (the session's handshake timeout takes over after). */
  readonly firstBytesTimeoutMs: number;
  /** Takes an RTMP connection; `head` holds bytes already read from it, `admission` its place under the limits. */
  readonly acceptRtmp: (
    socket: Socket,
    head: Buffer | null,
    protocol: Protocol,
    admission: Admission,
  ) => void;
  /** When set, connections whose first byte is not C0 go to this HTTP server, under these deadlines. */
  readonly http?: { readonly server: HttpServer; readonly deadlines: HttpDeadlines };
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
  /** Set once the server stops accepting: resolves when its last connection is gone. */
  #closed: Promise<void> | undefined;
  /** The edge drains: new RTMP connections are refused (stopAccepting). */
  #draining = false;

  constructor(options: ListenerOptions) {
    this.#options = options;
    this.#server = createServer({ pauseOnConnect: false, noDelay: true }, (socket) => this.#accept(socket));
  }

  #accept(socket: Socket): void {
    const { limits, metrics, logger, noisy } = this.#options;
    const remote = socket.remoteAddress ?? "unknown";
    // Errors before the session or the HTTP server takes the socket (a reset) only close it.
    socket.on("error", () => socket.destroy());
    const admission = limits.acquire(remote, () => {
      metrics.sessionErrors.inc({ code: EdgeErrorCode.PrePlayTimeout });
      noisy.warn(
        logger,
        `closing:${EdgeErrorCode.PrePlayTimeout}`,
        { code: EdgeErrorCode.PrePlayTimeout, remote, err: "no play started before the pre-play timeout" },
        "closing connection",
      );
      socket.destroy();
    });
    if (typeof admission === "string") {
      metrics.countRejection(admission);
      noisy.warn(logger, `refused:${admission}`, { remote, reason: admission }, "connection refused");
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once("close", () => {
      this.#sockets.delete(socket);
      admission.release();
    });
    const http = this.#options.http;
    // The first byte tells RTMP from RTMPE (first-byte.ts) and,
    // on the shared port, from an HTTP request line.
    const silent = setTimeout(() => {
      metrics.sessionErrors.inc({ code: EdgeErrorCode.HandshakeTimeout });
      noisy.warn(
        logger,
        `closing:${EdgeErrorCode.HandshakeTimeout}:silent`,
        { code: EdgeErrorCode.HandshakeTimeout, remote, err: "no bytes before the handshake timeout" },
        "closing connection",
      );
      socket.destroy();
    }, this.#options.firstBytesTimeoutMs);
    silent.unref();
    socket.once("close", () => clearTimeout(silent));
    socket.once("data", (head: Buffer) => {
      clearTimeout(silent);
      const c0 = head[0]!;
      if (this.#draining && (isRtmpeC0(c0) || isRtmpC0(c0) || !http)) {
        metrics.countRejection(Rejection.ShuttingDown);
        noisy.warn(logger, `refused:${Rejection.ShuttingDown}`, { remote }, "connection refused: draining");
        socket.destroy();
        return;
      }
      if (isRtmpeC0(c0)) {
        this.#options.acceptRtmp(socket, head, "rtmpe", admission);
        return;
      }
      if (isRtmpC0(c0) || !http) {
        // On the RTMP port anything else is a bad C0, which the session reports.
        this.#options.acceptRtmp(socket, head, "rtmp", admission);
        return;
      }
      metrics.connections.inc({ protocol: "http" });
      metrics.openConnections.http++;
      socket.once("close", () => {
        metrics.openConnections.http--;
      });
      limits.attach(socket, admission);
      http.deadlines.track(socket);
      // The HTTP server must take the socket first: it reads straight from
      // the handle from then on. The bytes already read go back in front
      // and reach its parser through the stream's data event.
      socket.pause();
      http.server.emit("connection", socket);
      socket.unshift(head);
      socket.resume();
    });
  }

  async listen(): Promise<AddressInfo> {
    return listen(this.#server, this.#options.port, this.#options.host, this.#options.portSetting);
  }

  /**
   * The edge drains: open connections go on, new ones are refused. The
   * RTMP port closes, so the kernel refuses them at once. The shared port
   * stays open, since an RTMPT tunnel under way may need a new HTTP
   * connection for its next poll: there a new RTMP connection is closed at
   * its first byte, and the RTMPT gateway answers a new tunnel's open 503.
   */
  stopAccepting(): void {
    this.#draining = true;
    if (!this.#options.http) this.#stopListening();
  }

  #stopListening(): void {
    this.#closed ??= new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Stops accepting and closes every open connection. */
  async close(): Promise<void> {
    this.#stopListening();
    for (const socket of this.#sockets) socket.destroy();
    await this.#closed;
  }
}
