import type { Server as HttpServer, IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { type LimitTimers, realTimers } from "./connection-limits.js";

export interface HttpTimeouts {
  /** From the hand-over (the first bytes are in) to the request's headers. */
  readonly headersTimeoutMs: number;
  /** From a request's headers to its body read and its answer written. */
  readonly requestTimeoutMs: number;
  /** From an answer written to the next request's headers (keep-alive). */
  readonly idleTimeoutMs: number;
}

/** Which wait ran out. */
export const HttpPhase = { Headers: "headers", Request: "request", Idle: "idle" } as const;
export type HttpPhase = (typeof HttpPhase)[keyof typeof HttpPhase];

interface SocketState {
  timer: unknown;
  /** Requests whose answer has not finished (pipelined ones queue behind the first). */
  outstanding: number;
}

/**
 * Deadlines for the HTTP connections of the shared port. Node's own
 * headersTimeout and requestTimeout are checked by a sweep over the
 * connections of a server that listens (connectionsCheckingInterval); the
 * shared port's HTTP server never listens — sockets reach it through
 * emit('connection') after the first byte told HTTP from RTMP — so those
 * checks never run for them (a byte "G" then silence stayed open for good).
 * This keeps one timer per socket instead, moved along by the server's
 * 'request' events and the answers' 'finish': headers, then request, then
 * idle until the next request's headers. On expiry the socket is
 * destroyed and `onTimeout` reports it.
 */
export class HttpDeadlines {
  readonly #timeouts: HttpTimeouts;
  readonly #onTimeout: (socket: Socket, phase: HttpPhase) => void;
  readonly #timers: LimitTimers;
  readonly #state = new WeakMap<Socket, SocketState>();

  constructor(
    server: HttpServer,
    timeouts: HttpTimeouts,
    onTimeout: (socket: Socket, phase: HttpPhase) => void,
    timers: LimitTimers = realTimers,
  ) {
    this.#timeouts = timeouts;
    this.#onTimeout = onTimeout;
    this.#timers = timers;
    server.on("request", (req: IncomingMessage, res: ServerResponse) => this.#request(req, res));
  }

  /** Starts the headers deadline of a socket about to be handed to the server. */
  track(socket: Socket): void {
    const state: SocketState = { timer: null, outstanding: 0 };
    this.#state.set(socket, state);
    this.#arm(socket, state, HttpPhase.Headers, this.#timeouts.headersTimeoutMs);
    socket.once("close", () => this.#disarm(state));
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    const state = this.#state.get(socket);
    if (!state) return;
    state.outstanding++;
    this.#arm(socket, state, HttpPhase.Request, this.#timeouts.requestTimeoutMs);
    res.once("finish", () => {
      state.outstanding--;
      if (state.outstanding > 0 || socket.destroyed) return;
      this.#arm(socket, state, HttpPhase.Idle, this.#timeouts.idleTimeoutMs);
    });
  }

  #arm(socket: Socket, state: SocketState, phase: HttpPhase, ms: number): void {
    this.#disarm(state);
    state.timer = this.#timers.set(() => {
      state.timer = null;
      if (socket.destroyed) return;
      socket.destroy();
      this.#onTimeout(socket, phase);
    }, ms);
  }

  #disarm(state: SocketState): void {
    if (state.timer !== null) this.#timers.clear(state.timer);
    state.timer = null;
  }
}
