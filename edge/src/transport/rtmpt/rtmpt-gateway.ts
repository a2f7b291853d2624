import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { type Logger, LogRateLimiter, redactQuery } from "../../../../lib/log.js";
import { EdgeError, EdgeErrorCode } from "../../errors.js";
import type { EdgeMetrics } from "../../metrics.js";
import { type Protocol, type Rejection, RtmptResult } from "../../vocabulary.js";
import type { Admission } from "../connection-limits.js";
import {
  classifyRtmptRequest,
  type RtmptCommand,
  RtmptCommandKind,
  RtmptRejectReason,
  RtmptRequestError,
} from "./request-path.js";
import { newSessionId, type RandomBytes } from "./session-id.js";
import { closedAnswer, TunnelSession } from "./tunnel-session.js";
import type { TunnelStream } from "./tunnel-stream.js";

/** Bounds of the tunnel; every one has an edge setting (STREAMFRONT_EDGE_RTMPT_*). */
export interface RtmptLimits {
  /** Open sessions on this edge. */
  readonly maxSessions: number;
  /** Open sessions opened from one client address. */
  readonly maxSessionsPerIp: number;
  /** A session with no request for this long is closed. */
  readonly idleTimeoutMs: number;
  /** Largest request body; checked on Content-Length and on the bytes as they stream in. */
  readonly maxBodyBytes: number;
  /** Largest answer body (polling byte included). */
  readonly maxResponseBytes: number;
  /** Server bytes a session may hold for its polls; past it the tunnel is closed. */
  readonly maxQueuedBytes: number;
  /**
   * The tunnel stream's writable highWaterMark. Give the RTMP session's own
   * queue bound (or less), so its wait for 'drain' always ends.
   */
  readonly highWaterMark: number;
}

/**
 * 64 KiB answers: twice Red5's ~32 KB target ("bigger = better throughput,
 * more latency"), a second of a 512 kbit/s stream per poll, and as large as
 * the biggest body a client may send, so one buffer size bounds both ways.
 */
const defaultRtmptLimits: RtmptLimits = {
  maxSessions: 10_000,
  maxSessionsPerIp: 100,
  idleTimeoutMs: 30_000,
  maxBodyBytes: 64 * 1024,
  maxResponseBytes: 64 * 1024,
  maxQueuedBytes: 4 * 1024 * 1024,
  highWaterMark: 1024 * 1024,
};

export interface RtmptGatewayDeps {
  /**
   * Starts an RTMP session on a tunnel once its first client bytes arrive;
   * `admission` is the tunnel's place under the edge's connection limits.
   */
  readonly accept: (transport: TunnelStream, protocol: Protocol, admission: Admission | null) => void;
  readonly logger: Logger;
  /**
   * The edge's connection limits: each tunnel holds a place from /open, in
   * the pre-play class until its first play starts. `onPrePlayTimeout` runs
   * if it never does (the gateway then ends the tunnel).
   */
  readonly admit?: (ip: string, onPrePlayTimeout: () => void) => Admission | Rejection;
  /** A request of a playing tunnel arrived on this socket (the edge counts the socket as playing too). */
  readonly onPlayingRequest?: (socket: Socket) => void;
  /** Rate-limits the per-request warnings; a private one (5 lines per 10 s) when absent. */
  readonly noisy?: LogRateLimiter;
  readonly limits?: Partial<RtmptLimits>;
  readonly metrics?: EdgeMetrics;
  readonly now?: () => number;
  /** How often idle sessions are looked for; a quarter of the idle timeout by default. */
  readonly sweepIntervalMs?: number;
  readonly randomBytes?: RandomBytes;
}

type Handled = "ident" | "open" | "send" | "idle" | "close" | "invalid";

/**
 * RTMPT on the shared port: answers /fcs/ident2, /open, /send, /idle and
 * /close and runs one RTMP session per tunnel
 * over a TunnelStream. Sessions are keyed by id alone, so one session may
 * use many HTTP connections and one keep-alive connection many sessions.
 *
 * Error statuses: an unknown or ended-and-forgotten id, a wrong sequence
 * number or a malformed path is 400 (Red5's answer; rtmplite's 500 would
 * blame the server); a non-POST command 405; an oversized body 413 with the
 * connection closed, since its rest is never read; no room for a new
 * session 503. Clients treat any non-200 as the end of the tunnel.
 */
export class RtmptGateway {
  readonly #deps: RtmptGatewayDeps;
  readonly #limits: RtmptLimits;
  readonly #now: () => number;
  readonly #sessions = new Map<string, TunnelSession>();
  readonly #perIp = new Map<string, number>();
  readonly #admissions = new Map<string, Admission>();
  readonly #noisy: LogRateLimiter;
  readonly #sweep: NodeJS.Timeout;
  /** Set when the edge drains: opens are refused. */
  #draining = false;

  constructor(deps: RtmptGatewayDeps) {
    this.#deps = deps;
    const limits = { ...defaultRtmptLimits, ...deps.limits };
    this.#limits = { ...limits, highWaterMark: Math.min(limits.highWaterMark, limits.maxQueuedBytes) };
    this.#now = deps.now ?? Date.now;
    this.#noisy = deps.noisy ?? new LogRateLimiter({ maxLines: 5, intervalMs: 10_000, now: this.#now });
    const interval = deps.sweepIntervalMs ?? Math.max(50, Math.min(5_000, this.#limits.idleTimeoutMs / 4));
    this.#sweep = setInterval(() => this.#sweepSessions(), interval);
    this.#sweep.unref();
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Takes an HTTP request if its path is RTMPT's; false leaves it to the caller. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const command = classifyRtmptRequest(req.method ?? "", req.url ?? "");
    if (command instanceof RtmptRequestError) {
      if (command.reason === RtmptRejectReason.NotTunnel) return false;
      const status = command.reason === RtmptRejectReason.Method ? 405 : 400;
      this.#count("invalid", RtmptResult.BadRequest);
      this.#deps.logger.debug(
        { code: command.code, reason: command.reason, url: redactQuery(req.url ?? "") },
        command.message,
      );
      this.#fail(res, status, command.message, status === 405 ? { Allow: "POST" } : {});
      return true;
    }
    switch (command.kind) {
      case RtmptCommandKind.Ident:
        // FMS with HTTPIdent off, as CloudFront ran it; Flash Players expect this 404.
        this.#count("ident", RtmptResult.Ok);
        this.#fail(res, 404, "not found");
        return true;
      case RtmptCommandKind.Open:
        this.#readBody(req, res, "open", () => this.#open(req, res));
        return true;
      default: {
        if (!this.#sessions.has(command.sessionId)) {
          this.#unknown(res, command.kind);
          return true;
        }
        this.#readBody(req, res, command.kind, (body) => this.#exchange(command, body, req, res));
        return true;
      }
    }
  }

  /** The edge drains: no new tunnel opens (503), the open ones go on. */
  stopOpening(): void {
    this.#draining = true;
  }

  /** Ends every tunnel and its RTMP session (edge shutdown). */
  close(): void {
    clearInterval(this.#sweep);
    for (const session of [...this.#sessions.values()]) this.#forget(session, "edge closing");
  }

  #open(req: IncomingMessage, res: ServerResponse): void {
    const ip = req.socket.remoteAddress ?? "unknown";
    if (this.#draining) {
      this.#count("open", RtmptResult.ShuttingDown);
      // The connection stays: it may carry another tunnel's polls.
      this.#fail(res, 503, "the edge is shutting down");
      return;
    }
    const { maxSessions, maxSessionsPerIp } = this.#limits;
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (this.#sessions.size >= maxSessions || fromIp >= maxSessionsPerIp) {
      const which =
        this.#sessions.size >= maxSessions ? `${maxSessions} in all` : `${maxSessionsPerIp} per address`;
      this.#count("open", RtmptResult.TooManySessions);
      this.#noisy.warn(
        this.#deps.logger,
        `refused:${EdgeErrorCode.RtmptTooManySessions}`,
        { code: EdgeErrorCode.RtmptTooManySessions, remote: ip },
        `RTMPT open refused: at most ${which}`,
      );
      this.#fail(res, 503, "too many RTMPT sessions");
      return;
    }
    let id = newSessionId(this.#deps.randomBytes);
    while (this.#sessions.has(id)) id = newSessionId(this.#deps.randomBytes);
    if (this.#deps.admit) {
      const admitted = this.#deps.admit(ip, () => this.#prePlayTimeout(id));
      if (typeof admitted === "string") {
        this.#count("open", RtmptResult.TooManySessions);
        this.#deps.metrics?.countRejection(admitted);
        this.#noisy.warn(
          this.#deps.logger,
          `refused:${admitted}`,
          { code: EdgeErrorCode.RtmptTooManySessions, remote: ip, reason: admitted },
          "RTMPT open refused: connection limits",
        );
        this.#fail(res, 503, "too many connections");
        return;
      }
      this.#admissions.set(id, admitted);
    }
    const session = new TunnelSession({
      id,
      remoteAddress: ip,
      highWaterMark: this.#limits.highWaterMark,
      now: this.#now,
    });
    // The RTMP side closing the stream (or an error on it) ends the tunnel;
    // the id stays until the next poll has been told "closed".
    session.stream.on("error", (error) => {
      this.#deps.logger.debug({ session: id, err: error.message }, "RTMPT stream error");
    });
    this.#sessions.set(id, session);
    this.#perIp.set(ip, fromIp + 1);
    this.#updateGauge();
    this.#count("open", RtmptResult.Ok);
    this.#deps.logger.debug({ session: id, remote: ip }, "RTMPT session opened");
    this.#reply(res, Buffer.from(`${id}\n`, "latin1"));
  }

  #exchange(
    command: Extract<RtmptCommand, { sessionId: string }>,
    body: Buffer,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    const session = this.#sessions.get(command.sessionId);
    if (!session) {
      this.#unknown(res, command.kind);
      return;
    }
    session.touch(this.#now());
    if (this.#admissions.get(session.id)?.playing) this.#deps.onPlayingRequest?.(req.socket);
    if (session.closed) {
      // Told once, then forgotten: a later request for the id is unknown.
      this.#forget(session, "closed marker sent");
      this.#count(command.kind, RtmptResult.Closed);
      this.#reply(res, closedAnswer());
      return;
    }
    if (!session.acceptSeq(command.seq)) {
      this.#count(command.kind, RtmptResult.BadSequence);
      this.#deps.logger.debug(
        {
          code: EdgeErrorCode.RtmptSequence,
          session: session.id,
          got: command.seq,
          want: session.expectedSeq,
        },
        "RTMPT request out of sequence",
      );
      this.#fail(res, 400, `sequence number ${command.seq}, expected ${session.expectedSeq}`);
      return;
    }
    if (command.kind === RtmptCommandKind.Close) {
      this.#forget(session, "client closed");
      this.#count("close", RtmptResult.Ok);
      this.#reply(res, closedAnswer());
      return;
    }
    const received = command.kind === RtmptCommandKind.Send && body.length > 0;
    if (received) {
      const protocol = session.start(body[0]!);
      if (protocol !== null)
        this.#deps.accept(session.stream, protocol, this.#admissions.get(session.id) ?? null);
      // The RTMP side stops reading while its answers are not being taken;
      // what the client sends meanwhile waits here, and is bounded too.
      const unread = session.stream.readableLength + body.length;
      if (unread > this.#limits.highWaterMark) {
        this.#closeOverflowing(
          session,
          EdgeErrorCode.RtmptBacklog,
          `RTMPT session holds ${unread} unread client bytes (max ${this.#limits.highWaterMark})`,
        );
        this.#forget(session, "input backlog");
        this.#count(command.kind, RtmptResult.Closed);
        this.#reply(res, closedAnswer());
        return;
      }
      session.stream.deliver(body);
    }
    // Answer after the RTMP session has handled these bytes (it reads them
    // on the next tick), so a handshake or command gets its reply in this
    // answer instead of the next poll's.
    setImmediate(() => this.#answer(session, command.kind, received, res));
  }

  #answer(session: TunnelSession, kind: Handled, received: boolean, res: ServerResponse): void {
    if (res.destroyed) return; // The client went away; leave the bytes for its next poll.
    if (session.closed) {
      this.#forget(session, "closed marker sent");
      this.#count(kind, RtmptResult.Closed);
      this.#reply(res, closedAnswer());
      return;
    }
    const body = session.answer(this.#limits.maxResponseBytes, received);
    this.#checkQueue(session);
    this.#count(kind, RtmptResult.Ok);
    this.#reply(res, body);
  }

  #readBody(req: IncomingMessage, res: ServerResponse, kind: Handled, done: (body: Buffer) => void): void {
    const max = this.#limits.maxBodyBytes;
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > max) {
      this.#tooLarge(res, kind, `request body of ${declared} bytes (max ${max})`);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > max) {
        refused = true;
        chunks.length = 0;
        this.#tooLarge(res, kind, `request body over ${max} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!refused) done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on("error", () => {
      // Aborted mid-body: nothing to answer.
    });
  }

  #tooLarge(res: ServerResponse, kind: Handled, message: string): void {
    this.#count(kind, RtmptResult.TooLarge);
    this.#deps.logger.debug({ code: EdgeErrorCode.RtmptBodyTooLarge }, message);
    // The rest of the body is never read, so the connection cannot carry another request.
    this.#fail(res, 413, message, { Connection: "close" });
  }

  #unknown(res: ServerResponse, kind: Handled): void {
    this.#count(kind, RtmptResult.UnknownSession);
    this.#deps.logger.debug(
      { code: EdgeErrorCode.RtmptUnknownSession },
      "RTMPT request for an unknown session",
    );
    this.#fail(res, 400, "unknown RTMPT session");
  }

  /** Closes a session whose queue outgrew its bound (the writer ignored backpressure). */
  #checkQueue(session: TunnelSession): void {
    const queued = session.stream.writableLength;
    if (queued <= this.#limits.maxQueuedBytes) return;
    this.#closeOverflowing(
      session,
      EdgeErrorCode.SlowViewer,
      `RTMPT queue of ${queued} bytes (max ${this.#limits.maxQueuedBytes})`,
    );
  }

  /** Ends a tunnel that broke a byte bound, with a log line and the session-errors count. */
  #closeOverflowing(session: TunnelSession, code: EdgeErrorCode, message: string): void {
    this.#deps.metrics?.sessionErrors.inc({ code });
    this.#noisy.warn(
      this.#deps.logger,
      `closing:${code}:rtmpt`,
      { code, session: session.id, err: message },
      "RTMPT session over a byte bound; closing",
    );
    session.stream.destroy(new EdgeError(code, message));
  }

  #sweepSessions(): void {
    const now = this.#now();
    for (const session of [...this.#sessions.values()]) {
      if (now - session.lastRequestAt >= this.#limits.idleTimeoutMs) {
        this.#deps.metrics?.sessionErrors.inc({ code: EdgeErrorCode.IdleTimeout });
        this.#deps.logger.debug(
          { code: EdgeErrorCode.IdleTimeout, session: session.id },
          "RTMPT session idle; closing",
        );
        this.#forget(session, "idle timeout");
        continue;
      }
      session.stream.checkTimeout(now);
      this.#checkQueue(session);
    }
  }

  /** Drops the id and ends the stream (and with it the RTMP session). */
  #forget(session: TunnelSession, why: string): void {
    if (this.#sessions.get(session.id) !== session) return;
    this.#sessions.delete(session.id);
    this.#admissions.get(session.id)?.release();
    this.#admissions.delete(session.id);
    const left = (this.#perIp.get(session.remoteAddress) ?? 1) - 1;
    if (left <= 0) this.#perIp.delete(session.remoteAddress);
    else this.#perIp.set(session.remoteAddress, left);
    session.stream.destroy();
    this.#updateGauge();
    this.#deps.logger.debug({ session: session.id, why }, "RTMPT session forgotten");
  }

  /** The tunnel's RTMP session never started a play in time. */
  #prePlayTimeout(id: string): void {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#deps.metrics?.sessionErrors.inc({ code: EdgeErrorCode.PrePlayTimeout });
    this.#noisy.warn(
      this.#deps.logger,
      `closing:${EdgeErrorCode.PrePlayTimeout}:rtmpt`,
      { code: EdgeErrorCode.PrePlayTimeout, session: id, remote: session.remoteAddress },
      "RTMPT session started no play before the pre-play timeout; closing",
    );
    this.#forget(session, "pre-play timeout");
  }

  #updateGauge(): void {
    if (this.#deps.metrics) this.#deps.metrics.rtmptSessions = this.#sessions.size;
  }

  #count(command: Handled, result: RtmptResult): void {
    this.#deps.metrics?.rtmptRequests.inc({ command, result });
  }

  /** 200 with an RTMPT body, in the headers FMS sent and librtmp parses. */
  #reply(res: ServerResponse, body: Buffer): void {
    const headers: OutgoingHttpHeaders = {
      // librtmp looks for "Content-Length: " with this case and one space.
      "Content-Type": "application/x-fcs",
      "Content-Length": body.length,
      "Cache-Control": "no-cache",
    };
    if (res.shouldKeepAlive) headers.Connection = "Keep-Alive";
    res.writeHead(200, headers);
    res.end(body);
  }

  #fail(res: ServerResponse, status: number, message: string, extra: OutgoingHttpHeaders = {}): void {
    const body = Buffer.from(`${message}\n`, "utf8");
    res.writeHead(status, {
      "Content-Type": "text/plain; charset=utf-8",
      "Content-Length": body.length,
      "Cache-Control": "no-cache",
      ...extra,
    });
    res.end(body);
  }
}
