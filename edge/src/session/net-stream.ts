import { errorCode, errorMessage } from "../../../lib/errors.js";
import { type Logger, redactQuery } from "../../../lib/log.js";
import { EdgeErrorCode } from "../errors.js";
import type { MediaReader } from "../media/media-tag.js";
import type { ContainerKind } from "../media/open-media.js";
import type { EdgeMetrics } from "../metrics.js";
import type { AmfObject, AmfValue } from "../rtmp/amf0.js";
import type { RtmpCommand } from "../rtmp/command.js";
import { isShieldOutage } from "../shield-client/object-opener.js";
import { LookupCommand, PlayResult } from "../vocabulary.js";
import { onStatus } from "./fms-messages.js";
import type { LookupBudget } from "./lookup-budget.js";
import { playFailureCode, playFailureStatus, viewerStatusByCode } from "./status-for-error.js";
import { type PlayerSink, type PlayItem, StreamPlayer } from "./stream-player.js";

/** What opening a play name gave: a reader, or why there is none. */
export type OpenResult =
  | {
      readonly ok: true;
      readonly reader: MediaReader;
      readonly container: ContainerKind;
      readonly key: string;
    }
  | {
      readonly ok: false;
      readonly notFound: true;
      readonly container: ContainerKind | null;
      readonly why: string;
    };

export interface NetStreamContext {
  readonly streamId: number;
  readonly clientId: string;
  readonly sink: PlayerSink;
  readonly logger: Logger;
  readonly metrics: EdgeMetrics;
  readonly marginMs: number;
  /** config fms-data-start: FMS's NetStream.Data.Start after Play.Start. */
  readonly fmsDataStart?: boolean;
  bufferMs(): number;
  /** Maps a play name to an object and opens its reader; throws on shield or container errors. */
  open(name: string): Promise<OpenResult>;
  /** How long reads that fail for want of a shield are retried (see StreamPlayerOptions.stall); absent: not at all. */
  readonly stall?: { readonly minMs: number; readonly maxMs: number };
  /** The connection's lookup budget: plays of names not found are charged to it, and refused once it is spent. */
  readonly lookups?: LookupBudget;
  /** Called after a play ended with an error status (failed, not found, refused). */
  onPlayFailed?(): void;
}

/** A play command waiting for its turn to open its object. */
interface PendingPlay {
  readonly name: string;
  /** The playlist generation it belongs to; a later reset play drops it. */
  readonly generation: number;
  readonly startMs: number;
  readonly lengthMs: number;
  readonly how: "reset" | "append" | "switch";
  /** performance.now() at the command, for time to first frame. */
  readonly requested: number;
  /** Settles an append's place in the player's count once. */
  readonly settleAppend: (played: boolean) => void;
}

/**
 * One NetStream of a connection (createStream's id): the stream commands a
 * Flash player sends — play, play2, seek, pause/pauseRaw, receiveAudio,
 * receiveVideo — turned into StreamPlayer operations with the FMS replies.
 *
 * Objects open in command order: each play waits for the one before it, so
 * an appended playlist keeps its order and a later play(reset) wins.
 */
export class NetStream {
  readonly #ctx: NetStreamContext;
  readonly #player: StreamPlayer;
  #opening: Promise<void> = Promise.resolve();
  /** Bumped by every play that replaces the playlist; older opens are dropped. */
  #generation = 0;
  /** Appends of this generation still opening (the player waits for them). */
  #appendsOpening = 0;
  #closed = false;
  /** Plays whose objects are opening now. */
  #opens = 0;
  readonly #containers = new WeakMap<PlayItem, ContainerKind>();
  readonly #started = new WeakMap<PlayItem, number>();

  constructor(ctx: NetStreamContext) {
    this.#ctx = ctx;
    this.#player = new StreamPlayer({
      streamId: ctx.streamId,
      sink: ctx.sink,
      clientId: ctx.clientId,
      bufferMs: () => ctx.bufferMs(),
      marginMs: ctx.marginMs,
      fmsDataStart: ctx.fmsDataStart ?? false,
      now: () => performance.now(),
      onFirstFrame: (item) => {
        const container = this.#containers.get(item) ?? "flv";
        const started = this.#started.get(item) ?? performance.now();
        ctx.metrics.timeToFirstFrame.observe({ container }, (performance.now() - started) / 1000);
      },
      onItemFailed: (item, error) => this.#failed(item.name, error),
      ...(ctx.stall
        ? {
            stall: {
              ...ctx.stall,
              transient: isShieldOutage,
              onRetry: (error, attempt, remainingMs) => {
                ctx.metrics.playReadRetries.inc({ code: playFailureCode(error) });
                // One warning per stall; the retries after it only at debug.
                const level = attempt === 1 ? "warn" : "debug";
                ctx.logger[level](
                  {
                    code: errorCode(error),
                    err: errorMessage(error),
                    attempt,
                    remainingMs: Math.round(remainingMs),
                  },
                  "shield read failed; retrying within the viewer's buffer",
                );
              },
            },
          }
        : {}),
      onItemComplete: (item) => {
        ctx.metrics.plays.inc({
          container: this.#containers.get(item) ?? "flv",
          result: PlayResult.Completed,
        });
        ctx.logger.info({ stream: redactQuery(item.name) }, "play complete");
      },
    });
  }

  get player(): StreamPlayer {
    return this.#player;
  }

  /** Something plays or is about to (an object opening). */
  get busy(): boolean {
    return this.#opens > 0 || this.#player.current !== null;
  }

  close(): void {
    this.#closed = true;
    this.#player.close();
  }

  /**
   * play(name, start, len, reset). On the wire start and len are in
   * milliseconds (Flash multiplies NetStream.play's seconds; librtmp and
   * ffmpeg send ms): start -2000 (or -2) recorded or live — recorded here,
   * this edge has no live streams; -1000 (or -1) live only, so never found
   * here; N ≥ 0 from N ms. len -1 to the end, 0 a single frame, N ms.
   * reset false (or 0, 2) appends to the playlist. play(false) stops.
   */
  play(command: RtmpCommand): void {
    const [nameArg, startArg, lengthArg, resetArg] = command.args;
    if (nameArg === false) {
      this.#newGeneration();
      this.#player.stop();
      return;
    }
    const name = typeof nameArg === "string" ? nameArg : "";
    const start = typeof startArg === "number" && Number.isFinite(startArg) ? startArg : -2000;
    const length = typeof lengthArg === "number" && Number.isFinite(lengthArg) ? lengthArg : -1;
    const reset = !(resetArg === false || resetArg === 0 || resetArg === 2);
    if (reset) this.#newGeneration();
    if (start === -1000 || start === -1) {
      // Live only: a VOD edge has none, and waiting would leave the player silent forever.
      this.#answerNotFound(name, null, "live streams are not served here");
      return;
    }
    this.#enqueue(name, Math.max(0, start), length >= 0 ? length : -1, reset ? "reset" : "append");
  }

  /**
   * play2(NetStreamPlayOptions): transition switch/swap changes rendition at
   * a keyframe; reset/append/stop act like play.
   */
  play2(command: RtmpCommand): void {
    const options = command.args.find(isObject);
    if (!options) {
      this.#status("error", "NetStream.Play.Failed", "play2 needs a NetStreamPlayOptions object.");
      return;
    }
    const name = typeof options.streamName === "string" ? options.streamName : "";
    const start = typeof options.start === "number" && options.start > 0 ? options.start * 1000 : 0;
    const length = typeof options.len === "number" && options.len >= 0 ? options.len * 1000 : -1;
    const transition = typeof options.transition === "string" ? options.transition : "switch";
    switch (transition) {
      case "switch":
      case "swap":
        if (!this.#player.current) {
          this.#newGeneration();
          this.#enqueue(name, start, length, "reset");
          return;
        }
        this.#enqueue(name, 0, -1, "switch");
        return;
      case "reset":
        this.#newGeneration();
        this.#enqueue(name, start, length, "reset");
        return;
      case "append":
      case "appendAndWait":
        this.#enqueue(name, start, length, "append");
        return;
      case "stop":
        this.#newGeneration();
        this.#player.stop();
        return;
      default:
        this.#status("error", "NetStream.Play.Failed", `Unknown play2 transition ${transition}.`);
    }
  }

  seek(command: RtmpCommand): void {
    const ms = command.args.find((a): a is number => typeof a === "number");
    if (ms === undefined || !Number.isFinite(ms) || ms < 0 || !this.#player.seek(ms)) {
      this.#status(
        "error",
        "NetStream.Seek.Failed",
        "Seek failed: nothing is playing or the time is invalid.",
      );
    }
  }

  /** pause(flag, ms) and pauseRaw: FMS answers both the same way. */
  pause(command: RtmpCommand): void {
    const flag = command.args.find((a): a is boolean => typeof a === "boolean");
    if (flag === undefined) {
      this.#status("error", "NetStream.InvalidArg", "pause needs a true or false argument.");
      return;
    }
    this.#player.pause(flag);
  }

  receive(kind: "audio" | "video", command: RtmpCommand): void {
    const flag = command.args.find((a): a is boolean => typeof a === "boolean");
    if (flag !== undefined) this.#player.receive(kind, flag);
  }

  /** A play that replaces the playlist: opens still running for the old one are dropped. */
  #newGeneration(): void {
    this.#generation++;
    for (; this.#appendsOpening > 0; this.#appendsOpening--) this.#player.cancelAppend();
  }

  #enqueue(name: string, startMs: number, lengthMs: number, how: "reset" | "append" | "switch"): void {
    const generation = this.#generation;
    const requested = performance.now();
    if (how === "append") {
      this.#appendsOpening++;
      this.#player.expectAppend();
    }
    // Settles this append's place in the count once, if its generation is current.
    const settleAppend = (played: boolean) => {
      if (how !== "append" || generation !== this.#generation) return;
      this.#appendsOpening--;
      if (!played) this.#player.cancelAppend();
    };
    this.#opens++;
    this.#opening = this.#opening.then(async () => {
      try {
        await this.#open({ name, generation, startMs, lengthMs, how, requested, settleAppend });
      } finally {
        this.#opens--;
      }
    });
  }

  /** Opens a play's object (in command order, after the plays before it) and hands it to the player. */
  async #open(play: PendingPlay): Promise<void> {
    const { name, generation, startMs, lengthMs, how, requested, settleAppend } = play;
    if (this.#closed || generation !== this.#generation) return;
    const lookups = this.#ctx.lookups;
    if (lookups && !lookups.available()) {
      // This connection's plays kept naming objects that do not exist: refused unasked until the budget refills.
      settleAppend(false);
      this.#ctx.metrics.lookupsRefused.inc({ command: LookupCommand.Play });
      this.#ctx.metrics.playFailures.inc({ code: EdgeErrorCode.LookupRateLimited });
      this.#ctx.logger.debug({ stream: redactQuery(name) }, "play refused: lookup budget spent");
      this.#status(
        "error",
        viewerStatusByCode[EdgeErrorCode.LookupRateLimited].code,
        `Failed to play ${name}: too many plays of streams that do not exist; try again later.`,
        name,
      );
      this.#ctx.onPlayFailed?.();
      return;
    }
    let opened: OpenResult;
    try {
      opened = await this.#ctx.open(name);
    } catch (error) {
      settleAppend(false);
      this.#failed(name, error);
      return;
    }
    if (this.#closed || generation !== this.#generation) return;
    if (!opened.ok) {
      settleAppend(false);
      lookups?.charge();
      this.#answerNotFound(name, opened.container, opened.why);
      return;
    }
    settleAppend(true);
    const item: PlayItem = { name, reader: opened.reader, startMs, lengthMs };
    this.#containers.set(item, opened.container);
    this.#started.set(item, requested);
    this.#ctx.metrics.plays.inc({ container: opened.container, result: PlayResult.Started });
    this.#ctx.logger.info({ stream: redactQuery(name), key: opened.key, how }, "play");
    if (how === "switch") this.#player.switchTo(item);
    else this.#player.play(item, how === "reset");
  }

  #answerNotFound(name: string, container: ContainerKind | null, why: string): void {
    this.#ctx.metrics.plays.inc({ container: container ?? "flv", result: PlayResult.NotFound });
    this.#ctx.logger.info({ stream: redactQuery(name), why }, "stream not found");
    this.#status("error", "NetStream.Play.StreamNotFound", `Failed to play ${name}; stream not found.`, name);
    this.#ctx.onPlayFailed?.();
  }

  #failed(name: string, error: unknown): void {
    const code = playFailureCode(error);
    this.#ctx.metrics.plays.inc({ container: "flv", result: PlayResult.Failed });
    this.#ctx.metrics.playFailures.inc({ code });
    this.#ctx.logger.warn({ stream: redactQuery(name), code, err: errorMessage(error) }, "play failed");
    const status = playFailureStatus(name, error);
    this.#status(status.level, status.code, status.description, name);
    this.#ctx.onPlayFailed?.();
  }

  #status(level: "status" | "error", code: string, description: string, details?: string): void {
    if (this.#closed || this.#ctx.sink.isClosed()) return;
    const extra: Record<string, AmfValue> = { clientid: this.#ctx.clientId };
    if (details !== undefined) extra.details = details;
    this.#ctx.sink.send([onStatus(this.#ctx.streamId, level, code, description, extra)]);
  }
}

function isObject(value: AmfValue): value is AmfObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}
