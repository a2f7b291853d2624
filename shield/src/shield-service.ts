import {
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import { errorCode } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { traces } from "../../lib/trace/channels.js";
import {
  type DeliverAccessLogRequest,
  type DeliverAccessLogResponse,
  type ReadRangeRequest,
  type ReadRangeResponse,
  type ShieldServiceServer,
  type StatObjectRequest,
  type StatObjectResponse,
  StatPurpose,
} from "../../proto/gen/streamfront/shield/v1/shield.js";
import type { AccessLogWriter } from "./access-log-writer.js";
import type { BucketPolicy } from "./bucket-allowlist.js";
import { ShieldError, ShieldErrorCode, toServiceError } from "./errors.js";
import { CallCode, type ShieldMetrics } from "./metrics.js";
import { bucketProblem, keyProblem } from "./object-key.js";
import { type Origin, StatKind } from "./origin.js";

/** Largest range one ReadRange call may ask for; edges read in blocks far below this. */
export const maxRangeBytes = 64 * 1024 * 1024;

export interface ShieldServiceOptions {
  readonly origin: Origin;
  readonly buckets: BucketPolicy;
  readonly metrics: ShieldMetrics;
  readonly logger: Logger;
  /** Largest data field of one response message. */
  readonly maxPieceBytes: number;
  /**
   * Pieces one call may have handed to gRPC that HTTP/2 has not taken yet.
   * With the piece being assembled this bounds a call's memory at
   * (maxInFlightPieces + 1) × maxPieceBytes, whatever the range length.
   * @default 4
   */
  readonly maxInFlightPieces?: number;
  /** Writes edges' access-log files (DeliverAccessLog); absent: every delivery is refused as not enabled. */
  readonly accessLogs?: AccessLogWriter;
}

/** Per-call write accounting; callbacks after the call ended are ignored. */
interface WriteState {
  inFlight: number;
  queuedBytes: number;
  done: boolean;
  wake: (() => void) | undefined;
}

/**
 * ShieldService over an Origin. Requests are validated before any origin
 * call; ReadRange streams the origin's body in pieces no larger than
 * maxPieceBytes, waiting for HTTP/2 flow control so a slow edge slows the S3
 * read instead of growing the shield's memory.
 */
export class ShieldService {
  readonly #origin: Origin;
  readonly #buckets: BucketPolicy;
  readonly #metrics: ShieldMetrics;
  readonly #logger: Logger;
  readonly #maxPieceBytes: number;
  readonly #maxInFlight: number;
  readonly #accessLogs: AccessLogWriter | undefined;
  /** Aborts every call still running, for a forced shutdown. */
  readonly #calls = new Set<AbortController>();
  /** abortAll() was called: an aborted call is the shield closing, not its caller going away. */
  #closing = false;
  /** Resolves abortAll() once the last call has answered. */
  #drained: (() => void) | undefined;
  /** Highest per-call queued bytes seen; lets tests prove the bound. */
  #peakCallQueuedBytes = 0;

  constructor(options: ShieldServiceOptions) {
    this.#origin = options.origin;
    this.#buckets = options.buckets;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#maxPieceBytes = options.maxPieceBytes;
    this.#maxInFlight = Math.max(1, options.maxInFlightPieces ?? 4);
    this.#accessLogs = options.accessLogs;
  }

  /** The handlers to register with `server.addService(ShieldServiceService, …)`. */
  handlers(): ShieldServiceServer {
    return {
      statObject: (call, callback) => {
        void this.#statObject(call, callback);
      },
      readRange: (call) => {
        void this.#readRange(call);
      },
      deliverAccessLog: (call, callback) => {
        void this.#deliverAccessLog(call, callback);
      },
    };
  }

  get activeCalls(): number {
    return this.#calls.size;
  }

  get peakCallQueuedBytes(): number {
    return this.#peakCallQueuedBytes;
  }

  /**
   * Ends every running call (their origin reads abort) — the last step of a
   * forced close. Each call still answers: SHIELD_ERR_SHUTTING_DOWN
   * (UNAVAILABLE) in its trailer, which tells an edge to fail over.
   * Resolves once every call has answered.
   */
  abortAll(): Promise<void> {
    this.#closing = true;
    for (const controller of this.#calls) controller.abort();
    if (this.#calls.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#drained = resolve;
    });
  }

  #callDone(controller: AbortController): void {
    this.#calls.delete(controller);
    if (this.#calls.size === 0 && this.#drained) {
      this.#drained();
      this.#drained = undefined;
    }
  }

  async #statObject(
    call: ServerUnaryCall<StatObjectRequest, StatObjectResponse>,
    callback: sendUnaryData<StatObjectResponse>,
  ): Promise<void> {
    const { bucket, key, purpose } = call.request;
    // Only an edge that says so gets a play's place in the queue.
    const kind = purpose === StatPurpose.STAT_PURPOSE_PLAY ? StatKind.Play : StatKind.Lookup;
    const controller = new AbortController();
    const onCancel = () => controller.abort();
    call.once("cancelled", onCancel);
    this.#calls.add(controller);
    const log = this.#logger.child({ rpc: "StatObject", bucket, key });
    const started = performance.now();
    if (traces.shieldFetchStart.hasSubscribers)
      traces.shieldFetchStart.publish({ rpc: "StatObject", bucket, key, offset: 0, length: 0 });
    let failedWith: string | null = null;
    try {
      this.#checkObject(bucket, key);
      const info = await this.#origin.stat(bucket, key, controller.signal, { kind });
      this.#metrics.statDone(CallCode.Ok);
      callback(null, {
        size: info.size,
        etag: info.etag,
        lastModifiedMs: info.lastModifiedMs,
        contentType: info.contentType,
        cacheControl: info.cacheControl,
      });
    } catch (error) {
      const closing = this.#closing && controller.signal.aborted && !call.cancelled;
      const answer = closing ? new ShieldError(ShieldErrorCode.ShuttingDown, "the shield is closing") : error;
      const serviceError = toServiceError(answer);
      failedWith = errorCode(answer) ?? "internal";
      this.#metrics.statDone(callCodeOf(serviceError.code));
      this.#logOutcome(log, answer);
      callback(serviceError as ServiceError);
    } finally {
      call.off("cancelled", onCancel);
      this.#callDone(controller);
      if (traces.shieldFetchEnd.hasSubscribers)
        traces.shieldFetchEnd.publish({
          rpc: "StatObject",
          bucket,
          key,
          offset: 0,
          length: 0,
          bytes: 0,
          durationMs: performance.now() - started,
          code: failedWith,
        });
    }
  }

  async #deliverAccessLog(
    call: ServerUnaryCall<DeliverAccessLogRequest, DeliverAccessLogResponse>,
    callback: sendUnaryData<DeliverAccessLogResponse>,
  ): Promise<void> {
    const { distributionId, hour, unique, gzipped } = call.request;
    const controller = new AbortController();
    const onCancel = () => controller.abort();
    call.once("cancelled", onCancel);
    this.#calls.add(controller);
    const log = this.#logger.child({ rpc: "DeliverAccessLog", distribution: distributionId, hour, unique });
    try {
      if (!this.#accessLogs) {
        throw new ShieldError(ShieldErrorCode.LoggingNotEnabled, "this shield writes no access logs");
      }
      const written = await this.#accessLogs.deliver(
        { distributionId, hour, unique, gzipped: Buffer.from(gzipped) },
        controller.signal,
      );
      this.#metrics.accessLogDone(CallCode.Ok);
      callback(null, written);
    } catch (error) {
      const closing = this.#closing && controller.signal.aborted && !call.cancelled;
      const answer = closing ? new ShieldError(ShieldErrorCode.ShuttingDown, "the shield is closing") : error;
      const serviceError = toServiceError(answer);
      this.#metrics.accessLogDone(callCodeOf(serviceError.code));
      this.#logOutcome(log, answer);
      callback(serviceError as ServiceError);
    } finally {
      call.off("cancelled", onCancel);
      this.#callDone(controller);
    }
  }

  async #readRange(call: ServerWritableStream<ReadRangeRequest, ReadRangeResponse>): Promise<void> {
    const { bucket, key, offset, length, etag } = call.request;
    const controller = new AbortController();
    const signal = controller.signal;
    const onCancel = () => controller.abort();
    call.once("cancelled", onCancel);
    this.#calls.add(controller);
    this.#metrics.activeRangeReads += 1;
    const state: WriteState = { inFlight: 0, queuedBytes: 0, done: false, wake: undefined };
    const log = this.#logger.child({ rpc: "ReadRange", bucket, key, offset, length });
    let sent = 0;
    const started = performance.now();
    if (traces.shieldFetchStart.hasSubscribers)
      traces.shieldFetchStart.publish({ rpc: "ReadRange", bucket, key, offset, length });
    let failedWith: string | null = null;
    try {
      this.#checkObject(bucket, key);
      checkRange(offset, length);
      const range = await this.#origin.readRange(bucket, key, offset, length, etag || undefined, signal);
      let parts: Buffer[] = [];
      let partsBytes = 0;
      let pieceOffset = range.offset;
      const flush = async () => {
        const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts, partsBytes);
        parts = [];
        partsBytes = 0;
        await this.#write(call, state, { offset: pieceOffset, data }, signal);
        pieceOffset += data.length;
        sent += data.length;
      };
      // S3 delivers 16–64 KiB chunks; gathering them into pieces of up to
      // maxPieceBytes keeps the message count (and per-message cost) low.
      for await (const chunk of range) {
        let rest = chunk;
        while (rest.length > 0) {
          const take = Math.min(rest.length, this.#maxPieceBytes - partsBytes);
          parts.push(take === rest.length ? rest : rest.subarray(0, take));
          partsBytes += take;
          rest = rest.subarray(take);
          if (partsBytes === this.#maxPieceBytes) await flush();
        }
      }
      if (partsBytes > 0) await flush();
      if (signal.aborted) throw new ShieldError(ShieldErrorCode.Aborted, "call cancelled");
      call.end();
      this.#metrics.rangeReadDone(CallCode.Ok);
      log.debug({ sent }, "range served");
    } catch (error) {
      if (call.cancelled || signal.aborted) {
        // The edge went away (or the shield is closing): nobody reads a status.
        this.#metrics.rangeReadDone(CallCode.Cancelled);
        failedWith = ShieldErrorCode.Aborted;
        log.debug({ sent }, "range read cancelled");
        if (!call.cancelled) {
          call.emit(
            "error",
            toServiceError(new ShieldError(ShieldErrorCode.ShuttingDown, "the shield is closing")),
          );
        }
        return;
      }
      const serviceError = toServiceError(error);
      failedWith = errorCode(error) ?? "internal";
      this.#metrics.rangeReadDone(callCodeOf(serviceError.code));
      this.#logOutcome(log, error, sent);
      // A status after some pieces were sent is still a clean failure: the
      // edge sees fewer bytes than asked, then the code.
      call.emit("error", serviceError);
    } finally {
      state.done = true;
      this.#metrics.queuedBytes -= state.queuedBytes;
      this.#metrics.activeRangeReads -= 1;
      call.off("cancelled", onCancel);
      this.#callDone(controller);
      if (traces.shieldFetchEnd.hasSubscribers)
        traces.shieldFetchEnd.publish({
          rpc: "ReadRange",
          bucket,
          key,
          offset,
          length,
          bytes: sent,
          durationMs: performance.now() - started,
          code: failedWith,
        });
    }
  }

  /**
   * Writes one piece and returns once the call is under its in-flight
   * bound. grpc-js calls a write's callback when HTTP/2 has taken the
   * message, which only happens as the edge's flow-control window allows.
   */
  async #write(
    call: ServerWritableStream<ReadRangeRequest, ReadRangeResponse>,
    state: WriteState,
    piece: ReadRangeResponse,
    signal: AbortSignal,
  ): Promise<void> {
    if (signal.aborted) throw new ShieldError(ShieldErrorCode.Aborted, "call cancelled");
    const bytes = piece.data.length;
    state.inFlight += 1;
    state.queuedBytes += bytes;
    this.#metrics.queuedBytes += bytes;
    this.#metrics.servedBytes += bytes;
    if (state.queuedBytes > this.#peakCallQueuedBytes) this.#peakCallQueuedBytes = state.queuedBytes;
    const accepted = call.write(piece, () => {
      if (state.done) return;
      state.inFlight -= 1;
      state.queuedBytes -= bytes;
      this.#metrics.queuedBytes -= bytes;
      const wake = state.wake;
      state.wake = undefined;
      wake?.();
    });
    if (!accepted) await waitFor(call, "drain", signal);
    while (state.inFlight >= this.#maxInFlight) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(new ShieldError(ShieldErrorCode.Aborted, "call cancelled"));
        if (signal.aborted) {
          onAbort();
          return;
        }
        signal.addEventListener("abort", onAbort, { once: true });
        state.wake = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
      });
    }
  }

  #checkObject(bucket: string, key: string): void {
    const badBucket = bucketProblem(bucket);
    if (badBucket) throw invalid(badBucket);
    // Before the allowlist: a traversal key names another bucket whatever
    // bucket it is sent with, so it is refused the same way on every one.
    const badKey = keyProblem(key);
    if (badKey) throw new ShieldError(ShieldErrorCode.InvalidKey, badKey);
    if (!this.#buckets.isAllowed(bucket)) {
      throw new ShieldError(
        ShieldErrorCode.BucketNotAllowed,
        `bucket ${JSON.stringify(bucket)} is not the origin of any distribution this shield serves`,
      );
    }
  }

  #logOutcome(log: Logger, error: unknown, sent?: number): void {
    const extra = sent === undefined ? {} : { sent };
    if (error instanceof ShieldError) {
      // Refusals are the edge's business; S3 failures were logged at warn by the origin.
      log.debug({ code: error.code, reason: error.message, ...extra }, "request refused");
      return;
    }
    log.error({ err: error, ...extra }, "request failed unexpectedly");
  }
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw invalid(`offset ${offset} is not a valid byte offset`);
  if (!Number.isSafeInteger(length) || length <= 0) throw invalid("length must be at least 1");
  if (length > maxRangeBytes) throw invalid(`length is too large (${length} vs max ${maxRangeBytes})`);
}

function invalid(message: string): ShieldError {
  return new ShieldError(ShieldErrorCode.InvalidArgument, message);
}

function callCodeOf(code: status): (typeof CallCode)[keyof typeof CallCode] {
  switch (code) {
    case status.OK:
      return CallCode.Ok;
    case status.INVALID_ARGUMENT:
      return CallCode.InvalidArgument;
    case status.PERMISSION_DENIED:
      return CallCode.PermissionDenied;
    case status.NOT_FOUND:
      return CallCode.NotFound;
    case status.OUT_OF_RANGE:
      return CallCode.OutOfRange;
    case status.FAILED_PRECONDITION:
      return CallCode.FailedPrecondition;
    case status.UNAVAILABLE:
      return CallCode.Unavailable;
    case status.RESOURCE_EXHAUSTED:
      return CallCode.ResourceExhausted;
    case status.CANCELLED:
      return CallCode.Cancelled;
    default:
      return CallCode.Internal;
  }
}

/** Resolves on the event, rejects with Aborted when the signal fires first. */
function waitFor(emitter: NodeJS.EventEmitter, event: string, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      emitter.off(event, onEvent);
      reject(new ShieldError(ShieldErrorCode.Aborted, "call cancelled"));
    };
    const onEvent = () => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    emitter.once(event, onEvent);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
