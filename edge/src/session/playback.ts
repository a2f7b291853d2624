import { setTimeout as sleep } from "node:timers/promises";
import type { MediaReader, MediaTag } from "../media/media-tag.js";
import { userControl } from "../rtmp/control-messages.js";
import { type RtmpMessage, UserControlEvent } from "../rtmp/message-types.js";
import { dataMessage, dataStart, OutChunkStream, onPlayStatus, onStatus, sampleAccess } from "./status.js";

/** Where a playback writes: the session's socket, behind its queue bound. */
export interface PlaybackSink {
  /** Encodes and writes the messages in one batch. */
  send(messages: readonly RtmpMessage[]): void;
  /** Resolves once the viewer's unsent bytes are under the bound (or the connection closed). */
  waitWritable(): Promise<void>;
  isClosed(): boolean;
}

export interface PlaybackOptions {
  readonly streamId: number;
  readonly name: string;
  readonly reader: MediaReader;
  readonly sink: PlaybackSink;
  /** Where to start, in ms (play's start argument), 0 for the beginning. */
  readonly startMs: number;
  /** How much to play in ms; -1 for all of it, 0 for a single frame. */
  readonly lengthMs: number;
  readonly reset: boolean;
  readonly clientId: string;
  /** The viewer's buffer length now (it may change during the play). */
  readonly bufferMs: () => number;
  readonly marginMs: number;
  readonly now: () => number;
  /** Called once, when the first media message has been written. */
  readonly onFirstFrame: () => void;
}

export const PlaybackEnd = { Completed: "completed", Stopped: "stopped", Closed: "closed" } as const;
export type PlaybackEnd = (typeof PlaybackEnd)[keyof typeof PlaybackEnd];

/** Media messages written per batch at most; one batch is one cork/uncork. */
const maxBatchMessages = 128;
const maxBatchBytes = 512 * 1024;

/**
 * One play of one object on one stream: the FMS start sequence, then media
 * paced to the viewer's buffer, then the FMS end sequence.
 *
 * Pacing: a tag of media time t goes out once t - t0 <= elapsed + buffer +
 * margin, where t0 is the first tag's time and elapsed the wall time since
 * the play began. So the viewer's buffer fills at wire speed on start, and
 * after that media flows at real time; the whole file is never pushed at
 * wire speed unless the viewer asked for a buffer that long.
 */
export class Playback {
  readonly #options: PlaybackOptions;
  readonly #abort = new AbortController();

  constructor(options: PlaybackOptions) {
    this.#options = options;
  }

  /** Ends the play early (closeStream, deleteStream, a new play, a disconnect). */
  stop(): void {
    this.#abort.abort();
  }

  get stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  async run(): Promise<PlaybackEnd> {
    const o = this.#options;
    const { streamId, reader, sink } = o;
    let startMs = 0;
    if (o.startMs > 0) startMs = await reader.seek(o.startMs);
    if (this.stopped) return PlaybackEnd.Stopped;
    const begin: RtmpMessage[] = [
      userControl(UserControlEvent.StreamIsRecorded, streamId),
      userControl(UserControlEvent.StreamBegin, streamId),
    ];
    if (o.reset) {
      begin.push(
        onStatus(streamId, "status", "NetStream.Play.Reset", `Playing and resetting ${o.name}.`, {
          details: o.name,
          clientid: o.clientId,
        }),
      );
    }
    begin.push(
      onStatus(streamId, "status", "NetStream.Play.Start", `Started playing ${o.name}.`, {
        details: o.name,
        clientid: o.clientId,
      }),
      sampleAccess(streamId),
      dataStart(streamId),
    );
    if (reader.metadata) begin.push(rawDataMessage(streamId, 0, reader.metadata));
    for (const header of reader.sequenceHeaders)
      begin.push(tagMessage(streamId, { ...header, timestampMs: startMs }));
    sink.send(begin);

    const wallStart = o.now();
    let firstTagMs = -1;
    let lastTagMs = startMs;
    let sentFirst = false;
    const endMs = o.lengthMs > 0 ? startMs + o.lengthMs : Number.POSITIVE_INFINITY;
    let batch: RtmpMessage[] = [];
    let batchBytes = 0;
    const flush = () => {
      if (batch.length === 0) return;
      sink.send(batch);
      if (!sentFirst) {
        sentFirst = true;
        o.onFirstFrame();
      }
      batch = [];
      batchBytes = 0;
    };
    for (;;) {
      if (this.stopped) return PlaybackEnd.Stopped;
      if (sink.isClosed()) return PlaybackEnd.Closed;
      const tag = await reader.next();
      if (tag === null) break;
      if (this.stopped) return PlaybackEnd.Stopped;
      if (tag.timestampMs > endMs) break;
      if (firstTagMs < 0) firstTagMs = tag.timestampMs;
      const dueInMs = tag.timestampMs - firstTagMs - (o.now() - wallStart) - o.bufferMs() - o.marginMs;
      if (dueInMs > 0) {
        flush();
        await sink.waitWritable();
        try {
          await sleep(Math.min(dueInMs, 1000), undefined, { signal: this.#abort.signal });
        } catch {
          return PlaybackEnd.Stopped;
        }
        // Re-check the due time on the next round: the buffer length may have changed.
      }
      batch.push(tagMessage(streamId, tag));
      batchBytes += tag.body.length;
      lastTagMs = tag.timestampMs;
      if (o.lengthMs === 0) break;
      if (batch.length >= maxBatchMessages || batchBytes >= maxBatchBytes) {
        flush();
        await sink.waitWritable();
      }
    }
    flush();
    if (sink.isClosed()) return PlaybackEnd.Closed;
    // FMS order: Stop, then Complete, then StreamEOF (cloudfront-rtmp.md
    // §3.7). Complete is a data message a Flash player fires when its
    // playhead reaches it, so it is stamped at the end of the stream.
    const endOfStreamMs = Math.max(lastTagMs, Math.round(reader.durationMs));
    sink.send([
      onStatus(streamId, "status", "NetStream.Play.Stop", `Stopped playing ${o.name}.`, {
        details: o.name,
        clientid: o.clientId,
      }),
      onPlayStatus(streamId, endOfStreamMs, "NetStream.Play.Complete", {
        bytes: 0,
        duration: Math.max(0, endOfStreamMs - startMs) / 1000,
      }),
      userControl(UserControlEvent.StreamEOF, streamId),
    ]);
    return PlaybackEnd.Completed;
  }
}

function tagMessage(streamId: number, tag: MediaTag): RtmpMessage {
  return {
    chunkStreamId:
      tag.kind === 8 ? OutChunkStream.Audio : tag.kind === 9 ? OutChunkStream.Video : OutChunkStream.Data,
    messageTypeId: tag.kind,
    messageStreamId: streamId,
    timestamp: tag.timestampMs,
    payload: tag.body,
  };
}

function rawDataMessage(streamId: number, timestamp: number, body: Buffer): RtmpMessage {
  const message = dataMessage(streamId, timestamp);
  return { ...message, payload: body };
}
