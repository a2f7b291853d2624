/** What the benchmark asks one generator process to do (sent over IPC). */
export interface LoadPlan {
  readonly host: string;
  readonly port: number;
  /** connect's app, e.g. "cfx/st". */
  readonly app: string;
  /** The host part of tcUrl (the edge picks the distribution by it). */
  readonly tcUrlHost: string;
  /** play's stream name, e.g. "bench-2500k-720p-60s-v1". */
  readonly streamName: string;
  readonly viewers: number;
  /** SetBufferLength sent before play, in ms. */
  readonly bufferMs: number;
  /**
   * "full": every viewer plays the whole file and stops at its end.
   * "realtime": every viewer plays for `seconds`, then closes.
   */
  readonly mode: "full" | "realtime";
  readonly seconds: number;
  /** Media duration of the file; a full play must reach within 2 s of it. */
  readonly expectedDurationMs: number;
  /** Hard limit for the whole plan; streams still open then count as errors. */
  readonly deadlineMs: number;
}

export interface StreamResult {
  readonly ok: boolean;
  readonly error: string | null;
  /** Every byte read after the handshake, chunk headers included. */
  readonly bytes: number;
  readonly mediaBytes: number;
  /** Media time received: last minus first audio/video timestamp, ms. */
  readonly mediaMs: number;
  /** Wall ms from play sent to the socket closed (or the stream complete). */
  readonly playWallMs: number;
  /** Wall ms from TCP connect to the player's buffer being full. */
  readonly startupMs: number;
  /**
   * Smallest (media buffered − media played) after playback began, ms; below
   * 0 the player ran dry (a stall of that length). Real-time mode only.
   */
  readonly minAheadMs: number;
  /** Largest (media received − wall time since the first frame), ms: how far ahead the server sent. */
  readonly maxLeadMs: number;
}

export interface LoadResult {
  readonly plan: LoadPlan;
  readonly wallMs: number;
  readonly generatorCpuMs: number;
  readonly streams: readonly StreamResult[];
}

export type GeneratorMessage =
  | { readonly type: "ready" }
  | { readonly type: "result"; readonly result: LoadResult }
  | { readonly type: "failed"; readonly error: string };

export type ParentMessage = { readonly type: "start"; readonly plan: LoadPlan };
