import { type Channel, channel } from "node:diagnostics_channel";

/**
 * Every trace channel streamfront publishes on `node:diagnostics_channel`,
 * named once here, as undici does (`undici:client:connected`, …). A
 * publisher checks `hasSubscribers` before it builds a message, so with no
 * subscriber a traced spot costs one boolean read and allocates nothing
 * (README: Traces and logs; `npm run bench:trace` measures it).
 *
 * Names never hold a stream key or any other viewer data. Messages do: they
 * are for subscribers in the same process (the built-in trace log, a test,
 * an APM agent), which see the object key, the bucket and the session id —
 * never a play name's query (a signed URL's Signature or Policy).
 */
export const TraceChannelName = {
  EdgeConnectionOpen: "streamfront:edge:connection:open",
  EdgeConnectionClose: "streamfront:edge:connection:close",
  EdgePlayStart: "streamfront:edge:play:start",
  EdgePlayFirstFrame: "streamfront:edge:play:first-frame",
  EdgePlayEnd: "streamfront:edge:play:end",
  EdgeCacheLookup: "streamfront:edge:cache:lookup",
  EdgeCacheFetch: "streamfront:edge:cache:fetch",
  ShieldFetchStart: "streamfront:shield:fetch:start",
  ShieldFetchEnd: "streamfront:shield:fetch:end",
  ShieldCacheFetch: "streamfront:shield:cache:fetch",
  ShieldS3Request: "streamfront:shield:s3:request",
  ShieldS3Response: "streamfront:shield:s3:response",
} as const;
export type TraceChannelName = (typeof TraceChannelName)[keyof typeof TraceChannelName];

/** How a play ended, on its play:end event and its "play ended" log line. */
export const PlayEndResult = {
  /** Played to its end (Play.Complete). */
  Completed: "completed",
  /** Stopped before its end: the viewer stopped, closed or replaced it, or the connection went. */
  Stopped: "stopped",
  /** Failed with an error code (opening or reading the object). */
  Failed: "failed",
  /** Refused by the distribution's signed-URL check. */
  Denied: "denied",
  /** No such object (or a name that maps to none). */
  NotFound: "not_found",
} as const;
export type PlayEndResult = (typeof PlayEndResult)[keyof typeof PlayEndResult];

/** A viewer connection was accepted (before its handshake). */
export interface ConnectionOpenMessage {
  /** The connection's client id (also in its log lines and echoed to the client). */
  readonly session: string;
  readonly protocol: string;
  readonly remoteAddress: string;
}

/** A viewer connection closed, for whatever reason. */
export interface ConnectionCloseMessage {
  readonly session: string;
  readonly protocol: string;
  /** The distribution it connected to; null when no connect was accepted. */
  readonly distribution: string | null;
  /** Bytes written to the viewer over the whole connection. */
  readonly bytes: number;
  readonly durationMs: number;
}

/** A play's object opened and its start sequence is about to go out. */
export interface PlayStartMessage {
  readonly session: string;
  readonly streamId: number;
  readonly distribution: string;
  /** The object key in the distribution's bucket. */
  readonly key: string;
  readonly container: string;
  /** reset, append or switch (play2). */
  readonly how: string;
}

/** The first media message of a play was written. */
export interface PlayFirstFrameMessage {
  readonly session: string;
  readonly streamId: number;
  readonly distribution: string;
  readonly key: string;
  /** From the play command to the first frame. */
  readonly ttffMs: number;
}

/** A play ended: one per play command that asked for an object, started or not. */
export interface PlayEndMessage {
  readonly session: string;
  readonly streamId: number;
  readonly distribution: string;
  /** The object key; null when the play name maps to no key. */
  readonly key: string | null;
  /** Bytes of media (audio, video and data tag bodies) written for this play. */
  readonly bytes: number;
  /** From the play command to its end. */
  readonly durationMs: number;
  readonly result: PlayEndResult;
  /** The error code of a failed play; null otherwise. */
  readonly code: string | null;
}

/** A read of the edge's slice cache that had to wait (not one served from a slice the source already held). */
export interface CacheLookupMessage {
  readonly bucket: string;
  readonly key: string;
  readonly slice: number;
  /** hit: in memory; collapsed: joined a fetch in flight; miss: a fetch started. */
  readonly outcome: "hit" | "miss" | "collapsed";
}

/** A slice fetch (a cache miss) settled. */
export interface CacheFetchMessage {
  readonly bucket: string;
  readonly key: string;
  readonly slice: number;
  readonly offset: number;
  readonly bytes: number;
  readonly durationMs: number;
  /** The error code when the fetch failed; null when it delivered the slice. */
  readonly code: string | null;
}

/** A StatObject or ReadRange call reached the shield. */
export interface ShieldFetchStartMessage {
  readonly rpc: "StatObject" | "ReadRange";
  readonly bucket: string;
  readonly key: string;
  /** The range asked for (ReadRange); 0 and 0 for StatObject. */
  readonly offset: number;
  readonly length: number;
}

/** The shield answered a StatObject or ReadRange call. */
export interface ShieldFetchEndMessage extends ShieldFetchStartMessage {
  /** Bytes of the range sent to the edge (0 for StatObject). */
  readonly bytes: number;
  readonly durationMs: number;
  /** The error code the call failed with (SHIELD_ERR_*; internal for an unexpected error), or null. */
  readonly code: string | null;
}

/** A slice fetch of the shield's cache (a miss of the memory tier, loaded from disk or S3) settled. */
export interface ShieldCacheFetchMessage {
  readonly bucket: string;
  readonly key: string;
  readonly slice: number;
  /** Where it was loaded from. */
  readonly source: "disk" | "s3";
  /** Bytes that arrived (the slice's length when it completed). */
  readonly bytes: number;
  /** Readers that shared the fetch (0: a read-ahead nobody waited for). */
  readonly readers: number;
  readonly durationMs: number;
  /** The error code the fetch failed with (SHIELD_ERR_ABORTED for one abandoned), or null. */
  readonly code: string | null;
}

/** One attempt of an S3 request is about to be sent. */
export interface S3RequestMessage {
  /** The S3 operation: HeadObject or GetObject. */
  readonly operation: string;
  readonly bucket: string;
  readonly key: string;
  /** The Range header of a GetObject (bytes=a-b); null for HeadObject. */
  readonly range: string | null;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

/** An S3 attempt ended: answered (and, for a GET, its body done) or failed. */
export interface S3ResponseMessage extends S3RequestMessage {
  /** The origin result (ok, not_found, throttled, timeout, …), as the shield's S3 metrics label it. */
  readonly result: string;
  /** Until the answer's headers, as the S3 latency metric counts it. */
  readonly durationMs: number;
}

/** The message type each channel carries. */
export interface TraceMessages {
  readonly [TraceChannelName.EdgeConnectionOpen]: ConnectionOpenMessage;
  readonly [TraceChannelName.EdgeConnectionClose]: ConnectionCloseMessage;
  readonly [TraceChannelName.EdgePlayStart]: PlayStartMessage;
  readonly [TraceChannelName.EdgePlayFirstFrame]: PlayFirstFrameMessage;
  readonly [TraceChannelName.EdgePlayEnd]: PlayEndMessage;
  readonly [TraceChannelName.EdgeCacheLookup]: CacheLookupMessage;
  readonly [TraceChannelName.EdgeCacheFetch]: CacheFetchMessage;
  readonly [TraceChannelName.ShieldFetchStart]: ShieldFetchStartMessage;
  readonly [TraceChannelName.ShieldFetchEnd]: ShieldFetchEndMessage;
  readonly [TraceChannelName.ShieldCacheFetch]: ShieldCacheFetchMessage;
  readonly [TraceChannelName.ShieldS3Request]: S3RequestMessage;
  readonly [TraceChannelName.ShieldS3Response]: S3ResponseMessage;
}

/** A channel whose publish takes its message type only. */
export interface TraceChannel<M> {
  readonly name: string;
  readonly hasSubscribers: boolean;
  publish(message: M): void;
}

function traced<N extends TraceChannelName>(name: N): TraceChannel<TraceMessages[N]> {
  // The channel object is Node's own: hasSubscribers is a plain getter over its subscriber list.
  return channel(name) as Channel & TraceChannel<TraceMessages[N]>;
}

/** The channels, to publish on: `if (traces.playEnd.hasSubscribers) traces.playEnd.publish({…})`. */
export const traces = {
  connectionOpen: traced(TraceChannelName.EdgeConnectionOpen),
  connectionClose: traced(TraceChannelName.EdgeConnectionClose),
  playStart: traced(TraceChannelName.EdgePlayStart),
  playFirstFrame: traced(TraceChannelName.EdgePlayFirstFrame),
  playEnd: traced(TraceChannelName.EdgePlayEnd),
  cacheLookup: traced(TraceChannelName.EdgeCacheLookup),
  cacheFetch: traced(TraceChannelName.EdgeCacheFetch),
  shieldFetchStart: traced(TraceChannelName.ShieldFetchStart),
  shieldFetchEnd: traced(TraceChannelName.ShieldFetchEnd),
  shieldCacheFetch: traced(TraceChannelName.ShieldCacheFetch),
  s3Request: traced(TraceChannelName.ShieldS3Request),
  s3Response: traced(TraceChannelName.ShieldS3Response),
} as const;

/**
 * The named tracers an operator switches on (STREAMFRONT_EDGE_TRACE,
 * STREAMFRONT_SHIELD_TRACE): each is a set of channels of one component.
 */
export const tracerChannels = {
  "edge:session": [
    TraceChannelName.EdgeConnectionOpen,
    TraceChannelName.EdgeConnectionClose,
    TraceChannelName.EdgePlayStart,
    TraceChannelName.EdgePlayFirstFrame,
    TraceChannelName.EdgePlayEnd,
  ],
  "edge:cache": [TraceChannelName.EdgeCacheLookup, TraceChannelName.EdgeCacheFetch],
  "shield:fetch": [TraceChannelName.ShieldFetchStart, TraceChannelName.ShieldFetchEnd],
  "shield:cache": [TraceChannelName.ShieldCacheFetch],
  "shield:s3": [TraceChannelName.ShieldS3Request, TraceChannelName.ShieldS3Response],
} as const satisfies Record<string, readonly TraceChannelName[]>;
export type TracerName = keyof typeof tracerChannels;

export const edgeTracers = ["edge:session", "edge:cache"] as const satisfies readonly TracerName[];
export const shieldTracers = [
  "shield:fetch",
  "shield:cache",
  "shield:s3",
] as const satisfies readonly TracerName[];
