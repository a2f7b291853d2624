import type { LoadPlan } from "../rtmp-load/protocol.js";
import type { BenchMedia } from "./bench-media.js";
import type { RunRecord } from "./load-run.js";
import type { EdgeBenchOptions, ModeName } from "./options.js";
import type { ServerUnderTest } from "./servers.js";

/** One of bench:edge's measurements (full-speed.ts, realtime.ts): its load and its part of the report. */
export interface EdgeMeasurement {
  readonly mode: ModeName;
  /** Concurrent viewers of a measured run. */
  viewers(o: EdgeBenchOptions): number;
  plan(server: ServerUnderTest, o: EdgeBenchOptions, media: BenchMedia, viewers: number): LoadPlan;
  /** Its heading and table of medians, one row per server. */
  report(o: EdgeBenchOptions, records: readonly RunRecord[]): string[];
}
