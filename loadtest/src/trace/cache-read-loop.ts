import { subscribe } from "node:diagnostics_channel";
import type {
  ObjectVersion,
  RangeFetch,
  SliceCacheOptions,
} from "../../../edge/src/edge-cache/slice-cache.js";
import type { RangeSource } from "../../../edge/src/media/range-source.js";
import { createLogger } from "../../../lib/log.js";
import { TraceChannelName } from "../../../lib/trace/channels.js";
import { startTraceLog } from "../../../lib/trace/trace-log.js";

/** What the loop needs of a slice cache: the real module or its stripped copy. */
export type SliceCacheClass = new (
  options: SliceCacheOptions,
) => {
  source(version: ObjectVersion, fetch: RangeFetch): RangeSource;
};

/** How tracing stands while the real module is measured. */
export const TraceMode = {
  /** Nobody subscribed: what every edge runs without STREAMFRONT_EDGE_TRACE. */
  Off: "off",
  /** A subscriber that only counts. */
  Subscriber: "subscriber",
  /** STREAMFRONT_EDGE_TRACE=edge:cache: the built-in trace log, its lines thrown away. */
  TraceLog: "trace-log",
} as const;
export type TraceMode = (typeof TraceMode)[keyof typeof TraceMode];

/** One process's figures: per mode, ns per read of the stripped and the real module in each batch pair. */
export type PairedFigures = Record<TraceMode, { stripped: number[]; real: number[] }>;

const objectBytes = 8 * 1024 * 1024;
const sliceBytes = 1024 * 1024;
/** About one FLV tag of a 1–2 Mbit/s stream. */
const readBytes = 1500;

/**
 * The edge's hot path where a publisher sits: reads of a cached object
 * through SliceCache.source().read(), each of which looks its slice up
 * (and publishes edge:cache:lookup when someone listens). Every slice is
 * cached first, so the loop measures lookups and views, not fetches.
 */
async function reader(Cache: SliceCacheClass): Promise<(count: number) => Promise<number>> {
  const data = Buffer.alloc(objectBytes, 7);
  const cache = new Cache({ sliceBytes, maxBytes: 2 * objectBytes });
  const version: ObjectVersion = { bucket: "bench", key: "bench.flv", etag: '"1"', size: objectBytes };
  const source = cache.source(version, async (offset, length) => data.subarray(offset, offset + length));
  for (let offset = 0; offset < objectBytes; offset += sliceBytes) await source.read(offset, sliceBytes);
  const span = objectBytes - readBytes;
  let offset = 0;
  return async (count) => {
    let checksum = 0;
    const started = process.hrtime.bigint();
    for (let i = 0; i < count; i++) {
      checksum += (await source.read(offset, readBytes)).length;
      offset += 9973;
      if (offset >= span) offset -= span;
    }
    const ns = Number(process.hrtime.bigint() - started) / count;
    if (checksum !== count * readBytes) throw new Error("a read came back short");
    return ns;
  };
}

/**
 * Both modules in one process, measured in alternating batches (ABBA…), so
 * the machine's load drifts over both alike: first with nobody
 * subscribed, then with a counting subscriber, then with the trace log.
 * The stripped module publishes nothing, whatever is subscribed.
 */
export async function pairedCacheReads(
  Stripped: SliceCacheClass,
  Real: SliceCacheClass,
  opsPerBatch: number,
  batches: number,
): Promise<PairedFigures> {
  const stripped = await reader(Stripped);
  const real = await reader(Real);
  // Warm-up: both optimised before anything counts.
  for (let i = 0; i < 3; i++) {
    await stripped(opsPerBatch);
    await real(opsPerBatch);
  }
  let events = 0;
  const figures = {} as PairedFigures;
  for (const mode of [TraceMode.Off, TraceMode.Subscriber, TraceMode.TraceLog]) {
    if (mode === TraceMode.Subscriber) subscribe(TraceChannelName.EdgeCacheLookup, () => void events++);
    if (mode === TraceMode.TraceLog) {
      const destination = { write: () => void events++ };
      startTraceLog(createLogger({ component: "edge", level: "info", destination }), ["edge:cache"]);
    }
    const out = { stripped: [] as number[], real: [] as number[] };
    await real(opsPerBatch);
    for (let b = 0; b < batches; b++) {
      if (b % 2 === 0) {
        out.stripped.push(await stripped(opsPerBatch));
        out.real.push(await real(opsPerBatch));
      } else {
        out.real.push(await real(opsPerBatch));
        out.stripped.push(await stripped(opsPerBatch));
      }
    }
    figures[mode] = out;
  }
  if (events === 0) throw new Error("the subscribers saw no event");
  return figures;
}
