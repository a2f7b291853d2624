import { resolve } from "node:path";
import { integerOption, parseBenchArgs } from "../harness/options.js";

export const KiB = 1024;
export const MiB = 1024 * 1024;

const usage = `usage: node dist/loadtest/src/bench-shield.js [options]
  --runs N              measured runs; medians are reported with per-run values (default 5)
  --object-mib M        object read whole by the throughput runs (default 256)
  --concurrency N       ReadRange calls in flight / TCP connections in the throughput runs (default 4)
  --range-mib M         length of each ReadRange of the throughput runs (default 4)
  --channels N          gRPC connections of the throughput reader (default 1, as an edge per shield)
  --grpc-window-kib K   reader's HTTP/2 flow-control window (grpc-node.flow_control_window);
                        0 = grpc-js's default, as the edge (default 0)
  --tcp-write-kib K     size of each socket.write of the TCP baseline (default: --piece-kib)
  --readers C           concurrent readers of the collapse runs (default 32)
  --collapse-mib M      object of the collapse runs, a fresh key per run (default 64)
  --block-kib K         ReadRange length of the collapse readers, the edge's block (default 256)
  --ttfb-samples N      cold and warm samples per run (default 50)
  --ttfb-kib K          length of each timed ReadRange (default 64)
  --slice-kib K         the shield's cache-slice-bytes (default 1024)
  --piece-kib K         the shield's max-piece-bytes (default 256)
  --out FILE            also write the results as JSON
  --max-minutes M       wall-clock cap for the whole benchmark (default 10)`;

export interface ShieldBenchOptions {
  runs: number;
  objectBytes: number;
  concurrency: number;
  rangeBytes: number;
  channels: number;
  grpcWindowBytes: number;
  tcpWriteBytes: number;
  readers: number;
  collapseBytes: number;
  blockBytes: number;
  ttfbSamples: number;
  ttfbBytes: number;
  sliceBytes: number;
  pieceBytes: number;
  out: string | null;
  maxMinutes: number;
}

export function parseShieldBenchOptions(argv: readonly string[]): ShieldBenchOptions {
  const values = parseBenchArgs(argv, usage, {
    runs: { type: "string" },
    "object-mib": { type: "string" },
    concurrency: { type: "string" },
    "range-mib": { type: "string" },
    channels: { type: "string" },
    "grpc-window-kib": { type: "string" },
    "tcp-write-kib": { type: "string" },
    readers: { type: "string" },
    "collapse-mib": { type: "string" },
    "block-kib": { type: "string" },
    "ttfb-samples": { type: "string" },
    "ttfb-kib": { type: "string" },
    "slice-kib": { type: "string" },
    "piece-kib": { type: "string" },
    out: { type: "string" },
    "max-minutes": { type: "string" },
  });
  const sliceBytes = integerOption("slice-kib", values["slice-kib"], 1024, 64, 16 * 1024) * KiB;
  const pieceBytes = integerOption("piece-kib", values["piece-kib"], 256, 16, 4 * 1024) * KiB;
  const ttfbBytes = integerOption("ttfb-kib", values["ttfb-kib"], 64, 1, 16 * 1024) * KiB;
  if (ttfbBytes > sliceBytes)
    throw new Error("--ttfb-kib must not exceed --slice-kib (one slice per sample)");
  return {
    runs: integerOption("runs", values.runs, 5, 1, 20),
    objectBytes: integerOption("object-mib", values["object-mib"], 256, 1, 4096) * MiB,
    concurrency: integerOption("concurrency", values.concurrency, 4, 1, 256),
    rangeBytes: integerOption("range-mib", values["range-mib"], 4, 1, 64) * MiB,
    channels: integerOption("channels", values.channels, 1, 1, 64),
    grpcWindowBytes: integerOption("grpc-window-kib", values["grpc-window-kib"], 0, 0, 1024 * 1024) * KiB,
    tcpWriteBytes:
      integerOption("tcp-write-kib", values["tcp-write-kib"], pieceBytes / KiB, 1, 64 * 1024) * KiB,
    readers: integerOption("readers", values.readers, 32, 1, 1000),
    collapseBytes: integerOption("collapse-mib", values["collapse-mib"], 64, 1, 4096) * MiB,
    blockBytes: integerOption("block-kib", values["block-kib"], 256, 4, 64 * 1024) * KiB,
    ttfbSamples: integerOption("ttfb-samples", values["ttfb-samples"], 50, 1, 1000),
    ttfbBytes,
    sliceBytes,
    pieceBytes,
    out: values.out ? resolve(values.out) : null,
    maxMinutes: integerOption("max-minutes", values["max-minutes"], 10, 1, 240),
  };
}
