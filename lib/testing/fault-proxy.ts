/**
 * A fault-injecting HTTP reverse proxy for tests, put in front of a real S3
 * endpoint (s3rver).
 *
 * This is the project's one allowed fake, and only the faults are fake:
 * every answer that is not a fault comes from the real S3 behind it, byte
 * for byte. It exists because the real part cannot fail on demand: s3rver
 * never answers 500/503 or SlowDown, never stalls, never resets a
 * connection halfway through a body. Retries, timeouts and resumes can only
 * be tested against failures that happen when the test says so, in a
 * reproducible way (fractions use a seeded PRNG). Changing the data itself
 * (an object replaced during a read) is not faked here: a test does that
 * through the real S3, from the onRequest hook.
 *
 * Loopback only; bodies are streamed, never buffered whole.
 */
import { once, setMaxListeners } from "node:events";
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { performance } from "node:perf_hooks";

/** The S3 errors the proxy can answer with, each with the status S3 uses for it. */
export const S3ErrorCode = {
  SlowDown: "SlowDown",
  InternalError: "InternalError",
  ServiceUnavailable: "ServiceUnavailable",
} as const;
export type S3ErrorCode = (typeof S3ErrorCode)[keyof typeof S3ErrorCode];

const s3Errors: Readonly<Record<S3ErrorCode, { readonly status: number; readonly message: string }>> = {
  SlowDown: { status: 503, message: "Please reduce your request rate." },
  InternalError: { status: 500, message: "We encountered an internal error. Please try again." },
  ServiceUnavailable: { status: 503, message: "Service is unable to handle request." },
};

/** What a fault does; also the keys of `stats.faults`. */
export const FaultKind = {
  /** Answers with an S3 error (XML body) instead of asking the upstream. */
  Error: "error",
  /** Holds the request this long before forwarding it (late response headers). */
  Delay: "delay",
  /** Sends the response body no faster than bytesPerSecond. */
  Throttle: "throttle",
  /** Sends afterBytes of the body, then resets the connection (TCP RST). */
  Reset: "reset",
  /** Stops answering: no headers at all, or no more body after afterBytes; the socket stays open. */
  Hang: "hang",
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

/**
 * One fault. `error.status` overrides the status S3 uses for the code;
 * `hang.afterBytes` absent means before the headers.
 */
export type Fault =
  | { readonly kind: typeof FaultKind.Error; readonly code: S3ErrorCode; readonly status?: number }
  | { readonly kind: typeof FaultKind.Delay; readonly ms: number }
  | { readonly kind: typeof FaultKind.Throttle; readonly bytesPerSecond: number }
  | { readonly kind: typeof FaultKind.Reset; readonly afterBytes: number }
  | { readonly kind: typeof FaultKind.Hang; readonly afterBytes?: number };

/** Which requests a rule looks at; every field given must match. */
export interface FaultMatch {
  /** GET, HEAD, … (case-insensitive). */
  readonly method?: string;
  /** Tested against the request target: path and query, as sent (/bucket/key?x=y). */
  readonly path?: RegExp;
  /** true: only requests with a Range header; false: only those without. */
  readonly hasRange?: boolean;
}

/**
 * Which of the matching requests a rule fires on. Counting is per rule and
 * starts at 1 with the first matching request.
 */
export type FaultSchedule =
  | { readonly kind: "always" }
  /** The n-th matching request(s). */
  | { readonly kind: "nth"; readonly n: number | readonly number[] }
  /** The first `count` matching requests. */
  | { readonly kind: "first"; readonly count: number }
  /**
   * Each matching request with probability `fraction`, drawn from a PRNG
   * seeded with `seed`: the k-th matching request always gets the same
   * decision, so a "20%" run fails the same number of requests every time.
   */
  | { readonly kind: "fraction"; readonly fraction: number; readonly seed: number };

export interface FaultRule {
  /** Names the rule in errors about it. */
  readonly name?: string;
  readonly match?: FaultMatch;
  /** @default { kind: "always" } */
  readonly schedule?: FaultSchedule;
  readonly fault: Fault;
}

/** A rule once added: how often it matched and fired, and how to take it out. */
export interface FaultRuleHandle {
  readonly matched: number;
  readonly fired: number;
  remove(): void;
}

/** What the onRequest hook and the request log see of a request. */
export interface ProxiedRequest {
  /** 1 for the first request the proxy received, and so on. */
  readonly index: number;
  readonly method: string;
  /** Path and query as sent. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The faults the rules chose for this request, in the order they apply. */
  readonly faults: readonly FaultKind[];
}

export interface ProxyRequestRecord extends ProxiedRequest {
  /** 0 until the response headers went out (or never, for a hang or a reset before them). */
  readonly status: number;
  /** Response body bytes sent to the client. */
  readonly bytes: number;
}

/**
 * Runs after the rules decided and before anything is forwarded; the request
 * waits for the returned promise. A test uses it to change the real upstream
 * at a precise point (replace the object before a resumed read reaches it).
 * If it throws, the request is answered 500 InternalError.
 */
export type RequestHook = (request: ProxiedRequest) => void | Promise<void>;

export interface FaultProxyStats {
  /** Requests received. */
  readonly requests: number;
  /** Requests received whose response has not closed yet. */
  readonly inFlight: number;
  /** Highest inFlight seen since start (or resetStats). */
  readonly peakInFlight: number;
  /** Response body bytes sent to clients. */
  readonly bytesForwarded: number;
  /** Faults actually applied, by kind (a reset counts once the connection was reset). */
  readonly faults: Readonly<Record<FaultKind, number>>;
}

export interface FaultProxyOptions {
  /** http URL of the real endpoint, e.g. the EmbeddedS3 endpoint. */
  readonly upstream: string;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** 0 picks a free port. @default 0 */
  readonly port?: number;
  /** Requests kept in `requests`, oldest dropped first. @default 10000 */
  readonly maxRequestLog?: number;
}

/** Headers that describe one hop, not the message (RFC 9110 §7.6.1); never forwarded. */
const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Throttled bodies go out in slices of this fraction of a second, so the rate is smooth. */
const throttleSlicesPerSecond = 20;

interface Plan {
  error: { code: S3ErrorCode; status: number } | undefined;
  delayMs: number;
  bytesPerSecond: number | undefined;
  resetAfter: number | undefined;
  hangBeforeHeaders: boolean;
  hangAfter: number | undefined;
  kinds: FaultKind[];
}

interface RuleState {
  readonly rule: FaultRule;
  readonly random: (() => number) | undefined;
  matched: number;
  fired: number;
}

interface MutableRecord {
  index: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  faults: FaultKind[];
  status: number;
  bytes: number;
}

/** Fails fast on the proxy's own misuse, which is a bug in the test. */
class FaultProxyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FaultProxyError";
  }
}

/** The end of a request the proxy gave up on (client gone, proxy closing). */
class Gone extends Error {}

export class FaultProxy {
  readonly #options: FaultProxyOptions;
  readonly #upstream: URL;
  readonly #server: Server;
  /** Keep-alive to the upstream, like a real client's pool; destroyed by close(). */
  readonly #agent = new Agent({ keepAlive: true });
  readonly #sockets = new Set<Socket>();
  readonly #closing = new AbortController();
  #rules: RuleState[] = [];
  #hook: RequestHook | undefined;
  #endpoint = "";
  readonly #log: MutableRecord[] = [];
  #requests = 0;
  #inFlight = 0;
  #peakInFlight = 0;
  #bytesForwarded = 0;
  #faults: Record<FaultKind, number> = zeroFaults();

  constructor(options: FaultProxyOptions) {
    this.#options = options;
    // One listener per request in flight (removed when it ends): more than 10 at once is normal, not a leak.
    setMaxListeners(0, this.#closing.signal);
    this.#upstream = new URL(options.upstream);
    if (this.#upstream.protocol !== "http:") {
      throw new FaultProxyError(`upstream must be an http URL (got ${options.upstream})`);
    }
    this.#server = createServer((req, res) => {
      void this.#handle(req, res);
    });
    this.#server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
    });
  }

  /** Listens; resolves with the endpoint URL clients use instead of the upstream. */
  async start(): Promise<string> {
    const host = this.#options.host ?? "127.0.0.1";
    this.#server.listen(this.#options.port ?? 0, host);
    await once(this.#server, "listening");
    const address = this.#server.address() as AddressInfo;
    const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
    this.#endpoint = `http://${shownHost}:${address.port}`;
    return this.#endpoint;
  }

  get endpoint(): string {
    if (!this.#endpoint) throw new FaultProxyError("FaultProxy is not started");
    return this.#endpoint;
  }

  /** Adds a rule after the existing ones. Several rules may fire on one request; their faults combine. */
  addRule(rule: FaultRule): FaultRuleHandle {
    checkRule(rule);
    const schedule = rule.schedule ?? { kind: "always" };
    const state: RuleState = {
      rule,
      random: schedule.kind === "fraction" ? seededRandom(schedule.seed) : undefined,
      matched: 0,
      fired: 0,
    };
    this.#rules.push(state);
    return {
      get matched() {
        return state.matched;
      },
      get fired() {
        return state.fired;
      },
      remove: () => {
        this.#rules = this.#rules.filter((r) => r !== state);
      },
    };
  }

  clearRules(): void {
    this.#rules = [];
  }

  /** Sets (or, with undefined, removes) the hook run for every request. */
  onRequest(hook: RequestHook | undefined): void {
    this.#hook = hook;
  }

  get stats(): FaultProxyStats {
    return {
      requests: this.#requests,
      inFlight: this.#inFlight,
      peakInFlight: this.#peakInFlight,
      bytesForwarded: this.#bytesForwarded,
      faults: { ...this.#faults },
    };
  }

  /** Requests seen so far, oldest first. */
  get requests(): ReadonlyArray<ProxyRequestRecord> {
    return this.#log;
  }

  /** Zeroes the counters and the log (rules keep their own counts). */
  resetStats(): void {
    this.#requests = 0;
    this.#peakInFlight = this.#inFlight;
    this.#bytesForwarded = 0;
    this.#faults = zeroFaults();
    this.#log.length = 0;
  }

  /** Stops listening and tears down every connection, hung ones included. */
  async close(): Promise<void> {
    this.#closing.abort();
    const closed = this.#server.listening
      ? new Promise<void>((resolve) => this.#server.close(() => resolve()))
      : Promise.resolve();
    this.#server.closeAllConnections();
    for (const socket of this.#sockets) socket.destroy();
    this.#agent.destroy();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#requests += 1;
    this.#inFlight += 1;
    this.#peakInFlight = Math.max(this.#peakInFlight, this.#inFlight);
    res.once("close", () => {
      this.#inFlight -= 1;
    });
    const plan = this.#plan(req);
    const record: MutableRecord = {
      index: this.#requests,
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers: req.headers,
      faults: plan.kinds,
      status: 0,
      bytes: 0,
    };
    this.#log.push(record);
    const max = this.#options.maxRequestLog ?? 10_000;
    if (this.#log.length > max) this.#log.splice(0, this.#log.length - max);
    // One signal for "stop working on this request": the client went away
    // before its response was complete, or the proxy is closing.
    const gone = new AbortController();
    // A client that goes away is noticed through res 'close'; the request's
    // own 'error' (ECONNRESET) needs a listener only so it is not fatal.
    req.on("error", () => {});
    const onClosing = () => gone.abort();
    this.#closing.signal.addEventListener("abort", onClosing, { once: true });
    res.once("close", () => {
      this.#closing.signal.removeEventListener("abort", onClosing);
      if (!res.writableFinished) gone.abort();
    });
    try {
      await this.#hook?.({
        index: record.index,
        method: record.method,
        path: record.path,
        headers: record.headers,
        faults: record.faults,
      });
      if (plan.hangBeforeHeaders) {
        this.#faults.hang += 1;
        // Read and drop any request body so the client is not stuck writing.
        req.resume();
        return;
      }
      if (plan.delayMs > 0) {
        this.#faults.delay += 1;
        await sleep(plan.delayMs, gone.signal);
      }
      if (plan.error) {
        this.#faults.error += 1;
        sendS3Error(res, req, plan.error.code, plan.error.status, record);
        return;
      }
      await this.#forward(req, res, plan, record, gone.signal);
    } catch (error) {
      if (error instanceof Gone || gone.signal.aborted) {
        res.destroy();
        return;
      }
      // The hook or the upstream failed: answer like a broken S3 would.
      if (!res.headersSent) {
        sendS3Error(res, req, S3ErrorCode.InternalError, 500, record);
      } else {
        res.destroy();
      }
    }
  }

  #plan(req: IncomingMessage): Plan {
    const plan: Plan = {
      error: undefined,
      delayMs: 0,
      bytesPerSecond: undefined,
      resetAfter: undefined,
      hangBeforeHeaders: false,
      hangAfter: undefined,
      kinds: [],
    };
    for (const state of this.#rules) {
      if (!matches(state.rule.match, req)) continue;
      state.matched += 1;
      if (!fires(state.rule.schedule ?? { kind: "always" }, state.matched, state.random)) continue;
      state.fired += 1;
      const fault = state.rule.fault;
      plan.kinds.push(fault.kind);
      switch (fault.kind) {
        case FaultKind.Error:
          plan.error ??= { code: fault.code, status: fault.status ?? s3Errors[fault.code].status };
          break;
        case FaultKind.Delay:
          plan.delayMs += fault.ms;
          break;
        case FaultKind.Throttle:
          plan.bytesPerSecond = Math.min(
            plan.bytesPerSecond ?? Number.POSITIVE_INFINITY,
            fault.bytesPerSecond,
          );
          break;
        case FaultKind.Reset:
          plan.resetAfter = Math.min(plan.resetAfter ?? Number.POSITIVE_INFINITY, fault.afterBytes);
          break;
        case FaultKind.Hang:
          // A hang before the headers wins over one after some bytes.
          if (fault.afterBytes === undefined) plan.hangBeforeHeaders = true;
          else plan.hangAfter = Math.min(plan.hangAfter ?? Number.POSITIVE_INFINITY, fault.afterBytes);
          break;
      }
    }
    return plan;
  }

  async #forward(
    req: IncomingMessage,
    res: ServerResponse,
    plan: Plan,
    record: MutableRecord,
    gone: AbortSignal,
  ): Promise<void> {
    const headers: OutgoingHttpHeaders = {};
    // Host goes through unchanged: the client signed it (SigV4), and the
    // upstream checks the signature against what it receives.
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !hopByHop.has(name)) headers[name] = value;
    }
    const upstreamReq = httpRequest({
      protocol: "http:",
      hostname: this.#upstream.hostname.replace(/^\[|\]$/g, ""),
      port: this.#upstream.port,
      method: req.method,
      path: req.url,
      headers,
      agent: this.#agent,
    });
    // Failures surface through once() below or through the response
    // stream; a late 'error' (after destroy()) must not crash the test run.
    upstreamReq.on("error", () => {});
    const onGone = () => upstreamReq.destroy();
    gone.addEventListener("abort", onGone, { once: true });
    try {
      req.pipe(upstreamReq);
      const [upstreamRes] = (await once(upstreamReq, "response", { signal: gone })) as [IncomingMessage];
      const outHeaders: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(upstreamRes.headers)) {
        if (value !== undefined && !hopByHop.has(name)) outHeaders[name] = value;
      }
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, outHeaders);
      record.status = upstreamRes.statusCode ?? 502;
      await this.#pump(upstreamRes, res, plan, record, gone);
    } catch (error) {
      if (gone.aborted) throw new Gone();
      throw error;
    } finally {
      gone.removeEventListener("abort", onGone);
    }
  }

  /** Copies the upstream body to the client, applying throttle, reset and hang-after. */
  async #pump(
    upstreamRes: IncomingMessage,
    res: ServerResponse,
    plan: Plan,
    record: MutableRecord,
    gone: AbortSignal,
  ): Promise<void> {
    const stopAt = Math.min(
      plan.resetAfter ?? Number.POSITIVE_INFINITY,
      plan.hangAfter ?? Number.POSITIVE_INFINITY,
    );
    const bps = plan.bytesPerSecond;
    if (bps !== undefined) this.#faults.throttle += 1;
    const started = performance.now();
    let sent = 0;
    if (stopAt <= 0) {
      await this.#stop(upstreamRes, res, plan, gone);
      return;
    }
    for await (const chunk of upstreamRes) {
      let rest = chunk as Buffer;
      while (rest.length > 0) {
        let take = Math.min(rest.length, stopAt - sent);
        if (bps !== undefined) take = Math.min(take, Math.max(1, Math.floor(bps / throttleSlicesPerSecond)));
        await write(res, rest.subarray(0, take), gone);
        sent += take;
        record.bytes += take;
        this.#bytesForwarded += take;
        rest = rest.subarray(take);
        if (sent >= stopAt) {
          await this.#stop(upstreamRes, res, plan, gone);
          return;
        }
        if (bps !== undefined) {
          const due = started + (sent / bps) * 1000;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait, gone);
        }
      }
    }
    res.end();
  }

  /** The reset or hang point of a body: the bytes before it are already on their way. */
  async #stop(
    upstreamRes: IncomingMessage,
    res: ServerResponse,
    plan: Plan,
    gone: AbortSignal,
  ): Promise<void> {
    upstreamRes.destroy();
    const resetFirst =
      plan.resetAfter !== undefined && (plan.hangAfter === undefined || plan.resetAfter <= plan.hangAfter);
    // Headers (and the last write) must reach the kernel before the reset,
    // or the client would see a refused request instead of a cut body.
    // (headersSent is already true after writeHead, which only buffers them.)
    res.flushHeaders();
    await flushed(res);
    if (resetFirst) {
      this.#faults.reset += 1;
      // SO_LINGER 0 then close: the client gets ECONNRESET, as from a
      // crashing S3 front end, instead of a clean FIN.
      res.socket?.resetAndDestroy();
      return;
    }
    this.#faults.hang += 1;
    // Keep the connection open and silent until the client gives up.
    await new Promise<void>((resolve) => {
      if (gone.aborted) resolve();
      else gone.addEventListener("abort", () => resolve(), { once: true });
    });
    throw new Gone();
  }
}

/** mulberry32: a tiny, fast PRNG whose sequence is fixed by its seed; in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function zeroFaults(): Record<FaultKind, number> {
  return { error: 0, delay: 0, throttle: 0, reset: 0, hang: 0 };
}

function checkRule(rule: FaultRule): void {
  const fault = rule.fault;
  const bad = (what: string) => new FaultProxyError(`fault rule ${rule.name ?? fault.kind}: ${what}`);
  if (fault.kind === FaultKind.Delay && !(fault.ms >= 0))
    throw bad(`delay ms must be >= 0 (got ${fault.ms})`);
  if (fault.kind === FaultKind.Throttle && !(fault.bytesPerSecond > 0))
    throw bad(`bytesPerSecond must be > 0 (got ${fault.bytesPerSecond})`);
  if (fault.kind === FaultKind.Reset && !(fault.afterBytes >= 0))
    throw bad(`afterBytes must be >= 0 (got ${fault.afterBytes})`);
  if (fault.kind === FaultKind.Hang && fault.afterBytes !== undefined && !(fault.afterBytes >= 0))
    throw bad(`afterBytes must be >= 0 (got ${fault.afterBytes})`);
  const schedule = rule.schedule;
  if (schedule?.kind === "fraction" && !(schedule.fraction >= 0 && schedule.fraction <= 1))
    throw bad(`fraction must be within [0, 1] (got ${schedule.fraction})`);
}

function matches(match: FaultMatch | undefined, req: IncomingMessage): boolean {
  if (!match) return true;
  if (match.method !== undefined && match.method.toUpperCase() !== (req.method ?? "").toUpperCase())
    return false;
  if (match.path !== undefined) {
    match.path.lastIndex = 0;
    if (!match.path.test(req.url ?? "/")) return false;
  }
  if (match.hasRange !== undefined && match.hasRange !== (req.headers.range !== undefined)) return false;
  return true;
}

function fires(schedule: FaultSchedule, nth: number, random: (() => number) | undefined): boolean {
  switch (schedule.kind) {
    case "always":
      return true;
    case "nth":
      return typeof schedule.n === "number" ? nth === schedule.n : schedule.n.includes(nth);
    case "first":
      return nth <= schedule.count;
    case "fraction":
      // Drawn for every matching request, fired or not, so the k-th
      // decision depends only on the seed.
      return (random?.() ?? 1) < schedule.fraction;
  }
}

function sendS3Error(
  res: ServerResponse,
  req: IncomingMessage,
  code: S3ErrorCode,
  status: number,
  record: MutableRecord,
): void {
  const requestId = `FAULTPROXY${String(record.index).padStart(6, "0")}`;
  const resource = escapeXml(new URL(req.url ?? "/", "http://proxy.invalid").pathname);
  const body = Buffer.from(
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<Error><Code>${code}</Code><Message>${escapeXml(s3Errors[code].message)}</Message>` +
      `<Resource>${resource}</Resource><RequestId>${requestId}</RequestId></Error>`,
  );
  record.status = status;
  res.writeHead(status, {
    "content-type": "application/xml",
    "content-length": body.length,
    "x-amz-request-id": requestId,
  });
  // HEAD answers carry the headers of the error only, like S3's.
  if (req.method === "HEAD") res.end();
  else res.end(body);
  // The request body (if any) is not needed; dropping it frees the socket.
  req.resume();
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Resolves after ms, or rejects with Gone when the signal fires first. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(new Gone());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Gone());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Writes with backpressure: waits for 'drain' when the client reads slowly. */
async function write(res: ServerResponse, data: Buffer, gone: AbortSignal): Promise<void> {
  if (gone.aborted) throw new Gone();
  if (res.write(data)) return;
  try {
    await once(res, "drain", { signal: gone });
  } catch {
    throw new Gone();
  }
}

/** Resolves once everything written so far has been handed to the kernel. */
function flushed(res: ServerResponse): Promise<void> {
  const socket = res.socket;
  if (!socket || socket.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    // Writes complete in order, so an empty write's callback runs after
    // every earlier one.
    socket.write(Buffer.alloc(0), () => resolve());
  });
}
