/**
 * What `bench:shield` asks its worker processes to do (over IPC), and what
 * they answer. Each worker runs one task and exits; the benchmark process
 * never moves bytes itself, so its CPU (and the embedded S3's, which lives
 * in it) stays apart from the reader's.
 */

/** How a reader talks to the shield: the edge's own client settings, plus what the benchmark varies. */
export interface GrpcTarget {
  /** host:port of the shield's gRPC listener. */
  readonly address: string;
  readonly bucket: string;
  /**
   * Separate HTTP/2 connections (grpc-js channels with their own subchannel
   * pool); calls are spread over them round-robin. An edge holds one per
   * shield replica.
   */
  readonly channels: number;
  /** grpc-node.flow_control_window in bytes; 0 leaves grpc-js's default (what the edge uses). */
  readonly flowControlWindow: number;
  /** An edge's tls-* files (mutual TLS, as an edge talks to a shield); null for a plaintext shield. */
  readonly tls: { readonly caFile: string; readonly certFile: string; readonly keyFile: string } | null;
}

/** Reads one object whole, as `concurrency` calls in flight over ranges of `rangeBytes`. */
export interface GrpcReadTask {
  readonly kind: "grpc-read";
  readonly target: GrpcTarget;
  readonly key: string;
  readonly objectSize: number;
  readonly concurrency: number;
  readonly rangeBytes: number;
  /** SHA-256 of every range (in range order), so the benchmark can check the bytes. Costs CPU: warm-up only. */
  readonly verify: boolean;
  readonly deadlineMs: number;
}

/**
 * `readers` readers start together on one cold object; each stats it (as an
 * edge opening a file) and reads all of it sequentially in ReadRange calls of
 * `blockBytes`, pinned to the ETag (as an edge playing it).
 */
export interface CollapseTask {
  readonly kind: "collapse";
  readonly target: GrpcTarget;
  readonly key: string;
  readonly objectSize: number;
  readonly readers: number;
  readonly blockBytes: number;
  readonly deadlineMs: number;
}

export interface TtfbSample {
  readonly label: string;
  readonly key: string;
  readonly offset: number;
  readonly length: number;
}

/** ReadRange calls one at a time; each timed from the call to its first piece and to its end. */
export interface TtfbTask {
  readonly kind: "ttfb";
  readonly target: GrpcTarget;
  /** Untimed calls first (JIT, connection), ranges of an object already cached. */
  readonly warmup: readonly TtfbSample[];
  readonly samples: readonly TtfbSample[];
  readonly deadlineMs: number;
}

/** The raw TCP baseline's sender: writes `totalBytes`, split over `connections`, from one pre-filled buffer. */
export interface TcpServeTask {
  readonly kind: "tcp-serve";
  readonly connections: number;
  readonly totalBytes: number;
  /** Size of each socket.write (the buffer's length). */
  readonly writeBytes: number;
  readonly deadlineMs: number;
}

/** The raw TCP baseline's receiver: opens `connections` sockets and only counts bytes until each ends. */
export interface TcpReadTask {
  readonly kind: "tcp-read";
  readonly port: number;
  readonly connections: number;
  readonly totalBytes: number;
  readonly deadlineMs: number;
}

export type WorkerTask = GrpcReadTask | CollapseTask | TtfbTask | TcpServeTask | TcpReadTask;

export interface ThroughputResult {
  readonly kind: "throughput";
  readonly bytes: number;
  /** From the first call (or connect) to the last byte. */
  readonly wallMs: number;
  /** This worker's CPU over wallMs. */
  readonly cpuMs: number;
  /** This worker's CPU since it started (start-up and connection set-up included). */
  readonly processCpuMs: number;
  readonly calls: number;
  readonly errors: readonly string[];
  /** Hex SHA-256 per range, when asked to verify. */
  readonly hashes: readonly string[];
}

export interface CollapseResult {
  readonly kind: "collapse";
  /** Bytes each reader received. */
  readonly readerBytes: readonly number[];
  /** Each reader's time from start to its last byte. */
  readonly readerMs: readonly number[];
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly calls: number;
  readonly errors: readonly string[];
}

export interface TtfbTiming {
  readonly label: string;
  /** Call to first piece, ms; -1 when the call failed. */
  readonly firstMs: number;
  /** Call to end of stream, ms. */
  readonly totalMs: number;
  readonly bytes: number;
}

export interface TtfbResult {
  readonly kind: "ttfb";
  readonly timings: readonly TtfbTiming[];
  readonly errors: readonly string[];
}

export type WorkerResult = ThroughputResult | CollapseResult | TtfbResult;

export type WorkerMessage =
  | { readonly type: "ready" }
  /** The TCP sender is listening (127.0.0.1). */
  | { readonly type: "listening"; readonly port: number }
  | { readonly type: "result"; readonly result: WorkerResult }
  | { readonly type: "failed"; readonly error: string };

export type ParentMessage = { readonly type: "start"; readonly task: WorkerTask };
