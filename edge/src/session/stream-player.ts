import { errorCode, errorMessage } from "../../../lib/errors.js";
import { EdgeError, EdgeErrorCode } from "../errors.js";
import type { MediaReader, MediaTag } from "../media/media-tag.js";
import { TagKind } from "../media/media-tag.js";
import type { RtmpMessage } from "../rtmp/message-types.js";
import {
  dataMessage,
  OutChunkStream,
  onPlayStatus,
  onStatus,
  pauseNotify,
  playComplete,
  playReset,
  playStart,
  seekNotify,
  unpauseNotify,
} from "./fms-messages.js";
import type { Scheduler, TimerHandle } from "./scheduler.js";

/** Where a player writes: the session's socket, behind its queue bound. */
export interface PlayerSink {
  /** Encodes and writes the messages in one batch. */
  send(messages: readonly RtmpMessage[]): void;
  /** Resolves once the viewer's unsent bytes are under the bound (or the connection closed). */
  waitWritable(): Promise<void>;
  isClosed(): boolean;
}

/** One entry of a stream's playlist: an opened object and the part of it to play. */
export interface PlayItem {
  readonly name: string;
  readonly reader: MediaReader;
  /** Where to start, in ms; 0 for the beginning. */
  readonly startMs: number;
  /** How much to play in ms; -1 for all of it, 0 for a single frame. */
  readonly lengthMs: number;
  /** When present, the player adds the body bytes of every tag it writes for this item (a play's bytes). */
  readonly sent?: { bytes: number };
}

export interface StreamPlayerOptions {
  readonly streamId: number;
  readonly sink: PlayerSink;
  readonly clientId: string;
  /** The viewer's buffer length now (it may change during the play). */
  readonly bufferMs: () => number;
  readonly marginMs: number;
  /** Send FMS's NetStream.Data.Start data message after Play.Start (config fms-data-start). */
  readonly fmsDataStart?: boolean;
  /** Pacing clock, sleeps and retry deadlines. */
  readonly scheduler: Scheduler;
  /** Called once per item, when its first media message has been written. */
  readonly onFirstFrame: (item: PlayItem) => void;
  /** Called when an item played to its end (not when stopped). */
  readonly onItemComplete: (item: PlayItem) => void;
  /**
   * Called when reading an item failed mid-play (the shield went away, the
   * object changed, the file is broken past its start); the player has
   * stopped and emptied its playlist. The session lives on.
   */
  readonly onItemFailed: (item: PlayItem, error: unknown) => void;
  /**
   * Reads that fail with an error this says is transient (no shield
   * answers) are retried with backoff while the viewer still has media
   * buffered — at least minMs, at most maxMs from the read's start — so a
   * shield or S3 that comes back in time is a pause the viewer never sees.
   * Past that the item fails with EDGE_ERR_PLAY_STALLED.
   */
  readonly stall?: {
    readonly minMs: number;
    readonly maxMs: number;
    transient(error: unknown): boolean;
    /** Called before each retry (for the log). */
    onRetry?(error: unknown, attempt: number, remainingMs: number): void;
  };
}

/** First pause between retries of a failing read; doubled each time up to maxRetryPauseMs. */
const firstRetryPauseMs = 200;
const maxRetryPauseMs = 2000;
/** What a read wrapped by #io resolves when stop() or close() dropped its item meanwhile. */
const superseded: unique symbol = Symbol("superseded");
type Superseded = typeof superseded;

/** Media messages written per batch at most; one batch is one cork/uncork. */
const maxBatchMessages = 512;
const maxBatchBytes = 1024 * 1024;
/** Longest single sleep of the pacer; it re-checks the buffer length after. */
const maxSleepMs = 1000;
/**
 * Pacing granularity: once awake, the pacer also sends what falls due in
 * the next burstMs, so a real-time viewer costs a few wake-ups and writes a
 * second instead of one per audio or video frame. The viewer is already a
 * buffer length ahead; a quarter second more changes nothing for it.
 */
const burstMs = 250;

/** A play2 switch waiting for its keyframe. */
interface PendingSwitch {
  readonly item: PlayItem;
  /** The new rendition's keyframe where the switch happens (media time). */
  readonly tag: MediaTag;
}

/**
 * Everything played on one NetStream: a playlist of objects, paced to the
 * viewer's buffer, with the FMS 3.5 status sequences for play, seek, pause
 * and play2 switches.
 *
 * One loop (run) is the only caller of the readers; the commands (seek,
 * pause, switch, stop) only leave a request and wake it, so a reader is never
 * used by two callers at once.
 *
 * Pacing: a tag of output time t goes out once t - t0 <= elapsed + buffer +
 * margin, where t0 and elapsed are measured from the last (re)start: the
 * viewer's buffer fills at wire speed on start, after a seek and after an
 * unpause, and then media flows at real time.
 *
 * Output time: a tag's own time plus the offset of its playlist item, so time
 * keeps growing across items; a play that starts into an object counts from
 * its start keyframe; a switch to another rendition keeps time exactly
 * (renditions share a timeline); a seek jumps to the object's own time, as
 * the viewer asked.
 */
export class StreamPlayer {
  readonly #o: StreamPlayerOptions;
  readonly #queue: PlayItem[] = [];
  #current: PlayItem | null = null;
  /** Added to the current item's media times. */
  #offsetMs = 0;
  /** A tag read but not yet sent (pacing wait, pause, a switch boundary). */
  #held: MediaTag | null = null;
  /** Media time of the current item's last tag sent (or skipped by receiveAudio/Video). */
  #lastSentMediaMs = -1;
  /** Latest output time sent on any track, where an appended item continues. */
  #maxSentOutMs = -1;
  /** Set when an item ended with more in the playlist: the next one continues the timeline. */
  #continueTimeline = false;
  /** After a switch, tags of the new rendition before the switch keyframe were sent by the old one. */
  #floorMs = -1;
  #firstFrameSeen = false;
  #paceMediaMs = -1;
  #paceWallMs = 0;
  #paused = false;
  #pendingSeekMs: number | null = null;
  #pendingSwitch: PendingSwitch | null = null;
  #switchRequest: PlayItem | null = null;
  /** Appended plays whose objects are still opening: the playlist is not over yet. */
  #pendingAppends = 0;
  #receiveAudio = true;
  #receiveVideo = true;
  #closed = false;
  #running: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #batch: RtmpMessage[] = [];
  #batchBytes = 0;
  /** Aborted by stop(): reads in flight for the dropped playlist are abandoned, not awaited. */
  #dropped = new AbortController();

  constructor(options: StreamPlayerOptions) {
    this.#o = options;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** The item on air, if any. */
  get current(): PlayItem | null {
    return this.#current;
  }

  /**
   * play(reset = true) replaces whatever plays; play(reset = false) appends
   * to the playlist (FMS server-side playlists).
   */
  play(item: PlayItem, reset: boolean): void {
    if (this.#closed) return;
    // Tags of a replaced play must not follow the new play's start sequence.
    if (reset) this.stop();
    else this.#pendingAppends = Math.max(0, this.#pendingAppends - 1);
    this.#queue.push(item);
    this.#ensureRunning();
  }

  /**
   * An appended play is on its way (its object is opening): the playlist
   * must not end before it arrives. Pair with play(item, false) or
   * cancelAppend(); a play(reset) or stop() leaves the count alone (the
   * caller cancels the appends it drops).
   */
  expectAppend(): void {
    this.#pendingAppends++;
  }

  cancelAppend(): void {
    this.#pendingAppends = Math.max(0, this.#pendingAppends - 1);
    this.#poke();
  }

  /** Seek to ms of the current item: the loop snaps it to a keyframe. */
  seek(ms: number): boolean {
    if (this.#closed || !this.#current) return false;
    this.#pendingSeekMs = Math.max(0, ms);
    this.#poke();
    return true;
  }

  pause(paused: boolean): boolean {
    if (this.#closed || !this.#current) return false;
    const { streamId, clientId } = this.#o;
    const name = this.#current.name;
    if (paused && !this.#paused) {
      this.#paused = true;
      this.#flush();
      this.#o.sink.send(pauseNotify({ streamId, name, clientId }));
    } else if (!paused && this.#paused) {
      this.#paused = false;
      this.#o.sink.send(unpauseNotify({ streamId, name, clientId }));
      // The viewer's buffer drained while paused: refill it at wire speed.
      this.#restartPacing();
    }
    this.#poke();
    return true;
  }

  /**
   * play2 "switch"/"swap" of the playing item to another rendition: at the
   * new rendition's first keyframe after what was already sent, so the
   * viewer's timeline has neither a gap nor a repeat.
   */
  switchTo(item: PlayItem): boolean {
    if (this.#closed || !this.#current) return false;
    const { streamId, clientId } = this.#o;
    this.#switchRequest = item;
    this.#o.sink.send([
      onStatus(streamId, "status", "NetStream.Play.Transition", `Transitioned to ${item.name}.`, {
        details: item.name,
        reason: "NetStream.Transition.Success",
        clientid: clientId,
      }),
    ]);
    this.#poke();
    return true;
  }

  receive(kind: "audio" | "video", enabled: boolean): void {
    if (kind === "audio") this.#receiveAudio = enabled;
    else this.#receiveVideo = enabled;
  }

  /** Ends what plays and empties the playlist (play(false), play2 stop); play() starts again. */
  stop(): void {
    this.#dropped.abort();
    this.#dropped = new AbortController();
    this.#queue.length = 0;
    this.#current = null;
    this.#maxSentOutMs = -1;
    this.#held = null;
    this.#pendingSwitch = null;
    this.#switchRequest = null;
    this.#pendingSeekMs = null;
    this.#paused = false;
    this.#continueTimeline = false;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#poke();
  }

  /** For good (closeStream, deleteStream, disconnect). */
  close(): void {
    this.#closed = true;
    this.#pendingAppends = 0;
    this.stop();
  }

  /** Resolves when the loop has ended (playlist done or stopped). */
  async finished(): Promise<void> {
    await this.#running;
  }

  #ensureRunning(): void {
    // Wakes a loop that sleeps in a pacing wait or waits for an appended item.
    this.#poke();
    if (this.#running) return;
    this.#running = this.#run()
      .catch((error: unknown) => this.#failed(error))
      .finally(() => {
        this.#running = null;
        // A play appended while the loop was finishing starts a new loop — only
        // while the loop could run: with the sink closed it would return at once,
        // and re-arming from here would spin the microtask queue for good
        // (the connection's close, which ends the player, could never run).
        if (!this.#closed && !this.#o.sink.isClosed() && this.#queue.length > 0) this.#ensureRunning();
      });
  }

  /** A read failed: the item cannot go on, and what is queued after it would play out of order. */
  #failed(error: unknown): void {
    const item = this.#current;
    this.stop();
    if (item && !this.#closed) this.#o.onItemFailed(item, error);
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Sleeps up to ms, or until a command pokes the loop. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === Number.POSITIVE_INFINITY ? null : this.#o.scheduler.setTimer(ms, done);
      function done() {
        timer?.cancel();
        resolve();
      }
      this.#wake = done;
    });
  }

  #restartPacing(): void {
    this.#paceMediaMs = -1;
  }

  async #run(): Promise<void> {
    const sink = this.#o.sink;
    while (!this.#closed && !sink.isClosed()) {
      if (!this.#current) {
        const next = this.#queue.shift();
        if (!next && this.#pendingAppends > 0) {
          await this.#sleep(Number.POSITIVE_INFINITY);
          continue;
        }
        if (!next) break;
        await this.#startItem(next, this.#continueTimeline);
        continue;
      }
      if (this.#pendingSeekMs !== null) {
        await this.#applySeek(this.#pendingSeekMs);
        continue;
      }
      if (this.#switchRequest) {
        await this.#prepareSwitch(this.#switchRequest);
        continue;
      }
      if (this.#paused) {
        this.#flush();
        await this.#sleep(Number.POSITIVE_INFINITY);
        continue;
      }
      const item = this.#current;
      let tag = this.#held;
      if (tag === null) {
        const ready = item.reader.nextSync?.();
        if (ready === undefined) {
          const read = await this.#io(() => item.reader.next());
          if (read === superseded) continue;
          tag = read;
        } else {
          tag = ready;
        }
      }
      this.#held = null;
      if (this.#closed || this.#current !== item) continue;
      if (this.#pendingSeekMs !== null || this.#paused || this.#switchRequest) {
        this.#held = tag;
        continue;
      }
      if (tag === null || this.#pastLength(item, tag)) {
        this.#finishItem(item);
        continue;
      }
      if (tag.timestampMs < this.#floorMs) continue;
      if (item.lengthMs === 0 && tag.kind !== TagKind.Video && item.reader.hasVideo) continue;
      if (this.#pendingSwitch && tag.timestampMs >= this.#pendingSwitch.tag.timestampMs) {
        this.#held = this.#commitSwitch();
        continue;
      }
      const outMs = tag.timestampMs + this.#offsetMs;
      if (this.#paceMediaMs < 0) {
        this.#paceMediaMs = outMs;
        this.#paceWallMs = this.#o.scheduler.now();
      }
      const dueInMs =
        outMs -
        this.#paceMediaMs -
        (this.#o.scheduler.now() - this.#paceWallMs) -
        this.#o.bufferMs() -
        this.#o.marginMs;
      if (dueInMs > burstMs) {
        this.#held = tag;
        this.#flush();
        await sink.waitWritable();
        // Wake when this tag is due; it and the next burstMs of tags then go out together.
        await this.#sleep(Math.min(dueInMs, maxSleepMs));
        continue;
      }
      this.#emit(item, tag, outMs);
      if (item.lengthMs === 0) {
        this.#finishItem(item);
        continue;
      }
      if (this.#batch.length >= maxBatchMessages || this.#batchBytes >= maxBatchBytes) {
        this.#flush();
        await sink.waitWritable();
      }
    }
    this.#flush();
  }

  /** The FMS start sequence of an item; a later playlist item starts with Play.Switch. */
  async #startItem(item: PlayItem, continuing: boolean): Promise<void> {
    const { streamId, clientId } = this.#o;
    let startMs = 0;
    if (item.startMs > 0) {
      const at = await this.#io(() => item.reader.seek(item.startMs));
      if (at === superseded) return;
      startMs = at;
    }
    const messages: RtmpMessage[] = [];
    this.#continueTimeline = false;
    if (continuing) {
      // Output time continues just after where the previous item ended.
      this.#offsetMs = this.#maxSentOutMs + 1 - startMs;
      messages.push(
        onPlayStatus(streamId, startMs + this.#offsetMs, "NetStream.Play.Switch", { details: item.name }),
      );
    } else {
      // A play that starts into the object counts time from its start
      // keyframe, as FMS did: librtmp (rtmpdump -A) adds the start it asked
      // for to every timestamp it receives.
      this.#offsetMs = -startMs;
      messages.push(...playReset({ streamId, name: item.name, clientId }));
    }
    messages.push(
      ...playStart({ streamId, name: item.name, clientId }, this.#o.fmsDataStart),
      ...this.#headers(item, startMs + this.#offsetMs),
    );
    this.#o.sink.send(messages);
    this.#current = item;
    this.#held = null;
    // Frames stored after the start keyframe but timed before it would go back in time.
    this.#floorMs = startMs > 0 ? startMs : -1;
    this.#lastSentMediaMs = startMs - 1;
    this.#firstFrameSeen = false;
    if (!continuing) this.#restartPacing();
  }

  /**
   * onMetaData (unless `withMetadata` is false: a switch keeps the old one)
   * and the codec sequence headers, sent before media (again after a seek
   * or switch); their bytes count as the item's.
   */
  #headers(item: PlayItem, atMs: number, withMetadata = true): RtmpMessage[] {
    const out: RtmpMessage[] = [];
    const { streamId } = this.#o;
    if (withMetadata && item.reader.metadata)
      out.push({ ...dataMessage(streamId, atMs), payload: item.reader.metadata });
    for (const header of item.reader.sequenceHeaders) out.push(tagMessage(streamId, header, atMs));
    if (item.sent) for (const message of out) item.sent.bytes += message.payload.length;
    return out;
  }

  async #applySeek(requestedMs: number): Promise<void> {
    const item = this.#current!;
    const { streamId, clientId } = this.#o;
    this.#pendingSeekMs = null;
    this.#pendingSwitch = null;
    this.#switchRequest = null;
    this.#held = null;
    this.#batch = [];
    this.#batchBytes = 0;
    if (requestedMs > item.reader.durationMs + 1) {
      this.#o.sink.send([
        onStatus(streamId, "error", "NetStream.Seek.InvalidTime", `Seek to ${requestedMs} is past the end.`, {
          details: Math.floor(item.reader.durationMs) / 1000,
          clientid: clientId,
        }),
      ]);
      return;
    }
    const mediaMs = await this.#io(() => item.reader.seek(requestedMs));
    if (mediaMs === superseded || this.#current !== item || this.#closed) return;
    this.#offsetMs = 0;
    this.#floorMs = -1;
    this.#lastSentMediaMs = mediaMs - 1;
    this.#maxSentOutMs = mediaMs - 1;
    this.#o.sink.send([
      ...seekNotify({ streamId, name: item.name, clientId }, mediaMs, this.#o.fmsDataStart),
      ...this.#headers(item, mediaMs),
    ]);
    this.#restartPacing();
  }

  /**
   * Positions the new rendition at its first keyframe after what was sent;
   * the old rendition keeps playing up to that keyframe's time.
   */
  async #prepareSwitch(next: PlayItem): Promise<void> {
    this.#switchRequest = null;
    const after = this.#lastSentMediaMs;
    if ((await this.#io(() => next.reader.seek(Math.max(0, after)))) === superseded) return;
    const videoDecides = next.reader.hasVideo;
    // A GOP at most: the keyframe at or before `after` is skipped forward.
    for (;;) {
      const tag = await this.#io(() => next.reader.next());
      if (tag === null || tag === superseded || this.#closed) return;
      if (tag.timestampMs <= after) continue;
      if (videoDecides ? tag.kind === TagKind.Video && tag.keyframe : tag.kind === TagKind.Audio) {
        this.#pendingSwitch = { item: next, tag };
        return;
      }
    }
  }

  /** Makes the new rendition current at its keyframe; returns that tag to send next. */
  #commitSwitch(): MediaTag {
    const { item, tag } = this.#pendingSwitch!;
    this.#pendingSwitch = null;
    this.#floorMs = tag.timestampMs;
    const atMs = tag.timestampMs + this.#offsetMs;
    this.#batch.push(
      ...this.#headers(item, atMs, false),
      onPlayStatus(this.#o.streamId, atMs, "NetStream.Play.TransitionComplete", { details: item.name }),
    );
    this.#current = item;
    return tag;
  }

  /**
   * Runs a reader call; when it fails transiently, calls it again (readers
   * leave their position alone on a failed read) with backoff until it
   * works or the stall budget from the call's start is spent — the media
   * the viewer holds ahead of real time, within [minMs, maxMs]. A retry
   * still pending at the deadline is abandoned (the item fails, the reader
   * is dropped with it); the first call is left to the reader's own
   * timeouts, as a read without retries would be. Resolves
   * `superseded` when stop() dropped the playlist meanwhile.
   */
  async #io<T>(call: () => Promise<T>): Promise<T | Superseded> {
    const stall = this.#o.stall;
    if (!stall) return call();
    const dropped = this.#dropped.signal;
    const started = this.#o.scheduler.now();
    const budgetMs = Math.min(stall.maxMs, Math.max(stall.minMs, this.#aheadMs(started)));
    const deadline = started + budgetMs;
    let lastError: unknown = null;
    for (let attempt = 0; ; attempt++) {
      // The first call may be slow and still working (a cold read, a seek that scans): the reader's own
      // deadlines and idle timeouts end it if it hangs. Retries, after a failure, must beat the deadline.
      const limitMs = attempt === 0 ? null : deadline - this.#o.scheduler.now();
      const outcome = await settleBefore(call(), limitMs, dropped, this.#o.scheduler);
      if (outcome.kind === "ok") return outcome.value;
      if (outcome.kind === "dropped") return superseded;
      if (outcome.kind === "error") {
        if (!stall.transient(outcome.error)) throw outcome.error;
        lastError = outcome.error;
      }
      const remainingMs = deadline - this.#o.scheduler.now();
      if (outcome.kind === "late" || remainingMs <= 0) {
        // S3 down behind the shield keeps its own code: the operator needs to know it is not the shields.
        const originDown = errorCode(lastError) === EdgeErrorCode.OriginUnavailable;
        throw new EdgeError(
          originDown ? EdgeErrorCode.OriginUnavailable : EdgeErrorCode.PlayStalled,
          `the shield did not answer for ${Math.round(this.#o.scheduler.now() - started)} ms ` +
            `(the viewer's buffer allowed ${budgetMs} ms)${lastError === null ? "" : `: ${errorMessage(lastError)}`}`,
          { cause: lastError },
        );
      }
      // What was read before the stall goes to the viewer while it lasts.
      this.#flush();
      stall.onRetry?.(lastError, attempt + 1, remainingMs);
      const pauseMs = Math.min(firstRetryPauseMs * 2 ** Math.min(attempt, 10), maxRetryPauseMs, remainingMs);
      await this.#sleep(pauseMs);
      if (dropped.aborted || this.#closed) return superseded;
    }
  }

  /** Media the viewer holds ahead of real time now (what was sent past the pacing clock), 0 before pacing starts. */
  #aheadMs(now: number): number {
    if (this.#paceMediaMs < 0 || this.#maxSentOutMs < 0) return 0;
    return Math.max(0, this.#maxSentOutMs - this.#paceMediaMs - (now - this.#paceWallMs));
  }

  #pastLength(item: PlayItem, tag: MediaTag): boolean {
    return item.lengthMs > 0 && tag.timestampMs > item.startMs + item.lengthMs;
  }

  #emit(item: PlayItem, tag: MediaTag, outMs: number): void {
    this.#lastSentMediaMs = tag.timestampMs;
    if (outMs > this.#maxSentOutMs) this.#maxSentOutMs = outMs;
    if (
      (tag.kind === TagKind.Audio && !this.#receiveAudio) ||
      (tag.kind === TagKind.Video && !this.#receiveVideo)
    ) {
      return;
    }
    this.#batch.push(tagMessage(this.#o.streamId, tag, outMs));
    this.#batchBytes += tag.body.length;
    if (item.sent) item.sent.bytes += tag.body.length;
    if (!this.#firstFrameSeen) {
      this.#firstFrameSeen = true;
      this.#flush();
      this.#o.onFirstFrame(item);
    }
  }

  #flush(): void {
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#o.sink.send(batch);
  }

  /**
   * The FMS end of an item: with more in the playlist, the next item starts
   * (Play.Switch); at the end of the playlist, Play.Stop, then onPlayStatus
   * Play.Complete (a data message a Flash player fires when its playhead
   * reaches it, so it is stamped at the end of the stream), then StreamEOF.
   */
  #finishItem(item: PlayItem): void {
    this.#flush();
    this.#current = null;
    this.#held = null;
    this.#pendingSwitch = null;
    this.#o.onItemComplete(item);
    if (this.#queue.length > 0 || this.#pendingAppends > 0) {
      this.#continueTimeline = true;
      return;
    }
    const { streamId, clientId } = this.#o;
    const endMs = Math.max(this.#maxSentOutMs, Math.round(item.reader.durationMs) + this.#offsetMs);
    this.#o.sink.send(
      playComplete({ streamId, name: item.name, clientId }, endMs, Math.max(0, endMs - item.startMs) / 1000),
    );
  }
}

type Settled<T> =
  | { readonly kind: "ok"; readonly value: T }
  | { readonly kind: "error"; readonly error: unknown }
  /** The time ran out first; the promise is left to settle unobserved. */
  | { readonly kind: "late" }
  | { readonly kind: "dropped" };

/** How a promise settles within timeoutMs (null: no limit), or that the time ran out or the signal fired first. */
function settleBefore<T>(
  promise: Promise<T>,
  timeoutMs: number | null,
  signal: AbortSignal,
  scheduler: Scheduler,
): Promise<Settled<T>> {
  return new Promise((resolve) => {
    let timer: TimerHandle | null = null;
    const done = (outcome: Settled<T>) => {
      timer?.cancel();
      signal.removeEventListener("abort", onAbort);
      resolve(outcome);
    };
    const onAbort = () => done({ kind: "dropped" });
    if (signal.aborted) {
      // Still observed, so an abandoned call's rejection is never unhandled.
      promise.catch(() => {});
      resolve({ kind: "dropped" });
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    if (timeoutMs !== null) timer = scheduler.setTimer(Math.max(0, timeoutMs), () => done({ kind: "late" }));
    promise.then(
      (value) => done({ kind: "ok", value }),
      (error: unknown) => done({ kind: "error", error }),
    );
  });
}

function tagMessage(streamId: number, tag: MediaTag, timestamp: number): RtmpMessage {
  return {
    chunkStreamId:
      tag.kind === TagKind.Audio
        ? OutChunkStream.Audio
        : tag.kind === TagKind.Video
          ? OutChunkStream.Video
          : OutChunkStream.Data,
    messageTypeId: tag.kind,
    messageStreamId: streamId,
    timestamp,
    payload: tag.body,
  };
}
