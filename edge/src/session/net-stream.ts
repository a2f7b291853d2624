import { errorCode, errorMessage } from "../../../lib/errors.js";
import { type Logger, redactQuery } from "../../../lib/log.js";
import { PlayEndResult, traces } from "../../../lib/trace/channels.js";
import type { AccessLogEvent } from "../access-log/w3c-line.js";
import type { DistributionCell } from "../distribution-labels.js";
import { EdgeErrorCode } from "../errors.js";
import type { MediaReader } from "../media/media-tag.js";
import type { ContainerKind } from "../media/open-media.js";
import type { EdgeMetrics } from "../metrics.js";
import type { AmfValue } from "../rtmp/amf0.js";
import {
  type CommandRejection,
  type Play2Request,
  type PlayRequest,
  type StreamRequest,
  seekFailedDescription,
} from "../rtmp/stream-commands.js";
import { isShieldOutage } from "../shield-client/object-opener.js";
import type { PlayAuthorization } from "../signed-urls/play-authorizer.js";
import { LookupCommand, PlayResult } from "../vocabulary.js";
import { onStatus } from "./fms-messages.js";
import type { LookupBudget } from "./lookup-budget.js";
import type { Scheduler } from "./scheduler.js";
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
  /** The distribution the connection plays from, for the metrics' distribution label. */
  readonly distribution: DistributionCell;
  /** The id of that distribution, for the "play ended" log line and the play trace events. */
  readonly distributionId?: string;
  /** The object key a play name maps to (null when none), for the plays that never opened one. */
  keyOf?(name: string): string | null;
  /** The clock of time to first frame, and the player's pacing and timers. */
  readonly scheduler: Scheduler;
  readonly marginMs: number;
  /** config fms-data-start: FMS's NetStream.Data.Start after Play.Start. */
  readonly fmsDataStart?: boolean;
  bufferMs(): number;
  /** Maps a play name to an object and opens its reader; throws on shield or container errors. */
  open(name: string): Promise<OpenResult>;
  /**
   * Whether a play event of `name` may happen now (signed URLs): asked
   * before every play and play2, and again on seek and unpause — a play
   * already running continues past its URL's expiry, a new event does not.
   * Absent: always.
   */
  authorize?(name: string): PlayAuthorization;
  /** How long reads that fail for want of a shield are retried (see StreamPlayerOptions.stall); absent: not at all. */
  readonly stall?: { readonly minMs: number; readonly maxMs: number };
  /** The connection's lookup budget: plays of names not found are charged to it, and refused once it is spent. */
  readonly lookups?: LookupBudget;
  /** Called after a play ended with an error status (failed, not found, refused). */
  onPlayFailed?(): void;
  /**
   * A playback event of the access log (play, stop, pause, unpause, seek)
   * on this stream, with the play name it is about ("" when nothing plays).
   */
  onAccessEvent?(event: AccessLogEvent, name: string): void;
}

/** The stream commands a NetStream acts on; closeStream and deleteStream are the session's. */
export type NetStreamRequest =
  | Exclude<StreamRequest, { readonly kind: "closeStream" | "deleteStream" }>
  | CommandRejection;

/** A play whose object opened and that has not ended yet. */
interface OpenPlay {
  readonly item: PlayItem & { readonly sent: { bytes: number } };
  readonly key: string;
  /** scheduler.now() at the command. */
  readonly requested: number;
}

/** A play command waiting for its turn to open its object. */
interface PendingPlay {
  readonly name: string;
  /** The playlist generation it belongs to; a later reset play drops it. */
  readonly generation: number;
  readonly startMs: number;
  readonly lengthMs: number;
  readonly how: "reset" | "append" | "switch";
  /** scheduler.now() at the command, for time to first frame. */
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
  /**
   * The plays the access log has a play and no stop for (and that have not
   * ended), in playlist order: the one playing first, then appends waiting
   * their turn.
   */
  readonly #logged: OpenPlay[] = [];
  /** The access log's last pause event for the logged play was a pause (not an unpause). */
  #loggedPaused = false;

  constructor(ctx: NetStreamContext) {
    this.#ctx = ctx;
    this.#player = new StreamPlayer({
      streamId: ctx.streamId,
      sink: ctx.sink,
      clientId: ctx.clientId,
      bufferMs: () => ctx.bufferMs(),
      marginMs: ctx.marginMs,
      fmsDataStart: ctx.fmsDataStart ?? false,
      scheduler: ctx.scheduler,
      onFirstFrame: (item) => {
        const container = this.#containers.get(item) ?? "flv";
        const now = ctx.scheduler.now();
        const started = this.#started.get(item) ?? now;
        ctx.metrics.observeFirstFrame(ctx.distribution, container, (now - started) / 1000);
        if (traces.playFirstFrame.hasSubscribers)
          traces.playFirstFrame.publish({
            session: ctx.clientId,
            streamId: ctx.streamId,
            distribution: ctx.distributionId ?? "",
            key: this.#logged.find((play) => play.item === item)?.key ?? "",
            ttffMs: Math.round(now - started),
          });
      },
      onItemFailed: (item, error) => {
        // The player stopped: the failed play ends with its code, what was queued after it as stopped.
        const at = this.#logged.findIndex((play) => play.item === item);
        if (at >= 0) this.#logStop(at, PlayEndResult.Failed, playFailureCode(error));
        this.#logStopAll();
        this.#failed(item.name, error, null);
      },
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
        const at = this.#logged.findIndex((play) => play.item === item);
        if (at >= 0) this.#logStop(at, PlayEndResult.Completed);
        ctx.metrics.countPlay(ctx.distribution, this.#containers.get(item) ?? "flv", PlayResult.Completed);
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
    this.#logStopAll();
    this.#closed = true;
    this.#player.close();
  }

  /** closeStream: what plays stops (the stream stays usable). */
  stop(): void {
    this.#logStopAll();
    this.#player.stop();
  }

  /** The end of the logged play at `index`, once: the access log's stop, the "play ended" line and event. */
  #logStop(index: number, result: PlayEndResult = PlayEndResult.Stopped, code: string | null = null): void {
    const [play] = this.#logged.splice(index, 1);
    if (play === undefined) return;
    if (index === 0) this.#loggedPaused = false;
    this.#ctx.onAccessEvent?.("stop", play.item.name);
    this.#ended(play.key, play.requested, play.item.sent.bytes, result, code);
  }

  #logStopAll(): void {
    while (this.#logged.length > 0) this.#logStop(0);
  }

  /**
   * One info line per play, however it ended (README: Traces and logs), and
   * its play:end event. The object key is the operator's own, as in
   * CloudFront's access logs; the play name is not logged here, so no
   * signed-URL query can be.
   */
  #ended(
    key: string | null,
    requested: number,
    bytes: number,
    result: PlayEndResult,
    code: string | null,
  ): void {
    const ctx = this.#ctx;
    const durationMs = Math.round(ctx.scheduler.now() - requested);
    const distribution = ctx.distributionId ?? "";
    ctx.logger.info(
      { distribution, key, bytes, durationMs, result, ...(code === null ? {} : { code }) },
      "play ended",
    );
    if (traces.playEnd.hasSubscribers)
      traces.playEnd.publish({
        session: ctx.clientId,
        streamId: ctx.streamId,
        distribution,
        key,
        bytes,
        durationMs,
        result,
        code,
      });
  }

  /** The key a play that opened no object would have read, for its end line. */
  #keyOf(name: string): string | null {
    return this.#ctx.keyOf?.(name) ?? null;
  }

  /** The play name a seek or pause is about: what plays now. */
  #loggedName(): string {
    return this.#logged[0]?.item.name ?? this.#player.current?.name ?? "";
  }

  /**
   * A stream command, parsed (rtmp/stream-commands.ts): the player
   * operation it asks for, or the onStatus its rejection is answered with.
   */
  handle(request: NetStreamRequest): void {
    switch (request.kind) {
      case "play":
        this.#play(request);
        return;
      case "stop":
        this.#newGeneration();
        this.stop();
        return;
      case "play2":
        this.#play2(request);
        return;
      case "seek": {
        const denied = this.#deniedNow();
        if (denied !== null) {
          this.#status("error", "NetStream.Seek.Failed", denied);
          return;
        }
        if (!this.#player.seek(request.ms))
          this.#status("error", "NetStream.Seek.Failed", seekFailedDescription);
        else this.#ctx.onAccessEvent?.("seek", this.#loggedName());
        return;
      }
      case "pause": {
        const denied = request.paused ? null : this.#deniedNow();
        if (denied !== null) {
          // Resuming is a new play event: after expiry the stream stays paused.
          this.#status("error", "NetStream.Play.Failed", denied);
          return;
        }
        if (this.#player.pause(request.paused) && request.paused !== this.#loggedPaused) {
          this.#loggedPaused = request.paused;
          this.#ctx.onAccessEvent?.(request.paused ? "pause" : "unpause", this.#loggedName());
        }
        return;
      }
      case "receive":
        this.#player.receive(request.track, request.enabled);
        return;
      case "rejected":
        if (request.status) this.#status("error", request.status.code, request.status.description);
        return;
    }
  }

  /** play(name, start, len, reset): a reset play replaces the playlist, live only is never found here. */
  #play(request: PlayRequest): void {
    if (request.reset) this.#newGeneration();
    if (request.liveOnly) {
      // Live only: a VOD edge has none, and waiting would leave the player silent forever.
      this.#answerNotFound(request.name, null, "live streams are not served here", this.#ctx.scheduler.now());
      return;
    }
    this.#enqueue(request.name, request.startMs, request.lengthMs, request.reset ? "reset" : "append");
  }

  /** play2: a switch changes rendition at a keyframe (a plain reset play when nothing plays); reset/append act like play. */
  #play2(request: Play2Request): void {
    const { name, startMs, lengthMs } = request;
    switch (request.transition) {
      case "switch":
        if (!this.#player.current) {
          this.#newGeneration();
          this.#enqueue(name, startMs, lengthMs, "reset");
          return;
        }
        this.#enqueue(name, 0, -1, "switch");
        return;
      case "reset":
        this.#newGeneration();
        this.#enqueue(name, startMs, lengthMs, "reset");
        return;
      case "append":
        this.#enqueue(name, startMs, lengthMs, "append");
        return;
    }
  }

  /** The refusal's description when the item playing may no longer be played anew; null when it may (or nothing plays). */
  #deniedNow(): string | null {
    const current = this.#player.current;
    if (!current || !this.#ctx.authorize) return null;
    const access = this.#ctx.authorize(current.name);
    return access.allowed ? null : access.description;
  }

  /** A play that replaces the playlist: opens still running for the old one are dropped. */
  #newGeneration(): void {
    this.#generation++;
    for (; this.#appendsOpening > 0; this.#appendsOpening--) this.#player.cancelAppend();
  }

  #enqueue(name: string, startMs: number, lengthMs: number, how: "reset" | "append" | "switch"): void {
    const generation = this.#generation;
    const requested = this.#ctx.scheduler.now();
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
    if (this.#closed || generation !== this.#generation) {
      // Replaced by a later play (or the stream closed) before its object opened.
      this.#ended(this.#keyOf(name), requested, 0, PlayEndResult.Stopped, null);
      return;
    }
    // Before anything is looked up: a refusal must not tell whether the object exists.
    const access = this.#ctx.authorize?.(name);
    if (access && !access.allowed) {
      settleAppend(false);
      this.#ctx.metrics.countPlay(this.#ctx.distribution, "flv", PlayResult.Denied);
      this.#status("error", "NetStream.Play.Failed", access.description, name);
      this.#ended(this.#keyOf(name), requested, 0, PlayEndResult.Denied, null);
      this.#ctx.onPlayFailed?.();
      return;
    }
    const lookups = this.#ctx.lookups;
    if (lookups && !lookups.available()) {
      // This connection's plays kept naming objects that do not exist: refused unasked until the budget refills.
      settleAppend(false);
      this.#ctx.metrics.lookupsRefused.inc({ command: LookupCommand.Play });
      this.#ctx.metrics.countPlayFailure(this.#ctx.distribution, EdgeErrorCode.LookupRateLimited);
      this.#ctx.logger.debug({ stream: redactQuery(name) }, "play refused: lookup budget spent");
      this.#status(
        "error",
        viewerStatusByCode[EdgeErrorCode.LookupRateLimited].code,
        `Failed to play ${name}: too many plays of streams that do not exist; try again later.`,
        name,
      );
      this.#ended(this.#keyOf(name), requested, 0, PlayEndResult.Failed, EdgeErrorCode.LookupRateLimited);
      this.#ctx.onPlayFailed?.();
      return;
    }
    let opened: OpenResult;
    try {
      opened = await this.#ctx.open(name);
    } catch (error) {
      settleAppend(false);
      this.#failed(name, error, requested);
      return;
    }
    if (this.#closed || generation !== this.#generation) {
      // Replaced by a later play (or the stream closed) before its object opened.
      this.#ended(this.#keyOf(name), requested, 0, PlayEndResult.Stopped, null);
      return;
    }
    if (!opened.ok) {
      settleAppend(false);
      lookups?.charge();
      this.#answerNotFound(name, opened.container, opened.why, requested);
      return;
    }
    settleAppend(true);
    const item = { name, reader: opened.reader, startMs, lengthMs, sent: { bytes: 0 } };
    this.#containers.set(item, opened.container);
    this.#started.set(item, requested);
    this.#ctx.metrics.countPlay(this.#ctx.distribution, opened.container, PlayResult.Started);
    this.#ctx.logger.info({ stream: redactQuery(name), key: opened.key, how }, "play");
    // An append plays after what plays now; a reset or switch replaces it, which the log shows as its stop.
    if (how !== "append") {
      this.#logStopAll();
      this.#loggedPaused = false;
    }
    if (traces.playStart.hasSubscribers)
      traces.playStart.publish({
        session: this.#ctx.clientId,
        streamId: this.#ctx.streamId,
        distribution: this.#ctx.distributionId ?? "",
        key: opened.key,
        container: opened.container,
        how,
      });
    this.#logged.push({ item, key: opened.key, requested });
    this.#ctx.onAccessEvent?.("play", name);
    if (how === "switch") this.#player.switchTo(item);
    else this.#player.play(item, how === "reset");
  }

  #answerNotFound(name: string, container: ContainerKind | null, why: string, requested: number): void {
    this.#ctx.metrics.countPlay(this.#ctx.distribution, container ?? "flv", PlayResult.NotFound);
    this.#ctx.logger.info({ stream: redactQuery(name), why }, "stream not found");
    this.#status("error", "NetStream.Play.StreamNotFound", `Failed to play ${name}; stream not found.`, name);
    this.#ended(this.#keyOf(name), requested, 0, PlayEndResult.NotFound, null);
    this.#ctx.onPlayFailed?.();
  }

  /** A play failed; `requested` is set for one that never opened its object (a started one ended already). */
  #failed(name: string, error: unknown, requested: number | null): void {
    const code = playFailureCode(error);
    this.#ctx.metrics.countPlay(this.#ctx.distribution, "flv", PlayResult.Failed);
    this.#ctx.metrics.countPlayFailure(this.#ctx.distribution, code);
    this.#ctx.logger.warn({ stream: redactQuery(name), code, err: errorMessage(error) }, "play failed");
    if (requested !== null) this.#ended(this.#keyOf(name), requested, 0, PlayEndResult.Failed, code);
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
